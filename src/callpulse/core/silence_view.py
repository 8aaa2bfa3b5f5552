"""Alertmanager's silences as the status page lists them, read from the answers of ``GET
/api/v2/silences`` and ``GET /api/v2/alerts``. Whatever an Alertmanager answers is
untrusted: entries of another shape are skipped, and how much is kept is bounded."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from callpulse.core.planned_silences import CREATED_BY, matchers_of, tag

MAX_TEXT = 500
"""Characters kept of a comment, a creator or a matcher; the rest is cut (with an ellipsis)."""

MAX_SILENCED_ALERTS = 10_000
"""Alerts whose silences are remembered at most: an Alertmanager's whole estate."""

LabelSet = frozenset[tuple[str, str]]

_OPERATORS = {(False, True): "=", (False, False): "!=", (True, True): "=~", (True, False): "!~"}


@dataclass(frozen=True)
class SilenceRow:
    """One live silence: its matchers as PromQL writes them (``site=~"lon1"``), who made it,
    why, when it starts and ends (epoch seconds), and the planned window it is callpulse's
    silence for, if it is one."""

    id: str
    state: str  # active or pending
    matchers: tuple[str, ...]
    created_by: str
    comment: str
    starts_at: float
    ends_at: float
    window: str | None


def live_silences(entries: object, limit: int) -> tuple[list[SilenceRow], int]:
    """The active and pending silences of a ``GET /api/v2/silences`` answer, active first and
    then by end, at most ``limit`` of them; and how many more were left out."""
    if not isinstance(entries, list):
        raise ValueError("GET /api/v2/silences did not answer a list of silences")
    rows = [r for r in (_row(e) for e in entries) if r is not None]
    rows.sort(key=lambda r: (r.state != "active", r.ends_at, r.id))
    return rows[:limit], max(0, len(rows) - limit)


def silenced_alerts(entries: object) -> dict[LabelSet, tuple[str, ...]]:
    """The ids of the silences muting each alert of a ``GET /api/v2/alerts`` answer, by the
    alert's labels (only alerts muted by at least one)."""
    if not isinstance(entries, list):
        raise ValueError("GET /api/v2/alerts did not answer a list of alerts")
    out: dict[LabelSet, tuple[str, ...]] = {}
    for entry in entries:
        if len(out) >= MAX_SILENCED_ALERTS:
            break
        if not isinstance(entry, dict):
            continue
        labels, status = entry.get("labels"), entry.get("status")
        if not isinstance(labels, dict) or not isinstance(status, dict):
            continue
        ids = status.get("silencedBy")
        if not isinstance(ids, list) or not ids:
            continue
        if not all(isinstance(k, str) and isinstance(v, str) for k, v in labels.items()):
            continue
        out[frozenset(labels.items())] = tuple(_text(i) for i in ids if isinstance(i, str))
    return out


def _row(entry: object) -> SilenceRow | None:
    if not isinstance(entry, dict):
        return None
    status = entry.get("status")
    state = status.get("state") if isinstance(status, dict) else None
    if state not in ("active", "pending"):
        return None
    sid, by, text = entry.get("id"), entry.get("createdBy"), entry.get("comment")
    if not (isinstance(sid, str) and isinstance(by, str) and isinstance(text, str)):
        return None
    starts, ends = _instant(entry.get("startsAt")), _instant(entry.get("endsAt"))
    matchers = _shown(entry.get("matchers"))
    if starts is None or ends is None or matchers is None:
        return None
    key = tag(text) if by == CREATED_BY else None
    return SilenceRow(
        id=_text(sid),
        state=state,
        matchers=matchers,
        created_by=_text(by),
        comment=_text(text),
        starts_at=starts,
        ends_at=ends,
        window=None if key is None else _text(key[0]),
    )


def _shown(value: object) -> tuple[str, ...] | None:
    found = matchers_of(value)
    if found is None:
        return None
    ordered = sorted(found, key=lambda m: (m.name, m.value, m.regex, m.equal))
    return tuple(
        _text(f"{m.name}{_OPERATORS[m.regex, m.equal]}{_quoted(m.value)}") for m in ordered
    )


def _quoted(value: str) -> str:
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _instant(value: object) -> float | None:
    if not isinstance(value, str):
        return None
    try:
        return datetime.fromisoformat(value).timestamp()
    except ValueError:
        return None


def _text(value: str) -> str:
    return value if len(value) <= MAX_TEXT else value[: MAX_TEXT - 1] + "\u2026"


def silenced_by(
    silenced: dict[LabelSet, tuple[str, ...]], labels: Iterable[tuple[str, str]]
) -> list[str]:
    """The silences muting the alert with ``labels`` (none when Alertmanager mutes none)."""
    return list(silenced.get(frozenset(labels), ()))

"""Alertmanager's answers as the status page lists them: live silences only, callpulse's
marked with their window, every odd entry skipped, and how much is kept bounded."""

from __future__ import annotations

from typing import Any

import pytest

from callpulse.core.planned_silences import CREATED_BY, comment
from callpulse.core.silence_view import (
    MAX_SILENCED_ALERTS,
    MAX_TEXT,
    live_silences,
    silenced_alerts,
    silenced_by,
)
from callpulse.core.timefmt import rfc3339

T0 = 1_800_000_000.0


def silence(sid: str, state: str, ends: float, **over: Any) -> dict[str, Any]:
    entry: dict[str, Any] = {
        "id": sid,
        "status": {"state": state},
        "matchers": [
            {"name": "site", "value": "lon1", "isRegex": False, "isEqual": True},
            {"name": "alertname", "value": "A|B", "isRegex": True, "isEqual": False},
        ],
        "startsAt": rfc3339(T0 - 60),
        "endsAt": rfc3339(ends),
        "createdBy": "alice",
        "comment": "pbx upgrade",
        "updatedAt": rfc3339(T0 - 60),
    }
    return entry | over


def test_live_silences_active_first_then_by_end_with_callpulse_own_marked() -> None:
    own = silence(
        "c", "pending", T0 + 900, createdBy=CREATED_BY, comment=comment("mw-pbx", T0 + 300)
    )
    entries = [
        silence("a", "active", T0 + 600),
        silence("gone", "expired", T0 - 1),
        own,
        silence("b", "active", T0 + 300),
    ]
    rows, more = live_silences(entries, 10)
    assert [r.id for r in rows] == ["b", "a", "c"]
    assert more == 0
    assert rows[0].matchers == ('alertname!~"A|B"', 'site="lon1"')
    assert (rows[0].created_by, rows[0].comment, rows[0].window) == ("alice", "pbx upgrade", None)
    assert rows[0].ends_at == T0 + 300
    assert (rows[2].state, rows[2].window) == ("pending", "mw-pbx")


def test_a_comment_with_the_tag_by_someone_else_is_not_callpulse_own() -> None:
    forged = silence("f", "active", T0 + 60, comment=comment("mw-pbx", T0))
    [row], _ = live_silences([forged], 10)
    assert row.window is None


def test_entries_of_another_shape_are_skipped_and_the_list_is_bounded() -> None:
    odd: list[Any] = [
        "text",
        None,
        silence("x", "active", T0, endsAt="tomorrow"),
        silence("y", "active", T0, matchers=[{"name": 1, "value": "v"}]),
        silence("z", "active", T0, createdBy=None),
        silence("w", "active", T0, status="active"),
    ]
    many = [silence(f"s{i:03}", "active", T0 + i) for i in range(30)]
    rows, more = live_silences(odd + many, 20)
    assert [r.id for r in rows] == [f"s{i:03}" for i in range(20)]
    assert more == 10
    with pytest.raises(ValueError, match="list of silences"):
        live_silences({"silences": []}, 10)


def test_long_texts_are_cut() -> None:
    [row], _ = live_silences([silence("l", "active", T0, comment="x" * 10_000)], 1)
    assert len(row.comment) == MAX_TEXT
    assert row.comment.endswith("\u2026")


def test_silenced_alerts_by_their_labels() -> None:
    labels = {"alertname": "ComponentDown", "site": "lon1"}
    entries: list[Any] = [
        {"labels": labels, "status": {"state": "suppressed", "silencedBy": ["s1", "s2"]}},
        {"labels": {"alertname": "Other"}, "status": {"state": "active", "silencedBy": []}},
        {"labels": {"alertname": 3}, "status": {"silencedBy": ["s3"]}},
        {"labels": labels},
        7,
    ]
    silenced = silenced_alerts(entries)
    assert silenced_by(silenced, labels.items()) == ["s1", "s2"]
    assert silenced_by(silenced, {"alertname": "Other"}.items()) == []
    assert len(silenced) == 1
    with pytest.raises(ValueError, match="list of alerts"):
        silenced_alerts({})


def test_silenced_alerts_kept_are_bounded() -> None:
    entries = [
        {"labels": {"i": str(i)}, "status": {"silencedBy": ["s"]}}
        for i in range(MAX_SILENCED_ALERTS + 5)
    ]
    assert len(silenced_alerts(entries)) == MAX_SILENCED_ALERTS

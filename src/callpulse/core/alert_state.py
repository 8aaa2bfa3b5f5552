"""An alert and what is sent of it: the state of one alert instance, the notification
Alertmanager takes (with its times put on the receiver's clock), the plain rows an alert is
kept in, and which replica may send it (the owner of its site)."""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Literal

from callpulse.core.timefmt import rfc3339

RESOLVED_RETENTION = 15 * 60.0
State = Literal["pending", "firing", "resolved"]
Labels = tuple[tuple[str, str], ...]  # sorted (name, value) pairs


@dataclass(frozen=True, slots=True)
class Notification:
    """One alert as Alertmanager's API v2 takes it."""

    labels: Mapping[str, str]
    annotations: Mapping[str, str]
    starts_at: float
    ends_at: float
    generator_url: str
    made_at: float | None = None  # the evaluation's time, on the same clock as the two above

    def to_alertmanager(self, wall_now: float | None = None) -> dict[str, Any]:
        """The JSON object of ``POST /api/v2/alerts``; with ``wall_now``, its times as
        :meth:`on_wall_clock` puts them."""
        starts, ends = (
            (self.starts_at, self.ends_at) if wall_now is None else self.on_wall_clock(wall_now)
        )
        return {
            "labels": dict(self.labels),
            "annotations": dict(self.annotations),
            "startsAt": rfc3339(starts),
            "endsAt": rfc3339(ends),
            "generatorURL": self.generator_url,
        }

    def on_wall_clock(self, wall_now: float) -> tuple[float, float]:
        """``startsAt`` and ``endsAt`` for a receiver whose clock reads ``wall_now``.

        The evaluation's clock is event time where the source is faster than real time (a
        simulation, a replay), ahead of the wall clock or behind it. Alertmanager reads
        ``endsAt`` against its own clock: a firing alert is valid for as long after now as
        it was after the evaluation, a resolved one ends no later than now (else it would
        stay active until event time caught up), and nothing starts in the future.
        """
        starts = min(self.starts_at, wall_now)
        if self.made_at is None:
            return starts, max(starts, self.ends_at)
        if self.ends_at > self.made_at:  # firing
            return starts, wall_now + (self.ends_at - self.made_at)
        return starts, max(starts, min(self.ends_at, wall_now))


@dataclass(slots=True)
class Alert:
    """One alert instance: a rule and one series' labels."""

    rule: str
    labels: Labels
    state: State
    active_at: float
    value: float
    annotations: dict[str, str]
    fired_at: float | None = None
    resolved_at: float | None = None
    keep_firing_since: float | None = None
    last_sent_at: float | None = None
    rule_id: str = ""  # which rule of those named ``rule``; see AlertEvaluator.rule_ids

    def label_dict(self) -> dict[str, str]:
        """The labels as a mapping."""
        return dict(self.labels)


def alert_row(a: Alert) -> dict[str, Any]:
    """``a`` as plain data: a state file's row, or the alert state topic's."""
    return {
        "rule": a.rule,
        "rule_id": a.rule_id,
        "labels": [list(pair) for pair in a.labels],
        "state": a.state,
        "active_at": a.active_at,
        "value": a.value,
        "annotations": a.annotations,
        "fired_at": a.fired_at,
        "resolved_at": a.resolved_at,
        "keep_firing_since": a.keep_firing_since,
        "last_sent_at": a.last_sent_at,
    }


def row_labels(row: Mapping[str, Any]) -> Labels:
    """The labels of a row :func:`alert_row` made."""
    return tuple((str(k), str(v)) for k, v in row["labels"])


def site_of(labels: Labels | Mapping[str, str]) -> str | None:
    """The ``site`` label of an alert or notification, if it has one."""
    if isinstance(labels, Mapping):
        return labels.get("site")
    return next((value for name, value in labels if name == "site"), None)


def owned_only(
    notifications: Iterable[Notification], owned: Collection[str]
) -> tuple[list[Notification], list[Notification]]:
    """Split ``notifications`` into those this replica may send (no ``site`` label, or a site
    in ``owned``) and those it may not: another replica owns their site and speaks for it."""
    mine: list[Notification] = []
    foreign: list[Notification] = []
    for n in notifications:
        site = site_of(n.labels)
        (mine if site is None or site in owned else foreign).append(n)
    return mine, foreign

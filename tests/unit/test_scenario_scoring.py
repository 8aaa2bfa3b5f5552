"""How `scenario check` turns notifications into episodes, flaps and scores."""

from __future__ import annotations

from callpulse.core.alert_state import Notification
from callpulse.simulation import scenario as scenarios
from callpulse.simulation.runner import Score, _Scorer

START = 1_800_000_000.0


class Center:
    """The truth a scorer reads: calls really waiting, set by the test."""

    def __init__(self) -> None:
        self.queue = 0

    def waiting(self, site: str, queue: str) -> int:
        return self.queue


def note(alert: str, t: float, firing: bool, **extra: str) -> Notification:
    labels = {"alertname": alert, "site": "lon1", "queue": "billing", **extra}
    annotations = {k: v for k, v in extra.items() if k in ("drain_eta", "drained_at")}
    labels = {k: v for k, v in labels.items() if k not in annotations}
    return Notification(labels, annotations, START, START + t + (300 if firing else 0), "")


def scorer() -> tuple[_Scorer, Center]:
    center = Center()
    scenario = scenarios.load("maintenance-backlog")
    return _Scorer(scenario, center, START, 15.0), center  # type: ignore[arg-type]


def test_a_refire_within_ten_minutes_of_a_resolve_is_a_flap() -> None:
    s, _ = scorer()
    s.step(START + 60, [note("X", 60, True)])
    s.step(START + 75, [note("X", 75, True)])  # a resend: the same episode
    s.step(START + 120, [note("X", 120, False)])
    s.step(START + 600, [note("X", 600, True)])  # 8 minutes later: a flap
    s.step(START + 700, [note("X", 700, False)])
    s.step(START + 1400, [note("X", 1400, True)])  # 11.7 minutes later: a new episode
    report = s.report
    assert [e.fired_at for e in report.episodes] == [60, 600, 1400]
    assert [e.fired_at for e in report.flaps] == [600]
    assert report.episodes[0].resolved_at == 120


def test_time_to_detect_counts_from_the_incident_under_way() -> None:
    s, _ = scorer()  # the maintenance starts at 40 minutes
    s.step(START + 2700, [note("MaintenanceBacklog", 2700, True, maintenance="m")])
    assert s.report.detect == {"MaintenanceBacklog": 300}


def test_the_drain_eta_is_scored_on_when_the_simulated_queue_drained() -> None:
    s, center = scorer()
    center.queue = 40
    fired = note("MaintenanceBacklog", 100, True, drain_eta="600s", drained_at="2")
    s.step(START + 100, [fired])
    center.queue = 3
    s.step(START + 400, [])
    center.queue = 2
    s.step(START + 900, [])
    [score] = s.report.eta
    assert (score.announced, score.actual) == (600, 800)
    assert score.error == 0.25


def test_a_score_without_truth_has_no_error() -> None:
    assert Score("X", (), 100.0, None).error is None
    assert Score("X", (), 100.0, 80.0).error == 0.25

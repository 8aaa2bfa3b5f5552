"""The built-in rules and the maintenance step they read, without the shell: a tracker, an
evaluator and the typed evaluation input, nothing else."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime

from callpulse.core.alerting import AlertEvaluator, AlertingConfig
from callpulse.core.builtin_rules import (
    builtin_rules,
    held_backlogs,
    maintenance_rules,
    source_down_rule,
)
from callpulse.core.calendar import AgentImpact, Calendar, WindowSpec
from callpulse.core.consumer_health import Blindness
from callpulse.core.evaluation_input import EvaluationInput
from callpulse.core.maintenance import MaintenanceTracker
from callpulse.core.maintenance_assessment import MaintenanceAssessment, assess_maintenance
from callpulse.core.maintenance_notes import backlog_summary, overrun_summary
from callpulse.core.maintenance_policy import BacklogLimits, BacklogPaging, EventPolicy
from callpulse.core.maintenance_state import BacklogState
from callpulse.core.queues import QueueFlow

from .events import event

NOW = datetime(2026, 11, 22, 14, 0, tzinfo=UTC).timestamp()
PAGING = BacklogPaging(severity="page", for_seconds=30.0, keep_firing_for=90.0)


@dataclass
class Reading:
    """A queue as the maintenance alerts read it: 20 agents on calls, AHT 300 s, a steady
    0.05 calls/s from a great many calls, nobody giving up."""

    calls_waiting: int = 0
    site: str = "lon1"
    queue: str = "billing"
    agents_serving: int = 20
    agents_known: bool = True
    agents: dict[str, int] = field(default_factory=lambda: {"on_call": 20})
    flow: QueueFlow = field(
        default_factory=lambda: QueueFlow(
            0.05,
            300.0,
            reneged=0,
            exposure_seconds=1e12,
            settled=True,
            arrivals=500_000,
            window="15m",
            span=1e7,
            completed=1_000_000,
        )
    )


def backlog(active: bool, waiting: int = 40) -> BacklogState:
    return BacklogState(
        site="lon1",
        queue="billing",
        maintenance="chg-1",
        waiting=waiting,
        baseline=2.0,
        drain_eta=3000.0,
        overhang=2000.0,
        window_left=0.0,
        drain_eta_low=2400.0,
        drain_eta_high=4000.0,
        overhang_low=1500.0,
        agents_available=0,
        agents_serving=12,
        agents_after=12,
        arrivals_per_second=0.03,
        arrivals_over="last 15m",
        aht=300.0,
        patience=600.0,
        fire_level=6.0,
        drained_level=2.0,
        agents_needed=22,
        active=active,
    )


def found(*backlogs: BacklogState) -> MaintenanceAssessment:
    return MaintenanceAssessment(backlogs, (), (), target_drain_eta=900.0)


# --- the rules ---------------------------------------------------------------------------


def test_the_maintenance_rules_are_sent_as_the_paging_policy_says() -> None:
    rules = maintenance_rules(PAGING)
    assert [(r.name, r.spec.severity) for r in rules] == [
        ("MaintenanceBacklog", "page"),
        ("MaintenanceImpactForecast", "warning"),
        ("MaintenanceOverrun", "warning"),
    ]
    backlog_rule, forecast, overrun = (r.spec for r in rules)
    assert (backlog_rule.for_seconds, backlog_rule.keep_firing_for) == (30.0, 90.0)
    assert (forecast.for_seconds, forecast.keep_firing_for) == (0.0, 0.0)
    assert (overrun.for_seconds, overrun.keep_firing_for) == (0.0, 90.0)
    assert all(r.builtin is not None and r.family is None for r in rules)
    assert [r.name for r in builtin_rules(PAGING)] == [
        *(r.name for r in rules),
        "CallpulseSourceDown",
    ]


def test_with_nothing_assessed_and_the_source_in_sight_no_built_in_reports_a_series() -> None:
    data = EvaluationInput(NOW, {})
    for rule in builtin_rules(PAGING):
        assert rule.builtin is not None
        assert list(rule.builtin(data)) == []


def test_the_backlog_series_carries_the_assessment_s_values_and_advice() -> None:
    [backlog_rule] = [r for r in maintenance_rules(PAGING) if r.name == "MaintenanceBacklog"]
    assert backlog_rule.builtin is not None
    drained = backlog(active=False, waiting=2)
    data = EvaluationInput(NOW, {}, maintenance=found(backlog(active=True), drained))
    [paging, done] = backlog_rule.builtin(data)
    assert dict(paging.labels) == {"site": "lon1", "queue": "billing", "maintenance": "chg-1"}
    assert (paging.value, paging.active) == (40.0, True)
    # The staffing advice aims at the assessment's max_drain_eta.
    assert paging.annotations == backlog_summary(backlog(active=True), 900.0)
    # A drained backlog is still reported, inactive: an alert resolves with its values.
    assert (done.value, done.active) == (2.0, False)


def test_source_down_says_for_how_long_the_source_has_been_out_of_sight() -> None:
    rule = source_down_rule()
    assert rule.builtin is not None
    assert (rule.spec.severity, rule.spec.for_seconds) == ("critical", 0.0)
    blind = Blindness("kafka", "brokers unreachable", NOW - 90)
    [series] = rule.builtin(EvaluationInput.of(NOW, [], {}, blindness=blind))
    assert (dict(series.labels), series.value) == ({"source": "kafka"}, 90)
    assert series.annotations["summary"].startswith(
        "callpulse cannot see its kafka source: brokers unreachable (blind 90s)"
    )
    assert series.annotations["since"] == "2026-11-22T13:58:30.000Z"


def test_a_blindness_makes_the_input_blind() -> None:
    blind = Blindness("kafka", "brokers unreachable", NOW)
    assert EvaluationInput.of(NOW, [], {}, blindness=blind).blind
    assert not EvaluationInput.of(NOW, [], {}).blind


def test_only_a_firing_backlog_is_held() -> None:
    evaluator = AlertEvaluator(builtin_rules(PAGING), AlertingConfig())
    data = EvaluationInput(NOW, {}, maintenance=found(backlog(active=True)))
    evaluator.evaluate(data)
    assert held_backlogs(evaluator) == set()  # pending: for (30 s) has not run out
    evaluator.evaluate(EvaluationInput(NOW + 30, {}, maintenance=found(backlog(active=True))))
    assert held_backlogs(evaluator) == {("lon1", "billing", "chg-1")}
    # Drained: riding out keep_firing_for, it is no longer held by its backlog.
    evaluator.evaluate(EvaluationInput(NOW + 35, {}, maintenance=found(backlog(active=False))))
    assert held_backlogs(evaluator) == set()
    assert held_backlogs(AlertEvaluator([], AlertingConfig())) == set()


# --- the step: prune, sample, assess -------------------------------------------------------


def test_a_window_past_max_duration_is_closed_before_it_is_assessed() -> None:
    limits = BacklogLimits(overrun_after=60.0)
    tracker = MaintenanceTracker(None, limits, EventPolicy(max_duration=3600.0))
    start = event("maintenance.started", NOW, maintenance_id="chg-1", components=["pbx-2"])
    tracker.apply(start, NOW, 0, False)
    down = {("lon1", "pbx-2"): "down"}
    # Pruned first, the window closed at 3600 s: its component, still down a minute on,
    # is overrun at this very evaluation (assessed before the prune, it would look open).
    result = assess_maintenance(tracker, NOW + 3660, [], down)
    [closed] = tracker.expired
    assert closed.end == NOW + 3600
    [overrun] = result.overruns
    assert (overrun.component, overrun.maintenance, overrun.active) == ("pbx-2", "chg-1", True)
    [rule] = [r for r in maintenance_rules(PAGING) if r.name == "MaintenanceOverrun"]
    assert rule.builtin is not None
    [series] = rule.builtin(EvaluationInput(NOW + 3660, {}, maintenance=result))
    assert (series.value, series.annotations) == (1.0, overrun_summary(overrun))


def test_a_forecast_is_made_on_the_reading_sampled_at_the_same_evaluation() -> None:
    spec = WindowSpec(
        "patching",
        ("lon1",),
        datetime(2026, 11, 22, 14, 20),
        1800.0,
        queues=("billing",),
        agents_affected=AgentImpact(share=0.5),
    )
    calendar = Calendar([spec], "UTC")
    # The queue's only reading is this evaluation's: sampled before the assessment, it is
    # what the forecast rests on (assessed first, there would be nothing to forecast from).
    tracker = MaintenanceTracker(calendar, BacklogLimits(forecast_lead=1800.0))
    result = assess_maintenance(tracker, NOW, [Reading()], {})
    [forecast] = result.forecasts
    assert (forecast.maintenance, forecast.agents_lost, forecast.active) == ("patching", 10, True)
    unsampled = MaintenanceTracker(calendar, BacklogLimits(forecast_lead=1800.0))
    unsampled.assess(NOW, [Reading()], {})
    assert unsampled.forecasts == []


def test_the_assessment_is_what_the_tracker_found_and_its_drain_target() -> None:
    tracker = MaintenanceTracker(None, BacklogLimits(max_drain_eta=600.0))
    result = assess_maintenance(tracker, NOW, [Reading()], {})
    assert result == MaintenanceAssessment((), (), (), target_drain_eta=600.0)
    assert (tracker.backlogs, tracker.forecasts, tracker.overruns) == ([], [], [])

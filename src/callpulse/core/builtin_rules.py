"""The built-in rules: the maintenance alerts and CallpulseSourceDown.

Each is a :class:`~callpulse.core.rules.Rule` whose series come from a producer reading the
:class:`~callpulse.core.alerting.EvaluationInput` alone: the maintenance alerts read its
``maintenance`` (what :func:`~callpulse.core.maintenance_assessment.assess_maintenance`
found at that evaluation), CallpulseSourceDown its ``blindness``. They report series that no
longer hold too (``active`` False), so that an alert resolves with the values it stopped at
(a drained backlog says what it drained to).

- **MaintenanceBacklog** (severity, ``for`` and ``keep_firing_for`` as
  :class:`~callpulse.core.maintenance_policy.BacklogPaging` says): a queue a window left
  with more callers than its agents will drain in time;
- **MaintenanceImpactForecast** (warning): a planned window about to leave such a backlog;
- **MaintenanceOverrun** (warning, the backlog's ``keep_firing_for``): a component still down
  or degraded after its window;
- **CallpulseSourceDown** (critical): callpulse cannot see its source.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

from callpulse.core.alerting import AlertEvaluator
from callpulse.core.durations import format_duration
from callpulse.core.evaluation_input import EvaluationInput
from callpulse.core.maintenance_assessment import MaintenanceAssessment
from callpulse.core.maintenance_notes import backlog_summary, forecast_summary, overrun_summary
from callpulse.core.maintenance_policy import BacklogPaging
from callpulse.core.maintenance_state import BacklogKey
from callpulse.core.rules import Rule, Series, builtin_rule
from callpulse.core.timefmt import rfc3339


def builtin_rules(paging: BacklogPaging) -> list[Rule]:
    """Every built-in rule: the maintenance ones (sent as ``paging`` says), then
    CallpulseSourceDown."""
    return [*maintenance_rules(paging), source_down_rule()]


def maintenance_rules(paging: BacklogPaging) -> list[Rule]:
    """MaintenanceBacklog (sent as ``paging`` says), MaintenanceImpactForecast and
    MaintenanceOverrun (which keeps firing as long as the backlog does)."""
    return [
        builtin_rule(
            "MaintenanceBacklog",
            paging.severity,
            backlog_series,
            paging.keep_firing_for,
            paging.for_seconds,
        ),
        builtin_rule("MaintenanceImpactForecast", "warning", forecast_series),
        builtin_rule("MaintenanceOverrun", "warning", overrun_series, paging.keep_firing_for),
    ]


def source_down_rule() -> Rule:
    """CallpulseSourceDown: pages at once while the source cannot see."""
    return builtin_rule("CallpulseSourceDown", "critical", source_down_series)


def held_backlogs(evaluator: AlertEvaluator) -> set[BacklogKey]:
    """The MaintenanceBacklog alerts of ``evaluator`` that fire and were active at its last
    evaluation, as (site, queue, maintenance): the only ones held until their backlog drains
    (a pending one starts over once its backlog is not material)."""
    rule = next((r for r in evaluator.rules if r.builtin is backlog_series), None)
    if rule is None:
        return set()
    held = (a.label_dict() for a in evaluator.held(rule))
    return {(labels["site"], labels["queue"], labels["maintenance"]) for labels in held}


def _reads_assessment(
    series: Callable[[MaintenanceAssessment], Iterable[Series]],
) -> Callable[[EvaluationInput], Iterable[Series]]:
    """A producer of ``series`` from the input's maintenance assessment; none without one."""

    def produce(data: EvaluationInput) -> Iterable[Series]:
        return () if data.maintenance is None else series(data.maintenance)

    return produce


@_reads_assessment
def backlog_series(found: MaintenanceAssessment) -> Iterable[Series]:
    """MaintenanceBacklog's series: each affected queue's calls waiting."""
    for b in found.backlogs:
        labels = {"site": b.site, "queue": b.queue, "maintenance": b.maintenance}
        notes = backlog_summary(b, found.target_drain_eta)
        yield Series(labels, float(b.waiting), notes, b.active)


@_reads_assessment
def forecast_series(found: MaintenanceAssessment) -> Iterable[Series]:
    """MaintenanceImpactForecast's series: each queue's forecast peak of calls waiting."""
    for f in found.forecasts:
        labels = {"site": f.site, "queue": f.queue, "maintenance": f.maintenance}
        yield Series(labels, round(f.peak, 1), forecast_summary(f), f.active)


@_reads_assessment
def overrun_series(found: MaintenanceAssessment) -> Iterable[Series]:
    """MaintenanceOverrun's series: 1 for each component not back after its window."""
    for o in found.overruns:
        labels = {"site": o.site, "component": o.component, "maintenance": o.maintenance}
        yield Series(labels, 1.0 if o.active else 0.0, overrun_summary(o), o.active)


def source_down_series(data: EvaluationInput) -> Iterable[Series]:
    """CallpulseSourceDown's series: for how long (seconds) the source has been out of sight."""
    blindness = data.blindness
    if blindness is None:
        return
    blind_for = max(0.0, data.now - blindness.since)
    summary = (
        f"callpulse cannot see its {blindness.source} source: {blindness.reason} "
        f"(blind {format_duration(round(blind_for))}). Site silence and waits are held "
        "until it has caught up."
    )
    labels = {"source": blindness.source}
    yield Series(labels, round(blind_for), {"summary": summary, "since": rfc3339(blindness.since)})

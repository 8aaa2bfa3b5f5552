"""One evaluation's judgement of the maintenance windows: prune, sample, assess, in that order.

Before the rules are evaluated, the tracker (:mod:`callpulse.core.maintenance`) is brought to
``now`` in three steps, and the order is part of the behaviour:

1. **prune**: event windows open longer than ``max_duration`` close, and what ended more than
   the grace period ago (and no alert still holds) is forgotten;
2. **sample**: each queue's reading at ``now`` goes into the baselines, against the windows
   prune left open or within their grace (a window it just closed is no longer "open");
3. **assess**: MaintenanceBacklog, MaintenanceImpactForecast and MaintenanceOverrun are
   judged on those baselines, this evaluation's reading included.

:func:`assess_maintenance` runs them in that order and returns what was found, a
:class:`MaintenanceAssessment`, which the built-in rules (:mod:`callpulse.core.builtin_rules`)
read from the :class:`~callpulse.core.alerting.EvaluationInput`. It does no I/O and reads no
clock: it moves the tracker's own state on, and nothing else.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass

from callpulse.core.maintenance import MaintenanceTracker
from callpulse.core.maintenance_state import (
    BacklogKey,
    BacklogState,
    ForecastState,
    OverrunState,
    QueueReading,
)
from callpulse.core.steps import Steps, finish


@dataclass(frozen=True)
class MaintenanceAssessment:
    """What one assessment found: each affected queue's backlog, each upcoming window's
    forecast per queue, each component that has not come back after its window; and
    ``target_drain_eta``, the drain time a backlog's staffing advice aims at
    (``max_drain_eta``)."""

    backlogs: Sequence[BacklogState]
    forecasts: Sequence[ForecastState]
    overruns: Sequence[OverrunState]
    target_drain_eta: float


def assess_maintenance(
    tracker: MaintenanceTracker,
    now: float,
    queues: Sequence[QueueReading],
    status: Mapping[tuple[str, str], str],
    firing: Collection[BacklogKey] = (),
) -> MaintenanceAssessment:
    """Prune, sample and assess ``tracker`` at ``now`` (see the module's docstring).

    ``queues``: every queue's reading, read once for this evaluation; ``status``: each
    (site, component)'s status; ``firing``: the MaintenanceBacklog alerts that fire and were
    active at the last evaluation (:func:`~callpulse.core.builtin_rules.held_backlogs`), the
    only ones held until their backlog has drained.
    """
    return finish(assess_maintenance_in_steps(tracker, now, queues, status, firing))


def assess_maintenance_in_steps(
    tracker: MaintenanceTracker,
    now: float,
    queues: Sequence[QueueReading],
    status: Mapping[tuple[str, str], str],
    firing: Collection[BacklogKey] = (),
) -> Steps[MaintenanceAssessment]:
    """:func:`assess_maintenance`, yielding while it samples the queues (a minute's sample
    of 50k queues is a tenth of a second at once)."""
    tracker.prune(now)
    yield from tracker.sample_in_steps(now, queues)
    tracker.assess(now, queues, status, firing)
    return MaintenanceAssessment(
        tuple(tracker.backlogs),
        tuple(tracker.forecasts),
        tuple(tracker.overruns),
        tracker.limits.max_drain_eta,
    )

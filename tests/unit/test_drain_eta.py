"""Which backlog assessment a queue's one drain ETA reads."""

from __future__ import annotations

import math

from callpulse.core.drain_eta import DrainEta, assessed, queue_eta
from callpulse.core.maintenance_state import BacklogState
from callpulse.core.queues import QueueView


def backlog(window: str, eta: float | None, active: bool, queue: str = "billing") -> BacklogState:
    return BacklogState(
        site="lon1", queue=queue, maintenance=window, waiting=30, baseline=2.0,
        drain_eta=eta, overhang=eta, window_left=600.0,
        drain_eta_low=None if eta is None else eta / 2,
        drain_eta_high=None if eta is None else eta * 2,
        overhang_low=eta, agents_available=0, agents_serving=5, agents_after=10,
        arrivals_per_second=0.1, arrivals_over="last 15m", aht=300.0, patience=math.inf,
        fire_level=6.0, drained_level=2.0, agents_needed=None, active=active,
    )  # fmt: skip


def view(queue: str, eta: float | None) -> QueueView:
    return QueueView(
        site="lon1", queue=queue, calls_waiting=30, oldest_wait_seconds=60.0,
        agents={}, totals={}, windows=(), predicted_service_level=None,
        agents_required=None, drain_eta_seconds=eta,
    )  # fmt: skip


def test_a_queue_two_windows_affect_reads_the_paging_one_then_the_later_drain() -> None:
    quiet_late, paging = backlog("a", 4000.0, False), backlog("b", 1200.0, True)
    unknown = backlog("c", None, False)
    assert assessed([quiet_late, paging, unknown])[("lon1", "billing")] is paging
    assert assessed([unknown, quiet_late])[("lon1", "billing")] is quiet_late
    assert queue_eta(view("billing", 99.0), assessed([quiet_late])) == DrainEta(
        4000.0, 2000.0, 8000.0, "a"
    )


def test_a_queue_no_window_assesses_reads_its_own_drain_without_a_range() -> None:
    backlogs = assessed([backlog("a", 4000.0, True, queue="sales")])
    assert queue_eta(view("billing", 99.0), backlogs) == DrainEta(99.0)
    never = queue_eta(view("billing", math.inf), backlogs)
    assert not never.drains
    assert queue_eta(view("billing", None), backlogs).drains  # unknown is not "never"

"""A queue's drain ETA as every surface shows it: the gauge, the status page and its JSON, and
``callpulse status``; MaintenanceBacklog's annotations are the same reading.

While a maintenance window's backlog on the queue is being assessed (during the window and
its grace period, or until a page on it has drained), the ETA is that assessment's
(:class:`~callpulse.core.maintenance_state.BacklogState`): the median of the window-aware model,
staff the window took coming back, with its P10-P90 range, the very numbers the alert
pages on and says. Otherwise it is the queue's own reading at the staffing it has now
(:attr:`~callpulse.core.queues.QueueView.drain_eta_seconds`, the same chain's mean), with no
range: its quantiles cost too much to compute for every queue at every scrape.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import final

from callpulse.core.maintenance_state import BacklogState
from callpulse.core.queues import QueueView


@final
@dataclass(init=False)
class DrainEta:
    """Seconds until a queue's backlog has drained: ``None`` unknown, ``math.inf`` never.

    ``low`` and ``high`` are the P10 and P90 (``None`` where no range is computed);
    ``maintenance`` names the window whose backlog it is, ``None`` for staffing as now.
    One a queue at every scrape: a native class, read-only by contract, as the queue views
    (see :mod:`callpulse.core.queues`).
    """

    seconds: float | None
    low: float | None
    high: float | None
    maintenance: str | None

    def __init__(
        self,
        seconds: float | None,
        low: float | None = None,
        high: float | None = None,
        maintenance: str | None = None,
    ) -> None:
        self.seconds = seconds
        self.low = low
        self.high = high
        self.maintenance = maintenance

    @property
    def drains(self) -> bool:
        """False when the model says the backlog will not drain (within its horizon)."""
        return self.seconds is None or not math.isinf(self.seconds)


def assessed(backlogs: Iterable[BacklogState]) -> dict[tuple[str, str], BacklogState]:
    """The backlog assessment each queue's ETA reads, by (site, queue).

    A queue two windows affect at once reads the one paging (MaintenanceBacklog active),
    then the later drain: the one an engineer must plan for.
    """
    out: dict[tuple[str, str], BacklogState] = {}
    for b in backlogs:
        key = (b.site, b.queue)
        current = out.get(key)
        if current is None or _rank(b) > _rank(current):
            out[key] = b
    return out


def queue_eta(view: QueueView, backlogs: Mapping[tuple[str, str], BacklogState]) -> DrainEta:
    """The drain ETA of ``view``'s queue; ``backlogs`` as :func:`assessed` gives them."""
    b = backlogs.get((view.site, view.queue))
    if b is None:
        return DrainEta(view.drain_eta_seconds)
    return DrainEta(b.drain_eta, b.drain_eta_low, b.drain_eta_high, b.maintenance)


def _rank(b: BacklogState) -> tuple[bool, float]:
    return b.active, -1.0 if b.drain_eta is None else b.drain_eta

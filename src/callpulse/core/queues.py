"""ACD queues as they are exposed: the service-level policy, and a queue's KPIs over a
window, its traffic, everything read about it at one instant, and the little of that a
maintenance baseline samples.

The tracker that keeps the state these are read from is :mod:`callpulse.core.queue_tracker`.

The views are read for every queue at every evaluation and scrape (50k objects at 10k
queues), so they are built as cheaply as the compiled build allows: a frozen dataclass's
``__init__`` is Python that sets each field through ``object.__setattr__`` (2.7 us for 20
fields, compiled or not), where a final class with its own ``__init__`` is a native
constructor (40 ns). They keep the dataclass's equality, repr and ``replace`` (their
defaults are their ``__init__``'s), and are read-only by contract: readers share them (see
``Monitor.queue_views``), and, no longer frozen, they are not hashable.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import final

from callpulse.core.kpi import AbandonPolicy

TOTALS = ("offered", "answered", "abandoned", "answered_within_threshold")


@dataclass(frozen=True, slots=True)
class ServiceLevelPolicy:
    """How a queue's service level is measured and what it should be.

    Threshold T and short-abandon threshold S in seconds, how abandons count, and the target
    share of calls answered within T (the Erlang C staffing goal).
    """

    threshold: float = 20.0
    short_abandon: float = 5.0
    abandons: AbandonPolicy = "negative"
    target: float = 0.8


@final
@dataclass(init=False, slots=True)
class QueueWindow:
    """A queue's KPIs over one window; ``None`` where the denominator is zero."""

    window: str
    offered: int
    answered: int
    abandoned: int
    service_level: float | None
    abandon_ratio: float | None
    asa_seconds: float | None
    aht_seconds: float | None
    occupancy: float | None

    def __init__(
        self,
        window: str,
        offered: int,
        answered: int,
        abandoned: int,
        service_level: float | None,
        abandon_ratio: float | None,
        asa_seconds: float | None,
        aht_seconds: float | None,
        occupancy: float | None,
    ) -> None:
        self.window = window
        self.offered = offered
        self.answered = answered
        self.abandoned = abandoned
        self.service_level = service_level
        self.abandon_ratio = abandon_ratio
        self.asa_seconds = asa_seconds
        self.aht_seconds = aht_seconds
        self.occupancy = occupancy


@final
@dataclass(init=False, slots=True)
class QueueFlow:
    """A queue's traffic over one window, per second of the span the window really covers.

    ``reneged`` callers left unanswered (abandoned or asked for a callback) after waiting
    ``exposure_seconds`` in all, counting the waits of answered and still-waiting callers
    too: the censored data from which the callers' patience is estimated.
    """

    arrivals_per_second: float
    aht_seconds: float | None
    reneged: int
    exposure_seconds: float
    settled: bool  # the window holds a whole window's worth of traffic
    arrivals: int  # calls queued within it
    window: str  # its label
    span: float  # the seconds it really covers
    completed: int  # calls completed within it (aht_seconds is their mean)
    still_waiting_seconds: float  # of exposure_seconds, the waits not over yet

    def __init__(
        self,
        arrivals_per_second: float = 0.0,
        aht_seconds: float | None = None,
        reneged: int = 0,
        exposure_seconds: float = 0.0,
        settled: bool = False,
        arrivals: int = 0,
        window: str = "",
        span: float = 0.0,
        completed: int = 0,
        still_waiting_seconds: float = 0.0,
    ) -> None:
        self.arrivals_per_second = arrivals_per_second
        self.aht_seconds = aht_seconds
        self.reneged = reneged
        self.exposure_seconds = exposure_seconds
        self.settled = settled
        self.arrivals = arrivals
        self.window = window
        self.span = span
        self.completed = completed
        self.still_waiting_seconds = still_waiting_seconds


_NO_FLOW = QueueFlow()


@final
@dataclass(init=False, slots=True)
class QueueView:
    """Everything exposed about one queue at one instant.

    Capacity N counts the agents available, on a call or in after-call work: AHT includes
    ACW, so an agent wrapping up is a busy server, not a missing one. The Erlang C fields are
    ``None`` where the model does not apply: no handle time seen yet, no agent serving, or no
    more agents than the offered load (N <= A). ``drain_eta_seconds`` is ``math.inf`` when
    capacity does not exceed arrivals, including N = 0 before any handle time is known.
    ``flow`` is the traffic over the longest window, steady enough for the maintenance
    backlog model not to swing with one call.

    ``agents_known`` is False for a queue no ``agent.state`` has ever named (a feed of calls
    alone, such as Connect's contact records): its agent counts are then not a reading but
    an absence, and what is computed from them is ``None`` (no series), not 0 agents: the
    calls waiting with no agent available, the Erlang C prediction, the drain ETA and
    occupancy. Once an agent has named the queue, 0 agents is a reading.
    """

    site: str
    queue: str
    calls_waiting: int
    oldest_wait_seconds: float
    agents: Mapping[str, int]
    totals: Mapping[str, int]
    windows: tuple[QueueWindow, ...]
    predicted_service_level: float | None
    agents_required: int | None
    drain_eta_seconds: float | None
    arrivals_per_second: float  # over the Erlang window
    aht_seconds: float | None  # over the Erlang window
    flow: QueueFlow
    agents_known: bool

    def __init__(
        self,
        site: str,
        queue: str,
        calls_waiting: int,
        oldest_wait_seconds: float,
        agents: Mapping[str, int],
        totals: Mapping[str, int],
        windows: tuple[QueueWindow, ...],
        predicted_service_level: float | None,
        agents_required: int | None,
        drain_eta_seconds: float | None,
        arrivals_per_second: float = 0.0,
        aht_seconds: float | None = None,
        flow: QueueFlow = _NO_FLOW,
        agents_known: bool = True,
    ) -> None:
        self.site = site
        self.queue = queue
        self.calls_waiting = calls_waiting
        self.oldest_wait_seconds = oldest_wait_seconds
        self.agents = agents
        self.totals = totals
        self.windows = windows
        self.predicted_service_level = predicted_service_level
        self.agents_required = agents_required
        self.drain_eta_seconds = drain_eta_seconds
        self.arrivals_per_second = arrivals_per_second
        self.aht_seconds = aht_seconds
        self.flow = flow
        self.agents_known = agents_known

    @property
    def agents_serving(self) -> int:
        """Capacity N: agents available, on a call or in after-call work."""
        agents = self.agents
        return agents["available"] + agents["on_call"] + agents["acw"]

    @property
    def calls_waiting_no_agent_available(self) -> int | None:
        """Calls waiting while no agent serving the queue is available (else 0); None when
        no agent stream has described the queue."""
        if not self.agents_known:
            return None
        return self.calls_waiting if self.agents["available"] == 0 else 0


@final
@dataclass(init=False, slots=True)
class QueueLoad:
    """What a maintenance baseline samples of a queue at one instant: its calls waiting, its
    agents and its traffic over the longest window, the values a :class:`QueueView` of the
    same instant has, without the KPIs per window or the outlook read to build the rest."""

    site: str
    queue: str
    calls_waiting: int
    agents: Mapping[str, int]
    flow: QueueFlow
    agents_known: bool

    def __init__(
        self,
        site: str,
        queue: str,
        calls_waiting: int,
        agents: Mapping[str, int],
        flow: QueueFlow,
        agents_known: bool,
    ) -> None:
        self.site = site
        self.queue = queue
        self.calls_waiting = calls_waiting
        self.agents = agents
        self.flow = flow
        self.agents_known = agents_known

    @property
    def agents_serving(self) -> int:
        """Capacity N: agents available, on a call or in after-call work."""
        agents = self.agents
        return agents["available"] + agents["on_call"] + agents["acw"]

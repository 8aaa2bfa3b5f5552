"""What the maintenance alerts read and what they found: a queue's reading, its baseline
before a window, and the judged state of each built-in maintenance alert."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import NamedTuple, Protocol

from callpulse.core.queues import QueueFlow


class QueueReading(Protocol):
    """What the maintenance alerts read of a queue (a :class:`QueueView` has it)."""

    @property
    def site(self) -> str: ...
    @property
    def queue(self) -> str: ...
    @property
    def calls_waiting(self) -> int: ...
    @property
    def agents(self) -> Mapping[str, int]: ...
    @property
    def agents_serving(self) -> int: ...
    @property
    def agents_known(self) -> bool: ...
    @property
    def flow(self) -> QueueFlow: ...


BacklogKey = tuple[str, str, str]
"""A MaintenanceBacklog series: (site, queue, maintenance)."""


class Sample(NamedTuple):
    """One baseline sample of a queue, at an evaluation."""

    at: float
    waiting: int
    serving: int
    arrivals: float
    aht: float | None
    settled: bool


@dataclass(frozen=True)
class Baseline:
    """A queue's normal before a window: calls waiting, agents serving, arrivals and AHT.

    The backlog model takes its arrival rate and handle time from here rather than from the
    window's own traffic. Neither changes because a window takes phones away, but their
    live estimates swing: arrivals with chance (a mean of every sample over the baseline
    period is steadier than one 15-minute window), and AHT because the calls completed just
    after staff leave are the long ones (a call in progress at a random moment is likely a
    long one), so AHT measured during a window reads high.
    """

    waiting: float
    serving: float
    arrivals: float | None  # None: no sample saw a whole window of traffic
    aht: float | None
    aht_calls: int = 0  # the completed calls aht rests on (0: unknown)

    @classmethod
    def of(cls, rows: Sequence[Sample]) -> Baseline:
        """The baseline of ``rows`` (not empty): means, and the newest AHT."""
        settled = [r for r in rows if r.settled]
        ahts = [r.aht for r in rows if r.aht is not None]
        return cls(
            waiting=sum(r.waiting for r in rows) / len(rows),
            serving=sum(r.serving for r in rows) / len(rows),
            arrivals=sum(r.arrivals for r in settled) / len(settled) if settled else None,
            aht=ahts[-1] if ahts else None,
        )


@dataclass
class BacklogState:
    """One affected queue during (or after) one window, as the last evaluation judged it.

    ``drain_eta``: seconds from now until the backlog is back at ``drained_level``, the
    median of the queue model (:mod:`callpulse.core.drain`), with ``drain_eta_low`` and
    ``drain_eta_high`` its P10 and P90: staffing as now until the window ends
    (``window_left`` seconds; ``math.inf`` for an event window with no end yet), then the
    staff it took coming back over ``return_spread`` to where it was before the window.
    Arrivals at the live rate, reaching back through older readings while the rate holds
    steady (the baseline's while all of them rest on too few calls),
    callers giving up at the rate their own waits and abandons say. ``overhang``: how much of
    the median lies after the window's end (counted from that end once it has passed), the
    part the window leaves behind; ``overhang_low`` the same of the drain's quick end, the
    quantile ``1 - page_confidence`` (a normal's, between the P10 and the median: the P25
    by default), what the alert pages on: it pages when it is that sure the drain is too
    late. All ``None`` when unknown (no handle time seen yet and agents serving),
    ``math.inf`` when it will not drain.
    """

    site: str
    queue: str
    maintenance: str
    waiting: int
    baseline: float | None  # None: nothing was sampled before the window
    drain_eta: float | None
    overhang: float | None
    window_left: float
    drain_eta_low: float | None
    drain_eta_high: float | None
    overhang_low: float | None
    agents_available: int
    agents_serving: int
    agents_after: int
    arrivals_per_second: float
    arrivals_over: str  # what the rate is measured over: "last 15m", or "before the window"
    aht: float | None
    patience: float  # the callers' mean patience, seconds (math.inf: nobody gives up)
    fire_level: float
    drained_level: float
    agents_needed: int | None  # serving after the window to drain within max_drain_eta
    active: bool  # MaintenanceBacklog is active on this queue


@dataclass
class ForecastState:
    """What a planned window, not yet open, is expected to do to one queue's backlog."""

    site: str
    queue: str
    maintenance: str
    starts_in: float
    duration: float
    agents_serving: int
    agents_lost: int
    peak: float  # expected calls waiting as the window ends
    drain_after: float  # seconds after the window until drained (median)
    agents_to_keep: int | None  # the fewest agents on the queue during it within the limits
    active: bool
    peak_low: float = 0.0  # P10 and P90 of the calls waiting as it ends
    peak_high: float = 0.0
    patience: float = math.inf  # the callers' mean patience assumed, seconds
    patience_from: str = ""  # what that rests on, in words


@dataclass
class OverrunState:
    """A component a window named, checked after the window ended."""

    site: str
    component: str
    maintenance: str
    status: str | None
    active: bool

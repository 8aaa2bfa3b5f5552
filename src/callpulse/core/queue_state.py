"""One ACD queue's live state and one agent's, as the queue tracker keeps them: the calls
waiting (made to agree with the ACD's snapshots), the agents by state, and their time
stored in buckets as it passes.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Final

from callpulse.core import events as ev
from callpulse.core.kpi import QueueField
from callpulse.core.queues import TOTALS, ServiceLevelPolicy
from callpulse.core.timegrid import TimeGrid
from callpulse.core.windows import Counters, bucket_of

# A real queue never holds this many callers; past it the oldest entries are dropped (the
# ACD's next queue.snapshot restores the true count).
MAX_WAITING_PER_QUEUE = 10_000
# Clocks of the ACD and of the events' producer may disagree by this much.
SNAPSHOT_TOLERANCE = 2.0
_STANDIN = "snapshot:"

# Plain ints, read once (an enum member is a class attribute looked up at each use).
_AGENT_BUSY_MS: Final = int(QueueField.AGENT_BUSY_MS)
_AGENT_AVAILABLE_MS: Final = int(QueueField.AGENT_AVAILABLE_MS)

STATE_INDEX = {state: i for i, state in enumerate(ev.AGENT_STATES)}
_AVAILABLE, _ON_CALL, _ACW = (STATE_INDEX[s] for s in ("available", "on_call", "acw"))


@dataclass(slots=True)
class TrackedAgent:
    """An agent's state as last reported, and the queues it counts in."""

    state: ev.AgentStateName
    since: float
    queues: tuple[str, ...]  # as admitted under the queue cap
    named: list[str]  # as the last event named them


@dataclass(slots=True)
class QueueState:
    """One queue's live state: its windows' counters, calls waiting, totals and agents."""

    counters: Counters
    policy: ServiceLevelPolicy
    accrued: float = 0.0  # agent time is stored in buckets up to here
    waiting: dict[str, float] = field(default_factory=dict)  # call_id -> queued at
    totals: list[int] = field(default_factory=lambda: [0] * len(TOTALS))
    agents: list[int] = field(default_factory=lambda: [0] * len(ev.AGENT_STATES))
    touched: float = 0.0  # when an event last named the queue
    described: bool = False  # an agent.state has named it: its agent counts are a reading
    run: list[int] | None = None  # every window field summed since the start (see keep_run)
    # The drain gauge's last model run: its inputs (rates to 3 significant digits) and value.
    drain: tuple[tuple[float, ...], float | None] | None = None

    def add(self, bucket: int, values: tuple[tuple[int, int], ...]) -> None:
        """Add ``values`` (field, amount) to ``bucket``, and to the run since the start."""
        self.counters.add(bucket, values)
        if self.run is not None:
            for index, amount in values:
                self.run[index] += amount

    def end_wait(self, call_id: str) -> None:
        """``call_id``'s wait is over; an end for an unknown call retires the oldest
        stand-in a snapshot made."""
        if self.waiting.pop(call_id, None) is None:
            standins = [c for c in self.waiting if c.startswith(_STANDIN)]
            if standins:
                del self.waiting[min(standins, key=self.waiting.__getitem__)]

    def reconcile(self, snap: ev.QueueSnapshot, ts: float) -> None:
        """Make the waiting calls agree with the ACD's own count and oldest wait at ``ts``."""
        waiting = self.waiting
        count = min(snap.calls_waiting, MAX_WAITING_PER_QUEUE)
        oldest_at = ts - snap.oldest_wait_seconds
        known = sorted((t, call) for call, t in waiting.items() if t <= ts)
        for _, call in known:
            del waiting[call]
        # Nobody has waited longer than the ACD's oldest call: older entries lost their end.
        keep = [(t, call) for t, call in known if t >= oldest_at - SNAPSHOT_TOLERANCE]
        if len(keep) > count:
            # The ACD's oldest is still there; of the rest, first come, first served.
            keep = keep[:1] + keep[len(keep) - count + 1 :] if count else []
        for t, call in keep:
            waiting[call] = t
        # Calls the ACD counts that no event announced: stand-ins until their end arrives
        # (an end for an unknown call retires the oldest stand-in) or the next snapshot.
        for i in range(count - len(keep)):
            waiting[f"{_STANDIN}{snap.event_id}:{i}"] = ts
        if count:
            oldest = min(waiting, key=waiting.__getitem__)
            if waiting[oldest] > oldest_at + SNAPSHOT_TOLERANCE:
                waiting[oldest] = oldest_at  # the ACD knows the oldest wait better than we do

    def accrue(self, grid: TimeGrid, until: float) -> None:
        """Store the queue's agent time up to ``until`` in buckets, at its current counts.

        Integrating the per-state counts makes an agent's change cost O(1) buckets whatever
        the length of the state it leaves. Changes are taken in arrival order: one arriving
        before the time already stored counts from that point on.
        """
        start = max(self.accrued, grid.oldest_covered_time())
        if until <= start:
            self.accrued = max(self.accrued, until)
            return
        busy, available = busy_available(self.agents)
        if busy or available:
            width = grid.bucket
            last = min(bucket_of(until, width), grid.head)
            for b in range(bucket_of(start, width), last + 1):
                portion = min(until, (b + 1) * width) - max(start, b * width)
                if portion > 0:
                    ms = portion * 1000
                    self.counters.add(
                        b,
                        (
                            (_AGENT_BUSY_MS, round(busy * ms)),
                            (_AGENT_AVAILABLE_MS, round(available * ms)),
                        ),
                    )
        self.accrued = until


def busy_available(counts: list[int]) -> tuple[int, int]:
    """Of a queue's agents by state, those busy (on a call or in ACW) and those available."""
    return counts[_ON_CALL] + counts[_ACW], counts[_AVAILABLE]

"""The monitor: applies valid events to per-scope state and reads KPIs out of it.

Pure and synchronous. Time is what :meth:`Monitor.tick` last said (the wall clock when
consuming live) or, with ``event_time_clock``, the newest ``occurred_at`` applied so far
(replaying a file), so the same events and ticks always give the same KPIs.

What happens to an event, by its ``occurred_at`` against the monitor's ``now``:

- more than ``max_clock_skew`` ahead: rejected as :attr:`Outcome.FUTURE` (it goes to the
  dead-letter topic); up to that, it is counted as if it occurred ``now``;
- inside the longest window: counted in every window that still covers it, however late it
  arrived, once per ``event_id``;
- older than the longest window: :attr:`Outcome.LATE`, counted in the cumulative totals but in
  no window and changing no live state (a waiting call from before the window is stale news).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from enum import Enum
from typing import Any

from callpulse.core import events as ev
from callpulse.core.dedup import RecentIds
from callpulse.core.durations import format_duration
from callpulse.core.kpi import (
    QUEUE_FIELDS,
    AbandonPolicy,
    QueueField,
    abandon_ratio,
    average_handle_time,
    average_speed_of_answer,
    occupancy,
    service_level,
)
from callpulse.core.windows import RollingCounters, bucket_of


class Outcome(Enum):
    """What :meth:`Monitor.apply` did with an event."""

    APPLIED = "applied"
    DUPLICATE = "duplicate"
    LATE = "late"
    FUTURE = "future"


@dataclass(frozen=True, slots=True)
class ServiceLevelTarget:
    """Service level threshold T and short-abandon threshold S of a queue, in seconds."""

    threshold: float = 20.0
    short_abandon: float = 5.0
    abandons: AbandonPolicy = "negative"


@dataclass(frozen=True)
class MonitorConfig:
    """What the monitor needs to know; built from validated settings by the shell."""

    windows: tuple[float, ...] = (60.0, 300.0, 900.0)
    bucket: float = 5.0
    max_clock_skew: float = 30.0
    service_level: ServiceLevelTarget = ServiceLevelTarget()
    service_level_overrides: Mapping[str, ServiceLevelTarget] = field(default_factory=dict)
    event_time_clock: bool = False
    dedup_capacity: int = 2_000_000

    def __post_init__(self) -> None:
        if self.bucket <= 0:
            raise ValueError("bucket must be positive")
        for window in self.windows:
            ratio = window / self.bucket
            if window <= 0 or abs(ratio - round(ratio)) > 1e-9:
                raise ValueError(
                    f"window {format_duration(window)} is not a whole number of "
                    f"{format_duration(self.bucket)} buckets"
                )

    def target_for(self, queue: str) -> ServiceLevelTarget:
        """The service level target of ``queue``: its override, else the default."""
        return self.service_level_overrides.get(queue, self.service_level)


_AGENT_STATE_INDEX = {state: i for i, state in enumerate(ev.AGENT_STATES)}
_AVAILABLE, _ON_CALL, _ACW = (_AGENT_STATE_INDEX[s] for s in ("available", "on_call", "acw"))
_TOTALS = ("offered", "answered", "abandoned", "answered_within_threshold")


@dataclass(slots=True)
class _Agent:
    state: ev.AgentStateName
    since: float
    queues: tuple[str, ...]


@dataclass(slots=True)
class _Queue:
    counters: RollingCounters
    target: ServiceLevelTarget
    accrued: float  # agent time is accounted up to here
    waiting: dict[str, float] = field(default_factory=dict)  # call_id -> queued at
    totals: list[int] = field(default_factory=lambda: [0] * len(_TOTALS))
    agents: list[int] = field(default_factory=lambda: [0] * len(ev.AGENT_STATES))


@dataclass(frozen=True, slots=True)
class WindowKpis:
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


@dataclass(frozen=True, slots=True)
class QueueView:
    """Everything exposed about one queue at one instant."""

    site: str
    queue: str
    calls_waiting: int
    oldest_wait_seconds: float
    agents: Mapping[str, int]
    totals: Mapping[str, int]
    windows: tuple[WindowKpis, ...]


@dataclass(slots=True)
class MonitorStats:
    """Counts of what the monitor was given, for the daemon's own metrics."""

    events_by_type: dict[str, int] = field(default_factory=dict)
    duplicates: int = 0
    late: int = 0
    future: int = 0


class Monitor:
    """Per-site, per-queue state and rolling KPIs, fed one valid event at a time."""

    def __init__(self, config: MonitorConfig, now: float) -> None:
        self.config = config
        self.stats = MonitorStats()
        self._bucket = config.bucket
        self._spans = tuple(round(w / config.bucket) for w in config.windows)
        self._labels = tuple(format_duration(w) for w in config.windows)
        self._longest = max(self._spans)
        self._now = now
        self._head = bucket_of(now, config.bucket)
        self._ids = RecentIds(horizon=self._longest + 1, capacity=config.dedup_capacity)
        self._queues: dict[tuple[str, str], _Queue] = {}
        self._agents: dict[tuple[str, str], _Agent] = {}
        self._latest_event = 0.0
        self._handlers: dict[str, Callable[[Any, float, int, bool], None]] = {
            "call.queued": self._call_queued,
            "call.answered": self._call_answered,
            "call.abandoned": self._call_abandoned,
            "call.callback_requested": self._call_left,
            "call.transferred": self._call_left,
            "call.completed": self._call_completed,
            "agent.state": self._agent_state,
        }

    # --- time --------------------------------------------------------------------------

    @property
    def now(self) -> float:
        """The instant windows end at, in epoch seconds."""
        return self._now

    @property
    def latest_event_time(self) -> float:
        """The newest ``occurred_at`` applied so far (0 before any)."""
        return self._latest_event

    @property
    def window_labels(self) -> tuple[str, ...]:
        """The windows' labels, e.g. ``("1m", "5m", "15m")``."""
        return self._labels

    def tick(self, now: float) -> None:
        """Move time forward to ``now``; windows age even if no event arrives."""
        if now <= self._now:
            return
        self._now = now
        head = bucket_of(now, self._bucket)
        if head != self._head:
            self._head = head
            self._ids.expire(head)

    # --- events ------------------------------------------------------------------------

    def apply(self, event: ev.Event) -> Outcome:
        """Apply one valid event and say what became of it."""
        ts = event.occurred_at.timestamp()
        if self.config.event_time_clock:
            self.tick(ts)
        elif ts > self._now + self.config.max_clock_skew:
            self.stats.future += 1
            return Outcome.FUTURE
        # Up to max_clock_skew ahead of our clock: the producer's clock is a little fast.
        bucket = bucket_of(ts, self._bucket) if ts < self._now else self._head
        late = bucket < self._head - self._longest
        if not late and not self._ids.add(event.event_id, bucket):
            self.stats.duplicates += 1
            return Outcome.DUPLICATE
        by_type = self.stats.events_by_type
        by_type[event.type] = by_type.get(event.type, 0) + 1
        if ts > self._latest_event:
            self._latest_event = ts
        handler = self._handlers.get(event.type)
        if handler is not None:
            handler(event, ts, bucket, late)
        if late:
            self.stats.late += 1
            return Outcome.LATE
        return Outcome.APPLIED

    def _queue(self, site: str, queue: str) -> _Queue:
        key = (site, queue)
        state = self._queues.get(key)
        if state is None:
            counters = RollingCounters(QUEUE_FIELDS, self._spans, self._head)
            state = _Queue(counters, self.config.target_for(queue), accrued=0.0)
            self._queues[key] = state
        else:
            state.counters.advance(self._head)
        return state

    def _call_queued(self, event: ev.CallQueued, ts: float, bucket: int, late: bool) -> None:
        q = self._queue(event.site, event.queue)
        q.totals[0] += 1
        if late:
            return
        q.counters.add(bucket, ((QueueField.OFFERED, 1),))
        q.waiting.setdefault(event.call_id, ts)

    def _call_answered(self, event: ev.CallAnswered, ts: float, bucket: int, late: bool) -> None:
        q = self._queue(event.site, event.queue)
        within = event.wait_seconds <= q.target.threshold
        q.totals[1] += 1
        q.totals[3] += within
        if late:
            return
        q.waiting.pop(event.call_id, None)
        q.counters.add(
            bucket,
            (
                (QueueField.ANSWERED, 1),
                (QueueField.ANSWERED_IN_THRESHOLD, int(within)),
                (QueueField.WAIT_MS, round(event.wait_seconds * 1000)),
            ),
        )

    def _call_abandoned(self, event: ev.CallAbandoned, ts: float, bucket: int, late: bool) -> None:
        q = self._queue(event.site, event.queue)
        # Cisco's short calls: a caller gone within S was never really offered.
        short = event.wait_seconds < q.target.short_abandon
        if not short:
            q.totals[2] += 1
        if late:
            return
        q.waiting.pop(event.call_id, None)
        if short:
            q.counters.add(bucket, ((QueueField.SHORT_ABANDONED, 1),))
        else:
            within = int(event.wait_seconds <= q.target.threshold)
            q.counters.add(
                bucket, ((QueueField.ABANDONED, 1), (QueueField.ABANDONED_IN_THRESHOLD, within))
            )

    def _call_left(
        self,
        event: ev.CallbackRequested | ev.CallTransferred,
        ts: float,
        bucket: int,
        late: bool,
    ) -> None:
        q = self._queue(event.site, event.queue)
        if not late:
            q.waiting.pop(event.call_id, None)

    def _call_completed(self, event: ev.CallCompleted, ts: float, bucket: int, late: bool) -> None:
        q = self._queue(event.site, event.queue)
        if late:
            return
        handle = event.talk_seconds + event.hold_seconds + event.acw_seconds
        q.counters.add(
            bucket, ((QueueField.COMPLETED, 1), (QueueField.HANDLE_MS, round(handle * 1000)))
        )

    def _agent_state(self, event: ev.AgentState, ts: float, bucket: int, late: bool) -> None:
        key = (event.site, event.agent_id)
        agent = self._agents.get(key)
        if late or (agent is not None and ts < agent.since):
            return  # older than what we know of this agent: it changes nothing now
        queues = tuple(dict.fromkeys(event.queues))
        when = min(ts, self._now)
        if agent is not None:
            self._count_agent(event.site, agent, -1, when)
            agent.state, agent.since, agent.queues = event.state, ts, queues
        else:
            agent = _Agent(state=event.state, since=ts, queues=queues)
            self._agents[key] = agent
        self._count_agent(event.site, agent, +1, when)

    def _count_agent(self, site: str, agent: _Agent, delta: int, when: float) -> None:
        index = _AGENT_STATE_INDEX[agent.state]
        for name in agent.queues:
            queue = self._queue(site, name)
            self._accrue(queue, when)
            queue.agents[index] += delta

    def _accrue(self, queue: _Queue, until: float) -> None:
        """Add the queue's agent time since the last accrual, at its current counts.

        Agent time is integrated from the per-state counts, so an agent's change costs O(1)
        buckets whatever the length of the state it leaves. Changes are taken in arrival
        order: one arriving before the time already accrued counts from that point on.
        """
        width = self._bucket
        start = max(queue.accrued, (self._head - self._longest) * width)
        if until <= start:
            return
        counts = queue.agents
        busy = counts[_ON_CALL] + counts[_ACW]
        available = counts[_AVAILABLE]
        if busy or available:
            last = min(bucket_of(until, width), self._head)
            for b in range(bucket_of(start, width), last + 1):
                portion = min(until, (b + 1) * width) - max(start, b * width)
                if portion > 0:
                    ms = portion * 1000
                    queue.counters.add(
                        b,
                        (
                            (QueueField.AGENT_BUSY_MS, round(busy * ms)),
                            (QueueField.AGENT_AVAILABLE_MS, round(available * ms)),
                        ),
                    )
        queue.accrued = until

    # --- reading -----------------------------------------------------------------------

    def queue_views(self) -> list[QueueView]:
        """Every queue's current state and windowed KPIs, at :attr:`now`."""
        views = []
        for (site, name), q in self._queues.items():
            q.counters.advance(self._head)
            self._accrue(q, self._now)
            windows = []
            for i, label in enumerate(self._labels):
                sums = q.counters.window(i)
                busy = sums[QueueField.AGENT_BUSY_MS]
                available = sums[QueueField.AGENT_AVAILABLE_MS]
                windows.append(
                    WindowKpis(
                        window=label,
                        offered=sums[QueueField.OFFERED],
                        answered=sums[QueueField.ANSWERED],
                        abandoned=sums[QueueField.ABANDONED],
                        service_level=service_level(sums, q.target.abandons),
                        abandon_ratio=abandon_ratio(sums),
                        asa_seconds=average_speed_of_answer(sums),
                        aht_seconds=average_handle_time(sums),
                        occupancy=occupancy(busy, available),
                    )
                )
            oldest = min(q.waiting.values(), default=None)
            views.append(
                QueueView(
                    site=site,
                    queue=name,
                    calls_waiting=len(q.waiting),
                    oldest_wait_seconds=0.0 if oldest is None else max(0.0, self._now - oldest),
                    agents=dict(zip(ev.AGENT_STATES, q.agents, strict=True)),
                    totals=dict(zip(_TOTALS, q.totals, strict=True)),
                    windows=tuple(windows),
                )
            )
        return views

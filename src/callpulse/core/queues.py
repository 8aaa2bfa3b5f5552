"""ACD queues: waiting calls, agents by state, windowed KPIs and the Erlang C outlook.

Fed ``call.*``, ``agent.state`` and ``queue.snapshot`` events by the monitor, which has
already decided whether an event is a duplicate and whether it is *late* (older than every
window: it then counts in the cumulative totals and ends a wait, but touches no window).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from callpulse.core import drain, erlang
from callpulse.core import events as ev
from callpulse.core.cardinality import LabelGuard
from callpulse.core.kpi import (
    QUEUE_COUNTS,
    QUEUE_FIELDS,
    AbandonPolicy,
    QueueField,
    abandon_ratio,
    average_handle_time,
    average_speed_of_answer,
    occupancy,
    service_level,
)
from callpulse.core.patience import estimate_patience
from callpulse.core.timegrid import TimeGrid
from callpulse.core.windows import RollingCounters, bucket_of

# A real queue never holds this many callers; past it the oldest entries are dropped (the
# ACD's next queue.snapshot restores the true count).
MAX_WAITING_PER_QUEUE = 10_000
# Clocks of the ACD and of the events' producer may disagree by this much.
SNAPSHOT_TOLERANCE = 2.0
_STANDIN = "snapshot:"

_QUEUE_EVENTS = (
    ev.CallQueued,
    ev.CallAnswered,
    ev.CallAbandoned,
    ev.CallbackRequested,
    ev.CallTransferred,
    ev.CallCompleted,
    ev.QueueSnapshot,
)
_STATE_INDEX = {state: i for i, state in enumerate(ev.AGENT_STATES)}
_AVAILABLE, _ON_CALL, _ACW = (_STATE_INDEX[s] for s in ("available", "on_call", "acw"))
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


@dataclass(frozen=True, slots=True)
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


@dataclass(frozen=True, slots=True)
class QueueFlow:
    """A queue's traffic over one window, per second of the span the window really covers.

    ``reneged`` callers left unanswered (abandoned or asked for a callback) after waiting
    ``exposure_seconds`` in all, counting the waits of answered and still-waiting callers
    too: the censored data from which the callers' patience is estimated.
    """

    arrivals_per_second: float = 0.0
    aht_seconds: float | None = None
    reneged: int = 0
    exposure_seconds: float = 0.0
    settled: bool = False  # the window holds a whole window's worth of traffic
    arrivals: int = 0  # calls queued within it
    window: str = ""  # its label
    span: float = 0.0  # the seconds it really covers
    completed: int = 0  # calls completed within it (aht_seconds is their mean)
    still_waiting_seconds: float = 0.0  # of exposure_seconds, the waits not over yet


@dataclass(frozen=True, slots=True)
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
    arrivals_per_second: float = 0.0  # over the Erlang window
    aht_seconds: float | None = None  # over the Erlang window
    flow: QueueFlow = QueueFlow()
    agents_known: bool = True

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


@dataclass(slots=True)
class _Agent:
    state: ev.AgentStateName
    since: float
    queues: tuple[str, ...]  # as admitted under the queue cap
    named: list[str]  # as the last event named them


@dataclass(slots=True)
class _Queue:
    counters: RollingCounters
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
        self.counters.add(bucket, values)
        if self.run is not None:
            for index, amount in values:
                self.run[index] += amount


class QueueTracker:
    """State and KPIs of every (site, queue)."""

    event_types = (
        "call.queued",
        "call.answered",
        "call.abandoned",
        "call.callback_requested",
        "call.transferred",
        "call.completed",
        "agent.state",
        "queue.snapshot",
    )

    def __init__(
        self,
        grid: TimeGrid,
        guard: LabelGuard,
        default: ServiceLevelPolicy,
        overrides: Mapping[str, ServiceLevelPolicy],
        erlang_window: int,
        patience: float = 600.0,
    ) -> None:
        self._grid = grid
        self._patience = patience  # callers' mean patience (s) until their give-ups say
        self._guard = guard
        self._default = default
        self._overrides = overrides
        self._erlang_window = erlang_window
        self._queues: dict[tuple[str, str], _Queue] = {}
        self._agents: dict[tuple[str, str], _Agent] = {}
        self.waiting_dropped = 0
        self._keep_run = False

    def keep_run(self) -> None:
        """Also sum every call's window fields since the start, for :meth:`run_kpis` (a
        report over a whole file). Call it before the first event."""
        self._keep_run = True

    def apply(
        self, event: ev.Event, ts: float, bucket: int, late: bool, replay: bool = False
    ) -> None:
        """Apply one ACD event (see the module's docstring for ``late``)."""
        if isinstance(event, ev.AgentState):
            self._agent_state(event, ts, late)
            return
        if not isinstance(event, _QUEUE_EVENTS):
            return
        q = self._queue(event.site, event.queue)
        count = 0 if replay else 1  # a replay rebuilds state; the totals already had it
        if isinstance(event, ev.CallQueued):
            q.totals[0] += count
            if not late:
                q.add(bucket, ((QueueField.OFFERED, 1),))
                q.waiting.setdefault(event.call_id, ts)
                if len(q.waiting) > MAX_WAITING_PER_QUEUE:
                    del q.waiting[next(iter(q.waiting))]
                    self.waiting_dropped += 1
        elif isinstance(event, ev.CallAnswered):
            within = event.wait_seconds <= q.policy.threshold
            q.totals[1] += count
            q.totals[3] += within and count
            self._end_wait(q, event.call_id)
            if not late:
                q.add(
                    bucket,
                    (
                        (QueueField.ANSWERED, 1),
                        (QueueField.ANSWERED_IN_THRESHOLD, int(within)),
                        (QueueField.WAIT_MS, round(event.wait_seconds * 1000)),
                    ),
                )
        elif isinstance(event, ev.CallAbandoned):
            self._abandoned(q, event, bucket, late, count)
        elif isinstance(event, ev.CallCompleted):
            if not late:
                handle = event.talk_seconds + event.hold_seconds + event.acw_seconds
                q.add(
                    bucket,
                    ((QueueField.COMPLETED, 1), (QueueField.HANDLE_MS, round(handle * 1000))),
                )
        elif isinstance(event, ev.QueueSnapshot):
            if not late:
                self._reconcile(q, event, ts)
        elif isinstance(event, ev.CallbackRequested):
            # The wait ends, neither answered nor abandoned: the caller gave up waiting.
            self._end_wait(q, event.call_id)
            if not late:
                q.add(bucket, self._reneged(event.wait_seconds))
        else:  # transferred: the wait ends, neither answered nor abandoned
            self._end_wait(q, event.call_id)

    def _queue(self, site: str, name: str) -> _Queue:
        # A queue that is here was admitted when it was made, and leaves the guard and this
        # map together: only a name not here needs the guard (one lookup less per event).
        q = self._queues.get((site, name))
        if q is None:
            name = self._guard.admit("queue", name, site)
            q = self._queues.get((site, name))
        if q is None:
            policy = self._overrides.get(name, self._default)
            q = self._queues[(site, name)] = _Queue(
                self._grid.counters(QUEUE_FIELDS, QUEUE_COUNTS), policy
            )
            if self._keep_run:
                q.run = [0] * QUEUE_FIELDS
        else:
            q.counters.advance(self._grid.head)
        q.touched = self._grid.now
        return q

    def release_idle(self, before: float) -> int:
        """Forget queues no event has named since ``before`` (older than every window) and that
        no agent serves, giving their names back to the label cap; return how many.

        A queue an agent serves stays: the agent's next change must find its counts.
        """
        idle = [
            key
            for key, q in self._queues.items()
            # A queue summed since the start stays for the report that reads it.
            if q.touched < before and not any(q.agents) and q.run is None
        ]
        for site, name in idle:
            del self._queues[(site, name)]
            self._guard.release("queue", name, site)
        return len(idle)

    def _abandoned(
        self, q: _Queue, event: ev.CallAbandoned, bucket: int, late: bool, count: int
    ) -> None:
        self._end_wait(q, event.call_id)
        if not late:
            q.add(bucket, self._reneged(event.wait_seconds))
        # Cisco's short calls: a caller gone within S was never really offered.
        if event.wait_seconds < q.policy.short_abandon:
            if not late:
                q.add(bucket, ((QueueField.SHORT_ABANDONED, 1),))
            return
        q.totals[2] += count
        if not late:
            within = int(event.wait_seconds <= q.policy.threshold)
            q.add(bucket, ((QueueField.ABANDONED, 1), (QueueField.ABANDONED_IN_THRESHOLD, within)))

    @staticmethod
    def _reneged(wait: float) -> tuple[tuple[int, int], ...]:
        return ((QueueField.RENEGED, 1), (QueueField.RENEGED_WAIT_MS, round(wait * 1000)))

    def _reconcile(self, q: _Queue, snap: ev.QueueSnapshot, ts: float) -> None:
        """Make the waiting calls agree with the ACD's own count and oldest wait at ``ts``."""
        waiting = q.waiting
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

    def _end_wait(self, q: _Queue, call_id: str) -> None:
        if q.waiting.pop(call_id, None) is None:
            standins = [c for c in q.waiting if c.startswith(_STANDIN)]
            if standins:
                del q.waiting[min(standins, key=q.waiting.__getitem__)]

    def _agent_state(self, event: ev.AgentState, ts: float, late: bool) -> None:
        key = (event.site, event.agent_id)
        agent = self._agents.get(key)
        if late or (agent is not None and ts < agent.since):
            return  # older than what we know of this agent: it changes nothing now
        if (
            agent is None
            and self._guard.admit("agent", event.agent_id, event.site) != event.agent_id
        ):
            return
        when = min(ts, self._grid.now)
        if agent is not None and agent.named == event.queues:
            # The usual change: another state, the same queues (still admitted: a queue an
            # agent serves is never released). Each queue is visited once, not twice.
            leaving, entering = _STATE_INDEX[agent.state], _STATE_INDEX[event.state]
            for name in agent.queues:
                q = self._queue(event.site, name)
                self._accrue(q, when)
                q.agents[leaving] -= 1
                q.agents[entering] += 1
            agent.state, agent.since = event.state, ts
            return
        # Fold first: two queues past the cap are one _overflow queue, served once.
        queues = tuple(
            dict.fromkeys(self._guard.admit("queue", n, event.site) for n in event.queues)
        )
        if agent is not None:
            self._count(event.site, agent, -1, when)
            agent.state, agent.since, agent.queues = event.state, ts, queues
            agent.named = event.queues
        else:
            agent = self._agents[key] = _Agent(event.state, ts, queues, event.queues)
        self._count(event.site, agent, +1, when)

    def _count(self, site: str, agent: _Agent, delta: int, when: float) -> None:
        index = _STATE_INDEX[agent.state]
        for name in agent.queues:
            q = self._queue(site, name)
            self._accrue(q, when)
            q.agents[index] += delta
            q.described = True

    def _accrue(self, q: _Queue, until: float) -> None:
        """Store the queue's agent time up to ``until`` in buckets, at its current counts.

        Integrating the per-state counts makes an agent's change cost O(1) buckets whatever
        the length of the state it leaves. Changes are taken in arrival order: one arriving
        before the time already stored counts from that point on.
        """
        grid = self._grid
        start = max(q.accrued, grid.oldest_covered_time())
        if until <= start:
            q.accrued = max(q.accrued, until)
            return
        busy, available = _busy_available(q.agents)
        if busy or available:
            width = grid.bucket
            last = min(bucket_of(until, width), grid.head)
            for b in range(bucket_of(start, width), last + 1):
                portion = min(until, (b + 1) * width) - max(start, b * width)
                if portion > 0:
                    ms = portion * 1000
                    q.counters.add(
                        b,
                        (
                            (QueueField.AGENT_BUSY_MS, round(busy * ms)),
                            (QueueField.AGENT_AVAILABLE_MS, round(available * ms)),
                        ),
                    )
        q.accrued = until

    def forget_sites(self, sites: Iterable[str]) -> None:
        """Drop every queue and agent of ``sites``."""
        gone = set(sites)
        self._queues = {k: v for k, v in self._queues.items() if k[0] not in gone}
        self._agents = {k: v for k, v in self._agents.items() if k[0] not in gone}

    def __len__(self) -> int:
        return len(self._queues)

    # --- reading -----------------------------------------------------------------------

    def waiting_fill(self) -> float:
        """The fullest queue's share of its cap on waiting calls, 0..1."""
        fullest = max((len(q.waiting) for q in self._queues.values()), default=0)
        return fullest / MAX_WAITING_PER_QUEUE

    def views(self) -> list[QueueView]:
        """Every queue's state and KPIs at the grid's *now*."""
        grid = self._grid
        now = grid.now
        out = []
        for (site, name), q in self._queues.items():
            q.counters.advance(grid.head)
            busy_now, available_now = _busy_available(q.agents)
            windows = []
            every = q.counters.windows()
            for i, label in enumerate(grid.labels):
                sums = every[i]
                # Agent time since the last change is read, not stored: reading must not
                # change what later events compute.
                open_ms = max(0.0, now - max(q.accrued, grid.window_start(i))) * 1000
                busy = sums[QueueField.AGENT_BUSY_MS] + busy_now * open_ms
                available = sums[QueueField.AGENT_AVAILABLE_MS] + available_now * open_ms
                windows.append(
                    QueueWindow(
                        window=label,
                        offered=sums[QueueField.OFFERED],
                        answered=sums[QueueField.ANSWERED],
                        abandoned=sums[QueueField.ABANDONED],
                        service_level=service_level(sums, q.policy.abandons),
                        abandon_ratio=abandon_ratio(sums),
                        asa_seconds=average_speed_of_answer(sums),
                        aht_seconds=average_handle_time(sums),
                        occupancy=(
                            occupancy(round(busy), round(available)) if q.described else None
                        ),
                    )
                )
            oldest = min(q.waiting.values(), default=None)
            erlang = self._flow(q, self._erlang_window, every[self._erlang_window])
            longest = self._flow(q, len(every) - 1, every[-1])
            prediction = self._outlook(q, len(q.waiting), erlang, longest)
            if not q.described:  # no agent stream: agents are unknown, not zero
                prediction = (None, prediction[1], None)
            out.append(
                QueueView(
                    site=site,
                    queue=name,
                    calls_waiting=len(q.waiting),
                    oldest_wait_seconds=0.0 if oldest is None else max(0.0, now - oldest),
                    agents=dict(zip(ev.AGENT_STATES, q.agents, strict=True)),
                    totals=dict(zip(TOTALS, q.totals, strict=True)),
                    windows=tuple(windows),
                    predicted_service_level=prediction[0],
                    agents_required=prediction[1],
                    drain_eta_seconds=prediction[2],
                    arrivals_per_second=erlang.arrivals_per_second,
                    aht_seconds=erlang.aht_seconds,
                    flow=longest,
                    agents_known=q.described,
                )
            )
        return out

    def run_kpis(self) -> dict[tuple[str, str], QueueWindow]:
        """Per (site, queue), the KPIs over everything since the start (``keep_run``); the
        same formulas as a window's, without occupancy (agent time is not kept)."""
        return {
            key: QueueWindow(
                window="run",
                offered=run[QueueField.OFFERED],
                answered=run[QueueField.ANSWERED],
                abandoned=run[QueueField.ABANDONED],
                service_level=service_level(run, q.policy.abandons),
                abandon_ratio=abandon_ratio(run),
                asa_seconds=average_speed_of_answer(run),
                aht_seconds=average_handle_time(run),
                occupancy=None,
            )
            for key, q in self._queues.items()
            if (run := q.run) is not None
        }

    def _flow(self, q: _Queue, index: int, sums: list[int]) -> QueueFlow:
        """Traffic over window ``index`` (whose ``sums`` are given), per second of the span
        it really covers."""
        grid = self._grid
        # A window spans from the start of its oldest bucket to now (up to a bucket more than
        # its length), and never further back than the grid's first bucket.
        start = grid.window_start(index)
        span = grid.now - max(start, grid.origin)
        now = grid.now
        waiting = sum(max(0.0, now - t) for t in q.waiting.values())
        return QueueFlow(
            arrivals_per_second=sums[QueueField.OFFERED] / span if span > 0 else 0.0,
            aht_seconds=average_handle_time(sums),
            reneged=sums[QueueField.RENEGED],
            exposure_seconds=(sums[QueueField.WAIT_MS] + sums[QueueField.RENEGED_WAIT_MS]) / 1000
            + waiting,
            settled=grid.origin <= start,
            arrivals=sums[QueueField.OFFERED],
            window=grid.labels[index],
            span=span,
            completed=sums[QueueField.COMPLETED],
            still_waiting_seconds=waiting,
        )

    def _outlook(
        self, q: _Queue, backlog: int, flow: QueueFlow, longest: QueueFlow
    ) -> tuple[float | None, int | None, float | None]:
        """Erlang C service level, agents required, and drain ETA at the current load.

        The drain ETA is the mean of the backlog model (:mod:`callpulse.core.drain`) at the
        current staffing, down to no call waiting, with the callers' patience estimated over
        the longest window (which holds the most give-ups and waiting): read for every queue
        with a caller waiting, it must be cheap, and the mean is exact in under a millisecond
        where the quantiles take up to tens."""
        agents = sum(_busy_available(q.agents))
        aht = flow.aht_seconds
        arrivals = flow.arrivals_per_second
        eta = None
        if backlog > 0:
            patience = estimate_patience(longest.reneged, longest.exposure_seconds, self._patience)
            # Every queue with a caller waiting is read at every evaluation and scrape: the
            # model is run again only once its inputs have moved.
            inputs = (backlog, agents, *(_rounded(x) for x in (arrivals, aht or 0, patience.rate)))
            if q.drain is None or q.drain[0] != inputs:
                q.drain = (inputs, drain.mean(backlog, agents, arrivals, aht, patience.rate))
            eta = q.drain[1]
        elif aht is not None:
            eta = 0.0
        if aht is None:
            return None, None, eta
        load = arrivals * aht
        policy = q.policy
        predicted = erlang.service_level(load, agents, aht, policy.threshold) if agents else None
        required = erlang.agents_required(load, aht, policy.threshold, policy.target)
        return predicted, required, eta


def _rounded(value: float) -> float:
    """``value`` to 3 significant digits: a 0.5 % move in a rate is not a new forecast."""
    return float(f"{value:.3g}")


def _busy_available(counts: list[int]) -> tuple[int, int]:
    return counts[_ON_CALL] + counts[_ACW], counts[_AVAILABLE]

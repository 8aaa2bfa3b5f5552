"""The ACD queue tracker: applies ``call.*``, ``agent.state`` and ``queue.snapshot`` events
to each (site, queue)'s state, and reads every queue's view.

Fed by the monitor, which has already decided whether an event is a duplicate and whether
it is *late* (older than every window: it then counts in the cumulative totals and ends a
wait, but touches no window). A queue's state is :mod:`callpulse.core.queue_state`; what is
read of it, :mod:`callpulse.core.queue_reading`.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from typing import Final

from callpulse.core import events as ev
from callpulse.core.cardinality import LabelGuard, without_sites
from callpulse.core.kpi import QUEUE_COUNTS, QUEUE_FIELDS, QueueField
from callpulse.core.queue_reading import load, view, window_kpis
from callpulse.core.queue_state import (
    MAX_WAITING_PER_QUEUE,
    STATE_INDEX,
    QueueState,
    TrackedAgent,
)
from callpulse.core.queues import QueueLoad, QueueView, QueueWindow, ServiceLevelPolicy
from callpulse.core.steps import Steps
from callpulse.core.timegrid import TimeGrid

# The fields as plain ints, and the constant additions built once: an enum member is a class
# attribute looked up at each use, a tuple of them built anew for every event (compiled, a
# fifth of an event's additions to its bucket).
_OFFERED: Final = int(QueueField.OFFERED)
_ANSWERED: Final = int(QueueField.ANSWERED)
_ANSWERED_IN_THRESHOLD: Final = int(QueueField.ANSWERED_IN_THRESHOLD)
_ABANDONED: Final = int(QueueField.ABANDONED)
_ABANDONED_IN_THRESHOLD: Final = int(QueueField.ABANDONED_IN_THRESHOLD)
_COMPLETED: Final = int(QueueField.COMPLETED)
_RENEGED: Final = int(QueueField.RENEGED)
_WAIT_MS: Final = int(QueueField.WAIT_MS)
_HANDLE_MS: Final = int(QueueField.HANDLE_MS)
_RENEGED_WAIT_MS: Final = int(QueueField.RENEGED_WAIT_MS)
_ONE_OFFERED: Final = ((_OFFERED, 1),)
_ONE_SHORT_ABANDONED: Final = ((int(QueueField.SHORT_ABANDONED), 1),)

_QUEUE_EVENTS = (
    ev.CallQueued,
    ev.CallAnswered,
    ev.CallAbandoned,
    ev.CallbackRequested,
    ev.CallTransferred,
    ev.CallCompleted,
    ev.QueueSnapshot,
)


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
        self._queues: dict[tuple[str, str], QueueState] = {}
        self._agents: dict[tuple[str, str], TrackedAgent] = {}
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
                q.add(bucket, _ONE_OFFERED)
                q.waiting.setdefault(event.call_id, ts)
                if len(q.waiting) > MAX_WAITING_PER_QUEUE:
                    del q.waiting[next(iter(q.waiting))]
                    self.waiting_dropped += 1
        elif isinstance(event, ev.CallAnswered):
            within = event.wait_seconds <= q.policy.threshold
            # The windows first: a wait they refuse (millions of years) raises
            # before anything else of the event is kept.
            if not late:
                q.add(
                    bucket,
                    (
                        (_ANSWERED, 1),
                        (_ANSWERED_IN_THRESHOLD, int(within)),
                        (_WAIT_MS, round(event.wait_seconds * 1000)),
                    ),
                )
            q.totals[1] += count
            q.totals[3] += within and count
            q.end_wait(event.call_id)
        elif isinstance(event, ev.CallAbandoned):
            self._abandoned(q, event, bucket, late, count)
        elif isinstance(event, ev.CallCompleted):
            if not late:
                handle = event.talk_seconds + event.hold_seconds + event.acw_seconds
                q.add(
                    bucket,
                    ((_COMPLETED, 1), (_HANDLE_MS, round(handle * 1000))),
                )
        elif isinstance(event, ev.QueueSnapshot):
            if not late:
                q.reconcile(event, ts)
        elif isinstance(event, ev.CallbackRequested):
            # The wait ends, neither answered nor abandoned: the caller gave up waiting.
            if not late:
                q.add(bucket, self._reneged(event.wait_seconds))
            q.end_wait(event.call_id)
        else:  # transferred: the wait ends, neither answered nor abandoned
            q.end_wait(event.call_id)

    def _queue(self, site: str, name: str) -> QueueState:
        # A queue that is here was admitted when it was made, and leaves the guard and this
        # map together: only a name not here needs the guard (one lookup less per event).
        q = self._queues.get((site, name))
        if q is None:
            name = self._guard.admit("queue", name, site)
            q = self._queues.get((site, name))
        if q is None:
            policy = self._overrides.get(name, self._default)
            q = self._queues[(site, name)] = QueueState(
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
        self, q: QueueState, event: ev.CallAbandoned, bucket: int, late: bool, count: int
    ) -> None:
        if not late:  # first: a wait the windows refuse raises before anything is kept
            q.add(bucket, self._reneged(event.wait_seconds))
        q.end_wait(event.call_id)
        # Cisco's short calls: a caller gone within S was never really offered.
        if event.wait_seconds < q.policy.short_abandon:
            if not late:
                q.add(bucket, _ONE_SHORT_ABANDONED)
            return
        q.totals[2] += count
        if not late:
            within = int(event.wait_seconds <= q.policy.threshold)
            q.add(bucket, ((_ABANDONED, 1), (_ABANDONED_IN_THRESHOLD, within)))

    @staticmethod
    def _reneged(wait: float) -> tuple[tuple[int, int], ...]:
        return ((_RENEGED, 1), (_RENEGED_WAIT_MS, round(wait * 1000)))

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
            leaving, entering = STATE_INDEX[agent.state], STATE_INDEX[event.state]
            for name in agent.queues:
                q = self._queue(event.site, name)
                q.accrue(self._grid, when)
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
            agent = self._agents[key] = TrackedAgent(event.state, ts, queues, event.queues)
        self._count(event.site, agent, +1, when)

    def _count(self, site: str, agent: TrackedAgent, delta: int, when: float) -> None:
        index = STATE_INDEX[agent.state]
        for name in agent.queues:
            q = self._queue(site, name)
            q.accrue(self._grid, when)
            q.agents[index] += delta
            q.described = True

    def forget_sites(self, sites: Iterable[str]) -> None:
        """Drop every queue and agent of ``sites``."""
        gone = set(sites)
        self._queues = without_sites(self._queues, gone)
        self._agents = without_sites(self._agents, gone)

    def __len__(self) -> int:
        return len(self._queues)

    def settle(self, head: int, at_a_time: int) -> Steps[None]:
        """Move every queue's windows to ``head``, as reading them would, ``at_a_time``
        queues a step (see :meth:`callpulse.core.monitor.Monitor.settle`)."""
        queues = list(self._queues.values())
        for start in range(0, len(queues), at_a_time):
            for q in queues[start : start + at_a_time]:
                q.counters.advance(head)
            yield

    # --- reading -----------------------------------------------------------------------

    def waiting_fill(self) -> float:
        """The fullest queue's share of its cap on waiting calls, 0..1."""
        fullest = max((len(q.waiting) for q in self._queues.values()), default=0)
        return fullest / MAX_WAITING_PER_QUEUE

    def views(self) -> list[QueueView]:
        """Every queue's state and KPIs at the grid's *now*."""
        return self.views_of(self._queues)

    def each_view(self) -> Iterator[QueueView]:
        """:meth:`views`, each read as it is asked for (the state must not change meanwhile):
        a reader that takes them in turn holds one at a time, not 10k."""
        grid, window, patience = self._grid, self._erlang_window, self._patience
        for (site, name), q in self._queues.items():
            yield view(grid, site, name, q, window, patience)

    def keys(self) -> list[tuple[str, str]]:
        """Every (site, queue) tracked now."""
        return list(self._queues)

    def still_tracked(self, views: list[QueueView]) -> list[QueueView]:
        """``views`` of the queues tracked now (the list itself when all are)."""
        queues = self._queues
        kept = [v for v in views if (v.site, v.queue) in queues]
        return views if len(kept) == len(views) else kept

    def views_of(self, keys: Iterable[tuple[str, str]]) -> list[QueueView]:
        """The views of those of ``keys`` still tracked, at the grid's *now*."""
        grid, window, patience = self._grid, self._erlang_window, self._patience
        out = []
        for key in keys:
            q = self._queues.get(key)
            if q is not None:
                out.append(view(grid, key[0], key[1], q, window, patience))
        return out

    def loads(self) -> list[QueueLoad]:
        """What a maintenance baseline samples of every queue at the grid's *now*."""
        grid = self._grid
        return [load(grid, site, name, q) for (site, name), q in self._queues.items()]

    def run_kpis(self) -> dict[tuple[str, str], QueueWindow]:
        """Per (site, queue), the KPIs over everything since the start (``keep_run``); the
        same formulas as a window's, without occupancy (agent time is not kept)."""
        return {
            key: window_kpis("run", run, q.policy.abandons, None)
            for key, q in self._queues.items()
            if (run := q.run) is not None
        }

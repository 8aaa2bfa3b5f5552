"""A seeded, deterministic contact center that emits events v1 as a real ACD would.

A discrete-event simulation: calls arrive per queue as a Poisson process, wait for one of the
queue's agents (first come, first served) or abandon when their patience runs out; agents talk
(log-normal), sometimes put the caller on hold, do after-call work, and become available again.
Every state change is an event; each queue also sends a ``queue.snapshot`` and each site's
components a ``component.health`` heartbeat periodically.

Pure: :meth:`ContactCenter.advance` takes the simulated time to run to and returns the events
that happened by then. The same seed and the same calls give the same events, byte for byte.
"""

from __future__ import annotations

import heapq
import json
import math
import random
from collections import deque
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

SITE_NAMES = ("lon1", "nyc1", "sgp1", "fra1", "syd1", "tor1", "mum1", "sao1")
QUEUE_NAMES = ("billing", "sales", "support", "retention", "tech", "claims", "orders", "vip")
SNAPSHOT_EVERY = 30.0
HEARTBEAT_EVERY = 15.0


@dataclass(frozen=True)
class QueueProfile:
    """How one simulated queue behaves. Times are in seconds, rates per minute."""

    arrivals_per_minute: float
    agents: int
    talk_median: float = 180.0
    talk_sigma: float = 0.6
    hold_share: float = 0.25
    hold_median: float = 40.0
    acw_median: float = 25.0
    patience_mean: float = 120.0


@dataclass
class _Agent:
    agent_id: str
    queue: str
    busy: bool = False


@dataclass
class _Queue:
    site: str
    name: str
    profile: QueueProfile
    agents: list[_Agent]
    waiting: deque[tuple[str, float]] = field(default_factory=deque)  # (call_id, queued at)


def default_profiles(
    sites: int, queues_per_site: int, seed: int
) -> dict[tuple[str, str], QueueProfile]:
    """A small, varied contact center: some queues comfortably staffed, some tight."""
    rng = random.Random(seed)
    profiles = {}
    for s in range(sites):
        site = SITE_NAMES[s % len(SITE_NAMES)] + ("" if s < len(SITE_NAMES) else f"-{s}")
        for q in range(queues_per_site):
            queue = QUEUE_NAMES[q % len(QUEUE_NAMES)] + ("" if q < len(QUEUE_NAMES) else f"-{q}")
            rate = rng.uniform(3.0, 9.0)
            talk = rng.uniform(150.0, 240.0)
            # Offered load in Erlangs (handle time ~ talk + hold + acw), plus a staffing margin
            # that leaves some queues tight enough to build short waits.
            handle = talk * math.exp(0.6**2 / 2) + 0.25 * 40.0 + 25.0
            load = rate * handle / 60.0
            agents = max(2, math.ceil(load * rng.uniform(1.05, 1.3)))
            profiles[(site, queue)] = QueueProfile(rate, agents, talk_median=talk)
    return profiles


class ContactCenter:
    """The simulated contact center; start it at ``start`` (epoch seconds)."""

    def __init__(
        self, profiles: dict[tuple[str, str], QueueProfile], seed: int, start: float
    ) -> None:
        self._rng = random.Random(seed)
        self._seed = seed
        self._now = start
        self._ids = 0
        self._calls = 0
        self._heap: list[tuple[float, int, str, Any]] = []
        self._seq = 0
        self._out: list[dict[str, Any]] = []
        self._queues: list[_Queue] = []
        sites = sorted({site for site, _ in profiles})
        for (site, name), profile in sorted(profiles.items()):
            agents = [_Agent(f"{site}-{name}-a{i:02d}", name) for i in range(1, profile.agents + 1)]
            queue = _Queue(site, name, profile, agents)
            self._queues.append(queue)
            for agent in agents:
                self._emit(
                    site, "agent.state", agent_id=agent.agent_id, state="available", queues=[name]
                )
            self._schedule(start + self._interarrival(queue), "arrival", queue)
            self._schedule(start, "snapshot", queue)
        for site in sites:
            self._schedule(start, "heartbeat", site)

    @property
    def now(self) -> float:
        """Simulated time reached so far."""
        return self._now

    def advance(self, until: float) -> list[dict[str, Any]]:
        """Run the simulation to ``until`` and return the events it produced, in time order."""
        heap = self._heap
        while heap and heap[0][0] <= until:
            at, _, kind, subject = heapq.heappop(heap)
            self._now = at
            getattr(self, f"_on_{kind}")(subject)
        self._now = max(self._now, until)
        out, self._out = self._out, []
        return out

    # --- scheduling --------------------------------------------------------------------

    def _schedule(self, at: float, kind: str, subject: Any) -> None:
        self._seq += 1
        heapq.heappush(self._heap, (at, self._seq, kind, subject))

    def _interarrival(self, queue: _Queue) -> float:
        return self._rng.expovariate(queue.profile.arrivals_per_minute / 60.0)

    def _lognormal(self, median: float, sigma: float) -> float:
        return self._rng.lognormvariate(math.log(median), sigma)

    def _emit(self, site: str, event_type: str, **fields: Any) -> None:
        self._ids += 1
        self._out.append(
            {
                "schema_version": 1,
                "event_id": f"sim{self._seed}-{self._ids}",
                "type": event_type,
                "occurred_at": _rfc3339(self._now),
                "site": site,
                **fields,
            }
        )

    # --- what happens ------------------------------------------------------------------

    def _on_arrival(self, queue: _Queue) -> None:
        self._calls += 1
        call_id = f"{queue.site}-c{self._calls}"
        self._emit(queue.site, "call.queued", call_id=call_id, queue=queue.name, priority=0)
        queue.waiting.append((call_id, self._now))
        patience = self._rng.expovariate(1.0 / queue.profile.patience_mean)
        self._schedule(self._now + patience, "patience", (queue, call_id))
        self._schedule(self._now + self._interarrival(queue), "arrival", queue)
        self._dispatch(queue)

    def _on_patience(self, subject: tuple[_Queue, str]) -> None:
        queue, call_id = subject
        for i, (waiting_id, queued_at) in enumerate(queue.waiting):
            if waiting_id == call_id:
                del queue.waiting[i]
                self._emit(
                    queue.site,
                    "call.abandoned",
                    call_id=call_id,
                    queue=queue.name,
                    wait_seconds=round(self._now - queued_at, 3),
                )
                return

    def _dispatch(self, queue: _Queue) -> None:
        for agent in queue.agents:
            if not queue.waiting:
                return
            if agent.busy:
                continue
            call_id, queued_at = queue.waiting.popleft()
            agent.busy = True
            self._emit(
                queue.site,
                "call.answered",
                call_id=call_id,
                queue=queue.name,
                agent_id=agent.agent_id,
                wait_seconds=round(self._now - queued_at, 3),
            )
            self._emit(
                queue.site,
                "agent.state",
                agent_id=agent.agent_id,
                state="on_call",
                queues=[queue.name],
            )
            p = queue.profile
            talk = self._lognormal(p.talk_median, p.talk_sigma)
            hold = self._lognormal(p.hold_median, 0.5) if self._rng.random() < p.hold_share else 0.0
            acw = self._lognormal(p.acw_median, 0.4)
            self._schedule(
                self._now + talk + hold, "hangup", (queue, agent, call_id, talk, hold, acw)
            )

    def _on_hangup(self, subject: tuple[_Queue, _Agent, str, float, float, float]) -> None:
        queue, agent, call_id, talk, hold, acw = subject
        self._emit(
            queue.site, "agent.state", agent_id=agent.agent_id, state="acw", queues=[queue.name]
        )
        self._schedule(self._now + acw, "wrapup", (queue, agent, call_id, talk, hold, acw))

    def _on_wrapup(self, subject: tuple[_Queue, _Agent, str, float, float, float]) -> None:
        queue, agent, call_id, talk, hold, acw = subject
        self._emit(
            queue.site,
            "call.completed",
            call_id=call_id,
            queue=queue.name,
            agent_id=agent.agent_id,
            talk_seconds=round(talk, 3),
            hold_seconds=round(hold, 3),
            acw_seconds=round(acw, 3),
        )
        self._emit(
            queue.site,
            "agent.state",
            agent_id=agent.agent_id,
            state="available",
            queues=[queue.name],
        )
        agent.busy = False
        self._dispatch(queue)

    def _on_snapshot(self, queue: _Queue) -> None:
        oldest = self._now - queue.waiting[0][1] if queue.waiting else 0.0
        available = sum(not a.busy for a in queue.agents)
        self._emit(
            queue.site,
            "queue.snapshot",
            queue=queue.name,
            calls_waiting=len(queue.waiting),
            oldest_wait_seconds=round(oldest, 3),
            agents_staffed=len(queue.agents),
            agents_available=available,
        )
        self._schedule(self._now + SNAPSHOT_EVERY, "snapshot", queue)

    def _on_heartbeat(self, site: str) -> None:
        for component, kind in ((f"{site}-pbx-1", "pbx"), (f"{site}-sbc-1", "sbc")):
            self._emit(site, "component.health", component=component, kind=kind, status="up")
        self._schedule(self._now + HEARTBEAT_EVERY, "heartbeat", site)


def encode(event: dict[str, Any]) -> bytes:
    """One event as the compact JSON a producer would put in a Kafka record."""
    return json.dumps(event, separators=(",", ":")).encode()


def _rfc3339(timestamp: float) -> str:
    moment = datetime.fromtimestamp(timestamp, UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"

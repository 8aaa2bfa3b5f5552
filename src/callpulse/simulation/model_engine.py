"""The simulation's engine: its clock and event heap, how an event is emitted and delivered
(late, twice), and the rates its sub-models draw from. :class:`CallFlow` and
:class:`~callpulse.simulation.model.ContactCenter` build on it."""

from __future__ import annotations

import heapq
import math
import random
from datetime import UTC, datetime
from typing import Any

from callpulse.core.ingest import RawRecord
from callpulse.core.timefmt import rfc3339
from callpulse.simulation.model_parts import OFFICE, Agent, SimQueue, Trunk, encode
from callpulse.simulation.scenario import Incident, Scenario, SiteSpec


class Engine:
    """The clock, the heap of what happens next, and event delivery (the state is set by
    :class:`~callpulse.simulation.model.ContactCenter`'s constructor)."""

    scenario: Scenario
    _in_order: bool
    _wrapup: float | None
    _whole_seconds: bool
    _rng: random.Random
    _start: float
    _now: float
    _heap: list[tuple[float, int, str, Any]]
    _seq: int
    _delivery: list[tuple[float, int, dict[str, Any]]]
    _offset: int
    _ids: int
    _calls: int
    _queues: dict[tuple[str, str], SimQueue]
    _trunks: dict[str, list[Trunk]]
    _sites: dict[str, SiteSpec]
    _ports: dict[str, int]
    _taken: dict[int, list[tuple[SimQueue, Agent]]]
    _silent: bool

    @property
    def now(self) -> float:
        """Simulated time reached so far."""
        return self._now

    def advance(self, until: float) -> list[dict[str, Any]]:
        """Run to ``until``; return the events delivered by then, in delivery order."""
        heap = self._heap
        while heap and heap[0][0] <= until:
            at, _, kind, subject = heapq.heappop(heap)
            self._now = at
            getattr(self, f"_on_{kind}")(subject)
        self._now = max(self._now, until)
        out = []
        delivery = self._delivery
        while delivery and delivery[0][0] <= until:
            out.append(heapq.heappop(delivery)[2])
        return out

    def records(self, until: float, topic: str = "simulation") -> list[RawRecord]:
        """Run to ``until``; the events delivered by then as the records a producer would
        write (compact JSON, keyed by site), numbered on from the previous call."""
        out = []
        for event in self.advance(until):
            out.append(RawRecord(encode(event), event["site"].encode(), topic, 0, self._offset))
            self._offset += 1
        return out

    # --- plumbing ----------------------------------------------------------------------

    def _schedule(self, at: float, kind: str, subject: Any) -> None:
        if self._whole_seconds:
            at = math.ceil(at)
        self._seq += 1
        heapq.heappush(self._heap, (at, self._seq, kind, subject))

    def _emit(self, site: str, event_type: str, **fields: Any) -> None:
        if self._silent:
            return
        self._ids += 1
        event = {
            "schema_version": 1,
            "event_id": f"sim{self.scenario.seed}-{self._ids}",
            "type": event_type,
            "occurred_at": rfc3339(self._now),
            "site": site,
            **fields,
        }
        rng, scenario = self._rng, self.scenario
        delay = rng.uniform(20, 90) if rng.random() < scenario.late_share else 0.0
        if self._in_order:
            delay = 0.0
        self._deliver(self._now + delay, event)
        if rng.random() < scenario.duplicate_share:
            again = self._now + delay + rng.uniform(0, 5)
            if not self._in_order:
                self._deliver(again, event)

    def _deliver(self, at: float, event: dict[str, Any]) -> None:
        self._seq += 1
        heapq.heappush(self._delivery, (at, self._seq, event))

    def _active(self, kind: str, site: str) -> list[Incident]:
        t = self._now - self._start
        return [
            i
            for i in self.scenario.incidents
            if i.kind == kind and i.site == site and i.at <= t < i.at + i.duration
        ]

    def _rate(self, queue: SimQueue) -> float:
        """Arrivals per second now."""
        rate = queue.spec.calls_per_hour / 3600
        if self.scenario.diurnal == "office":
            hour = datetime.fromtimestamp(self._now, UTC).hour
            rate *= OFFICE[hour]
        for crowd in self._active("flash_crowd", queue.site):
            if not crowd.queues or queue.spec.name in crowd.queues:
                rate *= crowd.multiplier
        return rate

    def _interarrival(self, queue: SimQueue) -> float:
        return self._rng.expovariate(max(self._rate(queue), 1e-6))

    def _lognormal(self, median: float, sigma: float) -> float:
        return self._rng.lognormvariate(math.log(max(median, 0.001)), sigma)

    def _agent_state(self, queue: SimQueue, agent: Agent, state: str) -> None:
        self._emit(
            queue.site,
            "agent.state",
            agent_id=agent.agent_id,
            state=state,
            queues=[queue.spec.name],
        )

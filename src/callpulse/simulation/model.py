"""The simulated contact center: a discrete-event simulation that emits events v1.

A caller seizes a trunk channel (``call.setup``: 200, or 503 when the trunk is down or full),
goes through the IVR (input errors, backend calls, contained or transferred, sometimes hangs
up), and if transferred waits in a queue until an agent answers, or gives up after an
exponentially distributed patience (abandoning, or asking for a callback). Agents talk
(log-normal), sometimes hold, do after-call work, and report every state change. Queues send
``queue.snapshot``, IVRs ``ivr.ports``, trunks ``trunk.status`` and components
``component.health`` on a period. Arrivals are Poisson, shaped by a diurnal profile and by
incidents (maintenance that logs agents off, a component or trunk down, an IVR backend
outage, an agent shortage, a flash crowd).

Delivery is realistic too: a small share of events arrives 20-90 s late and a small share
twice. Pure and seeded: :meth:`ContactCenter.advance` returns the events *delivered* by a
simulated time, in delivery order; the same scenario and calls give the same bytes.
"""

from __future__ import annotations

import copy
import heapq
import math
import random
from datetime import UTC, datetime
from typing import Any

from callpulse.simulation.model_calls import CallFlow
from callpulse.simulation.model_parts import (
    HEARTBEAT_EVERY,
    OFFICE,
    SNAPSHOT_EVERY,
    Agent,
    SimQueue,
    Trunk,
)
from callpulse.simulation.scenario import (
    Incident,
    Scenario,
    SiteSpec,
    maintenance_id,
)


class ContactCenter(CallFlow):
    """Plays ``scenario`` from ``start`` (epoch seconds)."""

    def __init__(
        self,
        scenario: Scenario,
        start: float,
        *,
        in_order: bool = False,
        wrapup: float | None = None,
        whole_seconds: bool = False,
    ) -> None:
        """``in_order``: every event is delivered once, when it happens, as a platform
        writes its own stream (the scenario's late and duplicate deliveries are those of a
        v1 producer's transport). The random draws are the same: so is the simulated day.
        ``wrapup``: every call's after-call work lasts this long (the day a platform that
        does not log wrap-up can carry: its adapter assumes one length). ``whole_seconds``:
        everything happens on a whole second (each scheduled time rounded up), as a
        platform logging ``time()`` can tell it."""
        self.scenario = scenario
        self._in_order = in_order
        self._wrapup = wrapup
        self._whole_seconds = whole_seconds
        self._rng = random.Random(scenario.seed)
        self._start = start
        self._now = start
        self._heap: list[tuple[float, int, str, Any]] = []
        self._seq = 0
        self._delivery: list[tuple[float, int, dict[str, Any]]] = []
        self._offset = 0  # records handed out so far
        self._ids = 0
        self._calls = 0
        self._queues: dict[tuple[str, str], SimQueue] = {}
        self._trunks: dict[str, list[Trunk]] = {}
        self._sites: dict[str, SiteSpec] = {s.name: s for s in scenario.sites}
        self._ports: dict[str, int] = {}
        self._taken: dict[int, list[tuple[SimQueue, Agent]]] = {}  # incident -> agents it holds
        self._silent = False  # a fork: plays the center on without writing events
        for site in scenario.sites:
            self._trunks[site.name] = [Trunk(site.name, t.id, t.channels) for t in site.trunks]
            self._ports[site.name] = 0
            for spec in site.queues:
                agents = [Agent(f"{site.name}-{spec.name}-a{i:03d}") for i in range(spec.agents)]
                queue = self._queues[(site.name, spec.name)] = SimQueue(site.name, spec, agents)
                for agent in agents:
                    self._agent_state(queue, agent, "available")
                    if scenario.breaks is not None:
                        first = self._rng.uniform(0.25, 1.25) * scenario.breaks.every
                        self._schedule(start + first, "break", (queue, agent))
                if scenario.diurnal == "office":
                    self._schedule(start, "shift", queue)
                self._schedule(start + self._interarrival(queue), "arrival", queue)
                self._schedule(start, "snapshot", queue)
            self._schedule(start, "heartbeat", site)
        for incident in scenario.incidents:
            self._schedule(start + incident.at, "incident_start", incident)
            self._schedule(start + incident.at + incident.duration, "incident_end", incident)

    def _on_shift(self, queue: SimQueue) -> None:
        """Office-hours staffing: each hour, as many agents on shift as the hour's demand needs."""
        hour = datetime.fromtimestamp(self._now, UTC).hour
        staffed = max(1, math.ceil(len(queue.agents) * max(OFFICE[hour], 0.15)))
        for i, agent in enumerate(queue.agents):
            off = i >= staffed
            if off != agent.off_shift:
                agent.off_shift = off
                self._settle(queue, agent)
        self._dispatch(queue)
        next_hour = (math.floor(self._now / 3600) + 1) * 3600
        self._schedule(next_hour, "shift", queue)

    def _on_break(self, subject: tuple[SimQueue, Agent]) -> None:
        queue, agent = subject
        breaks = self.scenario.breaks
        assert breaks is not None
        if agent.busy:  # finish the call first
            self._schedule(self._now + 60, "break", subject)
            return
        if agent.can_work:
            agent.on_break = True
            self._agent_state(queue, agent, agent.idle_state)
            length = self._lognormal(breaks.length, 0.3)
            self._schedule(self._now + length, "break_end", subject)
        self._schedule(self._now + self._rng.uniform(0.75, 1.25) * breaks.every, "break", subject)

    def _on_break_end(self, subject: tuple[SimQueue, Agent]) -> None:
        queue, agent = subject
        agent.on_break = False
        self._settle(queue, agent)
        self._dispatch(queue)

    def _settle(self, queue: SimQueue, agent: Agent) -> None:
        """Report ``agent``'s idle state as it now is; one on a call reports at its end."""
        if not agent.busy:
            self._agent_state(queue, agent, agent.idle_state)

    # --- incidents -----------------------------------------------------------------------

    def _on_incident_start(self, incident: Incident) -> None:
        if incident.kind in ("maintenance", "agent_shortage") and incident.agents_lost:
            taken = self._taken.setdefault(id(incident), [])
            for queue in self._affected_queues(incident):
                count = round(len(queue.agents) * incident.agents_lost)
                # Agents another incident already holds are not taken twice.
                for agent in [a for a in queue.agents if not a.offline][:count]:
                    agent.offline = True
                    taken.append((queue, agent))
                    if not agent.busy:
                        self._agent_state(queue, agent, "offline")
        if incident.kind == "maintenance":
            self._emit(
                incident.site,
                "maintenance.started",
                maintenance_id=self._maintenance_id(incident),
                components=incident.components,
                queues=incident.queues or None,
                reason="planned patching",
            )

    def _on_incident_end(self, incident: Incident) -> None:
        if incident.kind in ("maintenance", "agent_shortage") and incident.agents_lost:
            returning = self._taken.pop(id(incident), [])
            if incident.return_spread > 0:
                for queue, agent in returning:
                    back = self._now + self._rng.uniform(0, incident.return_spread)
                    self._schedule(back, "agent_return", (queue, agent))
            else:
                for queue, agent in returning:
                    agent.offline = False
                    self._settle(queue, agent)
                for queue in {id(q): q for q, _ in returning}.values():
                    self._dispatch(queue)
        if incident.kind == "maintenance":
            self._emit(
                incident.site, "maintenance.ended", maintenance_id=self._maintenance_id(incident)
            )

    def _on_agent_return(self, subject: tuple[SimQueue, Agent]) -> None:
        """One agent an incident took logs back in (``return_spread``)."""
        queue, agent = subject
        agent.offline = False
        self._settle(queue, agent)
        self._dispatch(queue)

    def _affected_queues(self, incident: Incident) -> list[SimQueue]:
        return [
            q
            for (site, name), q in self._queues.items()
            if site == incident.site and (not incident.queues or name in incident.queues)
        ]

    def _maintenance_id(self, incident: Incident) -> str:
        return maintenance_id(incident)

    def fork(self, seed: int) -> ContactCenter:
        """This center as it is now, played on with fresh randomness (``seed``) and without
        writing events: one of the futures it could have, to learn what to expect from here.

        The scenario and its parts are shared, not copied: incidents are keyed by identity
        (the agents each holds), and they do not change."""
        memo: dict[int, Any] = {id(part): part for part in _parts(self.scenario)}
        delivery, self._delivery = self._delivery, []  # nothing a fork will hand out
        try:
            twin = copy.deepcopy(self, memo)
        finally:
            self._delivery = delivery
        twin._rng = random.Random(seed)
        twin._silent = True
        # Periodic reports only write events: a fork has none to write.
        twin._heap = [e for e in twin._heap if e[2] not in ("snapshot", "heartbeat")]
        heapq.heapify(twin._heap)
        return twin

    def waiting(self, site: str, queue: str) -> int:
        """Callers really waiting in ``queue`` now: the truth forecasts are scored against."""
        found = self._queues.get((site, queue))
        return len(found.waiting) if found is not None else 0

    # --- periodic reports ------------------------------------------------------------------

    def _on_snapshot(self, queue: SimQueue) -> None:
        oldest = self._now - queue.waiting[0][1] if queue.waiting else 0.0
        working = [a for a in queue.agents if not (a.offline or a.off_shift)]
        self._emit(
            queue.site,
            "queue.snapshot",
            queue=queue.spec.name,
            calls_waiting=len(queue.waiting),
            oldest_wait_seconds=round(oldest, 3),
            agents_staffed=len(working),
            agents_available=sum(not a.busy for a in working),
        )
        self._schedule(self._now + SNAPSHOT_EVERY, "snapshot", queue)

    def _on_heartbeat(self, site: SiteSpec) -> None:
        down = {c for i in self._active("component_down", site.name) for c in i.components}
        down |= {c for i in self._active("maintenance", site.name) for c in i.components}
        for component in site.components:
            status = "down" if component.id in down else "up"
            self._emit(
                site.name,
                "component.health",
                component=component.id,
                kind=component.kind,
                status=status,
            )
        for trunk in self._trunks[site.name]:
            is_down = trunk.trunk_id in self._down_trunks(site.name)
            self._emit(
                site.name,
                "trunk.status",
                trunk_id=trunk.trunk_id,
                state="down" if is_down else "up",
                channels_in_use=trunk.in_use,
                channels_total=trunk.channels,
            )
        if site.ivr is not None:
            self._emit(
                site.name,
                "ivr.ports",
                application=site.ivr.application,
                ports_in_use=min(self._ports[site.name], site.ivr.ports),
                ports_total=site.ivr.ports,
            )
        self._schedule(self._now + HEARTBEAT_EVERY, "heartbeat", site)


def _parts(scenario: Scenario) -> list[object]:
    """The scenario and every model inside it that the center refers to."""
    out: list[object] = [scenario, *scenario.incidents, *scenario.sites]
    if scenario.breaks is not None:
        out.append(scenario.breaks)
    for site in scenario.sites:
        out += [*site.queues, *site.trunks, *site.components]
        if site.ivr is not None:
            out.append(site.ivr)
    return out

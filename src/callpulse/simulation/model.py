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
import json
import math
import random
from collections import deque
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from callpulse.core.ingest import RawRecord
from callpulse.core.timefmt import rfc3339
from callpulse.simulation.scenario import (
    Incident,
    QueueSpec,
    Scenario,
    SiteSpec,
    maintenance_id,
)

SNAPSHOT_EVERY = 30.0
HEARTBEAT_EVERY = 15.0
# Share of calls by hour of day for an office-hours contact center (peak 1.0 at 10-11, 14-15).
OFFICE = (
    0.05,
    0.03,
    0.02,
    0.02,
    0.03,
    0.08,
    0.2,
    0.45,
    0.75,
    0.95,
    1.0,
    0.95,
    0.85,
    0.9,
    1.0,
    0.95,
    0.85,
    0.7,
    0.5,
    0.35,
    0.25,
    0.18,
    0.12,
    0.08,
)


@dataclass
class _Agent:
    agent_id: str
    busy: bool = False
    offline: bool = False  # logged off by an incident
    off_shift: bool = False  # outside its shift (office-hours staffing)
    on_break: bool = False

    @property
    def can_work(self) -> bool:
        return not (self.offline or self.off_shift or self.on_break)

    @property
    def idle_state(self) -> str:
        """The state to report when not on a call."""
        if self.can_work:
            return "available"
        return "not_ready" if self.on_break and not (self.offline or self.off_shift) else "offline"


@dataclass
class _Trunk:
    site: str
    trunk_id: str
    channels: int
    in_use: int = 0


@dataclass
class _Queue:
    site: str
    spec: QueueSpec
    agents: list[_Agent]
    waiting: deque[tuple[str, float, _Trunk | None]] = field(default_factory=deque)


class ContactCenter:
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
        self._queues: dict[tuple[str, str], _Queue] = {}
        self._trunks: dict[str, list[_Trunk]] = {}
        self._sites: dict[str, SiteSpec] = {s.name: s for s in scenario.sites}
        self._ports: dict[str, int] = {}
        self._taken: dict[int, list[tuple[_Queue, _Agent]]] = {}  # incident -> agents it holds
        self._silent = False  # a fork: plays the center on without writing events
        for site in scenario.sites:
            self._trunks[site.name] = [_Trunk(site.name, t.id, t.channels) for t in site.trunks]
            self._ports[site.name] = 0
            for spec in site.queues:
                agents = [_Agent(f"{site.name}-{spec.name}-a{i:03d}") for i in range(spec.agents)]
                queue = self._queues[(site.name, spec.name)] = _Queue(site.name, spec, agents)
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

    def _rate(self, queue: _Queue) -> float:
        """Arrivals per second now."""
        rate = queue.spec.calls_per_hour / 3600
        if self.scenario.diurnal == "office":
            hour = datetime.fromtimestamp(self._now, UTC).hour
            rate *= OFFICE[hour]
        for crowd in self._active("flash_crowd", queue.site):
            if not crowd.queues or queue.spec.name in crowd.queues:
                rate *= crowd.multiplier
        return rate

    def _interarrival(self, queue: _Queue) -> float:
        return self._rng.expovariate(max(self._rate(queue), 1e-6))

    def _lognormal(self, median: float, sigma: float) -> float:
        return self._rng.lognormvariate(math.log(max(median, 0.001)), sigma)

    def _agent_state(self, queue: _Queue, agent: _Agent, state: str) -> None:
        self._emit(
            queue.site,
            "agent.state",
            agent_id=agent.agent_id,
            state=state,
            queues=[queue.spec.name],
        )

    # --- callers -----------------------------------------------------------------------

    def _on_arrival(self, queue: _Queue) -> None:
        self._schedule(self._now + self._interarrival(queue), "arrival", queue)
        self._calls += 1
        call_id = f"{queue.site}-c{self._calls}"
        trunks = self._trunks[queue.site]
        trunk = self._pick_trunk(queue.site)
        if trunks and trunk is None:
            # No usable trunk: refused as unavailable (a trunk down) or busy (all full).
            down = self._down_trunks(queue.site)
            refused = next((t for t in trunks if t.trunk_id in down), trunks[0])
            self._emit(
                queue.site,
                "call.setup",
                trunk_id=refused.trunk_id,
                call_id=call_id,
                sip_code=503 if down else 486,
            )
            return
        if trunk is not None:
            trunk.in_use += 1
            self._emit(
                queue.site,
                "call.setup",
                trunk_id=trunk.trunk_id,
                call_id=call_id,
                sip_code=200,
                post_dial_delay_ms=round(self._lognormal(1200, 0.3), 1),
            )
        ivr = self._sites[queue.site].ivr
        if ivr is None:
            self._enqueue(queue, call_id, trunk)
            return
        self._ivr(queue, call_id, trunk)

    def _down_trunks(self, site: str) -> set[str]:
        return {i.trunk for i in self._active("trunk_down", site) if i.trunk}

    def _pick_trunk(self, site: str) -> _Trunk | None:
        """The least used trunk that is up and has a free channel, as a PBX would route."""
        down = self._down_trunks(site)
        usable = [t for t in self._trunks[site] if t.trunk_id not in down and t.in_use < t.channels]
        return min(usable, key=lambda t: t.in_use / t.channels) if usable else None

    def _ivr(self, queue: _Queue, call_id: str, trunk: _Trunk | None) -> None:
        site = queue.site
        ivr = self._sites[site].ivr
        assert ivr is not None
        rng = self._rng
        session = f"{call_id}-ivr"
        app = ivr.application
        self._ports[site] += 1
        self._emit(
            site, "ivr.session_started", session_id=session, application=app, call_id=call_id
        )
        self._emit(site, "ivr.node", session_id=session, application=app, node="main-menu")
        for kind, share in (("no_input", ivr.no_input), ("no_match", ivr.no_match)):
            if rng.random() < share:
                self._emit(
                    site,
                    "ivr.input_error",
                    session_id=session,
                    application=app,
                    node="main-menu",
                    kind=kind,
                )
        outage = self._active("ivr_backend_outage", site)
        error_rate = max([ivr.backend_errors] + [o.error_rate for o in outage])
        failed = rng.random() < error_rate
        if failed:
            self._emit(
                site,
                "ivr.backend_error",
                session_id=session,
                application=app,
                backend="crm",
                error="timeout",
            )
        duration = self._lognormal(45, 0.4)
        roll = rng.random()
        # A failed lookup cannot be self-served: those callers go to an agent.
        if not failed and roll < ivr.containment:
            outcome = "contained"
        elif roll > 1 - ivr.hangup:
            outcome = "hangup"
        else:
            outcome = "transferred"
        self._schedule(
            self._now + duration, "ivr_end", (queue, call_id, trunk, session, outcome, duration)
        )

    def _on_ivr_end(self, subject: tuple[_Queue, str, _Trunk | None, str, str, float]) -> None:
        queue, call_id, trunk, session, outcome, duration = subject
        site = queue.site
        ivr = self._sites[site].ivr
        assert ivr is not None
        self._ports[site] -= 1
        self._emit(
            site,
            "ivr.session_ended",
            session_id=session,
            application=ivr.application,
            outcome=outcome,
            duration_seconds=round(duration, 3),
        )
        if outcome == "transferred":
            self._enqueue(queue, call_id, trunk)
        else:
            self._release(trunk)

    def _enqueue(self, queue: _Queue, call_id: str, trunk: _Trunk | None) -> None:
        self._emit(queue.site, "call.queued", call_id=call_id, queue=queue.spec.name, priority=0)
        # Callers already waiting: nobody who can work is free (see _on_wrapup).
        queued = bool(queue.waiting)
        queue.waiting.append((call_id, self._now, trunk))
        if queue.spec.patience is not None:
            patience = self._rng.expovariate(1.0 / max(queue.spec.patience, 1.0))
            self._schedule(self._now + patience, "patience", (queue, call_id))
        if not queued:
            self._dispatch(queue)

    def _release(self, trunk: _Trunk | None) -> None:
        if trunk is not None:
            trunk.in_use = max(0, trunk.in_use - 1)

    def _on_patience(self, subject: tuple[_Queue, str]) -> None:
        queue, call_id = subject
        for i, (waiting_id, queued_at, trunk) in enumerate(queue.waiting):
            if waiting_id == call_id:
                del queue.waiting[i]
                wait = round(self._now - queued_at, 3)
                kind = (
                    "call.callback_requested"
                    if self._rng.random() < queue.spec.callback_share
                    else "call.abandoned"
                )
                self._emit(
                    queue.site, kind, call_id=call_id, queue=queue.spec.name, wait_seconds=wait
                )
                self._release(trunk)
                return

    def _dispatch(self, queue: _Queue) -> None:
        waiting = queue.waiting
        if not waiting:
            return
        for agent in queue.agents:
            # can_work, spelled out: this loop is most of a backlog's cost.
            if agent.busy or agent.offline or agent.off_shift or agent.on_break:
                continue
            self._answer(queue, agent)
            if not waiting:
                return

    def _answer(self, queue: _Queue, agent: _Agent) -> None:
        """``agent`` answers the caller waiting longest."""
        call_id, queued_at, trunk = queue.waiting.popleft()
        agent.busy = True
        spec = queue.spec
        self._emit(
            queue.site,
            "call.answered",
            call_id=call_id,
            queue=spec.name,
            agent_id=agent.agent_id,
            wait_seconds=round(self._now - queued_at, 3),
        )
        self._agent_state(queue, agent, "on_call")
        talk = self._lognormal(spec.talk, 0.6)
        hold = self._lognormal(30, 0.5) if self._rng.random() < spec.hold_share else 0.0
        acw = self._lognormal(spec.acw, 0.4)
        if self._wrapup is not None:
            acw = self._wrapup  # drawn all the same: the rest of the day is unchanged
        self._schedule(
            self._now + talk + hold, "hangup", (queue, agent, call_id, talk, hold, acw, trunk)
        )

    def _on_hangup(self, subject: tuple[Any, ...]) -> None:
        queue, agent, call_id, talk, hold, acw, trunk = subject
        rng = self._rng
        if self._silent:  # a fork: the call's media quality is nobody's concern
            self._release(trunk)
            self._schedule(self._now + acw, "wrapup", (queue, agent, call_id, talk, hold, acw))
            return
        self._emit(
            queue.site,
            "media.quality",
            trunk_id=trunk.trunk_id if trunk else None,
            call_id=call_id,
            mos=round(min(4.5, max(1.0, rng.gauss(4.2, 0.15))), 2),
            jitter_ms=round(self._lognormal(8, 0.5), 2),
            packet_loss_ratio=round(min(1.0, self._lognormal(0.002, 0.8)), 5),
            rtt_ms=round(self._lognormal(60, 0.3), 1),
        )
        self._release(trunk)
        self._agent_state(queue, agent, "acw")
        self._schedule(self._now + acw, "wrapup", (queue, agent, call_id, talk, hold, acw))

    def _on_wrapup(self, subject: tuple[Any, ...]) -> None:
        queue, agent, call_id, talk, hold, acw = subject
        self._emit(
            queue.site,
            "call.completed",
            call_id=call_id,
            queue=queue.spec.name,
            agent_id=agent.agent_id,
            talk_seconds=round(talk, 3),
            hold_seconds=round(hold, 3),
            acw_seconds=round(acw, 3),
        )
        agent.busy = False
        self._agent_state(queue, agent, agent.idle_state)
        if queue.waiting and agent.can_work:
            # While callers wait, every other agent who can work is busy (whatever frees one
            # dispatches), so this one is the agent _dispatch would find, and the only one:
            # a backlog need not scan them all at every call's end.
            self._answer(queue, agent)
        else:
            self._dispatch(queue)

    # --- shifts and breaks ----------------------------------------------------------------

    def _on_shift(self, queue: _Queue) -> None:
        """Office-hours staffing: each hour, as many agents on shift as the hour's demand needs."""
        hour = datetime.fromtimestamp(self._now, UTC).hour
        staffed = max(1, math.ceil(len(queue.agents) * max(OFFICE[hour], 0.15)))
        for i, agent in enumerate(queue.agents):
            off = i >= staffed
            if off != agent.off_shift:
                agent.off_shift = off
                if not agent.busy:
                    self._agent_state(queue, agent, agent.idle_state)
        self._dispatch(queue)
        next_hour = (math.floor(self._now / 3600) + 1) * 3600
        self._schedule(next_hour, "shift", queue)

    def _on_break(self, subject: tuple[_Queue, _Agent]) -> None:
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

    def _on_break_end(self, subject: tuple[_Queue, _Agent]) -> None:
        queue, agent = subject
        agent.on_break = False
        if not agent.busy:
            self._agent_state(queue, agent, agent.idle_state)
        self._dispatch(queue)

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
                    if not agent.busy:
                        self._agent_state(queue, agent, agent.idle_state)
                for queue in {id(q): q for q, _ in returning}.values():
                    self._dispatch(queue)
        if incident.kind == "maintenance":
            self._emit(
                incident.site, "maintenance.ended", maintenance_id=self._maintenance_id(incident)
            )

    def _on_agent_return(self, subject: tuple[_Queue, _Agent]) -> None:
        """One agent an incident took logs back in (``return_spread``)."""
        queue, agent = subject
        agent.offline = False
        if not agent.busy:
            self._agent_state(queue, agent, agent.idle_state)
        self._dispatch(queue)

    def _affected_queues(self, incident: Incident) -> list[_Queue]:
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

    def _on_snapshot(self, queue: _Queue) -> None:
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


def encode(event: dict[str, Any]) -> bytes:
    """One event as the compact JSON a producer would put in a Kafka record."""
    return json.dumps(event, separators=(",", ":")).encode()

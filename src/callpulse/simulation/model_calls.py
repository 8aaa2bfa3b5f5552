"""A caller's way through the simulated center: trunk seizure, the IVR, the queue, patience,
an agent's answer, the call and its wrap-up."""

from __future__ import annotations

from typing import Any

from callpulse.simulation.model_engine import Engine
from callpulse.simulation.model_parts import Agent, SimQueue, Trunk


class CallFlow(Engine):
    """The callers' and agents' handling of calls (the ``_on_*`` handlers the engine's heap
    dispatches by name)."""

    # --- callers -----------------------------------------------------------------------

    def _on_arrival(self, queue: SimQueue) -> None:
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

    def _pick_trunk(self, site: str) -> Trunk | None:
        """The least used trunk that is up and has a free channel, as a PBX would route."""
        down = self._down_trunks(site)
        usable = [t for t in self._trunks[site] if t.trunk_id not in down and t.in_use < t.channels]
        return min(usable, key=lambda t: t.in_use / t.channels) if usable else None

    def _ivr(self, queue: SimQueue, call_id: str, trunk: Trunk | None) -> None:
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

    def _on_ivr_end(self, subject: tuple[SimQueue, str, Trunk | None, str, str, float]) -> None:
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

    def _enqueue(self, queue: SimQueue, call_id: str, trunk: Trunk | None) -> None:
        self._emit(queue.site, "call.queued", call_id=call_id, queue=queue.spec.name, priority=0)
        # Callers already waiting: nobody who can work is free (see _on_wrapup).
        queued = bool(queue.waiting)
        queue.waiting.append((call_id, self._now, trunk))
        if queue.spec.patience is not None:
            patience = self._rng.expovariate(1.0 / max(queue.spec.patience, 1.0))
            self._schedule(self._now + patience, "patience", (queue, call_id))
        if not queued:
            self._dispatch(queue)

    def _release(self, trunk: Trunk | None) -> None:
        if trunk is not None:
            trunk.in_use = max(0, trunk.in_use - 1)

    def _on_patience(self, subject: tuple[SimQueue, str]) -> None:
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

    def _dispatch(self, queue: SimQueue) -> None:
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

    def _answer(self, queue: SimQueue, agent: Agent) -> None:
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

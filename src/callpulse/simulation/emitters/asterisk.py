"""Events v1 written as Asterisk's ``queue_log`` (``app_queue.c``'s lines), with
``log_membername_as_agent`` on, so members are named as CONNECT names them.

What the log cannot carry, and so what a scenario played through it loses:

- times and waits are whole seconds (``%ld`` in app_queue.c), so a wait of 20.4 s is 20;
- hold is inside the bridge: CONNECT to COMPLETE* is talk and hold together (``calltime``),
  and COMPLETECALLER is written at the hang-up (the simulator's ``acw``);
- wrap-up is not logged: the adapter assumes ``wrapup_seconds`` (``acw_carried`` is false);
- a callback request is a caller leaving by a key (EXITWITHKEY), which the adapter counts as
  an abandon;
- agent states other than members, pauses and calls (on_call and acw come from the calls).
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from types import MappingProxyType
from typing import Any

from callpulse.simulation.emitters.base import ACD_TYPES

FORMAT = "asterisk-queue-log"


class AsteriskEmitter:
    """An Emitter writing one site's ``queue_log`` lines."""

    format = FORMAT
    carries = ACD_TYPES

    merges: Mapping[str, str] = MappingProxyType({"call.callback_requested": "call.abandoned"})
    acw_carried = False
    whole_seconds = True  # time(NULL), %ld

    def __init__(self) -> None:
        self._members: dict[str, dict[str, bool]] = {}  # agent -> queue -> paused
        self._positions: dict[str, int] = {}  # queue -> callers waiting, for the position
        self._bridged: dict[str, tuple[str, str, float, int]] = {}  # agent -> its call

    def emit(self, event: Mapping[str, Any]) -> list[bytes]:
        """The ``queue_log`` lines of one v1 event."""
        moment = datetime.fromisoformat(event["occurred_at"]).timestamp()
        epoch = int(moment)
        kind = event["type"]
        if kind == "agent.state":
            agent = event["agent_id"]
            # Membership lines carry one empty data field (a pause's reason is none here).
            out = [_line(epoch, "NONE", q, agent, k, "") for q, k in self._agent(event)]
            if event["state"] == "acw" and agent in self._bridged:
                # The hang-up: app_queue logs the call's end now; the wrap-up is not logged.
                call, queue, connected, wait = self._bridged.pop(agent)
                calltime = round(moment - connected)
                out.append(_line(epoch, call, queue, agent, "COMPLETECALLER", wait, calltime, 1))
            return out
        call, queue = event["call_id"], event["queue"]
        if kind == "call.queued":
            position = self._positions[queue] = self._positions.get(queue, 0) + 1
            return [_line(epoch, call, queue, "NONE", "ENTERQUEUE", "", "", position)]
        if kind == "call.completed":
            return []  # written at the hang-up
        self._positions[queue] = max(0, self._positions.get(queue, 0) - 1)
        wait = int(event["wait_seconds"])
        if kind == "call.answered":
            agent = event["agent_id"]
            self._bridged[agent] = (call, queue, moment, wait)
            bridged = f"{call}-{agent}"
            return [_line(epoch, call, queue, agent, "CONNECT", wait, bridged, 0)]
        if kind == "call.abandoned":
            return [_line(epoch, call, queue, "NONE", "ABANDON", 1, 1, wait)]
        return [_line(epoch, call, queue, "NONE", "EXITWITHKEY", 1, 1, 1, wait)]  # callback

    def _agent(self, event: Mapping[str, Any]) -> list[tuple[str, str]]:
        """(queue, event) lines that take the member's queues and pauses to ``event``'s."""
        agent, state = event["agent_id"], event["state"]
        members = self._members.setdefault(agent, {})
        wanted = set() if state == "offline" else set(event["queues"])
        lines = [(q, "REMOVEMEMBER") for q in sorted(set(members) - wanted)]
        for q in sorted(set(members) - wanted):
            del members[q]
        for q in sorted(wanted - set(members)):
            members[q] = False
            lines.append((q, "ADDMEMBER"))
        if state in {"available", "not_ready"}:
            paused = state == "not_ready"
            for q in sorted(wanted):
                if members[q] != paused:
                    members[q] = paused
                    lines.append((q, "PAUSE" if paused else "UNPAUSE"))
        return lines


def _line(epoch: int, call: str, queue: str, agent: str, kind: str, *data: object) -> bytes:
    return "|".join([str(epoch), call, queue, agent, kind, *map(str, data)]).encode()

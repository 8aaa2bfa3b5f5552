"""The simulator's events v1 written as FreeSWITCH ``mod_callcenter`` writes them: the
``callcenter::info`` events, serialized to JSON like ``switch_event_serialize_json`` (every
value a string), in the order ``mod_callcenter.c`` fires them. The inverse of
``callpulse.adapters.freeswitch``.

Per v1 event:

- ``call.queued``: ``member-queue-start``, then ``members-count``.
- ``call.answered``: ``agent-state-change`` Receiving, ``agent-offering``,
  ``bridge-agent-start`` (joined = answered - wait), ``agent-state-change`` In a queue call,
  ``members-count``.
- ``call.abandoned``: ``member-queue-end`` Cancel ``BREAK_OUT``; ``call.callback_requested``:
  Cancel ``EXIT_WITH_KEY`` (mod_callcenter has no callback: the caller leaves by a key);
  ``call.transferred``: Cancel ``TIMEOUT``. Each then ``members-count``.
- ``agent.state`` ``acw`` (the simulator's hang-up): ``bridge-agent-end``, ``member-queue-end``
  Terminated, ``agent-state-change`` Waiting. ``available`` / ``not_ready`` / ``offline``:
  ``agent-status-change`` Available / On Break / Logged Out when the status changes (the end of
  a wrap-up changes none: FreeSWITCH writes nothing then). ``on_call``: nothing (the answer
  said it).
- ``call.completed``: nothing: the simulator writes it when the wrap-up ends, FreeSWITCH
  writes ``bridge-agent-end`` at the hang-up.

The ``CC-*-Time`` headers are whole seconds, as ``local_epoch_time_now`` gives them (the join
is the second the caller joined in, ``floor``); ``Event-Date-Timestamp`` is the v1 event's
time in microseconds, from which the adapter times waits. What this loses: each call's
wrap-up length (FreeSWITCH writes nothing when it ends; the adapter assumes its
``wrapup_seconds``), hold, callbacks, and the tiers (no event names an agent's queues before
it is offered a call).
"""

from __future__ import annotations

import json
import math
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from types import MappingProxyType
from typing import Any

from callpulse.adapters.freeswitch import SUBCLASS
from callpulse.adapters.freeswitch_agent import IN_A_QUEUE_CALL
from callpulse.adapters.freeswitch_headers import FORMAT
from callpulse.simulation.emitters.base import ACD_TYPES

_STATUS = {"available": "Available", "not_ready": "On Break", "offline": "Logged Out"}
_LEAVING = {
    "call.abandoned": "BREAK_OUT",
    "call.callback_requested": "EXIT_WITH_KEY",
    "call.transferred": "TIMEOUT",
}
_NAMESPACE = uuid.UUID("6f1c7c8e-2d0b-4c59-9a53-1f0f3e7a2b10")
_LINES = {  # where mod_callcenter.c fires each: (function, line)
    "members-count": ("cc_queue_count", 883),
    "agent-status-change": ("cc_agent_update", 1047),
    "agent-state-change": ("cc_agent_update", 1071),
    "agent-offering": ("outbound_agent_thread_run", 1732),
    "bridge-agent-start": ("outbound_agent_thread_run", 1952),
    "bridge-agent-end": ("outbound_agent_thread_run", 2079),
    "member-queue-end:Terminated": ("outbound_agent_thread_run", 2122),
    "member-queue-start": ("callcenter_function", 3121),
    "member-queue-end:Cancel": ("callcenter_function", 3286),
}


@dataclass(slots=True)
class _Bridge:
    call_id: str
    queue: str
    joined: int
    called: int
    answered: int


class FreeSwitchCallcenterEmitter:
    """An Emitter writing one FreeSWITCH's ``callcenter::info`` events, one JSON object each."""

    format = FORMAT
    carries = ACD_TYPES | {"call.transferred"}
    # mod_callcenter has no callback request: the caller leaves by a key, an abandon.
    merges: Mapping[str, str] = MappingProxyType({"call.callback_requested": "call.abandoned"})
    acw_carried = False
    whole_seconds = False

    def __init__(self, hostname: str = "fs1") -> None:
        self.hostname = hostname
        self._core = str(uuid.uuid5(_NAMESPACE, hostname))
        self._sequence = 0
        self._waiting: dict[str, int] = {}  # queue -> callers waiting
        self._status: dict[str, str] = {}  # agent -> its last status
        self._bridges: dict[str, _Bridge] = {}  # agent -> its call in progress

    def emit(self, event: Mapping[str, Any]) -> list[bytes]:
        """The ``callcenter::info`` events ``event`` becomes (none for what FreeSWITCH does
        not write)."""
        kind = event["type"]
        at = datetime.fromisoformat(event["occurred_at"]).timestamp()
        out: list[bytes] = []
        if kind == "call.queued":
            queue = event["queue"]
            out.append(self._fire(at, "member-queue-start", CC_Queue=queue,
                                  **self._member(event["call_id"], queue)))  # fmt: skip
            out.append(self._count(at, queue, +1))
        elif kind == "call.answered":
            out += self._answer(event, at)
        elif kind in _LEAVING:
            queue, second = event["queue"], int(at)
            joined = math.floor(at - event.get("wait_seconds", 0.0))
            out.append(self._fire(at, "member-queue-end:Cancel", CC_Queue=queue,
                                  CC_Member_Leaving_Time=str(second),
                                  CC_Member_Joined_Time=str(joined), CC_Cause="Cancel",
                                  CC_Cancel_Reason=_LEAVING[kind],
                                  **self._member(event["call_id"], queue)))  # fmt: skip
            out.append(self._count(at, queue, -1))
        elif kind == "agent.state":
            out += self._agent(event, at)
        return out

    def _answer(self, event: Mapping[str, Any], at: float) -> list[bytes]:
        agent, queue, second = event["agent_id"], event["queue"], int(at)
        joined = math.floor(at - event["wait_seconds"])
        bridge = self._bridges[agent] = _Bridge(event["call_id"], queue, joined, second, second)
        member = self._member(bridge.call_id, queue)
        return [
            self._state(at, agent, "Receiving"),
            self._fire(at, "agent-offering", CC_Queue=queue, CC_Agent=agent,
                       CC_Agent_Type="callback", CC_Agent_System="single_box", **member),
            self._fire(at, "bridge-agent-start", CC_Queue=queue, CC_Agent=agent,
                       CC_Agent_System="single_box", CC_Agent_UUID=self._leg(agent, bridge),
                       CC_Agent_Called_Time=str(bridge.called),
                       CC_Agent_Answered_Time=str(bridge.answered),
                       CC_Member_Joined_Time=str(joined), **member),
            self._state(at, agent, IN_A_QUEUE_CALL),
            self._count(at, queue, -1),
        ]  # fmt: skip

    def _agent(self, event: Mapping[str, Any], at: float) -> list[bytes]:
        agent, state = event["agent_id"], event["state"]
        if state == "acw":
            bridge = self._bridges.pop(agent, None)
            if bridge is None:
                return []
            leg, member = self._leg(agent, bridge), self._member(bridge.call_id, bridge.queue)
            times = {
                "CC_Agent_Called_Time": str(bridge.called),
                "CC_Agent_Answered_Time": str(bridge.answered),
                "CC_Member_Joined_Time": str(bridge.joined),
            }
            return [
                self._fire(at, "bridge-agent-end", CC_Queue=bridge.queue,
                           CC_Hangup_Cause="NORMAL_CLEARING", CC_Agent=agent,
                           CC_Agent_System="single_box", CC_Agent_UUID=leg,
                           CC_Agent_Bridged="true", **times,
                           CC_Bridge_Terminated_Time=str(int(at)), **member),
                self._fire(at, "member-queue-end:Terminated", CC_Queue=bridge.queue,
                           CC_Hangup_Cause="NORMAL_CLEARING", CC_Cause="Terminated",
                           CC_Agent=agent, CC_Agent_System="single_box", CC_Agent_UUID=leg,
                           **times, CC_Member_Leaving_Time=str(int(at)), **member),
                self._state(at, agent, "Waiting"),
            ]  # fmt: skip
        status = _STATUS.get(state)
        if status is None or self._status.get(agent) == status:
            return []  # on_call (the answer wrote it), or a wrap-up ending: no event
        self._status[agent] = status
        return [self._fire(at, "agent-status-change", CC_Agent=agent, CC_Agent_Status=status)]

    # --- writing -------------------------------------------------------------------------

    def _state(self, at: float, agent: str, state: str) -> bytes:
        return self._fire(at, "agent-state-change", CC_Agent=agent, CC_Agent_State=state)

    def _count(self, at: float, queue: str, change: int) -> bytes:
        waiting = self._waiting[queue] = max(0, self._waiting.get(queue, 0) + change)
        return self._fire(at, "members-count", CC_Queue=queue, CC_Count=str(waiting),
                          CC_Selection="Single-Queue")  # fmt: skip

    def _member(self, call_id: str, queue: str) -> dict[str, str]:
        return {
            "CC_Member_UUID": str(uuid.uuid5(_NAMESPACE, f"{call_id}|{queue}")),
            "CC_Member_Session_UUID": call_id,
            "CC_Member_CID_Name": "",
            "CC_Member_CID_Number": "",
        }

    def _leg(self, agent: str, bridge: _Bridge) -> str:
        return str(uuid.uuid5(_NAMESPACE, f"{agent}|{bridge.call_id}"))

    def _fire(self, at: float, key: str, **headers: str) -> bytes:
        action = key.partition(":")[0]
        function, line = _LINES[key]
        self._sequence += 1
        when = datetime.fromtimestamp(at, UTC)
        body = {"Event-Subclass": SUBCLASS, "CC-Action": action}
        body |= {name.replace("_", "-"): value for name, value in headers.items()}
        body |= {
            "Event-Name": "CUSTOM",
            "Core-UUID": self._core,
            "FreeSWITCH-Hostname": self.hostname,
            "FreeSWITCH-Switchname": self.hostname,
            "Event-Date-Local": when.strftime("%Y-%m-%d %H:%M:%S"),
            "Event-Date-GMT": when.strftime("%a, %d %b %Y %H:%M:%S GMT"),
            "Event-Date-Timestamp": str(round(at * 1_000_000)),
            "Event-Calling-File": "mod_callcenter.c",
            "Event-Calling-Function": function,
            "Event-Calling-Line-Number": str(line),
            "Event-Sequence": str(self._sequence),
        }
        return json.dumps(body, separators=(",", ":")).encode()

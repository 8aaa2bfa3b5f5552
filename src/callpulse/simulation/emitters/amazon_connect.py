"""The simulator's events v1 as Amazon Connect writes them: agent events (the Kinesis agent
event stream), contact events (EventBridge envelopes) and contact records (the Kinesis
contact record stream), the inverse of ``callpulse.adapters.amazon_connect``.

ARNs end with the simulator's own names (``.../agent/lon1-billing-a001``,
``.../queue/billing``), so the adapter, which names an agent or queue by its ARN's last
segment, reads the same names back without ``agent_names`` or ``queue_names``.
"""

from __future__ import annotations

import json
from collections import OrderedDict
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from types import MappingProxyType
from typing import Any

from callpulse.core.timefmt import rfc3339
from callpulse.simulation.emitters.base import ACD_TYPES

FORMAT = "amazon-connect"
INSTANCE = "arn:aws:connect:eu-west-2:111122223333:instance/00000000-0000-4000-8000-000000000001"
MAX_CALLS = 100_000  # calls between queued and completed, oldest forgotten past it
MAX_AGENTS = 10_000

# v1 agent state -> (AgentStatus Name, Type, contact State or None).
_SNAPSHOT = {
    "available": ("Available", "ROUTABLE", None),
    "on_call": ("Available", "ROUTABLE", "CONNECTED"),
    "acw": ("Available", "ROUTABLE", "ENDED"),
    "not_ready": ("Break", "CUSTOM", None),
    "offline": ("Offline", "OFFLINE", None),
}


@dataclass(slots=True)
class _Call:
    queue: str
    enqueued: float | None = None
    connected: float | None = None


class AmazonConnectEmitter:
    """Writes events v1 as Amazon Connect records (JSON, one per Kafka record)."""

    format = FORMAT
    # call.callback_requested: a queued callback ends the inbound contact in the queue with
    # no agent, which is what an abandon looks like too; call.transferred is not simulated.
    carries = ACD_TYPES

    merges: Mapping[str, str] = MappingProxyType({"call.callback_requested": "call.abandoned"})
    acw_carried = True
    whole_seconds = False

    def __init__(self, instance_arn: str = INSTANCE) -> None:
        self.instance = instance_arn
        self._calls: OrderedDict[str, _Call] = OrderedDict()
        self._agents: OrderedDict[str, tuple[str, str | None]] = OrderedDict()  # state, call
        self._events = 0

    def emit(self, event: Mapping[str, Any]) -> list[bytes]:
        """The Connect records ``event`` becomes."""
        kind = event["type"]
        when = datetime.fromisoformat(event["occurred_at"]).timestamp()
        if kind == "agent.state":
            return [self._agent_event(event, when)]
        call = self._call(event["call_id"], event["queue"])
        if kind == "call.queued":
            call.enqueued = when
            return [self._contact_event("QUEUED", event["call_id"], call.queue, when, when)]
        if kind == "call.answered":
            call.enqueued = when - event["wait_seconds"]
            call.connected = when
            self._agents[event["agent_id"]] = ("on_call", event["call_id"])
            agent = {"agentArn": self._agent_arn(event["agent_id"]),
                     "connectedToAgentTimestamp": rfc3339(when)}  # fmt: skip
            return [self._contact_event("CONNECTED_TO_AGENT", event["call_id"], call.queue,
                                        call.enqueued, when, agentInfo=agent)]  # fmt: skip
        if kind in ("call.abandoned", "call.callback_requested"):
            self._calls.pop(event["call_id"], None)
            return [self._contact_event("DISCONNECTED", event["call_id"], call.queue,
                                        when - event["wait_seconds"], when,
                                        disconnectTimestamp=rfc3339(when))]  # fmt: skip
        if kind == "call.completed":
            self._calls.pop(event["call_id"], None)
            return self._completed(event, call, when)
        return []

    # --- contacts ----------------------------------------------------------------------

    def _call(self, call_id: str, queue: str) -> _Call:
        call = self._calls.get(call_id)
        if call is None:
            if len(self._calls) >= MAX_CALLS:
                self._calls.popitem(last=False)
            call = self._calls[call_id] = _Call(queue)
        return call

    def _contact_event(
        self, kind: str, contact: str, queue: str, enqueued: float | None, when: float, **more: Any
    ) -> bytes:
        self._events += 1
        queue_info: dict[str, Any] = {"queueArn": self._queue_arn(queue), "queueType": "STANDARD"}
        if enqueued is not None:
            queue_info["enqueueTimestamp"] = rfc3339(enqueued)
        detail = {
            "eventType": kind,
            "contactId": contact,
            "initialContactId": contact,
            "channel": "VOICE",
            "instanceArn": self.instance,
            "initiationMethod": "INBOUND",
            "queueInfo": queue_info,
            **more,
        }
        return _encode(
            {
                "version": "0",
                "id": f"00000000-0000-4000-8000-{self._events:012d}",
                "detail-type": "Amazon Connect Contact Event",
                "source": "aws.connect",
                "account": "111122223333",
                "time": rfc3339(when),
                "region": "eu-west-2",
                "resources": [self.instance, f"{self.instance}/contact/{contact}"],
                "detail": detail,
            }
        )

    def _completed(self, event: Mapping[str, Any], call: _Call, when: float) -> list[bytes]:
        talk, hold, acw = event["talk_seconds"], event["hold_seconds"], event["acw_seconds"]
        hangup = when - acw
        connected = call.connected if call.connected is not None else hangup - talk - hold
        agent_arn = self._agent_arn(event["agent_id"])
        queue: dict[str, Any] = {"ARN": self._queue_arn(call.queue), "Name": call.queue}
        if call.enqueued is not None:
            queue |= {
                "EnqueueTimestamp": _whole(call.enqueued),
                "DequeueTimestamp": _whole(connected),
                "Duration": round(connected - call.enqueued),
            }
        # Records carry whole seconds, durations and times alike (Contact records data model).
        record = {
            "AWSAccountId": "111122223333",
            "AWSContactTraceRecordFormatVersion": "2017-03-10",
            "Agent": {
                "ARN": agent_arn,
                "ConnectedToAgentTimestamp": _whole(connected),
                "AgentInteractionDuration": round(talk),
                "CustomerHoldDuration": round(hold),
                "AfterContactWorkDuration": round(acw),
                "AfterContactWorkStartTimestamp": _whole(hangup),
                "AfterContactWorkEndTimestamp": _whole(when),
                "Username": event["agent_id"],
            },
            "Channel": "VOICE",
            "ContactId": event["call_id"],
            "DisconnectTimestamp": _whole(hangup),
            "InitiationMethod": "INBOUND",
            "InstanceARN": self.instance,
            "LastUpdateTimestamp": _whole(when),
            "Queue": queue,
        }
        # The contact event of the hang-up, sent when the call's facts are complete here.
        agent = {"agentArn": agent_arn, "connectedToAgentTimestamp": rfc3339(connected)}
        disconnected = self._contact_event("DISCONNECTED", event["call_id"], call.queue,
                                           call.enqueued, hangup, agentInfo=agent,
                                           disconnectTimestamp=rfc3339(hangup))  # fmt: skip
        return [disconnected, _encode(record)]

    # --- agents ------------------------------------------------------------------------

    def _agent_event(self, event: Mapping[str, Any], when: float) -> bytes:
        agent_id, state = event["agent_id"], event["state"]
        before = self._agents.get(agent_id)
        call = before[1] if before is not None else None
        if state == "offline":
            kind = "LOGOUT"
        elif before is None or before[0] == "offline":
            kind = "LOGIN"
        else:
            kind = "STATE_CHANGE"
        if agent_id not in self._agents and len(self._agents) >= MAX_AGENTS:
            self._agents.popitem(last=False)
        self._agents[agent_id] = (state, call if state in ("on_call", "acw") else None)
        name, status_type, contact_state = _SNAPSHOT[state]
        contacts = []
        if contact_state is not None:
            contacts.append(
                {
                    "ContactId": call or f"{agent_id}-contact",
                    "Channel": "VOICE",
                    "InitiationMethod": "INBOUND",
                    "State": contact_state,
                    "StateStartTimestamp": rfc3339(when),
                }
            )
        self._events += 1
        return _encode(
            {
                "AWSAccountId": "111122223333",
                "AgentARN": self._agent_arn(agent_id),
                "CurrentAgentSnapshot": {
                    "AgentStatus": {
                        "Name": name,
                        "Type": status_type,
                        "StartTimestamp": rfc3339(when),
                    },
                    "Configuration": {
                        "Username": agent_id,
                        "RoutingProfile": {
                            "Name": "Inbound",
                            "InboundQueues": [
                                {"ARN": self._queue_arn(q), "Name": q, "Channels": ["VOICE"]}
                                for q in event["queues"]
                            ],
                        },
                    },
                    "Contacts": contacts,
                },
                "EventId": f"00000000-0000-4000-8000-{self._events:012d}",
                "EventTimestamp": rfc3339(when),
                "EventType": kind,
                "InstanceARN": self.instance,
                "Version": "2019-05-25",
            }
        )

    def _agent_arn(self, agent_id: str) -> str:
        return f"{self.instance}/agent/{agent_id}"

    def _queue_arn(self, queue: str) -> str:
        return f"{self.instance}/queue/{queue}"


def _whole(when: float) -> str:
    """A contact record's time: whole seconds, ``yyyy-mm-ddThh:mm:ssZ``."""
    return rfc3339(round(when))[:19] + "Z"


def _encode(doc: dict[str, Any]) -> bytes:
    return json.dumps(doc, separators=(",", ":")).encode()

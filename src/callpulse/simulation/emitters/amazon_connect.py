"""The simulator's events v1 as Amazon Connect writes them: agent events (the Kinesis agent
event stream), contact events (EventBridge envelopes) and contact records (the Kinesis
contact record stream), the inverse of ``callpulse.adapters.amazon_connect``.

ARNs end with the simulator's own names (``.../agent/lon1-billing-a001``,
``.../queue/billing``), so the adapter, which names an agent or queue by its ARN's last
segment, reads the same names back without ``agent_names`` or ``queue_names``.

Each caller's contact gets one contact record when it ends (:mod:`.connect_calls`): its
setup, IVR session and media are in it as Connect writes them, and the adapter reads them
back as a setup on ``connect-telephony``, a session under its ``ivr_application`` and a
``connect_quality`` score. ``as_kept`` says what that leaves of the simulator's own events
(docs/adapters-amazon-connect.md, "What the simulator writes").
"""

from __future__ import annotations

import json
from collections import OrderedDict
from collections.abc import Mapping
from datetime import datetime
from types import MappingProxyType
from typing import Any

from callpulse.adapters.connect_voice import TRUNK
from callpulse.core.timefmt import instant, rfc3339
from callpulse.simulation.emitters.base import ACD_TYPES
from callpulse.simulation.emitters.connect_calls import (
    MAX_CALLS,
    TELECOM_PROBLEM,
    Contact,
    Contacts,
    quality_score,
    whole,
)

FORMAT = "amazon-connect"
INSTANCE = "arn:aws:connect:eu-west-2:111122223333:instance/00000000-0000-4000-8000-000000000001"
MAX_AGENTS = 10_000
# What the simulated sessions are counted under: a record names no flow.
APPLICATION = "connect-flows"
VOICE_TYPES = frozenset({"call.setup", "ivr.session_started", "ivr.session_ended", "media.quality"})
# DisconnectReason values the adapter reads as a flow that served its caller.
_CONTAINED = {"CONTACT_FLOW_DISCONNECT", "CUSTOMER_DISCONNECT"}

# v1 agent state -> (AgentStatus Name, Type, contact State or None).
_SNAPSHOT = {
    "available": ("Available", "ROUTABLE", None),
    "on_call": ("Available", "ROUTABLE", "CONNECTED"),
    "acw": ("Available", "ROUTABLE", "ENDED"),
    "not_ready": ("Break", "CUSTOM", None),
    "offline": ("Offline", "OFFLINE", None),
}


class AmazonConnectEmitter:
    """Writes events v1 as Amazon Connect records (JSON, one per Kafka record)."""

    format = FORMAT
    # call.callback_requested: a queued callback ends the inbound contact in the queue with
    # no agent, which is what an abandon looks like too; call.transferred is not simulated.
    # IVR input and backend errors and ports are not in a contact record: they stay v1.
    carries = ACD_TYPES | VOICE_TYPES

    merges: Mapping[str, str] = MappingProxyType({"call.callback_requested": "call.abandoned"})
    acw_carried = True
    whole_seconds = False  # contact and agent events have milliseconds; records are kept
    watches: frozenset[str] = frozenset()

    def __init__(self, instance_arn: str = INSTANCE, ivr_application: str = APPLICATION) -> None:
        """``ivr_application``: what the adapter reading these records counts the sessions
        under (its option of that name); empty, none are."""
        self.instance = instance_arn
        self.ivr_application = ivr_application
        self.adapter_options: Mapping[str, Any] = MappingProxyType(
            {"ivr_application": ivr_application}
        )
        self._contacts = Contacts()  # what emit writes
        self._kept = Contacts()  # what as_kept gives back
        self._calls: OrderedDict[str, float | None] = OrderedDict()  # call -> enqueued
        self._agents: OrderedDict[str, tuple[str, str | None]] = OrderedDict()  # state, call
        self._events = 0

    def emit(self, event: Mapping[str, Any]) -> list[bytes]:
        """The Connect records ``event`` becomes."""
        kind = event["type"]
        when = datetime.fromisoformat(event["occurred_at"]).timestamp()
        if kind == "agent.state":
            return [self._agent_event(event, when)]
        ended = self._contacts.see(event)
        contact = ended or self._contacts.get(event.get("call_id") or "")
        out = [] if kind in VOICE_TYPES else self._acd_event(event, when, contact)
        if ended is not None:
            out.append(self._record(ended, when))
        return out

    def as_kept(self, event: dict[str, Any]) -> list[dict[str, Any]]:
        """Events v1 as these records keep them: the ACD's and agents' as they are; a
        caller's setup, IVR session and media only once the contact ends, as the adapter
        reads them from its record (to the second; the setup on ``connect-telephony`` with
        no post-dial delay, refused only with 503; the session under the one
        ``ivr_application``, a hang-up in the flow ``contained``; the media as a
        ``connect_quality`` score of the customer's leg alone)."""
        ended = self._kept.see(event)
        out = [] if event["type"] in VOICE_TYPES else [event]
        if event["type"] == "call.queued":
            out = self._kept_queued(event["call_id"]) + out
        if ended is not None:
            out += self._kept_voice(ended)
        return out

    def _acd_event(
        self, event: Mapping[str, Any], when: float, contact: Contact | None
    ) -> list[bytes]:
        """The contact event of an ACD event (its contact record is written apart), of
        ``contact`` (what is known of the caller's contact, if anything)."""
        kind, call_id, queue = event["type"], event["call_id"], event["queue"]
        # Every contact event says when its contact began (the adapter starts a queued
        # caller's IVR session there).
        began = {}
        if contact is not None and contact.initiated is not None:
            began["initiationTimestamp"] = rfc3339(contact.initiated)
        if kind == "call.queued":
            self._enqueued(call_id, when)
            return [self._contact_event("QUEUED", call_id, queue, when, when, **began)]
        if kind == "call.answered":
            enqueued = self._enqueued(call_id, when - event["wait_seconds"])
            self._agents[event["agent_id"]] = ("on_call", call_id)
            agent = {"agentArn": self._agent_arn(event["agent_id"]),
                     "connectedToAgentTimestamp": rfc3339(when)}  # fmt: skip
            return [self._contact_event("CONNECTED_TO_AGENT", call_id, queue, enqueued, when,
                                        agentInfo=agent, **began)]  # fmt: skip
        if kind in ("call.abandoned", "call.callback_requested"):
            self._calls.pop(call_id, None)
            return [self._contact_event("DISCONNECTED", call_id, queue,
                                        when - event["wait_seconds"], when,
                                        disconnectTimestamp=rfc3339(when), **began)]  # fmt: skip
        if kind == "call.completed":
            enqueued = self._calls.pop(call_id, None)
            hangup = when - event["acw_seconds"]
            connected = hangup - event["talk_seconds"] - event["hold_seconds"]
            agent = {"agentArn": self._agent_arn(event["agent_id"]),
                     "connectedToAgentTimestamp": rfc3339(connected)}  # fmt: skip
            # The contact event of the hang-up, sent when the call's facts are complete here.
            return [self._contact_event("DISCONNECTED", call_id, queue, enqueued, hangup,
                                        agentInfo=agent, disconnectTimestamp=rfc3339(hangup),
                                        **began)]  # fmt: skip
        return []

    # --- contacts ----------------------------------------------------------------------

    def _enqueued(self, call_id: str, when: float) -> float | None:
        """When ``call_id`` was queued, first said (bounded: the oldest forgotten)."""
        if call_id not in self._calls:
            if len(self._calls) >= MAX_CALLS:
                self._calls.popitem(last=False)
            self._calls[call_id] = when
        return self._calls[call_id]

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

    def _record(self, contact: Contact, updated: float) -> bytes:
        """The contact record of an ended contact, written at ``updated`` (the end of its
        after-contact work, or its disconnect). Records carry whole seconds, durations and
        times alike (Contact records data model)."""
        assert contact.initiated is not None  # an ended contact has both (Contacts._end)
        assert contact.ended is not None
        queue: dict[str, Any] | None = None
        if contact.queue is not None:
            queue = {"ARN": self._queue_arn(contact.queue), "Name": contact.queue}
            if contact.enqueued is not None:
                left = contact.answered if contact.answered is not None else contact.ended
                queue |= {
                    "EnqueueTimestamp": _whole(contact.enqueued),
                    "DequeueTimestamp": _whole(left),
                    "Duration": round(left - contact.enqueued),
                }
        agent: dict[str, Any] | None = None
        done = contact.completed
        if done is not None and contact.answered is not None:
            agent = {
                "ARN": self._agent_arn(done["agent_id"]),
                "ConnectedToAgentTimestamp": _whole(contact.answered),
                "AgentInteractionDuration": round(done["talk_seconds"]),
                "CustomerHoldDuration": round(done["hold_seconds"]),
                "AfterContactWorkDuration": round(done["acw_seconds"]),
                "AfterContactWorkStartTimestamp": _whole(contact.ended),
                "AfterContactWorkEndTimestamp": _whole(updated),
                "Username": done["agent_id"],
            }
        record: dict[str, Any] = {
            "AWSAccountId": "111122223333",
            "AWSContactTraceRecordFormatVersion": "2017-03-10",
            "Agent": agent,
            "Channel": "VOICE",
            "ConnectedToSystemTimestamp": (
                _whole(contact.initiated) if contact.connected else None
            ),
            "ContactId": contact.contact_id,
            "DisconnectReason": contact.reason,
            "DisconnectTimestamp": _whole(contact.ended),
            "InitiationMethod": "INBOUND",
            "InitiationTimestamp": _whole(contact.initiated),
            "InstanceARN": self.instance,
            "LastUpdateTimestamp": _whole(updated),
            "Queue": queue,
        }
        if contact.media is not None:
            score, issues = quality_score(contact.media)
            audio = {"QualityScore": score, "PotentialQualityIssues": issues}
            # The simulator measures the carrier's leg only: the agent's softphone has none.
            record["QualityMetrics"] = {"Agent": None, "Customer": {"Audio": audio}}
        return _encode(record)

    def _kept_queued(self, call_id: str) -> list[dict[str, Any]]:
        """The IVR session the adapter reads from a caller's ``QUEUED`` contact event: to
        the millisecond, from the contact's start to its queueing, ``transferred``; once
        per contact (its record then gives none)."""
        contact = self._kept.get(call_id)
        if contact is None or contact.told or not self._session_counted(contact):
            return []
        assert contact.initiated is not None  # a call event starts its contact (Contacts)
        assert contact.enqueued is not None
        contact.told = True
        started, ended = instant(contact.initiated), instant(contact.enqueued)
        return _session(contact, self._application(contact), started.timestamp(),
                        ended.timestamp(), "transferred")  # fmt: skip

    def _session_counted(self, contact: Contact) -> bool:
        """Whether the adapter counts ``contact``'s IVR session at all."""
        return contact.connected and bool(self.ivr_application)

    def _application(self, contact: Contact) -> str:
        # Each instance names its own flows' application (the runner configures each
        # site's adapter with the scenario's name for the site's IVR).
        return contact.application or self.ivr_application

    def _kept_voice(self, contact: Contact) -> list[dict[str, Any]]:
        """What the adapter reads of ``contact``'s record besides its queue: its setup, IVR
        session and media (callpulse.adapters.connect_voice), as events v1."""
        assert contact.initiated is not None  # an ended contact has both (Contacts._end)
        assert contact.ended is not None
        started = whole(contact.initiated)
        telecom = contact.reason == TELECOM_PROBLEM

        def event(index: int, kind: str, at: float, **fields: Any) -> dict[str, Any]:
            return _kept_event(contact, index, kind, at, **fields)

        out = []
        if telecom or contact.connected:
            code = 503 if telecom else 200
            out.append(event(0, "call.setup", started, trunk_id=TRUNK,
                             call_id=contact.contact_id, sip_code=code))  # fmt: skip
        outcome, end = None, whole(contact.ended)
        if contact.enqueued is not None:
            outcome, end = "transferred", whole(contact.enqueued)
        elif contact.reason in _CONTAINED:
            outcome = "contained"
        elif telecom:
            outcome = "error"
        if self._session_counted(contact) and not contact.told and outcome is not None:
            out += _session(contact, self._application(contact), started, end, outcome)
        if contact.media is not None:
            score, _ = quality_score(contact.media)
            out.append(event(3, "media.quality", whole(contact.ended), trunk_id=TRUNK,
                             call_id=contact.contact_id, score=score,
                             score_kind="connect_quality"))  # fmt: skip
        return out

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


def _kept_event(
    contact: Contact, index: int, kind: str, at: float, **fields: Any
) -> dict[str, Any]:
    """An event v1 the adapter reads of ``contact``, with ids of the contact's own."""
    return {"schema_version": 1, "event_id": f"{contact.contact_id}|voice|{index}",
            "type": kind, "occurred_at": rfc3339(at), "site": contact.site,
            **fields}  # fmt: skip


def _session(
    contact: Contact, application: str, started: float, end: float, outcome: str
) -> list[dict[str, Any]]:
    """The IVR session of ``contact`` from ``started`` to ``end`` (never before it began)."""
    ids = {"session_id": contact.contact_id, "application": application}
    ended = max(started, end)
    return [
        _kept_event(contact, 1, "ivr.session_started", started, **ids,
                    call_id=contact.contact_id),
        _kept_event(contact, 2, "ivr.session_ended", ended, **ids, outcome=outcome,
                    duration_seconds=ended - started),
    ]  # fmt: skip


def _whole(when: float) -> str:
    """A contact record's time: whole seconds, ``yyyy-mm-ddThh:mm:ssZ``."""
    return rfc3339(round(when))[:19] + "Z"


def _encode(doc: dict[str, Any]) -> bytes:
    return json.dumps(doc, separators=(",", ":")).encode()

"""Records of each platform that make its adapter keep a given id or name, one builder per
format and kind of id: what the state-bound tests and ``benchmarks.adapter_state`` feed an
adapter to see what it keeps. Each builder takes the id and a number (distinct records for
distinct numbers) and returns the records, in order, that make the adapter keep it."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from callpulse.adapters.amazon_connect import AmazonConnect, AmazonConnectOptions
from callpulse.adapters.asterisk import AsteriskOptions, AsteriskQueueLog
from callpulse.adapters.asterisk_ami import AsteriskAmi, AsteriskAmiOptions
from callpulse.adapters.freeswitch import FreeSwitchCallcenter, FreeSwitchOptions
from callpulse.adapters.freeswitch_channel import FreeSwitchChannel, FreeSwitchChannelOptions
from callpulse.adapters.twilio import TwilioOptions, TwilioTaskRouter
from callpulse.core.timefmt import rfc3339
from callpulse.protocols import Adapter

T = 1_764_000_000  # 2025-11-24T16:00:00Z
Records = Callable[[str, int], list[bytes]]


def adapter(fmt: str) -> Adapter:
    """A fresh adapter of ``fmt``, assuming wrap-ups where the format needs it."""
    if fmt == "asterisk-queue-log":
        return AsteriskQueueLog(AsteriskOptions(site="lon1", wrapup_seconds=30.0))
    if fmt == "freeswitch-callcenter":
        return FreeSwitchCallcenter(FreeSwitchOptions(site="lon1", wrapup_seconds=30.0))
    if fmt == "amazon-connect":
        return AmazonConnect(AmazonConnectOptions(site="lon1", ivr_application="flows"))
    if fmt == "freeswitch-channel":
        return FreeSwitchChannel(FreeSwitchChannelOptions(site="lon1"))
    if fmt == "asterisk-ami":
        return AsteriskAmi(AsteriskAmiOptions(site="lon1", ivr_contexts=["ivr-main"]))
    return TwilioTaskRouter(TwilioOptions(site="lon1"))


# --- Asterisk queue_log -----------------------------------------------------------------


def queue_log_line(*fields: object) -> bytes:
    """A queue_log line of ``fields``."""
    return "|".join(str(f) for f in fields).encode()


ASTERISK: dict[str, Records] = {
    "callid": lambda name, n: [
        queue_log_line(T + n, name, "billing", "NONE", "ENTERQUEUE", "", "1", "1")
    ],
    "agent": lambda name, n: [queue_log_line(T + n, "NONE", "billing", name, "ADDMEMBER", "")],
    "queue": lambda name, n: [queue_log_line(T + n, "NONE", name, f"PJSIP/{n}", "ADDMEMBER", "")],
    "wrap-up agent": lambda name, n: [
        queue_log_line(T + n, f"c{n}", "billing", name, "COMPLETECALLER", "1", "60", "1")
    ],
}


def asterisk_kind(kind: str, n: int) -> bytes:
    """A well-formed line of ``kind`` (no data)."""
    return queue_log_line(T + n, f"c{n}", "billing", "PJSIP/1", kind)


# --- FreeSWITCH mod_callcenter ----------------------------------------------------------


def freeswitch_event(at: float, action: str, **headers: str) -> bytes:
    """A ``callcenter::info`` event; header keywords with ``_`` for ``-``."""
    return json.dumps(
        {
            "Event-Name": "CUSTOM",
            "Event-Subclass": "callcenter::info",
            "CC-Action": action,
            "Event-Date-Timestamp": str(int(at * 1e6)),
            **{k.replace("_", "-"): v for k, v in headers.items()},
        }
    ).encode()


def _fs_answer(call: str, queue: str, agent: str, n: int) -> list[bytes]:
    times = {"CC_Member_Joined_Time": str(T + n), "CC_Agent_Answered_Time": str(T + n + 1)}
    return [
        freeswitch_event(T + n, "member-queue-start", CC_Queue=queue, CC_Member_Session_UUID=call),
        freeswitch_event(
            T + n + 1,
            "bridge-agent-start",
            CC_Queue=queue,
            CC_Member_Session_UUID=call,
            CC_Agent=agent,
            **times,
        ),
    ]


FREESWITCH: dict[str, Records] = {
    "call": lambda name, n: _fs_answer(name, "support@default", f"{n}@default", n),
    "queue": lambda name, n: _fs_answer(f"c-{n}", name, f"{n}@default", n),
    "agent": lambda name, n: [
        freeswitch_event(T + n, "agent-status-change", CC_Agent=name, CC_Agent_Status="Available")
    ],
    "wrap-up agent": lambda name, n: [
        *_fs_answer(f"c-{n}", "support@default", name, n),
        freeswitch_event(
            T + n + 61,
            "bridge-agent-end",
            CC_Queue="support@default",
            CC_Member_Session_UUID=f"c-{n}",
            CC_Agent=name,
            CC_Agent_Answered_Time=str(T + n + 1),
            CC_Bridge_Terminated_Time=str(T + n + 61),
        ),
    ],
}


def freeswitch_kind(kind: str, n: int) -> bytes:
    """A ``callcenter::info`` event of the action ``kind``."""
    return freeswitch_event(T + n, kind, CC_Agent="1000@default")


# --- FreeSWITCH channel events ----------------------------------------------------------


def channel_event(name: str, at: float, leg: str, **headers: str) -> bytes:
    """A channel event ``name`` of ``leg`` as ``event json`` writes it."""
    return json.dumps(
        {"Event-Name": name, "Event-Date-Timestamp": str(int(at * 1e6)), "Unique-ID": leg} | headers
    ).encode()


def _fs_reported(leg: str, gateway: str, n: int) -> list[bytes]:
    """A leg created through ``gateway``, then an RTCP report on it: the adapter keeps the
    leg's trunk until its hangup, and counts it as a channel of the gateway's."""
    return [
        channel_event("CHANNEL_CREATE", T + n, leg, variable_sip_gateway_name=gateway),
        channel_event("RECV_RTCP_MESSAGE", T + n + 5, leg, **{"Source0-Fraction": "3"}),
    ]


FREESWITCH_CHANNEL: dict[str, Records] = {
    "leg": lambda name, n: _fs_reported(name, "carrier-a", n),
    "gateway": lambda name, n: _fs_reported(f"leg-{n}", name, n),
}


def freeswitch_channel_kind(kind: str, n: int) -> bytes:
    """A FreeSWITCH event named ``kind``."""
    return channel_event(kind, T + n, f"leg-{n}")


# --- Amazon Connect ---------------------------------------------------------------------

INSTANCE = "arn:aws:connect:eu-west-2:111122223333:instance/aaaaaaaa-bbbb-cccc-dddd-111111111111"


def _at(seconds: float) -> str:
    return rfc3339(T + seconds)


def connect_agent_event(agent_arn: str, queue_arns: list[str], n: int) -> bytes:
    """A STATE_CHANGE of an available agent whose routing profile has ``queue_arns``."""
    snapshot = {
        "AgentStatus": {"Name": "Available", "Type": "ROUTABLE"},
        "Configuration": {
            "RoutingProfile": {"InboundQueues": [{"ARN": arn} for arn in queue_arns]}
        },
        "Contacts": [],
    }
    return json.dumps(
        {
            "AgentARN": agent_arn,
            "EventType": "STATE_CHANGE",
            "EventTimestamp": _at(n),
            "CurrentAgentSnapshot": snapshot,
        }
    ).encode()


def connect_contact_event(contact: str, queue_arn: str, n: int, kind: str = "QUEUED") -> bytes:
    """A contact event ``kind`` of an inbound voice contact queued in ``queue_arn`` (a
    QUEUED one also ends the contact's IVR session)."""
    detail = {
        "eventType": kind,
        "contactId": contact,
        "channel": "VOICE",
        "initiationMethod": "INBOUND",
        "initiationTimestamp": _at(n),
        "queueInfo": {"queueArn": queue_arn, "enqueueTimestamp": _at(n)},
    }
    return json.dumps(
        {"detail-type": "Amazon Connect Contact Event", "time": _at(n), "detail": detail}
    ).encode()


def connect_record(contact: str, queue_arn: str, agent_arn: str, n: int) -> bytes:
    """A contact record of an answered voice call, which names its queue and agent."""
    return json.dumps(
        {
            "ContactId": contact,
            "LastUpdateTimestamp": _at(n + 100),
            "Channel": "VOICE",
            "InitiationMethod": "INBOUND",
            "Queue": {"ARN": queue_arn, "Name": "billing", "EnqueueTimestamp": _at(n)},
            "Agent": {
                "ARN": agent_arn,
                "Username": "alice",
                "ConnectedToAgentTimestamp": _at(n + 10),
                "AgentInteractionDuration": 60,
                "AfterContactWorkDuration": 20,
            },
        }
    ).encode()


_QUEUE_ARN = f"{INSTANCE}/queue/11111111-aaaa-4bbb-8ccc-000000000001"
_AGENT_ARN = f"{INSTANCE}/agent/22222222-aaaa-4bbb-8ccc-00000000000a"

CONNECT: dict[str, Records] = {
    "agent ARN": lambda name, n: [connect_agent_event(f"{INSTANCE}/agent/{name}", [], n)],
    "routing profile queue ARN": lambda name, n: [
        connect_agent_event(f"{INSTANCE}/agent/a-{n}", [f"{INSTANCE}/queue/{name}"], n)
    ],
    "contact id": lambda name, n: [connect_contact_event(name, _QUEUE_ARN, n)],
    "contact queue ARN": lambda name, n: [
        connect_contact_event(f"c-{n}", f"{INSTANCE}/queue/{name}", n)
    ],
    "record contact id": lambda name, n: [connect_record(name, _QUEUE_ARN, _AGENT_ARN, n)],
}


def connect_kind(kind: str, n: int) -> bytes:
    """A contact event of ``eventType`` ``kind``."""
    return connect_contact_event(f"c-{n}", _QUEUE_ARN, n, kind)


# --- Twilio TaskRouter ------------------------------------------------------------------


def twilio_event(kind: str, at: float, **payload: Any) -> bytes:
    """A TaskRouter CloudEvent as Event Streams writes it (fields in ``data.payload``)."""
    return json.dumps(
        {
            "specversion": "1.0",
            "type": f"com.twilio.taskrouter.{kind}",
            "time": rfc3339(at),
            "data": {"payload": {"eventtype": kind, "timestamp": rfc3339(at), **payload}},
        }
    ).encode()


def _twilio_answer(task: str, queue: str, worker: str, n: int, worker_sid: str = "") -> list[bytes]:
    fields = {"task_sid": task, "task_queue_name": queue, "task_channel_unique_name": "voice"}
    who = {"worker_name": worker, **({"worker_sid": worker_sid} if worker_sid else {})}
    return [
        twilio_event("task-queue.entered", T + n, **fields),
        twilio_event("reservation.accepted", T + n + 1, **fields, **who),
    ]


TWILIO: dict[str, Records] = {
    "task sid": lambda name, n: _twilio_answer(name, "billing", f"w{n}", n),
    "queue name": lambda name, n: _twilio_answer(f"WT{n}", name, f"w{n}", n),
    "worker name": lambda name, n: _twilio_answer(f"WT{n}", "billing", name, n, f"WK{n}"),
    "worker sid": lambda name, n: _twilio_answer(f"WT{n}", "billing", f"w{n}", n, name),
    "queue sid": lambda name, n: [
        twilio_event(
            "task-queue.entered",
            T + n,
            task_sid=f"WT{n}",
            task_queue_sid=name,
            task_queue_name="billing",
        )
    ],
}


def twilio_kind(kind: str, n: int) -> bytes:
    """A TaskRouter event of type ``kind``."""
    return twilio_event(kind, T + n, task_sid=f"WT{n}")


# Per format: the records that keep each kind of id, and a record of a given kind.
IDS: dict[str, dict[str, Records]] = {
    "asterisk-queue-log": ASTERISK,
    "freeswitch-callcenter": FREESWITCH,
    "freeswitch-channel": FREESWITCH_CHANNEL,
    "amazon-connect": CONNECT,
    "twilio-taskrouter": TWILIO,
}
KINDS: dict[str, Callable[[str, int], bytes]] = {
    "asterisk-queue-log": asterisk_kind,
    "freeswitch-callcenter": freeswitch_kind,
    "freeswitch-channel": freeswitch_channel_kind,
    "amazon-connect": connect_kind,
    "twilio-taskrouter": twilio_kind,
}

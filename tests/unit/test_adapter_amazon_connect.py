"""Amazon Connect agent events, contact events and contact records to events v1, a test per
kind. The records follow the Administrator Guide's data models and samples ("Agent event
streams data model", "Amazon Connect contact events", "Contact records data model"); every
event made goes through the real decoder, so it is valid v1."""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from typing import Any

import pytest

from callpulse.adapters import amazon_connect
from callpulse.adapters.amazon_connect import AmazonConnect, AmazonConnectOptions
from callpulse.adapters.base import AdapterError
from callpulse.core.ingest import decode
from callpulse.core.monitor import Monitor
from callpulse.core.timefmt import rfc3339

from .adapters import only, translated

INSTANCE = "arn:aws:connect:eu-west-2:111122223333:instance/aaaaaaaa-bbbb-cccc-dddd-111111111111"
BILLING = f"{INSTANCE}/queue/11111111-aaaa-4bbb-8ccc-000000000001"
SALES = f"{INSTANCE}/queue/11111111-aaaa-4bbb-8ccc-000000000002"
ALICE = f"{INSTANCE}/agent/22222222-aaaa-4bbb-8ccc-00000000000a"
QUEUES = {BILLING: "billing", SALES: "sales"}
AGENTS = {ALICE: "alice"}
VOICE_TYPES = {"call.setup", "ivr.session_started", "ivr.session_ended", "media.quality"}
T = 1_764_000_000.0  # 2025-11-24T16:00:00Z


def at(seconds: float) -> str:
    return rfc3339(T + seconds)


def agent_event(
    kind: str = "STATE_CHANGE",
    when: float = 0,
    status: str = "Available",
    status_type: str | None = "ROUTABLE",
    contacts: Sequence[str] = (),
    queues: Sequence[str] = (BILLING,),
    agent: str = ALICE,
) -> dict[str, Any]:
    """An agent event as the Kinesis agent event stream writes it."""
    agent_status: dict[str, Any] = {"ARN": f"{INSTANCE}/agent-state/s-1", "Name": status,
                                    "StartTimestamp": at(when)}  # fmt: skip
    if status_type is not None:
        agent_status["Type"] = status_type
    inbound = [{"ARN": arn, "Name": QUEUES.get(arn), "Channels": ["VOICE"]} for arn in queues]
    return {
        "AWSAccountId": "111122223333",
        "AgentARN": agent,
        "CurrentAgentSnapshot": {
            "AgentStatus": agent_status,
            "Configuration": {
                "FirstName": "Alice",
                "LastName": "Smith",
                "Username": "alice",
                "RoutingProfile": {
                    "ARN": f"{INSTANCE}/routing-profile/rp-1",
                    "Name": "Inbound",
                    "InboundQueues": inbound,
                },
            },
            "Contacts": [
                {
                    "ContactId": f"c-{i}",
                    "Channel": "VOICE",
                    "InitiationMethod": "INBOUND",
                    "State": state,
                    "StateStartTimestamp": at(when),
                    "Queue": {"ARN": BILLING, "Name": "billing"},
                }
                for i, state in enumerate(contacts)
            ],
        },
        "EventId": f"e-{kind}-{when}",
        "EventTimestamp": at(when),
        "EventType": kind,
        "InstanceARN": INSTANCE,
        "Version": "2019-05-25",
    }


def contact_event(kind: str, contact: str = "c-1", **detail: Any) -> dict[str, Any]:
    """A contact event in its EventBridge envelope, camelCase as the samples write it."""
    return {
        "version": "0",
        "id": f"ev-{contact}-{kind}",
        "detail-type": "Amazon Connect Contact Event",
        "source": "aws.connect",
        "account": "111122223333",
        "time": at(100),
        "region": "eu-west-2",
        "resources": [INSTANCE, f"{INSTANCE}/contact/{contact}"],
        "detail": {
            "eventType": kind,
            "contactId": contact,
            "channel": "VOICE",
            "instanceArn": INSTANCE,
            "initiationMethod": "INBOUND",
            **detail,
        },
    }


def queue_info(enqueued: float = 0, arn: str = BILLING) -> dict[str, Any]:
    return {"queueArn": arn, "queueType": "STANDARD", "enqueueTimestamp": at(enqueued)}


def contact_record(contact: str = "c-1", updated: float = 300, **fields: Any) -> dict[str, Any]:
    """A contact record (PascalCase, whole seconds) for a call answered by Alice."""
    record: dict[str, Any] = {
        "AWSAccountId": "111122223333",
        "AWSContactTraceRecordFormatVersion": "2017-03-10",
        "ContactId": contact,
        "Channel": "VOICE",
        "InitiationMethod": "INBOUND",
        "InitiationTimestamp": at(-30),
        "ConnectedToSystemTimestamp": at(-30),
        "DisconnectTimestamp": at(200),
        "LastUpdateTimestamp": at(updated),
        "Queue": {
            "ARN": BILLING,
            "Name": "billing",
            "EnqueueTimestamp": at(0),
            "DequeueTimestamp": at(12),
            "Duration": 12,
        },
        "Agent": {
            "ARN": ALICE,
            "Username": "alice",
            "ConnectedToAgentTimestamp": at(12),
            "AgentInteractionDuration": 170,
            "CustomerHoldDuration": 18,
            "AfterContactWorkDuration": 35,
            "AfterContactWorkStartTimestamp": at(200),
            "AfterContactWorkEndTimestamp": at(235),
        },
    }
    record.update(fields)
    return record


def read(adapter: AmazonConnect, *docs: dict[str, Any] | bytes) -> list[dict[str, Any]]:
    """The queue and agent events of ``docs`` (a contact record's IVR session, setup and
    media have tests of their own, test_adapter_amazon_connect_voice.py)."""
    raw = (doc if isinstance(doc, bytes) else json.dumps(doc).encode() for doc in docs)
    return [e for e in translated(adapter, *raw) if e["type"] not in VOICE_TYPES]


def fresh() -> AmazonConnect:
    return AmazonConnect(AmazonConnectOptions(site="lon1", agent_names=AGENTS, queue_names=QUEUES))


@pytest.fixture
def connect() -> AmazonConnect:
    return fresh()


# --- agent events --------------------------------------------------------------------


def test_login_makes_the_agent_available_in_its_routing_profile_queues(
    connect: AmazonConnect,
) -> None:
    [event] = read(connect, agent_event("LOGIN", queues=[BILLING, SALES]))
    assert event["type"] == "agent.state"
    assert (event["agent_id"], event["state"]) == ("alice", "available")
    assert event["queues"] == ["billing", "sales"]
    assert event["occurred_at"] == "2025-11-24T16:00:00.000Z"


@pytest.mark.parametrize(
    ("contacts", "state"),
    [
        (["CONNECTED"], "on_call"),
        (["CONNECTED_ONHOLD"], "on_call"),
        (["CONNECTING"], "on_call"),  # offered: held for the call, v1 has no ringing state
        (["ENDED"], "acw"),
        (["MISSED"], "not_ready"),
        (["ENDED", "CONNECTED"], "on_call"),  # the strongest contact decides
        ([], "available"),
    ],
)
def test_the_agents_contacts_decide_its_state(
    connect: AmazonConnect, contacts: list[str], state: str
) -> None:
    [event] = read(connect, agent_event(contacts=contacts))
    assert event["state"] == state


def test_acw_lasts_until_the_ended_contact_leaves_the_snapshot(connect: AmazonConnect) -> None:
    states = [
        (e["state"], e["occurred_at"][11:19])
        for e in read(
            connect,
            agent_event(when=0),
            agent_event(when=12, contacts=["CONNECTED"]),
            agent_event(when=200, contacts=["ENDED"]),
            agent_event("HEART_BEAT", when=220, contacts=["ENDED"]),  # no change: nothing
            agent_event(when=235),
        )
    ]
    assert states == [
        ("available", "16:00:00"),
        ("on_call", "16:00:12"),
        ("acw", "16:03:20"),
        ("available", "16:03:55"),
    ]


@pytest.mark.parametrize(
    ("status", "status_type", "state"),
    [
        ("Break", "CUSTOM", "not_ready"),
        ("Offline", "OFFLINE", "offline"),
        ("Available", "ROUTABLE", "available"),
        ("Lunch", None, "not_ready"),  # the older samples have no Type: by name
        ("Offline", None, "offline"),
        ("Available", None, "available"),
    ],
)
def test_the_status_type_decides_when_no_contact_does(
    connect: AmazonConnect, status: str, status_type: str | None, state: str
) -> None:
    [event] = read(connect, agent_event(status=status, status_type=status_type))
    assert event["state"] == state


def test_activity_states_map_a_status_name() -> None:
    connect = AmazonConnect(
        AmazonConnectOptions(site="lon1", activity_states={"Training": "offline"})
    )
    [event] = read(connect, agent_event(status="Training", status_type="CUSTOM"))
    assert event["state"] == "offline"
    # A call still comes first.
    [event] = read(connect, agent_event(status="Training", status_type="CUSTOM",
                                        contacts=["CONNECTED"]))  # fmt: skip
    assert event["state"] == "on_call"


def test_a_contact_holds_the_agent_whatever_status_it_picked(connect: AmazonConnect) -> None:
    [event] = read(connect, agent_event(status="Break", status_type="CUSTOM", contacts=["ENDED"]))
    assert event["state"] == "acw"


def test_logout_is_offline_with_or_without_a_snapshot(connect: AmazonConnect) -> None:
    read(connect, agent_event("LOGIN", queues=[BILLING]))
    logout = agent_event("LOGOUT", when=60)
    del logout["CurrentAgentSnapshot"]
    [event] = read(connect, logout)
    assert (event["state"], event["queues"]) == ("offline", ["billing"])


def test_agent_queues_are_not_queues_callers_wait_in(connect: AmazonConnect) -> None:
    own = f"{INSTANCE}/queue/agent/22222222-aaaa-4bbb-8ccc-00000000000a"
    [event] = read(connect, agent_event(queues=[own, BILLING]))
    assert event["queues"] == ["billing"]


def test_without_maps_agents_and_queues_take_the_names_the_streams_carry() -> None:
    connect = AmazonConnect(AmazonConnectOptions(site="lon1"))
    [event] = read(connect, agent_event())  # Username "alice", queue Name "billing"
    assert (event["agent_id"], event["queues"]) == ("alice", ["billing"])
    # A contact event carries only ARNs: the names learned from the agent event.
    answered = only(
        read(connect, contact_event("CONNECTED_TO_AGENT", queueInfo=queue_info(),
                                    agentInfo={"agentArn": ALICE,
                                               "connectedToAgentTimestamp": at(5)})),
        "call.answered",
    )  # fmt: skip
    assert (answered["agent_id"], answered["queue"]) == ("alice", "billing")


def test_a_contact_record_names_its_queue_and_agent() -> None:
    connect = AmazonConnect(AmazonConnectOptions(site="lon1"))
    events = read(connect, contact_record())
    assert {e["queue"] for e in events} == {"billing"}
    assert only(events, "call.completed")["agent_id"] == "alice"


def test_until_a_name_is_seen_a_queue_is_its_id_and_its_calls_keep_it() -> None:
    connect = AmazonConnect(AmazonConnectOptions(site="lon1"))
    ident = BILLING.rsplit("/", 1)[-1]
    [queued] = read(connect, contact_event("QUEUED", queueInfo=queue_info()))
    assert queued["queue"] == ident
    # The record names the queue, but c-1 waited under the id: it ends there.
    assert {e["queue"] for e in read(connect, contact_record())} == {ident}
    # A later contact of the same queue takes the name.
    [later] = read(connect, contact_event("QUEUED", contact="c-2", queueInfo=queue_info()))
    assert later["queue"] == "billing"


@pytest.mark.parametrize("name", ["billing\u202e", "", None, "x" * 300])
def test_a_name_a_label_cannot_carry_leaves_the_id(name: str | None) -> None:
    connect = AmazonConnect(AmazonConnectOptions(site="lon1"))
    record = contact_record()
    record["Queue"]["Name"] = name
    events = read(connect, record)
    assert {e["queue"] for e in events} == {BILLING.rsplit("/", 1)[-1]}


def test_two_queues_with_one_name_stay_two() -> None:
    connect = AmazonConnect(AmazonConnectOptions(site="lon1"))
    [event] = read(connect, agent_event(queues=[BILLING, SALES]))
    assert event["queues"] == ["billing", "sales"]
    other = contact_record("c-2", Queue={"ARN": f"{INSTANCE}/queue/q-3", "Name": "billing",
                                         "EnqueueTimestamp": at(0)})  # fmt: skip
    assert {e["queue"] for e in read(connect, other)} == {"q-3"}


def test_the_names_learned_are_bounded(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(amazon_connect, "MAX_NAMES", 2)
    connect = AmazonConnect(AmazonConnectOptions(site="lon1"))
    for i in range(3):
        record = contact_record(
            f"c-{i}",
            Queue={
                "ARN": f"{INSTANCE}/queue/q-{i}",
                "Name": f"queue {i}",
                "EnqueueTimestamp": at(0),
            },
        )
        assert {e["queue"] for e in read(connect, record)} == {f"queue {i}"}
    assert connect.fill()["queue_names"] == 1.0


def test_a_map_given_is_the_only_source_of_names() -> None:
    connect = AmazonConnect(AmazonConnectOptions(site="lon1", queue_names={SALES: "sales"}))
    [event] = read(connect, agent_event(queues=[BILLING, SALES]))
    assert event["queues"] == [BILLING.rsplit("/", 1)[-1], "sales"]


def test_names_may_be_keyed_by_the_id_instead_of_the_arn() -> None:
    connect = AmazonConnect(AmazonConnectOptions(
        site="lon1", agent_names={"22222222-aaaa-4bbb-8ccc-00000000000a": "alice"},
        queue_names={"11111111-aaaa-4bbb-8ccc-000000000001": "billing"}))  # fmt: skip
    [event] = read(connect, agent_event())
    assert (event["agent_id"], event["queues"]) == ("alice", ["billing"])


# --- contact events ------------------------------------------------------------------


def test_queued_is_a_queued_call(connect: AmazonConnect) -> None:
    [event] = read(connect, contact_event("QUEUED", queueInfo=queue_info(enqueued=3)))
    assert event["type"] == "call.queued"
    assert (event["call_id"], event["queue"], event["site"]) == ("c-1", "billing", "lon1")
    assert event["occurred_at"] == "2025-11-24T16:00:03.000Z"


def test_connected_to_agent_answers_with_the_wait_from_the_enqueue(
    connect: AmazonConnect,
) -> None:
    events = read(
        connect,
        contact_event("CONNECTED_TO_AGENT", queueInfo=queue_info(enqueued=0),
                      agentInfo={"agentArn": ALICE, "connectedToAgentTimestamp": at(17.5)}),
    )  # fmt: skip
    answered = only(events, "call.answered")
    assert (answered["agent_id"], answered["wait_seconds"]) == ("alice", 17.5)
    assert answered["occurred_at"] == "2025-11-24T16:00:17.500Z"
    # Preceded by its call.queued, with the id QUEUED itself yields: EventBridge is
    # unordered, and a QUEUED after the answer must not leave the caller waiting (it says
    # nothing new now, and a fresh adapter shows the id it would have had).
    assert read(connect, contact_event("QUEUED", queueInfo=queue_info(enqueued=0))) == []
    [queued] = read(fresh(), contact_event("QUEUED", queueInfo=queue_info(enqueued=0)))
    assert only(events, "call.queued")["event_id"] == queued["event_id"]


def test_disconnected_in_a_queue_without_an_agent_is_an_abandon(connect: AmazonConnect) -> None:
    events = read(
        connect,
        contact_event("DISCONNECTED", queueInfo=queue_info(enqueued=10),
                      disconnectTimestamp=at(52)),
    )  # fmt: skip
    assert [e["type"] for e in events] == ["call.queued", "call.abandoned"]
    assert events[1]["wait_seconds"] == 42.0


@pytest.mark.parametrize(
    "detail",
    [
        # answered: the record tells the rest
        {"queueInfo": queue_info(), "agentInfo": {"agentArn": ALICE,
                                                  "connectedToAgentTimestamp": at(5)}},
        {},  # never queued (the flow ended it)
        # a Set working queue block, but the caller left before the transfer to it
        {"queueInfo": {"queueArn": BILLING, "queueType": "STANDARD"}},
    ],
)  # fmt: skip
def test_other_disconnects_are_not_abandons(connect: AmazonConnect, detail: dict[str, Any]) -> None:
    assert read(connect, contact_event("DISCONNECTED", disconnectTimestamp=at(60), **detail)) == []
    assert connect.ignored == {"DISCONNECTED": 1}


def test_pascal_case_and_a_bare_detail_read_the_same(connect: AmazonConnect) -> None:
    """The disconnect sample writes AgentInfo/AgentArn; the data model writes EventType and
    ContactId; an input transformer may send the detail alone."""
    camel = contact_event(
        "CONNECTED_TO_AGENT",
        queueInfo=queue_info(),
        agentInfo={"agentArn": ALICE, "connectedToAgentTimestamp": at(9)},
    )
    pascal = {"EventType": "CONNECTED_TO_AGENT", "ContactId": "c-1", "Channel": "Voice",
              "QueueInfo": {"QueueArn": BILLING, "EnqueueTimestamp": at(0)},
              "AgentInfo": {"AgentArn": ALICE, "ConnectedToAgentTimestamp": at(9)}}  # fmt: skip
    assert read(connect, camel) == read(fresh(), pascal)


@pytest.mark.parametrize("kind", ["INITIATED", "CONNECTED_TO_SYSTEM", "CONTACT_DATA_UPDATED",
                                  "COMPLETED"])  # fmt: skip
def test_other_contact_event_types_are_counted_and_skipped(
    connect: AmazonConnect, kind: str
) -> None:
    assert read(connect, contact_event(kind, queueInfo=queue_info())) == []
    assert connect.ignored == {kind: 1}


def test_chats_tasks_and_agent_queues_are_not_calls_in_a_queue(connect: AmazonConnect) -> None:
    chat = contact_event("QUEUED", queueInfo=queue_info())
    chat["detail"]["channel"] = "CHAT"
    to_agent = contact_event("QUEUED", contact="c-2", queueInfo={
        "queueArn": f"{INSTANCE}/queue/agent/x", "queueType": "AGENT",
        "enqueueTimestamp": at(0)})  # fmt: skip
    other_bus = {"detail-type": "Contact Lens Post Call Rules Matched", "detail": {}}
    assert read(connect, chat, to_agent, other_bus) == []
    assert connect.ignored == {"CHAT": 1, "AGENT_QUEUE": 1,
                               "Contact Lens Post Call Rules Matched": 1}  # fmt: skip


# --- contact records -----------------------------------------------------------------


def test_a_contact_record_completes_the_call_with_talk_hold_and_acw(
    connect: AmazonConnect,
) -> None:
    events = read(connect, contact_record())
    done = only(events, "call.completed")
    assert (done["agent_id"], done["queue"], done["call_id"]) == ("alice", "billing", "c-1")
    assert (done["talk_seconds"], done["hold_seconds"], done["acw_seconds"]) == (170, 18, 35)
    assert done["occurred_at"] == "2025-11-24T16:03:55.000Z"  # when the ACW ended
    # It restates the wait, with the ids the contact events give it: counted once.
    answered = read(
        connect,
        contact_event(
            "CONNECTED_TO_AGENT",
            queueInfo=queue_info(),
            agentInfo={"agentArn": ALICE, "connectedToAgentTimestamp": at(12)},
        ),
    )
    assert {e["event_id"] for e in answered} <= {e["event_id"] for e in events}  # fmt: skip
    assert only(events, "call.answered")["wait_seconds"] == 12.0


def test_a_record_is_read_once_and_a_newer_copy_says_nothing_new(connect: AmazonConnect) -> None:
    first = read(connect, contact_record(updated=300))
    assert read(connect, contact_record(updated=300)) == []  # the same copy again
    assert read(connect, contact_record(updated=250)) == []  # an older one
    # A newer copy (attributes updated) is read, and says nothing the first did not: the
    # call counts once however long after it comes.
    assert read(connect, contact_record(updated=900, Attributes={"vip": "yes"})) == []
    assert [e["type"] for e in first] == ["call.queued", "call.answered", "call.completed"]
    assert connect.ignored == {"CONTACT_RECORD_DUPLICATE": 2}


def test_a_record_without_an_agent_restates_the_abandon(connect: AmazonConnect) -> None:
    events = read(connect, contact_record(Agent=None))
    assert [e["type"] for e in events] == ["call.queued", "call.abandoned"]
    assert events[1]["wait_seconds"] == 12.0
    disconnected = contact_event("DISCONNECTED", queueInfo=queue_info(),
                                 disconnectTimestamp=at(12))  # fmt: skip
    assert read(connect, disconnected) == []  # the contact event, late: nothing new
    [from_event] = [e for e in read(fresh(), disconnected) if e["type"] == "call.abandoned"]
    assert from_event["event_id"] == events[1]["event_id"]  # the same id either way


def test_a_record_sent_on_to_another_queue_is_a_transfer(connect: AmazonConnect) -> None:
    events = read(connect, contact_record(Agent=None, NextContactId="c-9"))
    assert [e["type"] for e in events] == ["call.queued", "call.transferred"]


@pytest.mark.parametrize(
    "fields",
    [
        {"Queue": None, "Agent": None},  # the flow handled it
        {"InitiationMethod": "OUTBOUND"},  # an agent's outbound call
    ],
)
def test_records_of_calls_that_never_waited_are_counted_and_skipped(
    connect: AmazonConnect, fields: dict[str, Any]
) -> None:
    assert read(connect, contact_record(**fields)) == []
    assert connect.ignored["CONTACT_RECORD_NOT_QUEUED"] == 1


def test_the_contact_record_dedupe_memory_is_bounded(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(amazon_connect, "MAX_CONTACTS", 3)  # a cap is taken when it is made
    connect = fresh()
    for i in range(5):
        read(connect, contact_record(contact=f"c-{i}"))
    assert len(connect._contacts.records) == 3
    assert read(connect, contact_record(contact="c-0")) != []  # forgotten: read again
    assert read(connect, contact_record(contact="c-4")) == []  # remembered


def test_the_agent_memory_is_bounded(
    connect: AmazonConnect, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(amazon_connect, "MAX_AGENTS", 2)
    for i in range(4):
        read(connect, agent_event(agent=f"{INSTANCE}/agent/a-{i}"))
    assert len(connect._agents) == 2
    assert connect.agents_dropped == 2


def test_the_same_record_read_twice_gives_the_same_event_ids() -> None:
    doc = agent_event(contacts=["CONNECTED"])
    ids = [
        [e["event_id"] for e in read(AmazonConnect(AmazonConnectOptions(site="lon1")), doc)]
        for _ in range(2)
    ]
    assert ids[0] == ids[1]


# --- what it cannot read -------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        (b'{"AgentARN": "arn:aws:connect:x", "EventType": "STATE_', "expected one JSON document"),
        (b"[1, 2]", "expected a JSON object"),
        (b'{"hello": "world"}', "expected an agent event"),
        (json.dumps({"AgentARN": ALICE, "EventType": "LOGIN"}).encode(), "EventTimestamp"),
        (json.dumps(agent_event() | {"EventTimestamp": "yesterday"}).encode(),
         "EventTimestamp is not an ISO 8601 time"),
        (json.dumps(contact_event("QUEUED", queueInfo={"queueArn": 7,
                                                       "enqueueTimestamp": at(0)})).encode(),
         "queueInfo.queueArn must be a non-empty string"),
        (json.dumps(contact_event("CONNECTED_TO_AGENT", queueInfo=queue_info(),
                                  agentInfo={"connectedToAgentTimestamp": at(1)})).encode(),
         "agentInfo.agentArn"),
        (json.dumps(contact_record(LastUpdateTimestamp=None)).encode(), "LastUpdateTimestamp"),
        (json.dumps(contact_record(Agent={"ARN": ALICE,
                                          "AgentInteractionDuration": "170"})).encode(),
         "AgentInteractionDuration must be a number"),
    ],
)  # fmt: skip
def test_a_record_it_cannot_read_is_an_invalid_record(
    connect: AmazonConnect, raw: bytes, message: str
) -> None:
    with pytest.raises(AdapterError, match=message) as error:
        connect.translate(raw)
    assert error.value.reason == "invalid_amazon-connect"


def test_bytes_that_are_not_utf8_are_an_invalid_record(connect: AmazonConnect) -> None:
    with pytest.raises(AdapterError, match="not UTF-8"):
        connect.translate(b'{"ContactId": "\xff"}')


def test_flush_has_nothing_to_assume(connect: AmazonConnect) -> None:
    read(connect, agent_event(contacts=["ENDED"]))
    assert connect.flush(T + 3600) == []


# --- through the monitor -------------------------------------------------------------


def test_a_few_minutes_of_connect_give_the_monitor_exact_kpis(
    make_monitor: Callable[..., Monitor], now: float
) -> None:
    """Three callers: c-1 answered after 8 s (its QUEUED arrives after the answer), c-2
    abandons after 30 s, c-3 still waits; c-1's record arrives twice. SL threshold 20 s."""
    s = now - 50 - T  # offsets below are seconds after now - 50
    connect = AmazonConnect(AmazonConnectOptions(site="lon1", agent_names=AGENTS,
                                                 queue_names=QUEUES))  # fmt: skip
    short = contact_record(
        updated=s + 45, DisconnectTimestamp=at(s + 40),
        Queue={"ARN": BILLING, "EnqueueTimestamp": at(s + 1), "DequeueTimestamp": at(s + 9)},
        Agent={"ARN": ALICE, "ConnectedToAgentTimestamp": at(s + 9),
               "AgentInteractionDuration": 25, "CustomerHoldDuration": 0,
               "AfterContactWorkDuration": 5, "AfterContactWorkEndTimestamp": at(s + 45)},
    )  # fmt: skip
    docs = [
        agent_event("LOGIN", when=s),
        contact_event("CONNECTED_TO_AGENT", queueInfo=queue_info(s + 1),
                      agentInfo={"agentArn": ALICE, "connectedToAgentTimestamp": at(s + 9)}),
        contact_event("QUEUED", queueInfo=queue_info(s + 1)),
        agent_event(when=s + 9, contacts=["CONNECTED"]),
        contact_event("QUEUED", contact="c-2", queueInfo=queue_info(s + 5)),
        contact_event("INITIATED", contact="c-3"),
        contact_event("QUEUED", contact="c-3", queueInfo=queue_info(s + 20)),
        contact_event("DISCONNECTED", contact="c-2", queueInfo=queue_info(s + 5),
                      disconnectTimestamp=at(s + 35)),
        agent_event(when=s + 40, contacts=["ENDED"]),
        agent_event(when=s + 45),
        short,
        short,
    ]  # fmt: skip
    m = make_monitor()
    for body in read(connect, *docs):
        m.apply(decode(json.dumps(body).encode(), max_bytes=1 << 20))
    [v] = m.queue_views()
    [w] = [w for w in v.windows if w.window == "1m"]
    assert (w.offered, w.answered, w.abandoned) == (3, 1, 1)
    assert w.service_level == pytest.approx(1 / 2)  # c-1 within 20 s; c-2 abandoned after 30
    assert w.asa_seconds == pytest.approx(8.0)
    assert w.aht_seconds == pytest.approx(30.0)
    assert v.calls_waiting == 1
    assert dict(v.agents)["available"] == 1
    assert connect.ignored == {"INITIATED": 1, "CONTACT_RECORD_DUPLICATE": 1}


def test_a_long_calls_record_restates_nothing_already_said(connect: AmazonConnect) -> None:
    # The monitor forgets event ids after its longest window; a 40-minute call's record
    # comes later than that, so the adapter itself must not say the answer again.
    agent = {"agentArn": ALICE, "connectedToAgentTimestamp": at(9)}
    answered = contact_event(
        "CONNECTED_TO_AGENT", queueInfo=queue_info(enqueued=0), agentInfo=agent
    )
    assert [e["type"] for e in read(connect, answered)] == ["call.queued", "call.answered"]
    record = contact_record(updated=2500)
    assert [e["type"] for e in read(connect, record)] == ["call.completed"]


def test_an_ignored_disconnect_does_not_swallow_the_queued_that_follows(
    connect: AmazonConnect,
) -> None:
    # EventBridge is unordered: the answered call's DISCONNECTED may come first. It is
    # ignored (its record tells the rest), and must not mark the call queued as written.
    agent = {"agentArn": ALICE, "connectedToAgentTimestamp": at(9)}
    ended = contact_event("DISCONNECTED", queueInfo=queue_info(enqueued=0), agentInfo=agent,
                          disconnectTimestamp=at(120))  # fmt: skip
    assert read(connect, ended) == []
    [queued] = read(connect, contact_event("QUEUED", queueInfo=queue_info(enqueued=0)))
    assert queued["type"] == "call.queued"

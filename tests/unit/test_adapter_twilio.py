"""Twilio TaskRouter events to events v1, a test per event kind. The records follow Event
Streams' CloudEvents (twilio.com/docs/events/event-types/taskrouter: the TaskRouter fields in
``data.payload``, snake case) and the Workspace's event callbacks (twilio.com/docs/taskrouter/
api/event/reference: Pascal case); every event made goes through the real decoder."""

from __future__ import annotations

import json
import re
from typing import Any
from urllib.parse import urlencode

import pytest

from callpulse.adapters import twilio
from callpulse.adapters.base import AdapterError
from callpulse.adapters.records import build
from callpulse.adapters.twilio import TwilioOptions, TwilioTaskRouter
from callpulse.config import FormatSettings
from callpulse.core.ingest import decode
from callpulse.core.monitor import Monitor, MonitorConfig
from callpulse.core.timefmt import rfc3339

from .adapters import only, translated

T = 1_764_000_000.0
Q = "WQ" + "a" * 32  # a TaskQueueSid
ALICE = "WK" + "1" * 32  # a WorkerSid


def cloud_event(kind: str, at: float, **payload: Any) -> bytes:
    """A CloudEvent as Event Streams writes one (WDSEvent schema: fields in data.payload)."""
    when = rfc3339(at)
    return json.dumps(
        {
            "specversion": "1.0",
            "type": f"com.twilio.taskrouter.{kind}",
            "source": "/v1/Workspaces/WS0000",
            "id": f"EV{kind}{at}",
            "dataschema": "https://events-schemas.twilio.com/TaskRouter.WDSEvent/4",
            "datacontenttype": "application/json",
            "time": when,
            "data": {
                "name": kind,
                "timestamp": when,
                "product_name": "TaskRouter",
                "payload_type": "application/json",
                "payload": {"eventtype": kind, "timestamp": when, **payload},
            },
        }
    ).encode()


def task(sid: str = "WT1", queue: str = "billing", **more: Any) -> dict[str, Any]:
    return {
        "task_sid": sid,
        "task_queue_sid": Q,
        "task_queue_name": queue,
        "task_channel_unique_name": "voice",
        **more,
    }


def worker(sid: str = ALICE, name: str = "alice", activity: str = "Available") -> dict[str, Any]:
    return {"worker_sid": sid, "worker_name": name, "worker_activity_name": activity}


def read(adapter: TwilioTaskRouter, *records: bytes) -> list[dict[str, Any]]:
    return translated(adapter, *records)


@pytest.fixture
def tr() -> TwilioTaskRouter:
    return TwilioTaskRouter(TwilioOptions(site="lon1"))


def answered(tr: TwilioTaskRouter, sid: str = "WT1") -> list[dict[str, Any]]:
    return read(
        tr,
        cloud_event("task-queue.entered", T, **task(sid)),
        cloud_event("reservation.accepted", T + 12, **task(sid), **worker()),
    )


def test_entering_a_queue_is_the_offer(tr: TwilioTaskRouter) -> None:
    [event] = read(tr, cloud_event("task-queue.entered", T, **task(task_priority=3)))
    assert event["type"] == "call.queued"
    assert (event["call_id"], event["queue"], event["priority"]) == ("WT1", "billing", 3)
    assert (event["site"], event["occurred_at"]) == ("lon1", "2025-11-24T16:00:00.000Z")


def test_task_created_names_no_queue_and_is_ignored(tr: TwilioTaskRouter) -> None:
    assert read(tr, cloud_event("task.created", T, task_sid="WT1")) == []
    assert tr.ignored == {"task.created": 1}


def test_queue_names_map_a_sid() -> None:
    tr = TwilioTaskRouter(TwilioOptions(site="lon1", queue_names={Q: "Billing"}))
    [event] = read(tr, cloud_event("task-queue.entered", T, **task()))
    assert event["queue"] == "Billing"


def test_accepted_answers_with_the_wait_since_the_queue_entry(tr: TwilioTaskRouter) -> None:
    events = answered(tr)
    answer = only(events, "call.answered")
    assert (answer["agent_id"], answer["queue"], answer["wait_seconds"]) == ("alice", "billing", 12)
    state = only(events, "agent.state")
    assert (state["agent_id"], state["state"], state["queues"]) == ("alice", "on_call", ["billing"])


@pytest.mark.parametrize(
    ("fields", "wait"),
    [({"task_age": 31}, 31.0), ({"task_date_created": rfc3339(T - 20)}, 20.0), ({}, 0.0)],
)
def test_an_unseen_entry_takes_the_wait_from_the_task_age(
    tr: TwilioTaskRouter, fields: dict[str, Any], wait: float
) -> None:
    events = read(tr, cloud_event("reservation.accepted", T, **task(**fields), **worker()))
    assert only(events, "call.answered")["wait_seconds"] == wait


def test_a_hangup_while_waiting_is_an_abandon(tr: TwilioTaskRouter) -> None:
    read(tr, cloud_event("task-queue.entered", T, **task()))
    [event] = read(tr, cloud_event("task.canceled", T + 42, **task(task_canceled_reason="hangup")))
    assert event["type"] == "call.abandoned"
    assert (event["queue"], event["wait_seconds"]) == ("billing", 42)


def test_a_cancel_for_a_callback_is_a_callback_request(tr: TwilioTaskRouter) -> None:
    read(tr, cloud_event("task-queue.entered", T, **task()))
    [event] = read(
        tr, cloud_event("task.canceled", T + 60, **task(task_canceled_reason="Callback requested"))
    )
    assert (event["type"], event["wait_seconds"]) == ("call.callback_requested", 60)


@pytest.mark.parametrize(
    ("abandons", "expected"), [(True, "call.abandoned"), (False, "call.transferred")]
)
def test_the_workflow_timeout_is_a_timeout(abandons: bool, expected: str) -> None:
    tr = TwilioTaskRouter(TwilioOptions(site="lon1", timeouts_are_abandons=abandons))
    read(tr, cloud_event("task-queue.entered", T, **task()))
    assert read(tr, cloud_event("task-queue.timeout", T + 300, **task())) == []
    [event] = read(tr, cloud_event("workflow.timeout", T + 300, task_sid="WT1"))
    assert (event["type"], event["queue"]) == (expected, "billing")
    # TaskRouter then cancels the task: its wait has already ended.
    assert read(tr, cloud_event("task.canceled", T + 300, **task())) == []


def test_a_skipped_workflow_is_an_abandon(tr: TwilioTaskRouter) -> None:
    read(tr, cloud_event("task-queue.entered", T, **task()))
    [event] = read(tr, cloud_event("workflow.skipped", T + 2, task_sid="WT1"))
    assert event["type"] == "call.abandoned"


def test_entering_another_queue_moves_the_wait(tr: TwilioTaskRouter) -> None:
    read(tr, cloud_event("task-queue.entered", T, **task()))
    read(tr, cloud_event("task-queue.timeout", T + 30, **task()))
    events = read(tr, cloud_event("task-queue.entered", T + 30, **task(queue="overflow")))
    assert [e["type"] for e in events] == ["call.transferred", "call.queued"]
    assert (events[0]["queue"], events[0]["to_queue"]) == ("billing", "overflow")
    answer = only(answered_in(tr, T + 40), "call.answered")
    assert (answer["queue"], answer["wait_seconds"]) == ("overflow", 10)


def answered_in(tr: TwilioTaskRouter, at: float) -> list[dict[str, Any]]:
    return read(tr, cloud_event("reservation.accepted", at, **task(queue="overflow"), **worker()))


def test_an_event_read_twice_changes_nothing(tr: TwilioTaskRouter) -> None:
    entered = cloud_event("task-queue.entered", T, **task())
    accepted = cloud_event("reservation.accepted", T + 5, **task(), **worker())
    assert len(read(tr, entered, entered)) == 1
    assert len(read(tr, accepted, accepted)) == 2  # one answer, one agent.state


def test_wrapup_then_completed_gives_talk_and_acw(tr: TwilioTaskRouter) -> None:
    answered(tr)  # accepted at T + 12
    wrap = read(tr, cloud_event("task.wrapup", T + 112, **task()))
    assert [(e["type"], e["state"]) for e in wrap] == [("agent.state", "acw")]
    done = read(tr, cloud_event("task.completed", T + 142, **task()))
    completed = only(done, "call.completed")
    assert (completed["agent_id"], completed["queue"]) == ("alice", "billing")
    assert (completed["talk_seconds"], completed["hold_seconds"], completed["acw_seconds"]) == (
        100.0,
        0.0,
        30.0,
    )
    assert only(done, "agent.state")["state"] == "available"  # its activity, Available


def test_completed_without_wrapup_has_no_acw(tr: TwilioTaskRouter) -> None:
    answered(tr)
    done = read(tr, cloud_event("task.completed", T + 72, **task()))
    assert (
        only(done, "call.completed")["talk_seconds"],
        only(done, "call.completed")["acw_seconds"],
    ) == (60.0, 0.0)


def test_reservation_wrapup_and_completed_count_once_with_the_task_events(
    tr: TwilioTaskRouter,
) -> None:
    answered(tr)
    assert len(read(tr, cloud_event("reservation.wrapup", T + 50, **task(), **worker()))) == 1
    assert read(tr, cloud_event("task.wrapup", T + 50, **task())) == []
    done = read(tr, cloud_event("reservation.completed", T + 70, **task(), **worker()))
    assert only(done, "call.completed")["acw_seconds"] == 20.0
    assert read(tr, cloud_event("task.completed", T + 70, **task())) == []


def test_completed_from_the_queue_ends_the_wait_unanswered(tr: TwilioTaskRouter) -> None:
    read(tr, cloud_event("task-queue.entered", T, **task()))
    [event] = read(tr, cloud_event("task.completed", T + 9, **task()))
    assert event["type"] == "call.transferred"


def test_an_unknown_task_ending_is_counted(tr: TwilioTaskRouter) -> None:
    assert read(tr, cloud_event("task.completed", T, task_sid="WT9")) == []
    assert read(tr, cloud_event("task.canceled", T, task_sid="WT8")) == []
    assert tr.ignored == {"task.completed (unknown task)": 1, "task.canceled (unknown task)": 1}


@pytest.mark.parametrize(
    ("activity", "extra", "state"),
    [
        ("Available", {}, "available"),
        ("Idle", {}, "available"),
        ("Unavailable", {}, "not_ready"),
        ("Break", {}, "not_ready"),
        ("Offline", {}, "offline"),
        ("Training", {"worker_available": True}, "available"),
        ("Training", {"worker_available": "false"}, "not_ready"),
        ("Training", {}, "not_ready"),
    ],
)
def test_the_activity_sets_the_agent_state(
    tr: TwilioTaskRouter, activity: str, extra: dict[str, Any], state: str
) -> None:
    [event] = read(
        tr, cloud_event("worker.activity.update", T, **worker(activity=activity), **extra)
    )
    assert (event["type"], event["agent_id"], event["state"]) == ("agent.state", "alice", state)


def test_activity_states_name_an_activity() -> None:
    tr = TwilioTaskRouter(TwilioOptions(site="lon1", activity_states={"Lunch": "offline"}))
    [event] = read(tr, cloud_event("worker.activity.update", T, **worker(activity="Lunch")))
    assert event["state"] == "offline"


def test_an_agent_on_a_call_stays_on_call_whatever_its_activity(tr: TwilioTaskRouter) -> None:
    answered(tr)
    busy = read(tr, cloud_event("worker.activity.update", T + 13, **worker(activity="Busy")))
    assert busy == []  # still on_call: nothing changed
    read(tr, cloud_event("task.completed", T + 60, **task()))
    later = read(tr, cloud_event("worker.activity.update", T + 61, **worker(activity="Idle")))
    assert [(e["state"], e["queues"]) for e in later] == [("available", ["billing"])]


def test_agent_names_map_a_worker_sid_and_a_sid_alone_finds_its_name() -> None:
    tr = TwilioTaskRouter(TwilioOptions(site="lon1", agent_names={ALICE: "Alice Smith"}))
    [event] = read(tr, cloud_event("worker.activity.update", T, **worker()))
    assert event["agent_id"] == "Alice Smith"
    tr = TwilioTaskRouter(TwilioOptions(site="lon1"))
    read(tr, cloud_event("worker.activity.update", T, **worker(activity="Offline")))
    [event] = read(
        tr,
        cloud_event(
            "worker.activity.update", T + 1, worker_sid=ALICE, worker_activity_name="Available"
        ),
    )
    assert event["agent_id"] == "alice"


def test_an_event_callback_posted_as_json_is_read(tr: TwilioTaskRouter) -> None:
    callback = {
        "EventType": "task-queue.entered",
        "AccountSid": "AC1",
        "WorkspaceSid": "WS1",
        "ResourceType": "Task",
        "ResourceSid": "WT1",
        "Timestamp": str(int(T)),
        "TaskSid": "WT1",
        "TaskQueueSid": Q,
        "TaskQueueName": "billing",
        "TaskPriority": "0",
        "TaskAge": "0",
    }
    [event] = read(tr, json.dumps(callback).encode())
    assert (event["type"], event["queue"], event["occurred_at"]) == (
        "call.queued",
        "billing",
        "2025-11-24T16:00:00.000Z",
    )


def test_a_webhook_batch_and_flat_data_are_read(tr: TwilioTaskRouter) -> None:
    flat = json.loads(cloud_event("task-queue.entered", T, **task("WT2")))
    flat["data"] = flat["data"]["payload"]
    batch = [json.loads(cloud_event("task-queue.entered", T, **task("WT1"))), flat]
    events = read(tr, json.dumps(batch).encode())
    assert [e["call_id"] for e in events] == ["WT1", "WT2"]
    assert len({e["event_id"] for e in events}) == 2


def test_kinds_v1_has_no_use_for_are_counted(tr: TwilioTaskRouter) -> None:
    records = [
        cloud_event("reservation.created", T, **task(), **worker()),
        cloud_event("workflow.target-matched", T, task_sid="WT1"),
        cloud_event("worker.attributes.update", T, **worker()),
        cloud_event("task-queue.entered", T, **task(task_channel_unique_name="chat")),
        json.dumps(
            {"specversion": "1.0", "type": "com.twilio.studio.flow.step.ended", "data": {}}
        ).encode(),
    ]
    assert read(tr, *records) == []
    assert tr.ignored == {
        "reservation.created": 1,
        "workflow.target-matched": 1,
        "worker.attributes.update": 1,
        "chat": 1,  # a task on another channel, by its channel
        "_other": 1,  # another product's CloudEvent: its types are not TaskRouter's to list
    }


@pytest.mark.parametrize(
    ("record", "message"),
    [
        (
            b'{"specversion":"1.0","type":"com.twilio.taskrouter.task.created","data":',
            "expected a JSON CloudEvent",
        ),
        (b"\xff\xfe", "not UTF-8"),
        (b'"hello"', "expected a JSON object"),
        (b'{"hello": 1}', "expected a CloudEvent"),
        (
            b'{"specversion":"1.0","type":"com.twilio.taskrouter.task.created","data":[1]}',
            "data is not an object",
        ),
        (cloud_event("task-queue.entered", T, task_queue_name="billing"), "has no TaskSid"),
        (cloud_event("task-queue.entered", T, task_sid="WT1"), "no TaskQueueSid"),
        (cloud_event("reservation.accepted", T, **task()), "no WorkerSid"),
        (b'{"EventType":"task.canceled","TaskSid":"WT1"}', "has no time"),
        (b'{"EventType":"task.canceled","TaskSid":"WT1","Timestamp":"yesterday"}', "ISO 8601"),
    ],
)
def test_a_record_it_cannot_read_is_rejected(
    tr: TwilioTaskRouter, record: bytes, message: str
) -> None:
    with pytest.raises(AdapterError) as caught:
        tr.translate(record)
    assert caught.value.reason == "invalid_twilio-taskrouter"
    assert message in str(caught.value)


def test_state_is_bounded(tr: TwilioTaskRouter, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(twilio, "MAX_TASKS", 3)
    monkeypatch.setattr(twilio, "MAX_WORKERS", 2)
    for i in range(10):
        read(tr, cloud_event("task-queue.entered", T + i, **task(f"WT{i}")))
        read(tr, cloud_event("worker.activity.update", T + i, **worker(f"WK{i}", f"w{i}")))
    assert (len(tr._tasks), tr.tasks_dropped) == (3, 7)
    assert (len(tr._workers), tr.workers_dropped) == (2, 8)
    assert len(tr._worker_names) <= 2


def test_flush_has_nothing_to_assume(tr: TwilioTaskRouter) -> None:
    answered(tr)
    assert tr.flush(T + 10_000) == []


def test_the_format_is_built_from_settings() -> None:
    settings = FormatSettings(format="twilio-taskrouter", site="lon1", queue_names={Q: "B"})
    adapter = build(settings)
    assert isinstance(adapter, TwilioTaskRouter)
    assert adapter.options.queue_names == {Q: "B"}


def test_a_forgotten_task_does_not_keep_its_worker_on_call(
    tr: TwilioTaskRouter, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(twilio, "MAX_TASKS", 2)
    answered(tr, "WT1")  # alice is on WT1
    for i in (2, 3):  # two more tasks: WT1 is forgotten, and its end will not be known
        read(tr, cloud_event("task-queue.entered", T + 100 + i, **task(f"WT{i}")))
    assert tr.tasks_dropped == 1
    [state] = [
        e
        for e in read(tr, cloud_event("worker.activity.update", T + 200, **worker()))
        if e["type"] == "agent.state"
    ]
    assert state["state"] == "available"


def callbacks() -> list[dict[str, str]]:
    """One call as the Workspace's EventCallbackUrl posts it: queued, answered after 12 s,
    wrapped up after 90 s of talk, completed 20 s later; the worker's activity first."""
    base = {"AccountSid": "AC1", "WorkspaceSid": "WS1", "TaskSid": "WT1", "TaskQueueSid": Q,
            "TaskQueueName": "Billing & Claims", "TaskChannelUniqueName": "voice",
            "TaskAttributes": json.dumps({"from": "+15550100", "type": "inbound"})}  # fmt: skip
    who = {"WorkerSid": ALICE, "WorkerName": "alice"}
    return [
        {"EventType": "worker.activity.update", "ResourceType": "Worker", "ResourceSid": ALICE,
         "Timestamp": str(int(T)), "WorkerActivityName": "Available", **who},
        {"EventType": "task-queue.entered", "ResourceType": "Task", "ResourceSid": "WT1",
         "Timestamp": str(int(T + 1)), "TaskPriority": "5", "TaskAge": "1", **base},
        {"EventType": "reservation.accepted", "ResourceType": "Reservation",
         "ResourceSid": "WR1", "Timestamp": str(int(T + 13)),
         "TimestampMs": str(int(T + 13) * 1000), "TaskAge": "13", **base, **who},
        {"EventType": "task.wrapup", "ResourceType": "Task", "ResourceSid": "WT1",
         "Timestamp": str(int(T + 103)), **base},
        {"EventType": "task.completed", "ResourceType": "Task", "ResourceSid": "WT1",
         "Timestamp": str(int(T + 123)), **base},
    ]  # fmt: skip


def test_a_form_encoded_event_callback_reads_as_its_json() -> None:
    forms = [urlencode(c).encode() for c in callbacks()]
    assert b"TaskQueueName=Billing+%26+Claims" in forms[1]  # as a browser or Twilio writes it
    as_json = read(TwilioTaskRouter(TwilioOptions(site="lon1")),
                   *(json.dumps(c).encode() for c in callbacks()))  # fmt: skip
    as_form = read(TwilioTaskRouter(TwilioOptions(site="lon1")), *forms)
    assert [{**e, "event_id": ""} for e in as_form] == [{**e, "event_id": ""} for e in as_json]
    assert [e["type"] for e in as_form] == [
        "agent.state", "call.queued", "call.answered", "agent.state", "agent.state",
        "call.completed", "agent.state",
    ]  # fmt: skip
    m = Monitor(MonitorConfig(), now=T + 130)
    for body in as_form:
        m.apply(decode(json.dumps(body).encode(), max_bytes=1 << 20))
    [v] = m.queue_views()
    [w] = [w for w in v.windows if w.window == "5m"]
    assert (v.queue, w.offered, w.answered, w.asa_seconds, w.aht_seconds) == (
        "Billing & Claims",
        1,
        1,
        12.0,
        110.0,
    )


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        (b"EventType=task.created&\xffTaskSid=WT1", "byte 23 is not ASCII"),
        (b"EventType", "expected a form-encoded callback"),
        (b"a=1&" * 1_001, "Max number of fields exceeded"),
        (b"TaskSid=WT1&Timestamp=1", "or an event callback {EventType, ...}"),
    ],
)
def test_a_form_body_it_cannot_read_is_rejected(
    tr: TwilioTaskRouter, raw: bytes, message: str
) -> None:
    with pytest.raises(AdapterError, match=re.escape(message)):
        tr.translate(raw)


def test_an_activity_update_naming_no_activity_is_no_state(tr: TwilioTaskRouter) -> None:
    # Found by the fuzz test: it raised KeyError for a worker not seen before.
    update = cloud_event("worker.activity.update", T, worker_sid=ALICE, worker_name="alice",
                         worker_activity_sid="", worker_activity_name="")  # fmt: skip
    assert read(tr, update) == []
    [state] = read(tr, cloud_event("worker.activity.update", T + 1, **worker()))
    assert (state["agent_id"], state["state"]) == ("alice", "available")
    assert read(tr, update) == []  # known now, and the update changes nothing

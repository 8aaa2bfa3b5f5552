"""FreeSWITCH mod_callcenter events (JSON, as switch_event_serialize_json writes them) to
events v1, a test per event kind. Header names and values follow mod_callcenter.c; every event
made goes through the real decoder, so it is valid v1."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest

from callpulse.adapters import freeswitch
from callpulse.adapters.base import AdapterError
from callpulse.adapters.bounds import digest
from callpulse.adapters.freeswitch import FreeSwitchCallcenter, FreeSwitchOptions
from callpulse.core.ingest import decode
from callpulse.core.monitor import Monitor

from .adapters import only, translated

T = 1_764_000_000  # an epoch second, as the CC-*-Time headers write it
Q = "support@default"
CALLER = {"CC-Member-UUID": "m-1", "CC-Member-Session-UUID": "c-1", "CC-Member-CID-Number": "1"}


def event(at: float, action: str, **headers: str) -> str:
    """A callcenter::info event as JSON; keyword names use _ for - (CC_Agent -> CC-Agent)."""
    body = {
        "Event-Subclass": "callcenter::info",
        "Event-Name": "CUSTOM",
        "CC-Action": action,
        "Event-Date-Timestamp": str(round(at * 1_000_000)),
        "Event-Sequence": "42",
    }
    body |= {k.replace("_", "-"): v for k, v in headers.items()}
    return json.dumps(body)


def queued(at: float, call: str = "c-1", queue: str = Q) -> str:
    return event(
        at,
        "member-queue-start",
        CC_Queue=queue,
        CC_Member_UUID=f"m-{call}",
        CC_Member_Session_UUID=call,
    )


def answered(at: float, agent: str = "1000@default", call: str = "c-1", joined: int = T) -> str:
    return event(
        at,
        "bridge-agent-start",
        CC_Queue=Q,
        CC_Agent=agent,
        CC_Member_UUID="m",
        CC_Member_Session_UUID=call,
        CC_Agent_Called_Time=str(joined),
        CC_Agent_Answered_Time=str(int(at)),
        CC_Member_Joined_Time=str(joined),
    )


def ended(
    at: float,
    answered_at: float,
    agent: str = "1000@default",
    call: str = "c-1",
    bridged: str = "true",
) -> str:
    return event(
        at,
        "bridge-agent-end",
        CC_Queue=Q,
        CC_Agent=agent,
        CC_Agent_Bridged=bridged,
        CC_Member_Session_UUID=call,
        CC_Agent_Answered_Time=str(int(answered_at)),
        CC_Bridge_Terminated_Time=str(int(at)),
        CC_Hangup_Cause="NORMAL_CLEARING",
    )


def left(
    at: float, joined: float, cause: str = "Cancel", reason: str = "BREAK_OUT", call: str = "c-1"
) -> str:
    return event(
        at,
        "member-queue-end",
        CC_Queue=Q,
        CC_Member_Session_UUID=call,
        CC_Cause=cause,
        CC_Cancel_Reason=reason,
        CC_Member_Joined_Time=str(int(joined)),
        CC_Member_Leaving_Time=str(int(at)),
    )


def status(at: float, agent: str, value: str) -> str:
    return event(at, "agent-status-change", CC_Agent=agent, CC_Agent_Status=value)


def state(at: float, agent: str, value: str) -> str:
    return event(at, "agent-state-change", CC_Agent=agent, CC_Agent_State=value)


def offered(at: float, agent: str, queue: str = Q) -> str:
    return event(
        at,
        "agent-offering",
        CC_Queue=queue,
        CC_Agent=agent,
        CC_Member_UUID="m",
        CC_Member_Session_UUID="c-9",
    )


def read(adapter: FreeSwitchCallcenter, *records: str) -> list[dict[str, Any]]:
    return translated(adapter, *(record.encode() for record in records))


def states(events: list[dict[str, Any]]) -> list[tuple[str, list[str]]]:
    return [(e["state"], e["queues"]) for e in events if e["type"] == "agent.state"]


@pytest.fixture
def fs() -> FreeSwitchCallcenter:
    return FreeSwitchCallcenter(FreeSwitchOptions(site="lon1"))


def test_member_queue_start_is_a_queued_call_at_the_event_time(fs: FreeSwitchCallcenter) -> None:
    [queued_call] = read(fs, queued(T + 0.25))
    assert queued_call["type"] == "call.queued"
    assert (queued_call["call_id"], queued_call["queue"]) == ("c-1", Q)
    assert queued_call["occurred_at"] == "2025-11-24T16:00:00.250Z"  # Event-Date-Timestamp


def test_a_resumed_member_is_queued_again(fs: FreeSwitchCallcenter) -> None:
    record = event(T, "member-queue-resume", CC_Queue=Q, CC_Member_Session_UUID="c-2")
    assert only(read(fs, record), "call.queued")["call_id"] == "c-2"


def test_bridge_agent_start_answers_after_the_wait_and_puts_the_agent_on_call(
    fs: FreeSwitchCallcenter,
) -> None:
    events = read(fs, answered(T + 17, joined=T))
    answer = only(events, "call.answered")
    assert (answer["agent_id"], answer["wait_seconds"], answer["queue"]) == ("1000@default", 17, Q)
    assert states(events) == [("on_call", [Q])]  # bridged from the queue: it serves it


def test_bridge_agent_end_completes_with_the_talk_time_and_frees_the_agent(
    fs: FreeSwitchCallcenter,
) -> None:
    read(fs, answered(T + 17))
    events = read(fs, ended(T + 200, answered_at=T + 17))
    done = only(events, "call.completed")
    assert (done["talk_seconds"], done["hold_seconds"], done["acw_seconds"]) == (183, 0, 0)
    assert states(events) == [("available", [Q])]
    # member-queue-end Terminated follows: bridge-agent-end has told it all.
    assert read(fs, left(T + 200, T, cause="Terminated", reason="")) == []
    assert fs.ignored == {"member-queue-end:Terminated": 1}


def test_a_bridge_that_never_connected_is_no_talk_and_no_abandon(
    fs: FreeSwitchCallcenter,
) -> None:
    """The caller hung up as the agent answered: bridge-agent-end says CC-Agent-Bridged false,
    then member-queue-end is a Cancel (mod_callcenter.c); the answer stands, once."""
    read(fs, answered(T + 5))
    events = read(fs, ended(T + 6, answered_at=T + 5, bridged="false"), left(T + 6, T))
    assert states(events) == [("available", [Q])]
    assert fs.ignored == {"member-queue-end:answered": 1}


@pytest.mark.parametrize(
    ("reason", "wait"),
    [
        ("BREAK_OUT", 42),
        ("EXIT_WITH_KEY", 7),
        ("TIMEOUT", 300),
        ("NO_AGENT_TIMEOUT", 60),
        ("NONE", 3),
    ],
)
def test_every_cancel_is_an_abandon_with_its_wait(
    fs: FreeSwitchCallcenter, reason: str, wait: int
) -> None:
    [gone] = read(fs, left(T + wait, T, reason=reason))
    assert gone["type"] == "call.abandoned"
    assert gone["wait_seconds"] == wait


def test_the_documented_cause_reason_header_is_read_too() -> None:
    # The documentation's example writes CC-Cause-Reason; mod_callcenter.c CC-Cancel-Reason.
    # Read as TIMEOUT, it makes the wait a transfer where timeouts are not abandons.
    fs = FreeSwitchCallcenter(FreeSwitchOptions(site="lon1", timeouts_are_abandons=False))
    record = event(
        T + 9,
        "member-queue-end",
        CC_Queue=Q,
        CC_Member_Session_UUID="c-1",
        CC_Cause="Cancel",
        CC_Cause_Reason="TIMEOUT",
        CC_Member_Joined_Time=str(T),
        CC_Member_Leaving_Time=str(T + 9),
    )
    assert [e["type"] for e in read(fs, record)] == ["call.transferred"]


def test_waits_are_timed_from_the_microsecond_event_dates_not_whole_seconds(
    fs: FreeSwitchCallcenter,
) -> None:
    """CC-Member-Joined-Time and CC-Member-Leaving-Time are whole seconds: a caller who joins
    at T + 0.7 and hangs up at T + 5.3 has headers T and T + 5, a 5 s wait past a 5 s short-
    abandon threshold. The events' own Event-Date-Timestamp says 4.6 s."""
    read(fs, queued(T + 0.7), queued(T + 0.9, "c-2"))
    [gone] = read(fs, left(T + 5.3, T))
    assert gone["wait_seconds"] == pytest.approx(4.6, abs=1e-9)
    answer = only(read(fs, answered(T + 20.4, call="c-2", joined=T)), "call.answered")
    assert answer["wait_seconds"] == pytest.approx(19.5, abs=1e-9)  # the headers say 20
    assert fs._joined == {digest("c-2", Q): (T + 0.9) * 1_000_000}
    read(fs, left(T + 90, T, cause="Terminated", reason="", call="c-2"))
    assert fs._joined == {}  # forgotten once the member leaves


def test_a_wait_without_its_join_event_is_timed_from_the_headers(
    fs: FreeSwitchCallcenter,
) -> None:
    # The stream was picked up after the caller joined: only the headers know the join.
    assert only(read(fs, left(T + 5.3, T)), "call.abandoned")["wait_seconds"] == 5
    # A resumed member: its member-queue-resume is now, its Joined-Time its first join.
    resumed = event(T + 600.5, "member-queue-resume", CC_Queue=Q, CC_Member_Session_UUID="c-3")
    read(fs, resumed)
    answer = only(read(fs, answered(T + 630.8, call="c-3", joined=T)), "call.answered")
    assert answer["wait_seconds"] == 630


@pytest.mark.parametrize("reason", ["TIMEOUT", "NO_AGENT_TIMEOUT"])
def test_a_timeout_need_not_count_as_an_abandon(reason: str) -> None:
    fs = FreeSwitchCallcenter(FreeSwitchOptions(site="lon1", timeouts_are_abandons=False))
    [gone] = read(fs, left(T + 300, T, reason=reason))
    assert gone["type"] == "call.transferred"
    # A caller who hangs up is an abandon whatever the option says.
    assert only(read(fs, left(T + 9, T, call="c-2")), "call.abandoned")["wait_seconds"] == 9


def test_status_and_state_combine_into_the_agent_state(fs: FreeSwitchCallcenter) -> None:
    a = "1000@default"
    events = read(
        fs,
        status(T, a, "Available"),
        offered(T + 1, a),  # the queue is learnt
        state(T + 1, a, "Receiving"),  # ringing: still available
        status(T + 2, a, "On Break"),
        status(T + 3, a, "Available (On Demand)"),
        state(T + 4, a, "Idle"),  # on demand after a call: given no calls
        state(T + 5, a, "Waiting"),
        state(T + 6, a, "Reserved"),
        status(T + 7, a, "Logged Out"),
    )
    assert states(events) == [
        ("available", []),
        ("available", [Q]),
        ("not_ready", [Q]),
        ("available", [Q]),
        ("not_ready", [Q]),
        ("available", [Q]),
        ("offline", [Q]),
    ]


def test_an_agent_serves_every_queue_it_is_offered_or_fails_from(
    fs: FreeSwitchCallcenter,
) -> None:
    a = "1000@default"
    fail = event(
        T + 2,
        "bridge-agent-fail",
        CC_Queue="sales@default",
        CC_Agent=a,
        CC_Hangup_Cause="NO_ANSWER",
        CC_Agent_Called_Time=str(T),
        CC_Agent_Aborted_Time=str(T + 2),
    )
    events = read(fs, offered(T, a), offered(T + 1, a), fail)
    assert states(events) == [("available", [Q]), ("available", ["sales@default", Q])]
    assert fs.ignored == {}


def test_a_call_outlasts_a_status_change(fs: FreeSwitchCallcenter) -> None:
    a = "1000@default"
    read(fs, status(T, a, "Available"), answered(T + 10, agent=a))
    assert read(fs, status(T + 20, a, "On Break")) == []  # still on the call
    events = read(fs, ended(T + 30, answered_at=T + 10, agent=a))
    assert states(events) == [("not_ready", [Q])]


def test_activity_states_map_a_status_or_state_name() -> None:
    overrides: dict[str, Any] = {
        "On Break": "offline",
        "Idle": "available",
        "Training": "not_ready",
    }
    fs = FreeSwitchCallcenter(FreeSwitchOptions(site="lon1", activity_states=overrides))
    a = "1000@default"
    events = read(
        fs,
        status(T, a, "On Break"),
        status(T + 1, a, "Available"),
        state(T + 2, a, "Idle"),
        status(T + 3, a, "Training"),  # a status an external tool wrote into the agents table
    )
    assert [s for s, _ in states(events)] == ["offline", "available", "not_ready"]


def test_names_map_through_agent_names_and_queue_names() -> None:
    fs = FreeSwitchCallcenter(
        FreeSwitchOptions(
            site="lon1", agent_names={"1000@default": "Alice"}, queue_names={Q: "support"}
        )
    )
    events = read(fs, queued(T), answered(T + 3))
    assert only(events, "call.queued")["queue"] == "support"
    assert only(events, "call.answered")["agent_id"] == "Alice"
    assert states(events) == [("on_call", ["support"])]


def test_wrapup_is_acw_until_it_ends() -> None:
    fs = FreeSwitchCallcenter(FreeSwitchOptions(site="lon1", wrapup_seconds=30))
    read(fs, answered(T + 5))
    done = read(fs, ended(T + 100, answered_at=T + 5))
    assert only(done, "call.completed")["acw_seconds"] == 30.0
    assert states(done) == [("acw", [Q])]
    # FreeSWITCH writes Waiting at once: the wrap-up holds the agent still (no event says so).
    assert read(fs, state(T + 100, "1000@default", "Waiting")) == []
    # The next record after the wrap-up ends it at the time it ended, not the record's.
    later = read(fs, queued(T + 500, call="c-2"))
    assert [e["type"] for e in later] == ["agent.state", "call.queued"]
    assert later[0]["state"] == "available"
    assert later[0]["occurred_at"] == "2025-11-24T16:02:10.000Z"
    assert fs.flush(T + 900) == []


def test_a_quiet_stream_ends_wrapups_on_flush() -> None:
    fs = FreeSwitchCallcenter(FreeSwitchOptions(site="lon1", wrapup_seconds=30))
    read(fs, answered(T + 5), ended(T + 60, answered_at=T + 5))
    assert fs.flush(T + 80) == []
    [back] = fs.flush(T + 95)
    assert back.state == "available"


def test_a_record_without_event_date_timestamp_uses_its_own_time(
    fs: FreeSwitchCallcenter,
) -> None:
    """The documentation's examples leave out the core headers; the CC-*-Time is enough."""
    record = json.loads(left(T + 50, T + 20))
    del record["Event-Date-Timestamp"]
    [gone] = read(fs, json.dumps(record))
    assert gone["occurred_at"] == "2025-11-24T16:00:50.000Z"
    record = json.loads(queued(T))
    del record["Event-Date-Timestamp"]
    with pytest.raises(AdapterError, match="'member-queue-start' needs Event-Date-Timestamp"):
        fs.translate(json.dumps(record).encode())


def test_the_same_record_read_twice_gives_the_same_event_ids(fs: FreeSwitchCallcenter) -> None:
    assert read(fs, queued(T)) == read(fs, queued(T))


@pytest.mark.parametrize(
    ("record", "kind"),
    [
        (
            event(T, "members-count", CC_Queue=Q, CC_Count="3", CC_Selection="Single-Queue"),
            "members-count",
        ),
        (event(T, "agent-max-no-answer", CC_Agent="1000@default"), "agent-max-no-answer"),
        (event(T, "agent-contact-change", CC_Agent="1000@default"), "agent-contact-change"),
        (json.dumps({"Event-Name": "HEARTBEAT", "Event-Info": "System Ready"}), "HEARTBEAT"),
        (
            json.dumps({"Event-Name": "CUSTOM", "Event-Subclass": "sofia::register"}),
            "CUSTOM",  # subclasses are any module's: a fixed set of kinds has no room for them
        ),
    ],
)
def test_kinds_v1_has_no_use_for_are_counted_and_skipped(
    fs: FreeSwitchCallcenter, record: str, kind: str
) -> None:
    assert read(fs, record) == []
    assert fs.ignored == {kind: 1}


@pytest.mark.parametrize(
    ("record", "message"),
    [
        ('{"Event-Name":"CUSTOM","CC-Act', "expected a FreeSWITCH event as JSON"),
        ('["CUSTOM"]', "JSON object of headers"),
        ('{"Event-Subclass":"callcenter::info"}', "Event-Name is missing"),
        (
            json.dumps({"Event-Name": "CUSTOM", "Event-Subclass": "callcenter::info"}),
            "CC-Action is missing",
        ),
        (event(T, "member-queue-start", CC_Queue=Q), "CC-Member-Session-UUID is missing"),
        (
            answered(T).replace(f'"CC-Agent-Answered-Time": "{T}"', '"CC-Agent-Answered-Time": 5'),
            "CC-Agent-Answered-Time must be a string",
        ),
        (
            answered(T).replace(f'"CC-Member-Joined-Time": "{T}"', '"CC-Member-Joined-Time": "x"'),
            "CC-Member-Joined-Time is not a number",
        ),
        (queued(T).replace(f'"{T}000000"', '"nan"'), "finite number"),
        (left(T, T, cause="Gone"), "CC-Cause must be Terminated or Cancel"),
        (status(T, "1000@default", "Busy"), "CC-Agent-Status 'Busy' is none of"),
        (state(T, "1000@default", "Ringing"), "CC-Agent-State 'Ringing' is none of"),
    ],
)
def test_a_record_it_cannot_read_is_an_invalid_record(
    fs: FreeSwitchCallcenter, record: str, message: str
) -> None:
    with pytest.raises(AdapterError, match=message) as error:
        fs.translate(record.encode())
    assert error.value.reason == "invalid_freeswitch-callcenter"


@pytest.mark.parametrize(
    ("record", "value"),
    [
        (status(T, "1000@default", "LoggedOn"), "LoggedOn"),
        (state(T, "1000@default", "Busy"), "Busy"),
    ],
)
def test_an_unknown_status_or_state_names_the_option_that_maps_it(
    fs: FreeSwitchCallcenter, record: str, value: str
) -> None:
    # A modified mod_callcenter's own status: the message says where to say what it means.
    with pytest.raises(AdapterError) as error:
        fs.translate(record.encode())
    assert str(error.value).endswith(
        f"in the format's activity_states (e.g. {{'{value}': available}})"
    )


def test_bytes_that_are_not_utf8_are_an_invalid_record(fs: FreeSwitchCallcenter) -> None:
    with pytest.raises(AdapterError, match="not UTF-8"):
        fs.translate(b'{"Event-Name":"\xff\xfe"}')


def test_state_is_bounded(fs: FreeSwitchCallcenter, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(freeswitch, "MAX_AGENTS", 3)
    monkeypatch.setattr(freeswitch, "MAX_QUEUES_PER_AGENT", 2)
    monkeypatch.setattr(freeswitch, "MAX_CALLS", 2)
    for i in range(5):
        read(fs, status(T + i, f"a{i}", "Available"))
    assert (sorted(fs._agents), fs.agents_dropped) == (["a2", "a3", "a4"], 2)  # oldest go
    for i in range(3):
        read(fs, answered(T + 9, agent="a4", call=f"c{i}"))
    for q in ("q1", "q2"):
        read(fs, offered(T + 9, "a4", queue=q))
    assert list(fs._agents["a4"].queues) == [Q, "q1"]  # q2 is one too many
    assert len(fs._answered) == 2
    for i in range(3):
        read(fs, queued(T + i, call=f"w{i}"))
    assert list(fs._joined) == [digest("w1", Q), digest("w2", Q)]


def test_a_morning_of_events_gives_the_monitor_exact_kpis(
    make_monitor: Callable[..., Monitor], now: float
) -> None:
    """Two agents, five callers: two answered (one after 25 s), one abandon after 40 s, one
    short abandon (2 s), one still waiting. Counted by hand against SL threshold 20 s."""
    s = int(now) - 50
    a, b = "1000@default", "1001@default"
    records = [
        status(s, a, "Available"),
        status(s, b, "Available"),
        queued(s + 1, "c1"),
        queued(s + 2, "c2"),
        queued(s + 3, "c3"),
        queued(s + 4, "c4"),
        answered(s + 6, a, "c1", joined=s + 1),
        left(s + 6, s + 4, call="c4"),
        answered(s + 27, b, "c2", joined=s + 2),
        ended(s + 30, s + 6, a, "c1"),
        left(s + 30, s + 1, cause="Terminated", call="c1"),
        left(s + 43, s + 3, call="c3"),
        queued(s + 44, "c5"),
        event(s + 44, "members-count", CC_Queue=Q, CC_Count="1", CC_Selection="Single-Queue"),
    ]
    fs = FreeSwitchCallcenter(FreeSwitchOptions(site="lon1"))
    m = make_monitor()
    for body in read(fs, *records):
        m.apply(decode(json.dumps(body).encode(), max_bytes=1 << 20))
    [v] = m.queue_views()
    [w] = [w for w in v.windows if w.window == "1m"]
    assert (w.offered, w.answered, w.abandoned) == (5, 2, 1)  # the 2 s abandon is short
    assert w.service_level == pytest.approx(1 / 3)  # c1 within 20 s; c2 and c3 not
    assert w.asa_seconds == pytest.approx(15.0)
    assert v.calls_waiting == 1
    assert dict(v.agents)["available"] == 1
    assert dict(v.agents)["on_call"] == 1
    assert fs.ignored == {"member-queue-end:Terminated": 1, "members-count": 1}

"""Asterisk queue_log lines to events v1, a test per event kind. The lines follow the formats
app_queue.c writes (docs.asterisk.org, "Queue Logs"); every event made goes through the real
decoder, so it is valid v1."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest

from callpulse.adapters.asterisk import AsteriskOptions, AsteriskQueueLog
from callpulse.adapters.base import AdapterError
from callpulse.core.ingest import decode
from callpulse.core.monitor import Monitor

from .adapters import only, translated

T = 1_764_000_000  # an epoch second, as queue_log writes it


def read(adapter: AsteriskQueueLog, *lines: str) -> list[dict[str, Any]]:
    return translated(adapter, *(line.encode() for line in lines))


@pytest.fixture
def log() -> AsteriskQueueLog:
    return AsteriskQueueLog(AsteriskOptions(site="lon1"))


def test_enterqueue_is_a_queued_call(log: AsteriskQueueLog) -> None:
    [event] = read(log, f"{T}|1764000000.42|billing|NONE|ENTERQUEUE||+442071234567|1")
    assert event["type"] == "call.queued"
    assert (event["call_id"], event["queue"], event["site"]) == ("1764000000.42", "billing", "lon1")
    assert event["occurred_at"] == "2025-11-24T16:00:00.000Z"


def test_connect_answers_with_the_holdtime_as_wait_and_puts_the_agent_on_call(
    log: AsteriskQueueLog,
) -> None:
    events = read(log, f"{T}|1764000000.42|billing|Alice|CONNECT|17|1764000017.43|4")
    answered = only(events, "call.answered")
    assert (answered["agent_id"], answered["wait_seconds"]) == ("Alice", 17.0)
    state = only(events, "agent.state")
    assert (state["state"], state["queues"]) == ("on_call", ["billing"])


@pytest.mark.parametrize(
    ("line", "wait"),
    [
        ("ABANDON|3|5|42", 42.0),  # position|origposition|waittime
        ("EXITEMPTY|1|1|8", 8.0),
        ("EXITWITHTIMEOUT|2|4|300", 300.0),
        ("EXITWITHKEY|5|2|4|61", 61.0),  # key|position|origposition|waittime
        ("WITHDRAW|1|2|33|callback", 33.0),  # position|origposition|waittime|withdrawinfo
    ],
)
def test_every_exit_is_an_abandon_with_its_wait(
    log: AsteriskQueueLog, line: str, wait: float
) -> None:
    [event] = read(log, f"{T}|c1|billing|NONE|{line}")
    assert event["type"] == "call.abandoned"
    assert event["wait_seconds"] == wait


def test_a_timeout_need_not_count_as_an_abandon() -> None:
    log = AsteriskQueueLog(AsteriskOptions(site="lon1", timeouts_are_abandons=False))
    [event] = read(log, f"{T}|c1|billing|NONE|EXITWITHTIMEOUT|2|4|300")
    assert event["type"] == "call.transferred"  # the wait ends, neither answered nor abandoned


@pytest.mark.parametrize("kind", ["COMPLETECALLER", "COMPLETEAGENT"])
def test_complete_gives_the_talk_time_and_frees_the_agent(log: AsteriskQueueLog, kind: str) -> None:
    read(log, f"{T}|c1|billing|Alice|CONNECT|17|c1b|4")
    events = read(log, f"{T + 200}|c1|billing|Alice|{kind}|17|183|1")  # holdtime|calltime|origpos
    done = only(events, "call.completed")
    assert (done["talk_seconds"], done["hold_seconds"], done["acw_seconds"]) == (183.0, 0.0, 0.0)
    assert only(events, "agent.state")["state"] == "available"


@pytest.mark.parametrize(
    "line",
    ["BLINDTRANSFER|2001|from-internal|17|95|1", "ATTENDEDTRANSFER|BRIDGE|b-7|17|95|1"],
)
def test_a_transfer_completes_the_agent_call_and_says_it_was_transferred(
    log: AsteriskQueueLog, line: str
) -> None:
    read(log, f"{T}|c1|billing|Alice|CONNECT|17|c1b|4")
    events = read(log, f"{T + 112}|c1|billing|Alice|{line}")
    assert only(events, "call.completed")["talk_seconds"] == 95.0
    assert only(events, "call.transferred")["queue"] == "billing"


def test_membership_and_pauses_drive_the_agent_state(log: AsteriskQueueLog) -> None:
    states = [
        (e["state"], e["queues"])
        for e in read(
            log,
            f"{T}|NONE|billing|PJSIP/1001|ADDMEMBER|",
            f"{T + 1}|NONE|sales|PJSIP/1001|ADDMEMBER|",
            f"{T + 2}|NONE|billing|PJSIP/1001|PAUSE|lunch",
            f"{T + 3}|NONE|NONE|PJSIP/1001|PAUSEALL|",
            f"{T + 4}|NONE|NONE|PJSIP/1001|UNPAUSEALL|",
            f"{T + 5}|NONE|sales|PJSIP/1001|REMOVEMEMBER|",
            f"{T + 6}|NONE|NONE|PJSIP/1001|AGENTLOGOFF|PJSIP/1001|600",
        )
    ]
    assert states == [
        ("available", ["billing"]),
        ("available", ["billing", "sales"]),
        ("available", ["sales"]),  # paused in billing: serves only sales
        ("not_ready", ["billing", "sales"]),
        ("available", ["billing", "sales"]),
        ("available", ["billing"]),
        ("offline", []),
    ]


def test_interfaces_map_to_member_names() -> None:
    log = AsteriskQueueLog(AsteriskOptions(site="lon1", agent_names={"PJSIP/1001": "Alice"}))
    read(log, f"{T}|NONE|billing|PJSIP/1001|ADDMEMBER|")
    events = read(log, f"{T + 9}|c1|billing|Alice|CONNECT|3|c1b|2")
    assert only(events, "agent.state")["agent_id"] == "Alice"
    assert only(events, "agent.state")["queues"] == ["billing"]


def test_wrapup_is_acw_until_it_ends() -> None:
    log = AsteriskQueueLog(AsteriskOptions(site="lon1", wrapup_seconds=30))
    read(log, f"{T}|c1|billing|Alice|CONNECT|5|c1b|2")
    done = read(log, f"{T + 100}|c1|billing|Alice|COMPLETEAGENT|5|95|1")
    assert only(done, "call.completed")["acw_seconds"] == 30.0
    assert only(done, "agent.state")["state"] == "acw"
    # The next line after the wrap-up ends the ACW at the time it ended, not the line's.
    later = read(log, f"{T + 500}|c2|billing|NONE|ENTERQUEUE||123|1")
    assert [e["type"] for e in later] == ["agent.state", "call.queued"]
    assert later[0]["state"] == "available"
    assert later[0]["occurred_at"] == "2025-11-24T16:02:10.000Z"
    assert log.flush(T + 900) == []


def test_a_quiet_log_ends_wrapups_on_flush() -> None:
    log = AsteriskQueueLog(AsteriskOptions(site="lon1", wrapup_seconds=30))
    read(
        log,
        f"{T}|c1|billing|Alice|CONNECT|5|c1b|2",
        f"{T + 60}|c1|billing|Alice|COMPLETEAGENT|5|60|1",
    )
    [event] = log.flush(T + 95)
    assert event.state == "available"


def test_a_caller_can_enter_the_queue_again(log: AsteriskQueueLog) -> None:
    events = read(
        log,
        f"{T}|c1|billing|NONE|ENTERQUEUE||123|1",
        f"{T + 300}|c1|billing|NONE|EXITWITHTIMEOUT|1|1|300",
        f"{T + 301}|c1|billing|NONE|ENTERQUEUE||123|1",
    )
    assert [e["type"] for e in events] == ["call.queued", "call.abandoned", "call.queued"]
    assert len({e["event_id"] for e in events}) == 3


def test_the_same_line_read_twice_gives_the_same_event_ids(log: AsteriskQueueLog) -> None:
    line = f"{T}|c1|billing|NONE|ENTERQUEUE||123|1"
    assert read(log, line) == read(log, line)


@pytest.mark.parametrize("kind", ["RINGNOANSWER|15000", "DID|2071234567", "RINGCANCELED|900"])
def test_kinds_v1_has_no_use_for_are_counted_and_skipped(log: AsteriskQueueLog, kind: str) -> None:
    assert read(log, f"{T}|c1|billing|Alice|{kind}") == []
    assert log.ignored[kind.split("|")[0]] == 1


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ("garbage", "expected time|callid|queue|agent|event"),
        ("yesterday|c1|billing|NONE|ENTERQUEUE", "neither an epoch nor YYYY-MM-DD HH:MM:SS"),
        ("2025-02-30 10:00:00|c1|billing|NONE|ENTERQUEUE", "is no date"),
        ("999999999999|c1|billing|NONE|ENTERQUEUE", "after 9999"),
        ("1764000000,c1,billing,NONE,ENTERQUEUE", "no header line .* set columns"),
        ("time,callid,event,agent", "column named queuename or queue_name or queue"),
        (f"{T}|c1|billing|Alice|TRANSFER|2001|ctx|17", "TRANSFER needs data4"),
        (f"{T}|c1|billing|Alice|ATTENDEDTRANSFER|LINK|a|b|17", "ATTENDEDTRANSFER needs data5"),
        (f"{T}|c1|billing|NONE|ABANDON|3|5", "ABANDON needs data3"),
        (f"{T}|c1|billing|Alice|CONNECT|soon|x|1", "CONNECT data1 is not a number"),
        (f"{T}|c1|NONE|NONE|ENTERQUEUE||1|1", "queue is missing"),
        (f"{T}|c1|billing|NONE|CONNECT|5|x|1", "agent is missing"),
        (f"{T}|c1|billing|NONE|ABANDON|3|5|nan", "finite number"),
    ],
)
def test_a_line_it_cannot_read_is_an_invalid_record(
    log: AsteriskQueueLog, line: str, message: str
) -> None:
    with pytest.raises(AdapterError, match=message) as error:
        log.translate(line.encode())
    assert error.value.reason == "invalid_asterisk-queue-log"


def test_bytes_that_are_not_utf8_are_an_invalid_record(log: AsteriskQueueLog) -> None:
    with pytest.raises(AdapterError, match="not UTF-8"):
        log.translate(b"\xff\xfe|c1|billing|NONE|ENTERQUEUE")


def test_a_morning_of_queue_log_gives_the_monitor_exact_kpis(
    make_monitor: Callable[..., Monitor], now: float
) -> None:
    """Two members, five callers: two answered (one after 25 s), one abandon after 40 s, one
    short abandon (2 s), one still waiting. Counted by hand against SL threshold 20 s."""
    s = int(now) - 50
    lines = [
        f"{s}|NONE|billing|PJSIP/1001|ADDMEMBER|",
        f"{s}|NONE|billing|PJSIP/1002|ADDMEMBER|",
        f"{s + 1}|c1|billing|NONE|ENTERQUEUE||447700900001|1",
        f"{s + 2}|c2|billing|NONE|ENTERQUEUE||447700900002|2",
        f"{s + 3}|c3|billing|NONE|ENTERQUEUE||447700900003|3",
        f"{s + 4}|c4|billing|NONE|ENTERQUEUE||447700900004|4",
        f"{s + 6}|c1|billing|PJSIP/1001|CONNECT|5|c1b|2",
        f"{s + 6}|c4|billing|NONE|ABANDON|4|4|2",
        f"{s + 27}|c2|billing|PJSIP/1002|CONNECT|25|c2b|3",
        f"{s + 30}|c1|billing|PJSIP/1001|COMPLETECALLER|5|24|1",
        f"{s + 43}|c3|billing|NONE|ABANDON|1|3|40",
        f"{s + 44}|c5|billing|NONE|ENTERQUEUE||447700900005|1",
        f"{s + 45}|c5|billing|NONE|RINGNOANSWER|15000",
    ]
    log = AsteriskQueueLog(AsteriskOptions(site="lon1"))
    m = make_monitor()
    for body in read(log, *lines):
        m.apply(decode(json.dumps(body).encode(), max_bytes=1 << 20))
    [v] = m.queue_views()
    [w] = [w for w in v.windows if w.window == "1m"]
    assert (w.offered, w.answered, w.abandoned) == (5, 2, 1)  # the 2 s abandon is short
    assert w.service_level == pytest.approx(1 / 3)  # c1 within 20 s; c2 and c3 not
    assert w.asa_seconds == pytest.approx(15.0)
    assert v.calls_waiting == 1
    assert dict(v.agents)["available"] == 1
    assert dict(v.agents)["on_call"] == 1
    assert log.ignored == {"RINGNOANSWER": 1}


def test_a_rejected_line_does_not_lose_a_wrapup_end() -> None:
    log = AsteriskQueueLog(AsteriskOptions(site="lon1", wrapup_seconds=30))
    read(log, "1000|NONE|q|Alice|ADDMEMBER|", "1001|c1|q|Alice|CONNECT|1|c1.2|0",
         "1060|c1|q|Alice|COMPLETECALLER|1|59|1")  # fmt: skip
    with pytest.raises(AdapterError):
        log.translate(b"1200|c2|q|NONE|ABANDON")  # truncated: its wrap-up end is not told
    ended, queued = read(log, "1201|c3|q|NONE|ENTERQUEUE||1|1")
    assert (ended["type"], ended["state"]) == ("agent.state", "available")
    assert ended["occurred_at"] == "1970-01-01T00:18:10.000Z"  # 1060 + 30, as it ended
    assert queued["type"] == "call.queued"


def test_an_attended_transfer_of_link_type_takes_its_calltime() -> None:
    # app_queue.c's log_attended_transfer: LINK|chan1|chan2|holdtime|calltime|origposition.
    log = AsteriskQueueLog(AsteriskOptions(site="lon1"))
    events = read(log, "2000|c1|q|Alice|ATTENDEDTRANSFER|LINK|PJSIP/1-01|Local/200@x-02;1|12|300|1")
    assert only(events, "call.completed")["talk_seconds"] == 300.0


def test_a_member_added_paused_is_not_ready() -> None:
    log = AsteriskQueueLog(AsteriskOptions(site="lon1"))
    [state] = read(log, "1000|NONE|q|PJSIP/1|ADDMEMBER|PAUSED")
    assert (state["state"], state["queues"]) == ("not_ready", ["q"])


def test_connect_keeps_an_agents_queues_bounded() -> None:
    from callpulse.adapters.asterisk import MAX_QUEUES_PER_AGENT

    log = AsteriskQueueLog(AsteriskOptions(site="lon1"))
    lines = [f"{1000 + i}|c{i}|q{i}|Alice|CONNECT|1|c{i}.2|0" for i in range(300)]
    events = read(log, *lines)
    last = [e for e in events if e["type"] == "agent.state"][-1]
    assert len(last["queues"]) == MAX_QUEUES_PER_AGENT


def test_the_wrapup_clock_is_bounded() -> None:
    from callpulse.adapters.base import WrapupClock, Writer

    @dataclass
    class Agent:
        wrapup_until: float
        reported: object = None

    agents = {f"a{i}": Agent(1000.0 + i) for i in range(25)}
    clock = WrapupClock(agents, limit=10)
    for i in range(25):
        clock.start(f"a{i}", 1000.0 + i)
    # Past the limit the latest half goes (a hostile far-future record never comes due); the
    # soonest, the ones that matter, stay.
    due: list[str] = []
    clock.end(2000, lambda name, at: due.append(name), Writer(b"", "lon1", 2000))
    assert len(due) <= 10
    assert due[:5] == ["a0", "a1", "a2", "a3", "a4"]


def test_the_wrapup_clock_drops_what_is_no_longer_due_before_what_is() -> None:
    from callpulse.adapters.base import WrapupClock, Writer

    @dataclass
    class Agent:
        wrapup_until: float
        reported: object = None

    agents = {"a": Agent(0.0), "b": Agent(0.0)}
    clock = WrapupClock(agents, limit=4)
    for i in range(9):  # "a" renews its wrap-up again and again: only the last is due
        agents["a"].wrapup_until = 1000.0 + i
        clock.start("a", 1000.0 + i)
        if i == 0:
            agents["b"].wrapup_until = 5000.0
            clock.start("b", 5000.0)  # the latest, but still due
    ended: list[tuple[str, float]] = []
    clock.end(9000, lambda name, at: ended.append((name, at)), Writer(b"", "lon1", 9000))
    assert ended == [("a", 1008.0), ("b", 5000.0)]

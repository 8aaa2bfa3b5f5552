"""One day of queue_log in every shape an export gives it: each must give the monitor the
same KPIs as the file ``app_queue.c`` writes. The shapes follow docs.asterisk.org ("Queue
Logs"), app_queue.c's layouts per version, the realtime ``queue_log`` table's columns
(time, callid, queuename, agent, event, data1..data5) and PBXware's table export."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Callable
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from callpulse.adapters import records
from callpulse.adapters.asterisk import AsteriskOptions, AsteriskQueueLog
from callpulse.adapters.base import AdapterError
from callpulse.config import FormatSettings
from callpulse.config.errors import ConfigError
from callpulse.core.ingest import decode
from callpulse.core.monitor import Monitor

from .adapters import translated
from .conftest import NOW

T0 = int(NOW) - 600
Row = tuple[int, str, str, str, str, list[str]]  # offset, callid, queue, agent, event, data

# Two members; eight callers: five answered (c2 after 30 s, the rest within 20 s), two
# transferred by the agent, one abandon after 45 s, one short abandon (2 s), one timeout
# after 300 s, one still talking. Counted by hand: offered 8, answered 5, abandoned 2;
# SL 4 of 7 (answered within 20 s, over answered and abandoned); ASA (8+30+5+10+15)/5 =
# 13.6 s; AHT (100+60+80+200)/4 = 110 s.
DAY: list[Row] = [
    (0, "NONE", "support", "PJSIP/1001", "ADDMEMBER", [""]),
    (0, "NONE", "support", "PJSIP/1002", "ADDMEMBER", [""]),
    (10, "c1", "support", "NONE", "ENTERQUEUE", ["", "15550000001", "1"]),
    (15, "c1", "support", "PJSIP/1002", "RINGNOANSWER", ["5000"]),
    (18, "c1", "support", "PJSIP/1001", "CONNECT", ["8", "c1.2", "3"]),
    (20, "c2", "support", "NONE", "ENTERQUEUE", ["", "15550000002", "1"]),
    (30, "c3", "support", "NONE", "ENTERQUEUE", ["", "15550000003", "2"]),
    (50, "c2", "support", "PJSIP/1002", "CONNECT", ["30", "c2.2", "4"]),
    (75, "c3", "support", "NONE", "ABANDON", ["1", "2", "45"]),
    (110, "c2", "support", "PJSIP/1002", "BLINDTRANSFER", ["2001", "ctx", "30", "60", "1"]),
    (118, "c1", "support", "PJSIP/1001", "COMPLETECALLER", ["8", "100", "1"]),
    (120, "c4", "support", "NONE", "ENTERQUEUE", ["", "15550000004", "1"]),
    (125, "c4", "support", "PJSIP/1001", "CONNECT", ["5", "c4.2", "2"]),
    (130, "c5", "support", "NONE", "ENTERQUEUE", ["", "15550000005", "1"]),
    (140, "c5", "support", "PJSIP/1002", "CONNECT", ["10", "c5.2", "2"]),
    (150, "c6", "support", "NONE", "ENTERQUEUE", ["", "15550000006", "1"]),
    (152, "c6", "support", "NONE", "ABANDON", ["1", "1", "2"]),
    (160, "c7", "support", "NONE", "ENTERQUEUE", ["", "15550000007", "1"]),
    (205, "c4", "support", "PJSIP/1001", "ATTENDEDTRANSFER", ["BRIDGE", "b-7", "5", "80", "1"]),
    (340, "c5", "support", "PJSIP/1002", "COMPLETEAGENT", ["10", "200", "1"]),
    (400, "c8", "support", "NONE", "ENTERQUEUE", ["", "15550000008", "1"]),
    (415, "c8", "support", "PJSIP/1001", "CONNECT", ["15", "c8.2", "2"]),
    (460, "c7", "support", "NONE", "EXITWITHTIMEOUT", ["1", "1", "300"]),
    (500, "NONE", "support", "PJSIP/1002", "REMOVEMEMBER", [""]),
]  # fmt: skip
EXPECTED = {
    "offered": 8, "answered": 5, "abandoned": 2, "service_level": 4 / 7, "asa": 13.6,
    "aht": 110.0, "waiting": 0, "agents": {"on_call": 1},
}  # fmt: skip
NEW_YORK = ZoneInfo("America/New_York")


def kpis(
    make_monitor: Callable[..., Monitor], adapter: AsteriskQueueLog, lines: list[bytes]
) -> Any:
    """The queue's KPIs over 15 minutes once ``lines`` went through ``adapter``."""
    m = make_monitor()
    for body in translated(adapter, *lines):
        m.apply(decode(json.dumps(body).encode(), max_bytes=1 << 20))
    [v] = m.queue_views()
    [w] = [w for w in v.windows if w.window == "15m"]
    return {
        "offered": w.offered, "answered": w.answered, "abandoned": w.abandoned,
        "service_level": pytest.approx(w.service_level), "asa": pytest.approx(w.asa_seconds),
        "aht": pytest.approx(w.aht_seconds), "waiting": v.calls_waiting,
        "agents": {state: n for state, n in v.agents.items() if n},
    }  # fmt: skip


def pipes(
    rows: list[Row], when: Callable[[int], str] = lambda s: str(T0 + s), pad: bool = False
) -> list[bytes]:
    out = []
    for at, callid, queue, agent, event, data in rows:
        fields = data + [""] * (5 - len(data)) if pad else data
        out.append("|".join([when(at), callid, queue, agent, event, *fields]).encode())
    return out


def local(seconds: int, zone: ZoneInfo = NEW_YORK, fraction: str = "") -> str:
    return datetime.fromtimestamp(T0 + seconds, zone).strftime("%Y-%m-%d %H:%M:%S") + fraction


def adapter(**options: Any) -> AsteriskQueueLog:
    return AsteriskQueueLog(AsteriskOptions(site="lon1", **options))


def test_the_file_app_queue_writes(make_monitor: Callable[..., Monitor]) -> None:
    assert kpis(make_monitor, adapter(), pipes(DAY)) == EXPECTED


def test_data_fields_padded_to_data5_as_a_realtime_table_gives_them(
    make_monitor: Callable[..., Monitor],
) -> None:
    lines = pipes(DAY, pad=True)
    assert lines[4].endswith(b"|CONNECT|8|c1.2|3||")
    assert kpis(make_monitor, adapter(), lines) == EXPECTED


def test_a_date_and_time_in_the_sites_zone(make_monitor: Callable[..., Monitor]) -> None:
    lines = pipes(DAY, when=lambda s: local(s, fraction=".250000" if s % 2 else ""))
    assert kpis(make_monitor, adapter(timezone="America/New_York"), lines) == EXPECTED


def test_a_date_and_time_is_utc_unless_told() -> None:
    [event] = translated(adapter(), b"2027-01-15 07:50:00|c1|q|NONE|ENTERQUEUE||1|1")
    assert event["occurred_at"] == "2027-01-15T07:50:00.000Z"
    [event] = translated(
        adapter(timezone="Europe/Paris"), b"2027-01-15T08:50:00.5|c1|q|NONE|ENTERQUEUE||1|1"
    )
    assert event["occurred_at"] == "2027-01-15T07:50:00.500Z"


def test_crlf_line_ends_and_a_byte_order_mark(make_monitor: Callable[..., Monitor]) -> None:
    lines = [line + b"\r\n" for line in pipes(DAY)]
    lines[0] = b"\xef\xbb\xbf" + lines[0]
    assert kpis(make_monitor, adapter(), lines) == EXPECTED


def transfers_before_asterisk_12(rows: list[Row], origposition: bool) -> list[Row]:
    """Asterisk 1.4-11 logs every transfer as TRANSFER|extension|context|holdtime|calltime,
    with |origposition from 1.6 on."""
    out = []
    for at, callid, queue, agent, event, data in rows:
        if event.endswith("TRANSFER"):
            hold, talk, opos = data[-3:]
            event, data = "TRANSFER", ["2001", "from-internal", hold, talk]
            data += [opos] if origposition else []
        out.append((at, callid, queue, agent, event, data))
    return out


@pytest.mark.parametrize("origposition", [True, False], ids=["1.8-11", "1.4"])
def test_the_transfer_of_asterisk_1_4_to_11_completes_the_call_and_frees_the_agent(
    make_monitor: Callable[..., Monitor], origposition: bool
) -> None:
    rows = transfers_before_asterisk_12(DAY, origposition)
    assert sum(r[4] == "TRANSFER" for r in rows) == 2
    assert kpis(make_monitor, adapter(), pipes(rows)) == EXPECTED


def table(
    rows: list[Row], header: list[str], row: Callable[[Row], list[str]], delimiter: str = ","
) -> list[bytes]:
    """A table export: a header line, then a line per row, CR LF ends as csv writes them."""
    text = io.StringIO()
    writer = csv.writer(text, delimiter=delimiter)
    writer.writerow(header)
    writer.writerows(row(r) for r in rows)
    return [line.encode() for line in text.getvalue().splitlines(keepends=True)]


QUEUE_LOG_TABLE = [
    "time",
    "callid",
    "queuename",
    "agent",
    "event",
    *(f"data{i}" for i in range(1, 6)),
]


def realtime_row(r: Row) -> list[str]:
    at, callid, queue, agent, event, data = r
    return [local(at), callid, queue, agent, event, *data, *[""] * (5 - len(data))]


def test_a_realtime_queue_log_table_exported_with_its_header(
    make_monitor: Callable[..., Monitor],
) -> None:
    lines = table(DAY, QUEUE_LOG_TABLE, realtime_row)
    assert lines[0] == b"time,callid,queuename,agent,event,data1,data2,data3,data4,data5\r\n"
    log = adapter(timezone="America/New_York")
    assert kpis(make_monitor, log, lines) == EXPECTED
    assert log.ignored["HEADER"] == 1


def test_a_table_with_its_header_in_pipes_and_null_for_empty(
    make_monitor: Callable[..., Monitor],
) -> None:
    def row(r: Row) -> list[str]:
        return [("NULL" if f == "" else f) for f in realtime_row(r)]

    lines = table(DAY, QUEUE_LOG_TABLE, row, delimiter="|")
    assert kpis(make_monitor, adapter(timezone="America/New_York"), lines) == EXPECTED


def test_a_table_without_its_header_line_reads_by_the_columns_option(
    make_monitor: Callable[..., Monitor],
) -> None:
    lines = table(DAY, QUEUE_LOG_TABLE, realtime_row)[1:]
    log = adapter(timezone="America/New_York", columns=",".join(QUEUE_LOG_TABLE))
    assert kpis(make_monitor, log, lines) == EXPECTED


PBXWARE = ["uid", "date_time", "callid", "queue_name", "type", "event", "param1", "param2",
           "param3", "entpos", "expos", "htime", "ttime", "time"]  # fmt: skip


def pbxware_row(r: Row) -> list[str]:
    """PBXware's table splits out positions and times: each data field in its column."""
    at, callid, queue, agent, event, data = r
    c = dict.fromkeys(PBXWARE[6:9], "") | dict.fromkeys(PBXWARE[9:13], "0")
    if event == "ENTERQUEUE":
        c["param1"], c["entpos"] = data[1], data[2]
    elif event == "CONNECT":
        c["htime"], c["param2"], c["param3"] = data
    elif event.startswith("COMPLETE"):
        c["htime"], c["ttime"], c["entpos"] = data
    elif event in {"ABANDON", "EXITWITHTIMEOUT"}:
        c["expos"], c["entpos"], c["htime"] = data
    elif event.endswith("TRANSFER"):
        c["param1"] = "15550000000"
        c["htime"], c["ttime"], c["entpos"] = data[-3:]
        if event == "BLINDTRANSFER":
            c["param2"], c["param3"] = data[:2]
    elif event == "RINGNOANSWER":
        c["htime"] = data[0]
    # time: the server's wall clock (here Tokyo's); date_time is the epoch, and is read.
    return [str(at), str(T0 + at), callid, queue, agent, event, *(c[n] for n in PBXWARE[6:13]),
            local(at, ZoneInfo("Asia/Tokyo"))]  # fmt: skip


def test_a_pbxware_table_export(make_monitor: Callable[..., Monitor]) -> None:
    assert kpis(make_monitor, adapter(), table(DAY, PBXWARE, pbxware_row)) == EXPECTED


def callback_agents(rows: list[Row]) -> list[Row]:
    """AgentCallbackLogin: ADDMEMBER and REMOVEMEMBER name the Local channel, everything else
    the agent, and the agent logs in and off."""
    out: list[Row] = []
    for at, callid, queue, agent, event, data in rows:
        n = agent.removeprefix("PJSIP/")
        if event == "ADDMEMBER":
            out.append((at, callid, queue, f"Local/{n}@callback-agent", event, data))
            out.append(
                (at, callid, "NONE", f"Agent/{n}", "AGENTCALLBACKLOGIN", [f"hint:{n}@default"])
            )
        elif event == "REMOVEMEMBER":
            out.append((at, callid, queue, f"Local/{n}@callback-agent", event, data))
            out.append(
                (
                    at,
                    callid,
                    "NONE",
                    f"Agent/{n}",
                    "AGENTCALLBACKLOGOFF",
                    [f"hint:{n}@default", "500"],
                )
            )
        else:
            out.append((at, callid, queue, f"Agent/{n}" if n != "NONE" else n, event, data))
    return out


def test_callback_agents_are_one_agent_each_by_number(make_monitor: Callable[..., Monitor]) -> None:
    log = adapter(agent_identity="by_number")
    assert kpis(make_monitor, log, pipes(callback_agents(DAY))) == EXPECTED
    assert log.split_agents() == {}


def test_callback_agents_by_interface_are_two_each_and_said_to_be(
    make_monitor: Callable[..., Monitor],
) -> None:
    log = adapter()
    got = kpis(make_monitor, log, pipes(callback_agents(DAY)))
    assert got["agents"] == {"on_call": 1, "available": 1}  # Local/1001@callback-agent too
    assert log.split_agents() == {
        "1001": ("Agent/1001", "Local/1001@callback-agent"),
        "1002": ("Agent/1002", "Local/1002@callback-agent"),
    }


def test_an_alias_rule_makes_the_callback_channel_its_agent(
    make_monitor: Callable[..., Monitor],
) -> None:
    log = adapter(agent_aliases={r"Local/(\d+)@callback-agent": r"Agent/\1"})
    assert kpis(make_monitor, log, pipes(callback_agents(DAY))) == EXPECTED
    assert log.split_agents() == {}


def read(log: AsteriskQueueLog, *lines: str) -> list[dict[str, Any]]:
    return translated(log, *(line.encode() for line in lines))


def test_by_number_joins_every_technology() -> None:
    log = adapter(agent_identity="by_number")
    events = read(
        log,
        "1000|NONE|q|SIP/1001|ADDMEMBER|",
        "1001|NONE|r|PJSIP/1001|ADDMEMBER|",
        "1002|c1|q|Local/1001@from-queue/n|CONNECT|2|c1.2|1",
        "1003|c1|q|Alice|COMPLETECALLER|2|1|1",  # a member name is no interface: kept
    )
    states = [
        (e["agent_id"], e["state"], e["queues"]) for e in events if e["type"] == "agent.state"
    ]
    assert states[:3] == [
        ("1001", "available", ["q"]),
        ("1001", "available", ["q", "r"]),
        ("1001", "on_call", ["q", "r"]),
    ]
    assert states[3][0] == "Alice"


def test_agent_names_come_before_the_number() -> None:
    log = adapter(agent_identity="by_number", agent_names={"PJSIP/1001": "Alice"})
    [state] = read(log, "1000|NONE|q|PJSIP/1001|ADDMEMBER|")
    assert state["agent_id"] == "Alice"
    read(log, "1001|c1|q|Agent/1001|CONNECT|1|c1.2|1")
    assert log.split_agents() == {"1001": ("Agent/1001", "PJSIP/1001")}  # Alice and 1001


def test_agent_logins_and_logoffs() -> None:
    log = adapter()
    assert read(log, "1000|NONE|NONE|Agent/7|AGENTLOGIN|SIP/7-0001") == []  # no queues yet
    events = read(
        log,
        "1001|c1|q|Agent/7|CONNECT|1|c1.2|1",  # a static member: its queue from the call
        "1002|c1|q|Agent/7|COMPLETEAGENT|1|1|1",
        "1003|NONE|NONE|Agent/7|AGENTCALLBACKLOGOFF|7@default|3|Autologoff",
        "1004|NONE|NONE|Agent/7|AGENTCALLBACKLOGIN|7@default",
        "1005|NONE|NONE|Agent/7|AGENTLOGOFF|SIP/7-0001|5",
        "1006|NONE|NONE|Agent/7|AGENTLOGIN|SIP/7-0002",
    )
    assert [(e["state"], e["queues"]) for e in events if e["type"] == "agent.state"] == [
        ("on_call", ["q"]),
        ("available", ["q"]),
        ("offline", []),
        ("available", ["q"]),  # a login brings back its queues
        ("offline", []),
        ("available", ["q"]),
    ]


@pytest.mark.parametrize(
    "line",
    [
        "1000|c1|q|PJSIP/1|RINGCANCELED|1500",
        "1000|NONE|NONE|NONE|QUEUESTART|||||",
    ],
)
def test_kinds_without_a_v1_use_padded_or_not(line: str) -> None:
    log = adapter()
    assert read(log, line) == []
    assert log.ignored[line.split("|")[4]] == 1


def test_an_attended_transfer_of_link_type_in_a_table_keeps_what_follows_data5() -> None:
    # A pipe export of the table writes the 6th field after data5, as the file does.
    log = adapter(columns="|".join(QUEUE_LOG_TABLE))
    events = read(log, "2000|c1|q|Alice|ATTENDEDTRANSFER|LINK|PJSIP/1-01|Local/2@x-02;1|12|300|1")
    assert [e["talk_seconds"] for e in events if e["type"] == "call.completed"] == [300.0]


def test_an_attended_transfer_of_a_method_yet_to_come_reads_from_the_end() -> None:
    events = read(adapter(), "2000|c1|q|Alice|ATTENDEDTRANSFER|NEW|a|b|c|12|300|1|||")
    assert [e["talk_seconds"] for e in events if e["type"] == "call.completed"] == [300.0]


@pytest.mark.parametrize(
    ("option", "message"),
    [
        ({"timezone": "Europe/Londn"}, "timezone 'Europe/Londn' is not an IANA time zone name"),
        ({"agent_aliases": {"Local/(\\d+": "x"}}, "agent_aliases: 'Local/.* is not a regular"),
        ({"agent_identity": "by_name"}, "by_interface"),
        ({"columns": "time,callid,queue"}, "columns: .* no header line"),
        ({"columns": "time,callid,event,agent"}, "columns: .* queuename"),
    ],
)
def test_queue_log_options_are_checked_when_the_config_loads(
    option: dict[str, Any], message: str
) -> None:
    with pytest.raises((ConfigError, ValueError), match=message):
        FormatSettings(format="asterisk-queue-log", site="lon1", **option)


def test_the_options_reach_the_adapter_from_the_config() -> None:
    fmt = FormatSettings(
        format="asterisk-queue-log", site="lon1", agent_identity="by_number",
        timezone="Asia/Tokyo", columns="time|callid|queuename|agent|event|data1",
    )  # fmt: skip
    log = records.build(fmt)
    assert isinstance(log, AsteriskQueueLog)
    [state] = translated(log, b"2027-01-15 09:00:00|NONE|q|PJSIP/7|ADDMEMBER|")
    assert (state["agent_id"], state["occurred_at"]) == ("7", "2027-01-15T00:00:00.000Z")


def test_an_alias_that_makes_no_name_is_an_invalid_record() -> None:
    log = adapter(agent_aliases={"Local/.*": ""})
    with pytest.raises(AdapterError, match=r"agent_aliases rule 'Local/\.\*' makes"):
        log.translate(b"1000|NONE|q|Local/1@x|ADDMEMBER|")


def test_the_numbers_noted_are_bounded() -> None:
    from callpulse.adapters import agent_identity as ai

    log = adapter()
    numbers = range(ai.MAX_NUMBERS + 50)
    lines = [f"1000|NONE|NONE|T{t}/{n}|AGENTLOGIN|" for n in numbers for t in range(6)]
    long = "9" * ai.MAX_NOTED
    read(
        log,
        *lines,
        f"1000|NONE|NONE|SIP/{long}|AGENTLOGIN|",
        f"1000|NONE|NONE|IAX2/{long}|AGENTLOGIN|",
    )
    split = log.split_agents()
    assert len(split) == ai.MAX_NUMBERS  # the oldest forgotten
    assert "0" not in split
    assert long not in split  # an interface longer than MAX_NOTED is not noted
    assert all(len(interfaces) == ai.MAX_INTERFACES for interfaces in split.values())
    assert log.fill()["agent_numbers"] == 1.0


def test_a_header_of_too_many_columns_is_an_invalid_record() -> None:
    from callpulse.adapters.queue_log_lines import MAX_COLUMNS

    names = ["time", "callid", "queuename", "agent", "event"]
    names += [f"x{i}" for i in range(MAX_COLUMNS)]
    with pytest.raises(AdapterError, match=f"at most {MAX_COLUMNS}"):
        adapter().translate(",".join(names).encode())


def test_a_header_line_written_into_a_pipe_stream_cannot_stop_its_lines() -> None:
    log = adapter()
    lines = pipes(DAY[:3])
    read(log, "x,event,callid,time,agent,queuename", "event|callid|time|agent|queue")
    assert [e["type"] for e in translated(log, *lines)] == ["agent.state"] * 2 + ["call.queued"]
    assert log.ignored["HEADER"] == 2


def test_with_columns_given_a_header_line_in_the_stream_changes_nothing(
    make_monitor: Callable[..., Monitor],
) -> None:
    lines = table(DAY, QUEUE_LOG_TABLE, realtime_row)
    lines.insert(5, b"queuename,callid,time,agent,event,data2,data1,data3,data4,data5\r\n")
    log = adapter(timezone="America/New_York", columns=",".join(QUEUE_LOG_TABLE))
    assert kpis(make_monitor, log, lines) == EXPECTED


@pytest.mark.parametrize(
    "row",
    [
        b'2027-01-15 02:50:00,c1,q,NONE,ENTERQUEUE,"' + b"x" * 200_000 + b'",,,,',
        b'event,callid,"' + b"x" * 200_000 + b'"',
    ],
)
def test_a_row_the_csv_reader_refuses_is_an_invalid_record(row: bytes) -> None:
    log = adapter(columns=",".join(QUEUE_LOG_TABLE))
    with pytest.raises(AdapterError):
        log.translate(row)
    [event] = translated(log, b"2027-01-15 02:50:00,c1,q,NONE,ENTERQUEUE,,1,1,,")
    assert event["type"] == "call.queued"

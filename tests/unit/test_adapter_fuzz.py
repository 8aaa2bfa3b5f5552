"""Each adapter against a hostile producer: its own records (the shipped samples) with fields
made hostile (deep nesting, huge strings and numbers, NaN and Infinity, bad UTF-8, lone
surrogates, control characters, empty values, wrong types, unknown kinds), read in sequence
with its caps made small so that every table fills and forgets. Translating a record only
ever returns valid events-v1 bodies or raises the adapter's AdapterError, with a short,
printable message; the state stays within its bounds: every name kept is a valid events-v1
name, every cap's fill is within 0..1, every ignored kind is of the format's list.

FUZZ_EXAMPLES=2000 in the environment searches longer than the suite's 120 per format."""

from __future__ import annotations

import copy
import json
import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from unittest import mock

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from callpulse.adapters import (
    amazon_connect,
    asterisk,
    asterisk_ami,
    freeswitch,
    freeswitch_channel,
    twilio,
    twilio_records,
)
from callpulse.adapters.base import LAST_INSTANT, AdapterError
from callpulse.core.events import NOT_IN_NAMES, Event
from callpulse.protocols import Adapter

from .adapter_records import adapter
from .adapters import body

EXAMPLES = Path(__file__).resolve().parents[2] / "docs" / "examples"
NAME_LIMIT = 256  # an events-v1 name's, in characters


@dataclass(frozen=True)
class Raw:
    """JSON text written as it is: what json.dumps will not write."""

    text: bytes


def dumps(value: Any) -> bytes:
    """``value`` as JSON, with each Raw in it written as it is."""
    if isinstance(value, Raw):
        return value.text
    if isinstance(value, dict):
        members = (dumps(str(k)) + b":" + dumps(v) for k, v in value.items())
        return b"{" + b",".join(members) + b"}"
    if isinstance(value, list):
        return b"[" + b",".join(dumps(v) for v in value) + b"]"
    return json.dumps(value).encode()  # ensure_ascii: controls and surrogates as \\u escapes


DEEP = [Raw(b"[" * n + b"]" * n) for n in (1_000, 100_000, 1_000_000)] + [
    Raw(b'{"a":' * n + b"1" + b"}" * n) for n in (1_000, 100_000)
]
STRINGS = [
    "", " ", "NONE", "null", "x" * 257, "y" * 100_000, "\x1b[2J\x1b[32mALL QUEUES OK",
    "a\x00b", "\x07", "q\r", "\x9b31m", "\u202eevil", "\u2066isolated", "é" * 300,
    "\U0001f600" * 257, "-5", "1e400", "nan", "inf", "9" * 5000, "253402300800",
    "9999-12-31T23:59:59-14:00", "0001-01-01T00:00:00+14:00",
]  # fmt: skip
TEXT = st.sampled_from(STRINGS) | st.text(max_size=12)
RAW = st.sampled_from(
    [
        Raw(b"NaN"), Raw(b"Infinity"), Raw(b"-Infinity"), Raw(b"1e400"), Raw(b"-1e400"),
        Raw(b"9" * 5000), Raw(b'"\\ud800"'), Raw(b'"a\\udfffb"'), Raw(b'"\xff\xfe"'),
        Raw(b'"\xed\xa0\x80"'), Raw(b'"\xc3"'), *DEEP,
    ]
)  # fmt: skip
SMALL_JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=8),
    lambda children: (
        st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=6), children, max_size=3)
    ),
    max_leaves=6,
)
VALUE = st.one_of(
    TEXT,
    RAW,
    SMALL_JSON,
    st.sampled_from([None, True, 0, -1, 1.5, -1e308, 1e308, 10**30, 2**63, [], {}]),
)


def paths(value: Any, prefix: tuple[Any, ...] = ()) -> Iterator[tuple[Any, ...]]:
    """Every place in ``value`` a mutation may replace: its keys and indexes, at any depth."""
    items = value.items() if isinstance(value, dict) else enumerate(value)
    for key, child in items:
        yield (*prefix, key)
        if isinstance(child, dict | list):
            yield from paths(child, (*prefix, key))


def documents(name: str) -> list[Any]:
    docs = []
    for line in (EXAMPLES / name).read_text().splitlines():
        try:
            docs.append(json.loads(line))
        except ValueError:
            continue  # the sample's one truncated record
    return docs


@st.composite
def json_record(draw: st.DrawFn, templates: list[Any], kinds: list[str]) -> bytes:
    """A record of the format: a sample one, as it is or made hostile in a few places."""
    doc = copy.deepcopy(draw(st.sampled_from(templates)))
    for _ in range(draw(st.integers(0, 3))):
        where = draw(st.sampled_from(list(paths(doc)) or [()]))
        if not where:
            break
        *parent_path, key = where
        parent = doc
        for step in parent_path:
            parent = parent[step]
        if isinstance(parent, Raw):
            continue
        how = draw(st.sampled_from(["set", "set", "kind", "drop", "add"]))
        if how == "drop":
            del parent[key]
        elif how == "add" and isinstance(parent, dict):
            parent[draw(st.text(max_size=10))] = draw(VALUE)
        else:
            parent[key] = draw(VALUE if how == "set" else st.sampled_from(kinds) | TEXT)
    whole = draw(st.sampled_from(["doc"] * 8 + ["raw", "bytes", "list"]))
    if whole == "raw":
        return dumps(draw(RAW))
    if whole == "bytes":
        return draw(st.binary(max_size=64))
    if whole == "list":
        return dumps([doc, draw(VALUE)])
    return dumps(doc)


@st.composite
def queue_log_line(draw: st.DrawFn, templates: list[str], kinds: list[str]) -> bytes:
    """A queue_log line: a sample one, as it is or with fields made hostile."""
    fields = [f.encode() for f in draw(st.sampled_from(templates)).split("|")]
    for _ in range(draw(st.integers(0, 3))):
        at = draw(st.integers(0, len(fields)))
        value = draw(
            st.sampled_from(kinds).map(str.encode)
            | TEXT.map(lambda t: t.encode("utf-8", "surrogatepass"))
            | st.sampled_from([b"\xff", b"\xed\xa0\x80", b"\xc3", b"|"])
        )
        if at == len(fields):
            fields.append(value)
        else:
            fields[at] = value
    if draw(st.booleans()) and len(fields) > 5:
        del fields[draw(st.integers(0, len(fields) - 1))]
    return b"|".join(fields)


# The shapes exports give queue_log (docs/adapters-asterisk-queue-log.md), each a template.
QUEUE_LOG_EXPORTS = [
    "time,callid,queuename,agent,event,data1,data2,data3,data4,data5",
    "2025-11-24 16:00:17,c1,billing,Local/1@callback-agent,ADDMEMBER,,,,,",
    '2025-11-24 16:00:18.5,c1,billing,Agent/1,CONNECT,17,"c1,2",4,,',
    "uid,date_time,callid,queue_name,type,event,param1,param2,param3,entpos,expos,htime,ttime,time",
    '9,1764000017,c1,billing,Agent/1,COMPLETEAGENT,,,,1,0,17,60,"2025-11-24 11:00:17"',
    "2025-11-24 16:00:19|c2|billing|Agent/1|TRANSFER|2001|ctx|3|40|1||",
    "1764000020|c3|billing|SIP/1|ATTENDEDTRANSFER|LINK|a|b|3|40|1\r",
]
KINDS = {
    "asterisk-queue-log": [*asterisk.IGNORED_KINDS, "ENTERQUEUE", "CONNECT", "ABANDON",
                           "COMPLETECALLER", "BLINDTRANSFER", "ADDMEMBER", "REMOVEMEMBER",
                           "PAUSE", "PAUSEALL", "AGENTLOGOFF", "TRANSFER", "ATTENDEDTRANSFER",
                           "AGENTLOGIN", "AGENTCALLBACKLOGIN", "AGENTCALLBACKLOGOFF"],
    "freeswitch-callcenter": [*freeswitch.IGNORED_KINDS, "member-queue-start",
                              "bridge-agent-start", "bridge-agent-end", "member-queue-end",
                              "agent-offering", "agent-status-change", "agent-state-change"],
    "freeswitch-channel": [*freeswitch_channel.IGNORED_KINDS, "CHANNEL_HANGUP_COMPLETE",
                           "RECV_RTCP_MESSAGE"],
    "amazon-connect": [*amazon_connect.IGNORED_KINDS, "LOGIN", "LOGOUT", "STATE_CHANGE",
                       "HEART_BEAT", "Amazon Connect Contact Event"],
    "twilio-taskrouter": [*(f"com.twilio.taskrouter.{k}" for k in twilio_records.KINDS),
                          *twilio_records.KINDS],
    "asterisk-ami": [*asterisk_ami.IGNORED_KINDS, "DialEnd", "RTCPSent"],
}  # fmt: skip
RECORDS: dict[str, st.SearchStrategy[bytes]] = {
    "asterisk-queue-log": queue_log_line(
        (EXAMPLES / "asterisk-queue_log").read_text().splitlines() + QUEUE_LOG_EXPORTS,
        KINDS["asterisk-queue-log"],
    ),
    "freeswitch-callcenter": json_record(
        documents("freeswitch-callcenter.jsonl"), KINDS["freeswitch-callcenter"]
    ),
    "freeswitch-channel": json_record(
        documents("freeswitch-channel.jsonl"), KINDS["freeswitch-channel"]
    ),
    "amazon-connect": json_record(documents("amazon-connect.jsonl"), KINDS["amazon-connect"]),
    "twilio-taskrouter": json_record(
        documents("twilio-taskrouter.jsonl"), KINDS["twilio-taskrouter"]
    ),
    "asterisk-ami": json_record(documents("asterisk-ami.jsonl"), KINDS["asterisk-ami"]),
}
IGNORED = {
    "asterisk-queue-log": asterisk.IGNORED_KINDS,
    "freeswitch-callcenter": freeswitch.IGNORED_KINDS,
    "freeswitch-channel": freeswitch_channel.IGNORED_KINDS,
    "amazon-connect": amazon_connect.IGNORED_KINDS,
    "twilio-taskrouter": twilio.IGNORED_KINDS,
    "asterisk-ami": asterisk_ami.IGNORED_KINDS,
}
# Caps small enough for a few records to fill and forget.
SMALL_CAPS: dict[str, tuple[Any, dict[str, int]]] = {
    "asterisk-queue-log": (asterisk, {"MAX_AGENTS": 3, "MAX_QUEUES_PER_AGENT": 2,
                                      "MAX_MEMBERSHIPS": 4}),
    "freeswitch-callcenter": (freeswitch, {"MAX_AGENTS": 3, "MAX_QUEUES_PER_AGENT": 2,
                                           "MAX_MEMBERSHIPS": 4, "MAX_CALLS": 2}),
    "freeswitch-channel": (freeswitch_channel, {"MAX_LEGS": 2}),
    "amazon-connect": (amazon_connect, {"MAX_AGENTS": 3, "MAX_QUEUES_PER_AGENT": 2,
                                        "MAX_MEMBERSHIPS": 4, "MAX_CONTACTS": 3}),
    "twilio-taskrouter": (twilio, {"MAX_TASKS": 3, "MAX_WORKERS": 3, "MAX_QUEUES_PER_WORKER": 2,
                                   "MAX_MEMBERSHIPS": 4}),
    "asterisk-ami": (asterisk_ami, {"MAX_CHANNELS": 2}),
}  # fmt: skip


def memberships(target: Any) -> int:
    """The (agent, queue) pairs the adapter keeps, counted from its agents."""
    if isinstance(target, amazon_connect.AmazonConnect):
        return sum(len(queues) for _, queues in target._agents.values())
    agents = target._workers if isinstance(target, twilio.TwilioTaskRouter) else target._agents
    return sum(len(agent.queues) for agent in agents.values())


def kept(value: Any, seen: set[int] | None = None) -> Iterator[str | bytes]:
    """Every string and bytes object reachable from ``value``."""
    seen = set() if seen is None else seen
    if id(value) in seen:
        return
    seen.add(id(value))
    if isinstance(value, str | bytes):
        yield value
    elif isinstance(value, dict):
        for key, child in value.items():
            yield from kept(key, seen)
            yield from kept(child, seen)
    elif isinstance(value, list | tuple | set | frozenset):
        for child in value:
            yield from kept(child, seen)
    elif hasattr(value, "__slots__") or hasattr(value, "__dict__"):
        names = [*getattr(value, "__dict__", {})]
        names += [s for c in type(value).__mro__ for s in getattr(c, "__slots__", ())]
        for name in names:
            yield from kept(getattr(value, name, None), seen)


def name_text(text: str) -> bool:
    """Text a name may be: nothing the events-v1 decoder refuses in one, no lone surrogate."""
    refused = [*NOT_IN_NAMES, (0xD800, 0xDFFF)]
    return not any(lo <= ord(c) <= hi for c in text for lo, hi in refused)


def check_state(fmt: str, target: Adapter) -> None:
    assert set(target.ignored) <= IGNORED[fmt] | {"_other"}
    for value in kept({k: v for k, v in vars(target).items() if k != "options"}):
        if isinstance(value, str):
            assert 0 < len(value) <= NAME_LIMIT, value[:80]
            assert name_text(value), value[:80]
        else:
            assert len(value) <= 16, value[:80]  # a digest
    assert all(0 <= ratio <= 1 for ratio in target.fill().values()), target.fill()
    if hasattr(target, "_memberships"):  # a format that names agents
        assert target._memberships.used == memberships(target)


def check_events(events: list[Event]) -> None:
    for event in events:
        body(event)  # what the decoder makes of it as JSON, or it raises


def play(fmt: str, records: list[bytes]) -> None:
    module, caps = SMALL_CAPS[fmt]
    with mock.patch.multiple(module, **caps):  # type: ignore[arg-type]
        target = adapter(fmt)
        for record in records:
            error: AdapterError | None = None
            try:
                check_events(target.translate(record))
            except AdapterError as exc:  # anything else escapes and fails the test
                error = exc
            if error is not None:
                assert error.reason == f"invalid_{fmt}"
                assert 0 < len(error.detail) < 1000, error.detail[:200]
                assert error.detail.isprintable(), error.detail[:200]  # for logs and terminals
            check_state(fmt, target)
        for now in (1_764_000_000.0, 1_800_000_000.0, float(LAST_INSTANT)):
            check_events(target.flush(now))
            check_state(fmt, target)


def fuzz(fmt: str) -> Callable[[], None]:
    @settings(
        max_examples=int(os.environ.get("FUZZ_EXAMPLES", "120")),
        deadline=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    )
    @given(st.lists(RECORDS[fmt], min_size=1, max_size=12))
    def test(records: list[bytes]) -> None:
        play(fmt, records)

    return test


test_asterisk_queue_log = fuzz("asterisk-queue-log")
test_freeswitch_callcenter = fuzz("freeswitch-callcenter")
test_freeswitch_channel = fuzz("freeswitch-channel")
test_amazon_connect = fuzz("amazon-connect")
test_twilio_taskrouter = fuzz("twilio-taskrouter")
test_asterisk_ami = fuzz("asterisk-ami")

"""Top-level JSON documents in a stream (core/documents.py) and the records of a replayed
file (sources/files.py): one a line, pretty-printed, concatenated, cut short, too long."""

from __future__ import annotations

import asyncio
import io
import json
from pathlib import Path

import pytest

from callpulse.config import ReplaySettings
from callpulse.core.documents import Documents, split
from callpulse.core.ingest import RawRecord
from callpulse.sources.files import read_records
from callpulse.sources.replay import ReplaySource

DOCS = [{"a": 1, "b": [1, {"c": "}{ ]["}]}, {"d": 'x\\"y', "e": []}, [1, 2]]


def compact() -> bytes:
    return b"".join(json.dumps(d, separators=(",", ":")).encode() + b"\n" for d in DOCS)


def values(found: list[tuple[int, bytes]]) -> list[object]:
    return [json.loads(v) for _, v in found]


@pytest.mark.parametrize(
    "data",
    [
        compact(),
        b"".join(json.dumps(d, indent=4).encode() + b"\n" for d in DOCS),  # pretty-printed
        b"".join(json.dumps(d).encode() for d in DOCS),  # concatenated, as Firehose writes
        b"\r\n\r\n".join(json.dumps(d, indent="\t").encode() for d in DOCS) + b"\r\n",
    ],
    ids=["one-a-line", "pretty", "concatenated", "tabs-and-crlf"],
)
def test_every_layout_gives_the_same_documents(data: bytes) -> None:
    assert values(split(data, 1 << 20)) == DOCS


def test_a_document_says_the_line_it_starts_on() -> None:
    data = b'{\n "a": 1\n}\n\n{"b": 2}{"c": 3}\n'
    assert [line for line, _ in split(data, 1000)] == [1, 5, 5]


def test_fed_a_byte_at_a_time_it_finds_the_same_documents() -> None:
    data = b"".join(json.dumps(d, indent=2).encode() for d in DOCS)
    reader = Documents(1 << 20)
    found = [doc for i in range(len(data)) for doc in reader.feed(data[i : i + 1], 1)]
    assert values(found + reader.end()) == DOCS


def test_a_truncated_line_costs_itself_alone() -> None:
    data = b'{"a": 1, "b": {"c": \n{"ok": 1}\n{"ok": 2}\n'
    found = split(data, 1000)
    assert [v for _, v in found][1:] == [b'{"ok": 1}', b'{"ok": 2}']
    with pytest.raises(json.JSONDecodeError):
        json.loads(found[0][1])


def test_text_that_opens_no_document_is_a_record_of_its_own_to_reject() -> None:
    assert split(b'42\nnot json {"a": 1}\n{"b": 2}', 1000) == [
        (1, b"42"),
        (2, b'not json {"a": 1}'),
        (3, b'{"b": 2}'),
    ]
    assert split(b'{"a": [1,\n', 1000) == [(1, b'{"a": [1,')]  # left open at the end


def test_a_document_past_the_limit_is_kept_only_to_the_limit() -> None:
    big = json.dumps({"a": "x" * 10_000}, indent=1).encode()
    found = split(big + b'\n{"b": 1}\n', 100)
    assert len(found[0][1]) == 101  # the ingest rejects it as oversize
    assert found[1] == (4, b'{"b": 1}')


def test_hostile_depth_costs_a_scan_not_a_stack() -> None:
    deep = b"[" * 200_000 + b"]" * 200_000
    [(_, value)] = split(deep + b"\n", 1 << 20)
    assert value == deep


def test_a_line_format_is_read_a_line_at_a_time_however_long_the_line() -> None:
    data = b"a|b\n\n" + b"x" * 200_000 + b"\nlast"
    found = list(read_records(io.BytesIO(data), "asterisk-queue-log", 1000))
    assert [(n, len(v)) for n, v in found] == [(1, 3), (3, 1001), (4, 4)]


def test_a_json_format_is_read_as_documents_in_chunks() -> None:
    objects = DOCS[:2] * 2_000  # a top-level array would be read element by element
    data = b"".join(json.dumps(d, indent=2).encode() for d in objects)
    found = list(read_records(io.BytesIO(data), "amazon-connect", 1000))
    assert values(found) == objects


def test_the_replay_source_reads_pretty_printed_events_with_their_line(tmp_path: Path) -> None:
    event = {"schema_version": 1, "event_id": "e-1", "type": "call.queued", "site": "lon1",
             "occurred_at": "2026-11-22T14:00:00Z", "call_id": "c-1",
             "queue": "billing"}  # fmt: skip
    path = tmp_path / "events.json"
    path.write_bytes(json.dumps(event, indent=2).encode() + json.dumps(event).encode())

    async def play() -> list[RawRecord]:
        source = ReplaySource(ReplaySettings(path=path), max_record_bytes=4096)
        await source.start()
        out: list[RawRecord] = []
        while not source.exhausted():
            out += (await source.fetch()).records
        await source.stop()
        return out

    records = asyncio.run(play())
    assert [(r.offset, json.loads(r.value or b"")) for r in records] == [(1, event), (9, event)]


@pytest.mark.parametrize(
    "data",
    [
        json.dumps(DOCS, indent=2).encode(),  # jq -s
        json.dumps(DOCS).encode() + b"\n",
        b"[\n" + b",\n".join(json.dumps(d).encode() for d in DOCS) + b"\n]\n",
    ],
    ids=["pretty", "one-line", "a-line-each"],
)
def test_in_a_file_the_elements_of_a_top_level_array_are_the_records(data: bytes) -> None:
    found = list(read_records(io.BytesIO(data), "amazon-connect", 1000))
    assert values(found) == DOCS


def test_an_array_far_past_the_limit_is_read_element_by_element() -> None:
    data = json.dumps([{"n": i} for i in range(5_000)], indent=1).encode()
    found = list(read_records(io.BytesIO(data), "events-v1", 1000))
    assert values(found) == [{"n": i} for i in range(5_000)]
    assert split(b'[1, "x", {"a": 1}]\n[2]', 1000) == [(1, b'[1, "x", {"a": 1}]'), (2, b"[2]")]
    reader = Documents(1000, arrays=True)
    assert reader.feed(b'[1, "x", {"a": 1}]\n', 1) == [(1, b"1"), (1, b'"x"'), (1, b'{"a": 1}')]


@pytest.mark.parametrize("data", [b"[]\n", b"[ ]\n", b"[\n]\n", b"  [\n\n  ]"])
def test_an_empty_top_level_array_is_one_record_not_a_silent_line(data: bytes) -> None:
    # Nothing in it is lost, but a line the reader skips without a word is not counted
    # anywhere: handed on, the format's reader judges it (events v1 rejects it).
    assert list(read_records(io.BytesIO(data + b'\n{"a": 1}\n'), "events-v1", 1000)) == [
        (1, b"[]"),
        (data.count(b"\n") + 2, b'{"a": 1}'),
    ]
    assert Documents(1000, arrays=True).feed(b'[{"a": 1}]\n', 1) == [(1, b'{"a": 1}')]


DUMP = b"""RECV EVENT
Event-Name: CHANNEL_HANGUP_COMPLETE
Unique-ID: a
variable_switch_r_sdp: v=0

m=audio 1 RTP/AVP 0

RECV EVENT
Event-Name: CHANNEL_HANGUP_COMPLETE
Unique-ID: b
"""


def test_plain_freeswitch_events_are_read_a_block_each_blank_lines_and_all() -> None:
    # A console dump: the banner starts an event, and an SDP value holds blank lines.
    found = list(read_records(io.BytesIO(b"\n" + DUMP), "freeswitch-channel", 1000))
    assert [number for number, _ in found] == [2, 9]
    assert found[0][1].endswith(b"m=audio 1 RTP/AVP 0")
    assert found[1][1] == b"RECV EVENT\nEvent-Name: CHANNEL_HANGUP_COMPLETE\nUnique-ID: b"
    # Without banners, each Event-Name header starts the next event.
    bare = b"Event-Name: A\nUnique-ID: 1\n\nEvent-Name: B\nUnique-ID: 2\n"
    assert [r for _, r in read_records(io.BytesIO(bare), "freeswitch-channel", 1000)] == [
        b"Event-Name: A\nUnique-ID: 1",
        b"Event-Name: B\nUnique-ID: 2",
    ]


def test_a_plain_event_past_the_limit_is_kept_to_one_byte_over_it() -> None:
    big = b"Event-Name: A\nvariable_x: " + b"y" * 200_000 + b"\nEvent-Name: B\n"
    first, second = read_records(io.BytesIO(big), "freeswitch-channel", 1000)
    assert len(first[1]) == 1001  # the ingest refuses it as oversize
    assert second == (3, b"Event-Name: B")


def test_freeswitch_events_as_json_are_still_read_as_documents() -> None:
    data = b'{"Event-Name": "CHANNEL_HANGUP_COMPLETE"}\n{"Event-Name": "X"}\n'
    found = list(read_records(io.BytesIO(data), "freeswitch-channel", 1000))
    assert [number for number, _ in found] == [1, 2]


def test_raw_ami_events_are_read_a_message_each() -> None:
    data = b"Event: Newchannel\r\nUniqueid: 1.1\r\n\r\nResponse: Success\r\n\r\nEvent: Hangup\r\n"
    found = list(read_records(io.BytesIO(data), "asterisk-ami", 1000))
    assert found == [
        (1, b"Event: Newchannel\r\nUniqueid: 1.1"),
        (4, b"Response: Success"),
        (6, b"Event: Hangup"),
    ]

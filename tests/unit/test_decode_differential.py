"""The fast decode path against the models generated from the same Structs.

For every record of the corpus (the example events, the decoder's fuzz corpus, and the
places JSON decoders are known to differ: timestamps, numbers, escapes, duplicate keys), the
msgspec path (``fast_decode``) must never accept what the pydantic models refuse and must give
their values when it accepts; and ``decode``, which falls back on the models, must accept and
reject exactly the records the models accept and reject, for the same reasons.
"""

from __future__ import annotations

import json
import re
from typing import Any

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st
from msgspec import structs
from pydantic import ValidationError

from callpulse.core.event_models import EVENT_ADAPTER, MODELS
from callpulse.core.events import EVENT_STRUCTS, EVENT_TYPES
from callpulse.core.ingest import (
    MAX_DEPTH,
    DecodeError,
    _classify,
    as_struct,
    decode,
    fast_decode,
    too_deep,
)
from tests.unit.test_decoder_properties import EXAMPLES, JSON


def models(value: bytes) -> Any:
    """What the pydantic models make of ``value`` (under the nesting limit, which comes
    before either decoder): an event, or the DecodeError."""
    if too_deep(value):
        return DecodeError("invalid_json", f"nested deeper than {MAX_DEPTH} levels")
    if re.search(rb"NaN|Infinity", re.sub(rb'"(?:[^"\\]|\\.)*"', b"", value)):
        return DecodeError("invalid_json", "NaN and Infinity are not numbers in JSON")
    try:
        return as_struct(EVENT_ADAPTER.validate_json(value))
    except ValidationError as exc:
        return _classify(exc)


def same_as_models(value: bytes) -> None:
    judged = models(value)
    fast = None if too_deep(value) else fast_decode(value)  # decode never hands it deeper
    if fast is not None:
        assert not isinstance(judged, DecodeError), (
            f"fast path accepted what the models refuse: {judged}"
        )
        assert fast == judged
        assert fast.occurred_at.utcoffset() == judged.occurred_at.utcoffset()
        assert type(fast) is type(judged)
    decoded: Any
    try:
        decoded = decode(value, 1 << 20)
    except DecodeError as exc:
        decoded = exc
    if isinstance(judged, DecodeError):
        assert isinstance(decoded, DecodeError), f"accepted what the models refuse: {judged}"
        assert (decoded.reason, decoded.detail) == (judged.reason, judged.detail)
    else:
        assert not isinstance(decoded, DecodeError), f"refused what the models accept: {decoded}"
        assert decoded == judged
        assert decoded.occurred_at.utcoffset() == judged.occurred_at.utcoffset()


def encode(body: dict[str, Any]) -> bytes:
    return json.dumps(body, ensure_ascii=False).encode()


@pytest.mark.parametrize("body", EXAMPLES, ids=lambda b: str(b["type"]))
def test_every_example_event_takes_the_fast_path_to_the_same_event(body: dict[str, Any]) -> None:
    value = encode(body)
    assert fast_decode(value) is not None
    same_as_models(value)


@settings(max_examples=500, deadline=None)
@given(st.binary(max_size=600))
def test_arbitrary_bytes(value: bytes) -> None:
    same_as_models(value)


@settings(max_examples=1500, deadline=None)
@given(st.sampled_from(EXAMPLES), st.sampled_from(["drop", "set", "add"]), st.data())
def test_mutated_example_events(body: dict[str, Any], how: str, data: st.DataObject) -> None:
    body = dict(body)
    if how == "add":
        body[data.draw(st.text(max_size=12))] = data.draw(JSON)
    else:
        key = data.draw(st.sampled_from(sorted(body)))
        if how == "drop":
            del body[key]
        else:
            body[key] = data.draw(JSON)
    same_as_models(encode(body))


# Where JSON decoders and validators are known to part ways.
TIMESTAMPS = st.from_regex(
    r"\A[0-9]{4}-[0-9]{2}-[0-9]{2}[Tt _][0-9]{2}:[0-9]{2}(:[0-9]{2}([.,][0-9]{0,12})?)?"
    r"([Zz]|[+-][0-9]{2}(:?[0-9]{2})?)?\Z"
)
NUMBERS = st.sampled_from(
    ["0", "-0", "0.0", "-0.0", "1", "1.0", "1e0", "1E2", "1.5", "-1", "199", "200", "699",
     "700", "5", "5.0000001", "1e400", "-1e400", "1e-400", "9223372036854775807",
     "9223372036854775808", "18446744073709551616", "-9223372036854775809", "true", "false",
     "null", "\"1\"", "[]", "{}", "NaN", "Infinity", "01", "1.", ".5", "+1"]
)  # fmt: skip
STRINGS = st.text(
    st.characters(codec="utf-8", exclude_categories=["Cs"])
    | st.sampled_from('\x00\t\n\x1f\x7f\\" é請\x85\x9b\u061c\u200e\u2028\u202e\u2067\u200d'),
    max_size=300,
)


@settings(max_examples=300, deadline=None)
@given(
    st.sampled_from(EXAMPLES),
    st.sampled_from(["occurred_at", "site", "event_id", "schema_version"]),
    TIMESTAMPS | STRINGS | JSON,
)
@example(EXAMPLES[0], "occurred_at", "2026-11-30T13:00:01.1234567Z")
@example(EXAMPLES[0], "occurred_at", "2026-11-30T13:00:01.9999999Z")
@example(EXAMPLES[0], "occurred_at", "2026-11-30 13:00:01Z")
@example(EXAMPLES[0], "occurred_at", "2026-11-30t13:00:01z")
@example(EXAMPLES[0], "occurred_at", "2026-11-30T24:00:00Z")
@example(EXAMPLES[0], "occurred_at", "2026-11-30T23:59:60Z")
@example(EXAMPLES[0], "occurred_at", "2026-11-30T13:00:01-00:00")
@example(EXAMPLES[0], "occurred_at", "2026-11-30T13:00:01+2400")
@example(EXAMPLES[0], "occurred_at", "2026-11-30T13:00:01")
@example(EXAMPLES[0], "occurred_at", "1764507601")
@example(EXAMPLES[0], "occurred_at", 1764507601)
@example(EXAMPLES[0], "occurred_at", "9999-12-31T23:59:59.9999999Z")
@example(EXAMPLES[0], "occurred_at", "2026-11-30T23:59:59.9999995+05:30")
@example(EXAMPLES[0], "site", "lon1\n")
@example(EXAMPLES[0], "site", "lon 1")
@example(EXAMPLES[0], "queue", "billing\n")
@example(EXAMPLES[0], "queue", "a" * 257)
@example(EXAMPLES[0], "queue", "請" * 256)
@example(EXAMPLES[0], "event_id", "x\x7f")
@example(EXAMPLES[0], "queue", "q\x9b2J")
@example(EXAMPLES[0], "queue", "q\u202egnp.exe")
@example(EXAMPLES[0], "queue", "q\u2066x\u2069")
@example(EXAMPLES[0], "call_id", "c\u2028")
@example(EXAMPLES[0], "queue", "q\u200dx")
@example(EXAMPLES[0], "x", [[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]])
@example(EXAMPLES[0], "schema_version", 1.0)
@example(EXAMPLES[0], "priority", True)
@example(EXAMPLES[0], "priority", 2**70)
def test_values_where_decoders_differ(body: dict[str, Any], key: str, value: Any) -> None:
    same_as_models(encode(dict(body) | {key: value}))


@settings(max_examples=1500, deadline=None)
@given(st.sampled_from(EXAMPLES), st.data())
def test_timestamps_strings_and_numbers(body: dict[str, Any], data: st.DataObject) -> None:
    body = dict(body)
    key = data.draw(st.sampled_from(sorted(body)))
    kind = data.draw(st.sampled_from(["timestamp", "string", "number"]))
    if kind == "number":
        # A number as its producer wrote it, which json.dumps would normalise.
        text = encode(body | {key: "@@"}).replace(b'"@@"', data.draw(NUMBERS).encode())
        same_as_models(text)
        return
    drawn = data.draw(TIMESTAMPS if kind == "timestamp" else STRINGS)
    same_as_models(encode(body | {key: drawn}))
    same_as_models(json.dumps(body | {key: drawn}).encode())  # the same, escaped


@pytest.mark.parametrize(
    "text",
    [
        # Duplicate keys: the last one counts for both decoders, and so for the tag.
        b'{"schema_version":1,"event_id":"e","occurred_at":"2026-11-30T13:00:01Z","site":"s",'
        b'"type":"call.queued","call_id":"c","queue":"q","queue":"r"}',
        b'{"schema_version":1,"event_id":"e","occurred_at":"2026-11-30T13:00:01Z","site":"s",'
        b'"type":"call.abandoned","type":"call.queued","call_id":"c","queue":"q"}',
        b'{"type":"call.queued","schema_version":1,"event_id":"e","occurred_at":'
        b'"2026-11-30T13:00:01Z","site":"s","call_id":"c","queue":"q","type":"call.answered"}',
        # Whitespace, a BOM, trailing bytes, a non-object.
        b' {"schema_version":1,"event_id":"e","occurred_at":"2026-11-30T13:00:01Z","site":"s",'
        b'"type":"call.queued","call_id":"c","queue":"q"} ',
        b'\xef\xbb\xbf{"schema_version":1,"event_id":"e","occurred_at":"2026-11-30T13:00:01Z",'
        b'"site":"s","type":"call.queued","call_id":"c","queue":"q"}',
        b'{"schema_version":1,"event_id":"e","occurred_at":"2026-11-30T13:00:01Z","site":"s",'
        b'"type":"call.queued","call_id":"c","queue":"q"}x',
        b'[{"type":"call.queued"}]',
        # An integer past the 4,300 digits the models' parser reads, where a field is
        # unknown (msgspec skips it), and NaN and Infinity there (not JSON).
        b'{"schema_version":1,"event_id":"e","occurred_at":"2026-11-30T13:00:01Z","site":"s",'
        b'"type":"call.queued","call_id":"c","queue":"q","x":' + b"9" * 4301 + b"}",
        b'{"schema_version":1,"event_id":"e","occurred_at":"2026-11-30T13:00:01Z","site":"s",'
        b'"type":"call.queued","call_id":"c","queue":"q","x":NaN}',
        b'{"schema_version":1,"event_id":"e","occurred_at":"2026-11-30T13:00:01Z","site":"s",'
        b'"type":"call.queued","call_id":"c","queue":"q","x":[-Infinity]}',
        b'{"schema_version":true,"event_id":"e","occurred_at":"2026-11-30T13:00:01Z","site":"s",'
        b'"type":"call.queued","call_id":"c","queue":"q"}',
        # Invalid UTF-8 in a name, and in a field msgspec skips unread.
        b'{"schema_version":1,"event_id":"e","occurred_at":"2026-11-30T13:00:01Z","site":"s",'
        b'"type":"call.queued","call_id":"c","queue":"q\xff"}',
        b'{"schema_version":1,"event_id":"e","occurred_at":"2026-11-30T13:00:01Z","site":"s",'
        b'"type":"call.queued","call_id":"c","queue":"q","note":"\xc3\x28"}',
    ],
)
def test_records_decoders_are_known_to_read_differently(text: bytes) -> None:
    same_as_models(text)


def test_every_struct_has_its_generated_model_with_the_same_fields_and_defaults() -> None:
    assert sorted(EVENT_STRUCTS) == list(EVENT_TYPES) == sorted(MODELS)
    for tag, model in MODELS.items():
        assert model.__name__ == EVENT_STRUCTS[tag].__name__
        mirror = {f.name: f for f in structs.fields(EVENT_STRUCTS[tag])}
        fields = {n: f for n, f in model.model_fields.items() if n != "type"}
        assert set(mirror) == set(fields), model.__name__
        for name, info in fields.items():
            assert mirror[name].required == info.is_required(), (model.__name__, name)
            if not info.is_required():
                assert mirror[name].default == info.default, (model.__name__, name)

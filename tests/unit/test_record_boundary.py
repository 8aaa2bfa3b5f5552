"""One record cannot stop the stream: whatever it holds, and whatever it makes callpulse raise,
it is rejected alone, with a reason, and the next record is applied."""

from __future__ import annotations

import json
from typing import Any

import pytest
import structlog

from callpulse import build
from callpulse.core.events import NOT_IN_NAMES
from callpulse.core.ingest import (
    MAX_DEPTH,
    DecodeError,
    Ingest,
    RawRecord,
    decode,
    fast_decode,
    too_deep,
)
from callpulse.core.monitor import Monitor, MonitorConfig, Outcome
from callpulse.rejections import RejectionLog
from callpulse.sources.replay import event_time

from .events import raw

NOW = 1_800_000_000.0


def queued(**extra: Any) -> dict[str, Any]:
    return json.loads(raw("call.queued", NOW, call_id="c1", queue="billing")) | extra


def with_field(text: str) -> bytes:
    """A valid call.queued whose unknown field ``x`` is ``text``, written as it is."""
    return json.dumps(queued(x="@@")).encode().replace(b'"@@"', text.encode())


# --- nesting --------------------------------------------------------------------------


@pytest.mark.parametrize("depth", [1_000, 100_000, 1_000_000])
@pytest.mark.parametrize("kind", ["[]", "{}"])
def test_deep_nesting_is_rejected_as_invalid_json_whatever_the_depth(depth: int, kind: str) -> None:
    opener, closer = kind
    inner = '{"a":' * depth + "1" + "}" * depth if kind == "{}" else opener * depth + closer * depth
    with pytest.raises(DecodeError) as rejected:
        decode(with_field(inner), max_bytes=1 << 24)
    assert rejected.value.reason == "invalid_json"
    assert f"deeper than {MAX_DEPTH}" in rejected.value.detail


def test_nesting_up_to_the_limit_is_an_unknown_field_like_any_other() -> None:
    # The envelope is one level: x may nest MAX_DEPTH - 1 more.
    fits = "[" * (MAX_DEPTH - 1) + "]" * (MAX_DEPTH - 1)
    assert decode(with_field(fits), max_bytes=1 << 20).type == "call.queued"
    deeper = "[" * MAX_DEPTH + "]" * MAX_DEPTH
    with pytest.raises(DecodeError, match="deeper than"):
        decode(with_field(deeper), max_bytes=1 << 20)


@pytest.mark.parametrize(
    ("text", "deep"),
    [
        ('"' + "[" * 10_000 + '"', False),  # brackets inside a string do not nest
        ('"\\"' + "[" * 10_000 + '"', False),  # nor after an escaped quote
        ("[" + "[]," * 5_000 + "[]]", False),  # wide, not deep
        ("[" * 40 + "]" * 39, True),  # never closes: a decoder would recurse first
        ("[{" * 20 + "}]" * 20, True),  # arrays and objects nest alike
        ("[" + "[" * 20 + "1," * 3 + "[" * 20 + "]" * 41, True),  # no run of openers is long
        ("[]" * 40 + "]", False),  # shallow and broken: the decoder says so itself
    ],
)
def test_depth_is_measured_outside_strings(text: str, deep: bool) -> None:
    assert too_deep(with_field(text)) is deep


def test_a_deep_record_costs_no_more_than_its_bytes_not_a_stack() -> None:
    # 256 KiB of brackets (the default max_record_bytes) are judged without recursing.
    value = with_field("[" * 131_000 + "]" * 131_000)
    assert too_deep(value)
    with pytest.raises(DecodeError):
        decode(value, max_bytes=1 << 20)


# --- names ----------------------------------------------------------------------------

FORBIDDEN = [chr(c) for lo, hi in NOT_IN_NAMES for c in (lo, hi)]


@pytest.mark.parametrize("char", FORBIDDEN, ids=lambda c: f"U+{ord(c):04X}")
@pytest.mark.parametrize("escaped", [False, True], ids=["raw", "escaped"])
def test_names_with_controls_or_bidi_overrides_are_rejected(char: str, escaped: bool) -> None:
    for field in ("queue", "call_id", "event_id"):
        body = queued(**{field: f"bill{char}ing"})
        value = json.dumps(body, ensure_ascii=escaped).encode()
        if not escaped and ord(char) < 0x20:
            value = value.replace(json.dumps(char)[1:-1].encode(), char.encode())  # raw, as sent
        with pytest.raises(DecodeError) as rejected:
            decode(value, max_bytes=1 << 20)
        assert rejected.value.reason in {"invalid_schema", "invalid_json"}


@pytest.mark.parametrize("name", ["Ventes-Français", "東京コール", "sales 👩‍💼", "ñ" * 256])
def test_names_beyond_ascii_that_show_as_themselves_take_the_fast_path(name: str) -> None:
    value = json.dumps(queued(queue=name), ensure_ascii=False).encode()
    event = fast_decode(value)
    assert event is not None
    assert decode(value, max_bytes=1 << 20) == event


# --- the boundary in Ingest ----------------------------------------------------------

RAISED = [
    RecursionError("maximum recursion depth exceeded"),
    MemoryError(),
    ValueError("a value"),
    OverflowError("a number"),
    KeyError("a bug"),
]


class Raising(Monitor):
    """A monitor whose apply raises ``error`` for call c-bad: a defect, as the ingest sees it."""

    error: BaseException = ValueError()

    def apply(self, event: Any, replay: bool = False) -> Outcome:
        if getattr(event, "call_id", None) == "c-bad":
            raise self.error
        return super().apply(event, replay)


@pytest.mark.parametrize("error", RAISED, ids=lambda e: type(e).__name__)
def test_whatever_the_monitor_raises_rejects_that_record_alone(error: BaseException) -> None:
    monitor = Raising(MonitorConfig(), now=NOW)
    monitor.error = error
    ingest = Ingest(monitor)
    values = [
        raw("call.queued", NOW, call_id="c1", queue="billing"),
        raw("call.queued", NOW, call_id="c-bad", queue="billing"),
        raw("call.queued", NOW, call_id="c2", queue="billing"),
    ]
    rejected = ingest.process([RawRecord(v, offset=i) for i, v in enumerate(values)])
    [rejection] = rejected
    assert (rejection.reason, rejection.record.offset) == ("processing_error", 1)
    assert rejection.detail.startswith(f"monitor: {type(error).__name__}")
    assert rejection.error is error
    assert ingest.errors["monitor"] == 1
    assert ingest.invalid["processing_error"] == 1
    assert monitor.stats.events_by_type == {"call.queued": 2}


@pytest.mark.parametrize("error", RAISED, ids=lambda e: type(e).__name__)
def test_whatever_an_adapter_raises_rejects_that_record_alone(error: BaseException) -> None:
    ingest = Ingest(Monitor(MonitorConfig(), now=NOW))

    def translate(record: RawRecord) -> list[RawRecord]:
        if record.value == b"bad":
            raise error
        return [RawRecord(raw("call.queued", NOW, call_id="c", queue="q"), topic="pbx")]

    ingest.translators["pbx"] = translate
    records = [RawRecord(v, topic="pbx", offset=i) for i, v in enumerate([b"ok", b"bad"])]
    [rejection] = ingest.process(records)
    assert (rejection.reason, rejection.record.offset) == ("processing_error", 1)
    assert ingest.errors == {"adapter": 1, "decode": 0, "monitor": 0}
    assert ingest.monitor.stats.events_by_type == {"call.queued": 1}


@pytest.mark.skipif(
    build.compiled(),
    reason="compiled, the ingest calls decode directly: patching the module cannot reach it",
)
def test_a_decoder_that_raises_rejects_that_record_alone(monkeypatch: pytest.MonkeyPatch) -> None:
    from callpulse.core import ingest as module

    real = module.decode

    def decode_or_raise(value: bytes | None, max_bytes: int) -> Any:
        if value == b"poison":
            raise RecursionError("a decoder's own stack")
        return real(value, max_bytes)

    monkeypatch.setattr(module, "decode", decode_or_raise)
    ingest = Ingest(Monitor(MonitorConfig(), now=NOW))
    good = raw("call.queued", NOW, call_id="c1", queue="billing")
    [rejection] = ingest.process([RawRecord(b"poison"), RawRecord(good)])
    assert rejection.reason == "processing_error"
    assert ingest.errors["decode"] == 1
    assert ingest.monitor.stats.events_by_type == {"call.queued": 1}


def test_a_defect_is_logged_with_its_traceback_once_per_kind() -> None:
    monitor = Raising(MonitorConfig(), now=NOW)
    monitor.error = KeyError("a bug")
    ingest = Ingest(monitor)
    log = RejectionLog()
    bad = [raw("call.queued", NOW, call_id="c-bad", queue="q") for _ in range(3)]
    with structlog.testing.capture_logs() as logged:
        for value in bad:
            log(ingest.process([RawRecord(value)]))
        log(ingest.process([RawRecord(b"{broken")]))
    events = [(e["event"], e["reason"], "exc_info" in e) for e in logged]
    assert events == [
        ("record_processing_failed", "processing_error", True),
        ("record_rejected", "processing_error", False),
        ("record_rejected", "processing_error", False),
        ("record_rejected", "invalid_json", False),
    ]


def test_the_replay_clock_reads_no_time_from_a_record_it_cannot_read() -> None:
    assert event_time(with_field("[" * 100_000 + "]" * 100_000)) is None
    assert event_time(b'{"occurred_at": "9999-12-31T23:59:59+00:00"}') is not None


def test_a_record_re_read_to_rebuild_state_is_not_rejected_twice() -> None:
    # Its first reader counted it and put it on the dead-letter topic; a restart or a
    # rebalance re-reads it (replay) and must not do either again.
    ingest = Ingest(Monitor(MonitorConfig(), now=NOW))
    values = [b"{broken", with_field("[" * 1000 + "]" * 1000), b"x" * 300_000]
    again = [RawRecord(v, offset=i, replay=True) for i, v in enumerate(values)]
    assert ingest.process(again) == []
    assert sum(ingest.invalid.values()) == 0
    first = [RawRecord(v, offset=i) for i, v in enumerate(values)]
    assert [r.reason for r in ingest.process(first)] == ["invalid_json", "invalid_json", "oversize"]


@pytest.mark.parametrize(
    ("kind", "extra"),
    [
        ("call.answered", {"agent_id": "a1"}),
        ("call.abandoned", {}),
        ("call.callback_requested", {}),
    ],
)
def test_a_wait_the_windows_refuse_leaves_nothing_of_its_event(
    kind: str, extra: dict[str, Any]
) -> None:
    # 1e17 s is 1e20 ms: past what a bucket keeps (2**63 ms over its 181 slots). The record
    # is rejected, and the queue's totals and waiting calls are as if it had never come.
    ingest = Ingest(Monitor(MonitorConfig(), now=NOW))
    ingest.process([RawRecord(raw("call.queued", NOW - 5, call_id="c1", queue="billing"))])
    before = ingest.monitor.queue_views()[0]
    refused = raw(kind, NOW - 1, call_id="c1", queue="billing", wait_seconds=1e17, **extra)
    [rejection] = ingest.process([RawRecord(refused)])
    assert rejection.reason == "processing_error"
    assert "does not fit" in rejection.detail
    ingest.monitor.tick(NOW)
    after = ingest.monitor.queue_views()[0]
    assert after.totals == before.totals
    assert after.calls_waiting == before.calls_waiting == 1
    assert [w.answered for w in after.windows] == [0, 0, 0]

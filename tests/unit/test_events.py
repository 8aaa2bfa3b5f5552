"""Events v1: every type decodes, every rule of docs/events.md rejects with its reason."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from callpulse.cli import main
from callpulse.core.event_schema import json_schema
from callpulse.core.events import EVENT_TYPES, PRINTABLE, SITE_PATTERN
from callpulse.core.ingest import DecodeError, decode

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = ROOT / "docs" / "examples" / "events-v1.jsonl"
SCHEMA = ROOT / "docs" / "events-v1.schema.json"


def examples() -> list[bytes]:
    return [line for line in EXAMPLES.read_bytes().splitlines() if line.strip()]


def test_examples_cover_every_type_and_all_decode() -> None:
    decoded = [decode(line, 1 << 20) for line in examples()]
    assert sorted(e.type for e in decoded) == sorted(EVENT_TYPES)


def test_published_schema_is_the_one_derived_from_the_structs(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert json.loads(SCHEMA.read_text()) == json_schema(), (
        "docs/events-v1.schema.json is stale: regenerate it with `callpulse schema`"
    )
    assert main(["schema"]) == 0
    assert capsys.readouterr().out == SCHEMA.read_text()


def test_schema_keeps_the_rules_msgspec_leaves_to_the_decoder() -> None:
    # The printable rule and the site's characters are declared on the Structs for the
    # schema and the models, not run by msgspec: the published schema must still say them.
    answered = json_schema()["$defs"]["CallAnswered"]["properties"]
    assert answered["queue"]["pattern"] == PRINTABLE
    assert answered["event_id"]["pattern"] == PRINTABLE
    assert answered["site"]["pattern"] == SITE_PATTERN
    assert answered["schema_version"] == {"const": 1, "type": "integer"}
    assert answered["type"] == {"const": "call.answered", "type": "string"}


def valid() -> dict[str, object]:
    return json.loads(examples()[1])  # a call.answered


def reason_of(body: object) -> str:
    with pytest.raises(DecodeError) as info:
        decode(json.dumps(body).encode() if not isinstance(body, bytes) else body, 4096)
    return info.value.reason


def test_unknown_fields_are_accepted() -> None:
    body = valid() | {"vendor_extra": {"nested": True}}
    assert decode(json.dumps(body).encode(), 4096).type == "call.answered"


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        ({"type": "call.teleported"}, "unknown_type"),
        ({"schema_version": 2}, "unsupported_version"),
        ({"wait_seconds": -1}, "invalid_schema"),
        ({"wait_seconds": "12"}, "invalid_schema"),
        ({"occurred_at": "2026-11-22T14:00:00"}, "invalid_schema"),  # no offset
        ({"occurred_at": "yesterday"}, "invalid_schema"),
        ({"site": "lon 1"}, "invalid_schema"),
        ({"site": "x" * 65}, "invalid_schema"),
        ({"event_id": ""}, "invalid_schema"),
        ({"event_id": "e" * 129}, "invalid_schema"),
    ],
)
def test_rule_violations(change: dict[str, object], reason: str) -> None:
    assert reason_of(valid() | change) == reason


def test_missing_fields() -> None:
    body = valid()
    del body["agent_id"]
    assert reason_of(body) == "invalid_schema"
    body = valid()
    del body["type"]
    assert reason_of(body) == "invalid_schema"
    body = valid()
    del body["schema_version"]
    assert reason_of(body) == "invalid_schema"


@pytest.mark.parametrize("value", [b"{", b"not json", b"\xff\xfe\x00", b""])
def test_not_json(value: bytes) -> None:
    assert reason_of(value) == "invalid_json"


def test_not_an_object() -> None:
    assert reason_of([1, 2]) == "invalid_schema"


def test_oversize_is_refused_before_parsing() -> None:
    big = valid() | {"padding": "x" * 5000}
    assert reason_of(big) == "oversize"


def test_tombstone_has_no_value() -> None:
    with pytest.raises(DecodeError) as info:
        decode(None, 4096)
    assert info.value.reason == "invalid_json"


@pytest.mark.parametrize(
    ("event_type", "field", "bad"),
    [
        ("media.quality", "mos", 5.5),
        ("media.quality", "packet_loss_ratio", 1.5),
        ("call.setup", "sip_code", 99),
        ("call.setup", "sip_code", 100),  # provisional responses are not setup results
        ("call.setup", "sip_code", 183),
        ("call.setup", "sip_code", 700),
        ("trunk.status", "channels_total", 0),
        ("ivr.ports", "ports_total", 0),
        ("agent.state", "state", "sleeping"),
        ("queue.snapshot", "calls_waiting", 1.5),
    ],
)
def test_ranges(event_type: str, field: str, bad: object) -> None:
    [line] = [json.loads(x) for x in examples() if json.loads(x)["type"] == event_type]
    assert reason_of(line | {field: bad}) == "invalid_schema"


@pytest.mark.parametrize("name", ["bill\x1b[31ming", "a\nb", "tab\there", "nul\x00", "del\x7f"])
def test_names_with_control_characters_are_invalid(name: str) -> None:
    # A name becomes a label value, a log field and terminal output: an escape sequence in a
    # queue name must not reach an engineer's terminal.
    [line] = [json.loads(x) for x in examples() if json.loads(x)["type"] == "call.queued"]
    assert reason_of(line | {"queue": name}) == "invalid_schema"
    assert reason_of(line | {"event_id": name}) == "invalid_schema"


def test_names_may_be_any_printable_unicode() -> None:
    [line] = [json.loads(x) for x in examples() if json.loads(x)["type"] == "call.queued"]
    assert decode(json.dumps(line | {"queue": "facturación / 請求"}).encode(), 4096).queue


def _media(**fields: object) -> dict[str, object]:
    [line] = [json.loads(x) for x in examples() if json.loads(x)["type"] == "media.quality"]
    measures = {"mos", "jitter_ms", "packet_loss_ratio", "score", "score_kind"}
    kept = {k: v for k, v in line.items() if k not in measures}
    return kept | fields


@pytest.mark.parametrize(
    "fields",
    [
        {"mos": 4.1},
        {"jitter_ms": 3.0},
        {"packet_loss_ratio": 0.0},
        {"score": 4.5, "score_kind": "freeswitch_flaws"},
        {"score": 1.0, "score_kind": "connect_quality"},
        {"score": 0.0, "score_kind": "asterisk_mes"},
        {"score": 100, "score_kind": "asterisk_mes", "packet_loss_ratio": 0.1},
    ],
)
def test_media_quality_carries_what_was_measured(fields: dict[str, object]) -> None:
    event = decode(json.dumps(_media(**fields)).encode(), 4096)
    for name, value in fields.items():
        assert getattr(event, name) == value


@pytest.mark.parametrize(
    ("fields", "why"),
    [
        ({}, "no measure"),
        ({"rtt_ms": 40.0}, "no measure"),  # nothing aggregated: not a quality measure
        ({"score": 4.0}, "score and score_kind"),
        ({"score_kind": "asterisk_mes", "mos": 4.0}, "score and score_kind"),
        ({"score": 4.6, "score_kind": "freeswitch_flaws"}, "outside freeswitch_flaws"),
        ({"score": 0.5, "score_kind": "connect_quality"}, "outside connect_quality"),
        ({"score": 5.5, "score_kind": "connect_quality"}, "outside connect_quality"),
        ({"score": 101, "score_kind": "asterisk_mes"}, "score"),
        ({"score": 3.0, "score_kind": "e_model"}, "score_kind"),
    ],
)
def test_media_quality_without_a_measure_or_with_a_score_off_its_scale(
    fields: dict[str, object], why: str
) -> None:
    with pytest.raises(DecodeError) as info:
        decode(json.dumps(_media(**fields)).encode(), 4096)
    assert info.value.reason == "invalid_schema"
    assert why in info.value.detail


def test_a_media_quality_an_adapter_makes_is_checked_alike() -> None:
    from callpulse.core.event_checks import InvalidEventError, make

    body = _media(score=4.8, score_kind="freeswitch_flaws", occurred_at="2026-11-22T14:06:30Z")
    with pytest.raises(InvalidEventError, match="outside freeswitch_flaws"):
        make(body)

"""SIP proxies' accounting records to events v1: Kamailio's acc_json objects and OpenSIPS'
acc events as event_kafka publishes them. The records follow the modules' sources
(docs/adapters-sip-acc.md, "Sources"): every core attribute a string, ``time`` a number;
every event made goes through the real decoder, so it is valid v1."""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from callpulse.adapters import records
from callpulse.adapters.base import AdapterError
from callpulse.adapters.kamailio_acc import KamailioAcc
from callpulse.adapters.opensips_acc import OpenSipsAcc
from callpulse.adapters.sip_acc import SipAccOptions
from callpulse.config import FormatSettings
from callpulse.core.ingest import RawRecord

from .adapters import translated

T = 1_764_000_000  # 2025-11-24T16:00:00Z
FORMATS = ["kamailio-acc", "opensips-acc"]
ADAPTERS = {"kamailio-acc": KamailioAcc, "opensips-acc": OpenSipsAcc}


def fields(**given: object) -> dict[str, object]:
    """An INVITE answered through gateway ``carrier-a`` (``acc_extra "gw=$avp(gw)"``), with
    ``given`` changed (None removes a field)."""
    core: dict[str, object] = {
        "method": "INVITE", "from_tag": "7fa3c1d2", "to_tag": "as5e0b1c2d",
        "callid": "3848276298220188511@10.0.0.5", "sip_code": "200", "sip_reason": "OK",
        "time": T, "gw": "carrier-a",
    }  # fmt: skip
    core.update(given)
    return {k: v for k, v in core.items() if v is not None}


def record(fmt: str, event: str = "E_ACC_EVENT", **given: object) -> bytes:
    """One record of ``fmt``: acc_json's object, or event_kafka's notification of
    ``event``."""
    attrs = fields(**given)
    if fmt == "kamailio-acc":
        return json.dumps(attrs).encode()
    return json.dumps({"jsonrpc": "2.0", "method": event, "params": attrs}).encode()


def adapter(fmt: str, **options: Any) -> KamailioAcc | OpenSipsAcc:
    chosen = {"trunk_attribute": "gw", **options}
    return ADAPTERS[fmt](SipAccOptions(site="lon1", **chosen))


def setups(fmt: str, *records_: bytes, **options: Any) -> list[dict[str, Any]]:
    """The ``call.setup`` events ``records_`` yield (an answered INVITE also opens a channel:
    its ``trunk.status`` is tested below)."""
    events = translated(adapter(fmt, **options), *records_)
    return [e for e in events if e["type"] == "call.setup"]


def rejected(fmt: str, data: bytes, **options: Any) -> str:
    """What the adapter says of a record it must reject as ``invalid_<fmt>``."""
    with pytest.raises(AdapterError) as caught:
        adapter(fmt, **options).translate(data)
    assert caught.value.reason == f"invalid_{fmt}"
    assert caught.value.detail.isprintable()  # it reaches logs and terminals
    assert len(caught.value.detail) < 300
    return caught.value.detail


# --- outcomes -----------------------------------------------------------------------------


@pytest.mark.parametrize("fmt", FORMATS)
def test_an_answered_invite_is_a_setup_on_its_gateway(fmt: str) -> None:
    [event] = setups(fmt, record(fmt))
    assert event["type"] == "call.setup"
    assert event["site"] == "lon1"
    assert event["occurred_at"] == "2025-11-24T16:00:00.000Z"
    assert (event["trunk_id"], event["call_id"], event["sip_code"]) == (
        "carrier-a", "3848276298220188511@10.0.0.5", 200
    )  # fmt: skip
    assert event.get("post_dial_delay_ms") is None  # no record carries the first 18x


@pytest.mark.parametrize("fmt", FORMATS)
@pytest.mark.parametrize(
    ("code", "reason"),
    [(487, "Request Terminated"), (486, "Busy Here"), (503, "Service Unavailable"),
     (404, "Not Found"), (603, "Decline"), (302, "Moved Temporarily")],
)  # fmt: skip
def test_a_failed_invite_keeps_its_final_code(fmt: str, code: int, reason: str) -> None:
    data = record(fmt, "E_ACC_MISSED_EVENT", sip_code=str(code), sip_reason=reason, to_tag="")
    [event] = setups(fmt, data)
    assert event["sip_code"] == code


@pytest.mark.parametrize("fmt", FORMATS)
def test_a_code_written_as_a_number_reads_as_the_string_the_proxy_writes(fmt: str) -> None:
    as_text = setups(fmt, record(fmt, sip_code="486"))
    as_number = setups(fmt, record(fmt, sip_code=486))
    assert as_text[0]["sip_code"] == as_number[0]["sip_code"] == 486
    assert as_text[0]["event_id"] == as_number[0]["event_id"]  # one fact, one id


@pytest.mark.parametrize("fmt", FORMATS)
def test_a_cancelled_call_is_its_invites_487_and_the_cancel_is_ignored(fmt: str) -> None:
    target = adapter(fmt)
    cancel = record(fmt, method="CANCEL", sip_code="200")  # the CANCEL's own transaction
    invite = record(fmt, "E_ACC_MISSED_EVENT", sip_code="487", sip_reason="Request Terminated")
    events = translated(target, cancel, invite)
    assert [e["sip_code"] for e in events] == [487]
    assert dict(target.ignored) == {"CANCEL": 1}


@pytest.mark.parametrize("fmt", FORMATS)
def test_other_methods_and_provisional_codes_are_counted_not_setups(fmt: str) -> None:
    target = adapter(fmt)
    kinds = [("BYE", "200"), ("REGISTER", "401"), ("OPTIONS", "200"), ("bye", "200"),
             ("FOO", "200"), ("INVITE", "183")]  # fmt: skip
    got = translated(target, *(record(fmt, method=m, sip_code=c) for m, c in kinds))
    assert got == []
    assert dict(target.ignored) == {"BYE": 2, "REGISTER": 1, "OPTIONS": 1, "_other": 1,
                                    "provisional": 1}  # fmt: skip


@pytest.mark.parametrize("fmt", FORMATS)
def test_one_final_response_accounted_twice_counts_once(fmt: str) -> None:
    # acc's missed-call flag and its failed-transaction flag both set: two records (two
    # events for OpenSIPS) of the one 486.
    missed = record(fmt, "E_ACC_MISSED_EVENT", sip_code="486", sip_reason="Busy Here")
    failed = record(fmt, "E_ACC_EVENT", sip_code="486", sip_reason="Busy Here", extra="x")
    first, second = setups(fmt, missed, failed)
    assert first["event_id"] == second["event_id"]
    # Serial forking: the first gateway's 503, then another gateway's 200, are two setups.
    retried = setups(fmt, record(fmt, sip_code="503"), record(fmt, gw="carrier-b"))
    assert retried[0]["event_id"] != retried[1]["event_id"]


@pytest.mark.parametrize("fmt", FORMATS)
def test_without_a_callid_each_record_is_its_own_setup(fmt: str) -> None:
    one, two = setups(fmt, record(fmt, callid=None), record(fmt, callid=None, time=T + 1))
    assert "call_id" not in one or one["call_id"] is None
    assert one["event_id"] != two["event_id"]


# --- the trunk ----------------------------------------------------------------------------


@pytest.mark.parametrize("fmt", FORMATS)
def test_without_the_trunk_attribute_a_setup_is_on_the_default_trunk(fmt: str) -> None:
    assert setups(fmt, record(fmt, gw=None))[0]["trunk_id"] == "proxy"
    assert setups(fmt, record(fmt, gw=""), default_trunk="sbc1")[0]["trunk_id"] == "sbc1"
    # No trunk_attribute configured: every setup on the default trunk, whatever it carries.
    assert setups(fmt, record(fmt), trunk_attribute="")[0]["trunk_id"] == "proxy"


@pytest.mark.parametrize("fmt", FORMATS)
def test_a_trunk_that_is_no_name_rejects_the_record(fmt: str) -> None:
    assert "gw must be a string" in rejected(fmt, record(fmt, gw=7))
    assert "at most 256" in rejected(fmt, record(fmt, gw="g" * 300))
    assert "U+001B" in rejected(fmt, record(fmt, gw="carrier\x1b[31m"))


@pytest.mark.parametrize("trunk", ["a\nb", "", "t" * 257])
def test_a_default_trunk_that_is_no_name_is_refused_by_the_settings(trunk: str) -> None:
    with pytest.raises(ValueError, match="default_trunk"):
        FormatSettings(format="kamailio-acc", site="lon1", default_trunk=trunk)
    with pytest.raises(AdapterError, match="default_trunk"):  # and by the adapter itself
        adapter("kamailio-acc", default_trunk=trunk)


# --- time ---------------------------------------------------------------------------------


@pytest.mark.parametrize("fmt", FORMATS)
@pytest.mark.parametrize(
    ("written", "expected"),
    [
        (T, "2025-11-24T16:00:00.000Z"),  # acc_time_mode 0 and 1, OpenSIPS
        (T + 0.25, "2025-11-24T16:00:00.250Z"),  # acc_time_mode 2
        (str(T), "2025-11-24T16:00:00.000Z"),
        ("2025-11-24 17:00:00", "2025-11-24T16:00:00.000Z"),  # mode 3, local time in Paris
        ("2025-11-24 16:00:00+00:00", "2025-11-24T16:00:00.000Z"),
    ],
)
def test_each_time_mode_reads(fmt: str, written: object, expected: str) -> None:
    [event] = setups(fmt, record(fmt, time=written), timezone="Europe/Paris")
    assert event["occurred_at"] == expected


@pytest.mark.parametrize("fmt", FORMATS)
@pytest.mark.parametrize("written", [None, "yesterday", True, 1e300, -5, "9" * 5000, [T]])
def test_a_time_that_is_none_rejects_the_record(fmt: str, written: object) -> None:
    assert "time" in rejected(fmt, record(fmt, time=written))


# --- hostile records ----------------------------------------------------------------------


@pytest.mark.parametrize("fmt", FORMATS)
@pytest.mark.parametrize(
    "code", [0, "0", 1000, "1000", "99", "abc", "2OO", True, 200.0, "200.0", "", None,
             "٢٠٠", "2" * 10_000, {"code": 200}],
)  # fmt: skip
def test_a_code_that_is_no_status_code_rejects_the_record(fmt: str, code: object) -> None:
    assert "sip_code must be a SIP status code" in rejected(fmt, record(fmt, sip_code=code))


@pytest.mark.parametrize("fmt", FORMATS)
@pytest.mark.parametrize(
    ("given", "said"),
    [
        ({"method": 1}, "method must be a string"),
        ({"method": None}, "no method"),
        ({"callid": ["x"]}, "callid must be a string"),
        ({"callid": "c" * 257}, "at most 256"),
        ({"callid": "c\u202e1"}, "U+202E"),
        ({"callid": "\ud800"}, "U+D800"),
    ],
)
def test_a_field_of_the_wrong_type_or_shape_rejects_the_record(
    fmt: str, given: dict[str, object], said: str
) -> None:
    assert said in rejected(fmt, record(fmt, **given))


@pytest.mark.parametrize("fmt", FORMATS)
@pytest.mark.parametrize(
    "data", [b"", b"not json", b"[1, 2]", b'"INVITE"', b"\xff\xfe", b"{" * 100_000,
             b'{"method": "INVITE", "sip_code": NaN}', b"null"],
)  # fmt: skip
def test_what_is_no_record_is_rejected(fmt: str, data: bytes) -> None:
    rejected(fmt, data)


def test_an_opensips_event_without_params_or_name_is_rejected() -> None:
    base = {"jsonrpc": "2.0", "method": "E_ACC_CDR"}
    assert "no params" in rejected("opensips-acc", json.dumps(base).encode())
    bad = {**base, "params": ["INVITE", "200"]}  # parameters without names: an array
    assert "no params" in rejected("opensips-acc", json.dumps(bad).encode())
    assert "no name" in rejected("opensips-acc", json.dumps({"jsonrpc": "2.0"}).encode())


def test_each_format_refuses_the_others_record_rather_than_ignoring_it() -> None:
    # Read as an ignored kind ("INVITE" as an event name), the wrong format would say nothing.
    assert "no jsonrpc" in rejected("opensips-acc", record("kamailio-acc"))
    assert "opensips-acc" in rejected("kamailio-acc", record("opensips-acc"))


@settings(max_examples=200, deadline=None)
@given(
    st.sampled_from(FORMATS),
    st.dictionaries(
        st.sampled_from(["method", "sip_code", "time", "callid", "from_tag", "gw"]),
        st.none()
        | st.booleans()
        | st.integers()
        | st.floats()
        | st.text(max_size=300)
        | st.lists(st.integers(), max_size=2),
    ),
)
def test_no_record_raises_anything_but_the_formats_error(
    fmt: str, changed: dict[str, object]
) -> None:
    target = adapter(fmt)
    reason = None
    try:
        translated(target, record(fmt, **changed))
    except AdapterError as exc:  # anything else escapes and fails the test
        reason = exc.reason
    assert reason in {None, f"invalid_{fmt}"}
    # Nothing kept but, at most, the channel of the one answered INVITE.
    assert target.fill()["trunk_legs"] <= 1 / target.channels.max_legs


# --- each format's own records ------------------------------------------------------------


def test_a_kamailio_cdr_is_counted_not_a_second_setup() -> None:
    target = adapter("kamailio-acc")
    cdr = {
        "start_time": f"{T}.000",
        "end_time": f"{T + 95}.120",
        "duration": "95.120",
        "ci": "3848276298220188511@10.0.0.5",
    }  # cdr_extra "ci=$dlg_var(call_id)"
    assert translated(target, json.dumps(cdr).encode()) == []
    assert dict(target.ignored) == {"cdr": 1}


def test_opensips_cdr_and_missed_events_are_setups_and_others_are_counted() -> None:
    target = adapter("opensips-acc")
    cdr = record("opensips-acc", "E_ACC_CDR", duration=95, ms_duration=95120, setuptime=7,
                 created=T - 7)  # fmt: skip
    missed = record("opensips-acc", "E_ACC_MISSED_EVENT", sip_code="480", callid="c2",
                    setuptime=30, created=T)  # fmt: skip
    dialog = json.dumps({"jsonrpc": "2.0", "method": "E_DLG_STATE_CHANGED",
                         "params": {"old_state": 4, "new_state": 5}}).encode()  # fmt: skip
    own = json.dumps({"jsonrpc": "2.0", "method": "E_MY_SCRIPT", "params": {}}).encode()
    events = translated(target, cdr, missed, dialog, own)
    assert [(e["sip_code"], e.get("post_dial_delay_ms")) for e in events] == [
        (200, None),
        (480, None),
    ]
    assert dict(target.ignored) == {"E_DLG_STATE_CHANGED": 1, "_other": 1}


@pytest.mark.parametrize("fmt", FORMATS)
def test_the_settings_build_the_adapter_and_the_ingest_rejects_what_it_cannot_read(
    fmt: str,
) -> None:
    settings_ = FormatSettings(format=fmt, site="lon1", trunk_attribute="gw")
    built = records.build(settings_)
    assert built is not None
    assert built.format == fmt
    translate = records.translator(built)
    setup, status = translate(RawRecord(record(fmt), None, "acc", 0, 1))
    assert (setup.key, setup.event.trunk_id) == (b"lon1", "carrier-a")  # type: ignore[union-attr]
    assert status.event.type == "trunk.status"  # type: ignore[union-attr]
    with pytest.raises(AdapterError) as caught:
        translate(RawRecord(record(fmt, sip_code="1000"), None, "acc", 0, 2))
    assert caught.value.reason == f"invalid_{fmt}"

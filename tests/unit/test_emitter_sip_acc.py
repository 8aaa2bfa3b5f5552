"""The simulator's call setups written as Kamailio's acc_json records and OpenSIPS'
event_kafka notifications, checked against the shapes docs/adapters-sip-acc.md quotes from
the proxies' sources, then read back through the adapters."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import pytest

from callpulse.adapters.kamailio_acc import KamailioAcc
from callpulse.adapters.opensips_acc import OpenSipsAcc
from callpulse.adapters.sip_acc import SipAccOptions
from callpulse.simulation.emitters import emitter_for, trunk_emitter
from callpulse.simulation.emitters.sip_acc import KamailioAccEmitter, OpenSipsAccEmitter

from .adapters import translated
from .test_emitter_twilio import played

CORE = {"method", "from_tag", "to_tag", "callid", "sip_code", "sip_reason", "time", "gw"}


def setup(code: int, pdd: float | None = None) -> dict[str, Any]:
    event = {
        "type": "call.setup", "event_id": "lon1-e7", "site": "lon1",
        "occurred_at": "2025-11-24T16:00:31.640Z", "trunk_id": "carrier-a",
        "call_id": "lon1-c7", "sip_code": code,
    }  # fmt: skip
    return event | ({"post_dial_delay_ms": pdd} if pdd is not None else {})


def test_kamailio_writes_acc_json_as_the_proxy_does() -> None:
    [record] = KamailioAccEmitter(proxy="sbc.lon1").emit(setup(486))
    doc = json.loads(record)
    assert set(doc) == CORE
    # The core attributes are strings, as acc_json writes them; time whole seconds.
    assert doc["method"] == "INVITE"
    assert (doc["sip_code"], doc["sip_reason"]) == ("486", "Busy Here")
    assert doc["time"] == int(datetime(2025, 11, 24, 16, 0, 31, tzinfo=UTC).timestamp())
    assert doc["gw"] == "carrier-a"
    assert doc["callid"] == "lon1-c7@sbc.lon1"


@pytest.mark.parametrize(("code", "event"), [(200, "E_ACC_EVENT"), (503, "E_ACC_MISSED_EVENT")])
def test_opensips_names_the_event_by_the_response(code: int, event: str) -> None:
    [record] = OpenSipsAccEmitter().emit(setup(code))
    doc = json.loads(record)
    assert (doc["jsonrpc"], doc["method"]) == ("2.0", event)
    assert set(doc["params"]) == CORE
    assert doc["params"]["sip_code"] == str(code)


@pytest.mark.parametrize("fmt", ["kamailio-acc", "opensips-acc"])
def test_a_day_of_setups_reads_back_as_the_format_keeps_them(fmt: str) -> None:
    emitter = emitter_for(fmt, "lon1")
    reference = trunk_emitter(emitter_for(fmt, "lon1"))
    trunks = trunk_emitter(emitter)
    assert trunks is not None
    assert reference is not None
    options = SipAccOptions(site="lon1", **trunks.adapter_options)
    adapter = KamailioAcc(options) if fmt == "kamailio-acc" else OpenSipsAcc(options)
    day = [e for e in played("trunk-failure", 40) if e["site"] == "lon1"]
    setups = [e for e in day if e["type"] == "call.setup"]
    assert {e["sip_code"] for e in setups} == {200, 503}  # the outage is in the first 40 min
    # The setups and where each leg ends (its BYE); the gateways' states are
    # test_emitter_trunk_states.py's.
    shown = [e for e in day if e["type"] in (emitter.carries | trunks.watches) - {"trunk.status"}]
    read = [event for e in shown for r in emitter.emit(e) for event in translated(adapter, r)]
    kept = [k for e in shown for k in reference.as_kept(e)]
    back = [event for event in read if event["type"] == "call.setup"]
    kept_setups = [k for k in kept if k["type"] == "call.setup"]
    assert len(back) == len(kept_setups) == len(setups)
    for got, want in zip(back, kept_setups, strict=True):
        assert "post_dial_delay_ms" not in want  # no accounting record holds it
        assert got.get("post_dial_delay_ms") is None
        assert (got["trunk_id"], got["sip_code"]) == (want["trunk_id"], want["sip_code"])
        assert got["call_id"] == f"{want['call_id']}@sbc.lon1"
        # acc's time is whole seconds: the setup counts in the second it happened.
        at = datetime.fromisoformat(want["occurred_at"]).timestamp()
        assert datetime.fromisoformat(got["occurred_at"]).timestamp() == int(at)
    # A channel from each answered INVITE to its BYE: the same counts, in the same order,
    # each in the second its record says.
    counts = [
        [(e["channels_in_use"], int(datetime.fromisoformat(e["occurred_at"]).timestamp()))
         for e in side if e["type"] == "trunk.status"]
        for side in (read, kept)
    ]  # fmt: skip
    assert counts[0] == counts[1]
    assert 1 < max(n for n, _ in counts[0]) < sum(e["sip_code"] == 200 for e in setups)
    assert not adapter.ignored


@pytest.mark.parametrize(
    ("emitter", "method"),
    [(KamailioAccEmitter("sbc.lon1"), "BYE"), (OpenSipsAccEmitter("sbc.lon1"), "E_ACC_EVENT")],
)
def test_an_answered_calls_end_is_its_bye_with_the_invites_call_id_and_no_trunk(
    emitter: KamailioAccEmitter | OpenSipsAccEmitter, method: str
) -> None:
    [invite] = (json.loads(r) for r in emitter.emit(setup(200)))
    hangup = {
        "type": "call.abandoned", "event_id": "lon1-e9", "site": "lon1", "call_id": "lon1-c7",
        "occurred_at": "2025-11-24T16:02:00.900Z", "queue": "billing", "wait_seconds": 60.0,
    }  # fmt: skip
    [bye] = (json.loads(r) for r in emitter.emit(hangup))
    if method == "E_ACC_EVENT":  # a BYE's 200 is a positive final reply
        assert bye["method"] == method
        invite, bye = invite["params"], bye["params"]
    assert bye["method"] == "BYE"
    for key in ("callid", "from_tag", "to_tag"):
        assert bye[key] == invite[key]
    assert (bye["sip_code"], bye["sip_reason"], bye["time"]) == ("200", "OK", 1764000120)
    assert "gw" not in bye  # the INVITE's $avp(gw) is not set in-dialog
    assert emitter.emit(hangup) == []  # one BYE per call

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
    trunks = trunk_emitter(emitter)
    assert trunks is not None
    options = SipAccOptions(site="lon1", **trunks.adapter_options)
    adapter = KamailioAcc(options) if fmt == "kamailio-acc" else OpenSipsAcc(options)
    setups = [e for e in played("trunk-failure", 40) if e["type"] == "call.setup"]
    setups = [e for e in setups if e["site"] == "lon1"]
    assert {e["sip_code"] for e in setups} == {200, 503}  # the outage is in the first 40 min
    read = [event for e in setups for r in emitter.emit(e) for event in translated(adapter, r)]
    # An answered INVITE also opens a channel (trunk.status); no BYE is written, so each
    # 200 leaves its channel open, one more on its trunk each time.
    back = [event for event in read if event["type"] == "call.setup"]
    opened = [event["channels_in_use"] for event in read if event["type"] == "trunk.status"]
    assert opened == list(range(1, sum(e["sip_code"] == 200 for e in setups) + 1))
    kept = [k for e in setups for k in trunks.as_kept(e)]
    assert len(back) == len(kept) == len(setups)
    for got, want in zip(back, kept, strict=True):
        assert "post_dial_delay_ms" not in want  # no accounting record holds it
        assert got.get("post_dial_delay_ms") is None
        assert (got["trunk_id"], got["sip_code"]) == (want["trunk_id"], want["sip_code"])
        assert got["call_id"] == f"{want['call_id']}@sbc.lon1"
        # acc's time is whole seconds: the setup counts in the second it happened.
        at = datetime.fromisoformat(want["occurred_at"]).timestamp()
        assert datetime.fromisoformat(got["occurred_at"]).timestamp() == int(at)
    assert not adapter.ignored

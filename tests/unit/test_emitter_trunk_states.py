"""The simulator's trunk states written as the platforms report their gateways
(FreeSWITCH's sofia::gateway_state, OpenSIPS' E_DROUTING_STATUS) and read back through the
adapters: each change once, and the states the reference (TrunkEmitter.as_kept) keeps."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

import pytest

from callpulse.adapters import records
from callpulse.config import FormatSettings
from callpulse.simulation.emitters import emitter_for, trunk_emitter
from callpulse.simulation.emitters.freeswitch_channel import FreeSwitchChannelEmitter
from callpulse.simulation.emitters.sip_acc import OpenSipsAccEmitter
from callpulse.simulation.emitters.trunk_setups import TrunkStates

from .adapters import body, translated
from .test_emitter_twilio import played

STATE_FORMATS = ["freeswitch-channel", "opensips-acc"]


def status(state: str | None, at: str = "2025-11-24T16:00:15.000Z", **more: Any) -> dict[str, Any]:
    event = {
        "type": "trunk.status", "event_id": f"lon1-{at}", "site": "lon1", "occurred_at": at,
        "trunk_id": "lon1-sip-1", "channels_in_use": 40, "channels_total": 120,
    }  # fmt: skip
    return event | ({"state": state} if state is not None else {}) | more


def test_a_change_is_a_change_once_per_trunk() -> None:
    states = TrunkStates()
    assert states.changed(status("up"))  # a trunk's first state is news
    assert not states.changed(status("up"))  # a heartbeat saying it again is not
    assert states.changed(status("up", trunk_id="lon1-sip-2"))
    assert not states.changed(status(None))  # a status without a state changes nothing
    assert states.changed(status("down"))


def test_the_reference_keeps_the_heartbeat_without_its_state_then_the_change() -> None:
    states = TrunkStates()
    heartbeat, change = states.as_kept(status("down"))
    assert "state" not in heartbeat
    assert heartbeat["channels_total"] == 120
    assert change["state"] == "down"
    # A gateway's state says no count (the trunk's stands) and no capacity.
    assert "channels_in_use" not in change
    assert "channels_total" not in change
    assert change["event_id"] != heartbeat["event_id"]
    assert states.as_kept(status("down")) == [heartbeat]


def test_freeswitch_goes_down_as_sofia_reg_does() -> None:
    emitter = FreeSwitchChannelEmitter(hostname="fs.lon1")
    assert len(emitter.emit(status("up"))) == 1
    assert emitter.emit(status("up")) == []
    failed, waiting = (json.loads(r) for r in emitter.emit(status("down")))
    for event in (failed, waiting):
        assert (event["Event-Name"], event["Event-Subclass"]) == ("CUSTOM", "sofia::gateway_state")
        assert event["Gateway"] == "lon1-sip-1"
        assert event["Event-Date-Timestamp"] == "1764000015000000"
    # A refused REGISTER first (the gateway still UP), then FAIL_WAIT marks it DOWN.
    assert (failed["State"], failed["Ping-Status"], failed["Status"]) == ("FAILED", "UP", "503")
    assert (waiting["State"], waiting["Ping-Status"]) == ("FAIL_WAIT", "DOWN")


def test_opensips_writes_drouting_probing_and_active() -> None:
    emitter = OpenSipsAccEmitter(proxy="sbc.lon1")
    [down] = (json.loads(r) for r in emitter.emit(status("down")))
    [up] = (json.loads(r) for r in emitter.emit(status("up")))
    assert down["method"] == up["method"] == "E_DROUTING_STATUS"
    assert (down["params"]["gwid"], down["params"]["status"]) == ("lon1-sip-1", "probing")
    assert up["params"]["status"] == "active"
    assert set(down["params"]) == {"partition", "gwid", "address", "status", "reason"}


@pytest.mark.parametrize("fmt", STATE_FORMATS)
def test_a_days_trunk_states_read_back_as_the_format_keeps_them(fmt: str) -> None:
    emitter = emitter_for(fmt, "lon1")
    trunks = trunk_emitter(emitter)
    assert trunks is not None
    # Shown the simulated status: carried where the format also counts its own channels.
    assert "trunk.status" in trunks.watches | emitter.carries
    adapter = records.build(FormatSettings(format=fmt, site="lon1", **trunks.adapter_options))
    assert adapter is not None
    day = [e for e in played("trunk-failure", 40) if e["site"] == "lon1"]
    heartbeats = [e for e in day if e["type"] == "trunk.status"]
    assert {e["state"] for e in heartbeats} == {"up", "down"}  # the outage is in it
    got = []
    for event in heartbeats:
        got += translated(adapter, *emitter.emit(event))
        # OpenSIPS' events carry no time: the adapter writes them at its clock's tick.
        at = event["occurred_at"]
        got += [body(e) for e in adapter.flush(datetime.fromisoformat(at).timestamp())]
    kept = [k for e in heartbeats for k in trunks.as_kept(e) if k.get("state") is not None]
    changes = [(e["trunk_id"], e["state"]) for e in got if e.get("state") is not None]
    # The FAILED event before FAIL_WAIT says "up" while the gateway still is: a repeat.
    deduplicated = [c for i, c in enumerate(changes) if i == 0 or changes[i - 1] != c]
    assert deduplicated == [(k["trunk_id"], k["state"]) for k in kept]
    assert [s for _, s in deduplicated] == ["up", "down", "up"]


def test_kamailio_writes_no_state_and_keeps_the_status_as_it_is() -> None:
    emitter = emitter_for("kamailio-acc", "lon1")
    trunks = trunk_emitter(emitter)
    assert trunks is not None
    assert "trunk.status" not in trunks.watches
    event = status("down")
    assert trunks.as_kept(event) == [event]  # it stays events v1, state and all

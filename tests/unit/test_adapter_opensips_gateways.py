"""OpenSIPS' gateway status events (E_DROUTING_STATUS, E_DISPATCHER_STATUS as event_kafka
publishes them) to ``trunk.status`` with a state, a test per event and per pitfall. The
parameters are those drouting.c (dr_raise_event) and dispatch.c add; every event made goes
through the real decoder, so it is valid v1."""

from __future__ import annotations

import json
from typing import Any

import pytest

from callpulse.adapters import opensips_gateways as gateways
from callpulse.adapters.base import AdapterError
from callpulse.adapters.opensips_acc import MAX_PENDING, OpenSipsAcc
from callpulse.adapters.sip_acc import SipAccOptions
from callpulse.config import FormatSettings

from .adapters import body, translated

T = 1_764_000_000.0


def adapter(**trunks: str) -> OpenSipsAcc:
    return OpenSipsAcc(SipAccOptions(site="lon1", trunk_attribute="gw", gateway_trunks=trunks))


def drouting(
    gwid: object = "carrier-a", status: object = "probing", partition: object = "Default"
) -> bytes:
    params = {"partition": partition, "gwid": gwid, "address": "198.51.100.7:5060",
              "status": status, "reason": "negative probing reply"}  # fmt: skip
    return json.dumps({"jsonrpc": "2.0", "method": gateways.DROUTING, "params": params}).encode()


def dispatcher(address: str = "sip:198.51.100.7:5060", status: str = "inactive") -> bytes:
    params = {"group": 1, "address": address, "status": status, "reason": "probing"}
    return json.dumps({"jsonrpc": "2.0", "method": gateways.DISPATCHER, "params": params}).encode()


def ticked(target: OpenSipsAcc, now: float = T) -> list[dict[str, Any]]:
    return [body(e) for e in target.flush(now)]


@pytest.mark.parametrize(
    ("status", "state"),
    [("active", "up"), ("inactive", "down"), ("probing", "down"), ("disabled MI", "down")],
)
def test_a_drouting_gateways_status_is_its_trunks_state_at_the_next_tick(
    status: str, state: str
) -> None:
    target = adapter()
    # The event carries no time: nothing until the clock ticks, then stamped with the tick.
    assert translated(target, drouting(status=status)) == []
    [event] = ticked(target)
    assert event["type"] == "trunk.status"
    assert (event["trunk_id"], event["state"]) == ("carrier-a", state)
    assert event["channels_in_use"] is None  # the calls count the channels, not the state
    assert event["occurred_at"] == "2025-11-24T16:00:00.000Z"
    assert ticked(target, T + 15) == []  # told once


def test_the_latest_change_before_a_tick_stands() -> None:
    target = adapter()
    translated(target, drouting(status="probing"), drouting(status="active"))
    assert [(e["trunk_id"], e["state"]) for e in ticked(target)] == [("carrier-a", "up")]


def test_gateway_trunks_renames_a_drouting_gateway() -> None:
    target = adapter(**{"carrier-a": "lon1-sip-1"})
    translated(target, drouting())
    assert [e["trunk_id"] for e in ticked(target)] == ["lon1-sip-1"]


def test_a_gateway_outside_the_default_partition_is_named_with_its_partition() -> None:
    # A gwid is unique only within its partition: gateway 1 of "pstn" and gateway 1 of
    # "sbc" are two trunks, and one down leaves the other up.
    target = adapter()
    translated(
        target,
        drouting(gwid="1", partition="pstn", status="probing"),
        drouting(gwid="1", partition="sbc", status="active"),
        drouting(gwid="1", status="inactive"),  # the default partition: the gwid alone
    )
    assert sorted((e["trunk_id"], e["state"]) for e in ticked(target)) == [
        ("1", "down"), ("pstn/1", "down"), ("sbc/1", "up")
    ]  # fmt: skip


def test_gateway_trunks_maps_a_partition_qualified_gateway() -> None:
    target = adapter(**{"pstn/1": "lon1-sip-1", "1": "lon1-sip-2"})
    translated(target, drouting(gwid="1", partition="pstn"))
    # The bare gwid's mapping is the default partition's gateway, not this one.
    assert [e["trunk_id"] for e in ticked(target)] == ["lon1-sip-1"]
    translated(target, drouting(gwid="1", partition="sbc"))
    assert [e["trunk_id"] for e in ticked(target, T + 15)] == ["sbc/1"]


def test_an_event_without_a_partition_names_the_gateway_by_its_gwid() -> None:
    # drouting before partitions raised the event with no partition parameter.
    event = json.loads(drouting())
    del event["params"]["partition"]
    target = adapter()
    translated(target, json.dumps(event).encode())
    assert [e["trunk_id"] for e in ticked(target)] == ["carrier-a"]


def test_the_status_carries_no_count_of_the_calls_the_adapter_counts() -> None:
    # A count stamped at the tick would make every count of a backlog, stamped earlier,
    # stale: the calls' own statuses carry it, each at its record's time.
    target = adapter()
    invite = {"method": "INVITE", "from_tag": "7f", "callid": "c1@10.0.0.5", "sip_code": "200",
              "sip_reason": "OK", "time": T, "gw": "carrier-a"}  # fmt: skip
    notification = {"jsonrpc": "2.0", "method": "E_ACC_EVENT", "params": invite}
    translated(target, json.dumps(notification).encode(), drouting())
    [status] = [e for e in ticked(target) if e["state"] is not None]
    assert (status["state"], status["channels_in_use"]) == ("down", None)


def test_a_dispatcher_destination_is_a_trunk_only_where_the_settings_say_so() -> None:
    # A destination is one address of a balanced set, not a trunk: unmapped, it is counted.
    target = adapter(**{"sip:198.51.100.7:5060": "carrier-a"})
    translated(target, dispatcher(), dispatcher("sip:203.0.113.9:5060"))
    assert [(e["trunk_id"], e["state"]) for e in ticked(target)] == [("carrier-a", "down")]
    assert dict(target.ignored) == {gateways.UNMAPPED: 1}


def test_a_status_neither_module_writes_is_ignored_and_counted() -> None:
    target = adapter()
    translated(target, drouting(status="sleeping"), dispatcher(status="probing"))
    assert ticked(target) == []
    assert dict(target.ignored) == {gateways.UNKNOWN_STATUS: 1, gateways.UNMAPPED: 1}


@pytest.mark.parametrize(
    ("record", "says"),
    [
        (drouting(gwid=7), "no gwid string"),
        (drouting(gwid=""), "no gwid string"),
        (drouting(gwid="carrier\x1b[31m"), r"U\+001B"),
        (drouting(gwid="g" * 300), "at most 256"),
        (drouting(partition=7), "no partition string"),
        (drouting(partition=""), "no partition string"),
        (drouting(partition="pstn\x1b[31m"), r"U\+001B"),
        (drouting(status=None), "no status string"),
        (drouting(status=["active"]), "no status string"),
    ],
)
def test_a_hostile_gateway_status_is_rejected(record: bytes, says: str) -> None:
    with pytest.raises(AdapterError, match=says) as caught:
        adapter().translate(record)
    assert caught.value.detail.isprintable()


def test_the_changes_held_until_a_tick_are_bounded() -> None:
    target = adapter()
    translated(target, *(drouting(gwid=f"gw{i}") for i in range(MAX_PENDING + 5)))
    assert target.fill()["gateway_states"] == 1.0
    events = ticked(target)
    assert len(events) == MAX_PENDING
    assert target.dropped_states == 5
    assert events[0]["trunk_id"] == "gw5"  # the oldest went
    assert target.fill()["gateway_states"] == 0.0  # told, and released


def test_a_trunk_in_gateway_trunks_that_is_no_name_is_refused() -> None:
    with pytest.raises(ValueError, match="gateway_trunks"):
        FormatSettings(format="opensips-acc", site="lon1", gateway_trunks={"gw1": "a\nb"})
    with pytest.raises(AdapterError, match="gateway_trunks"):
        adapter(gw1="")

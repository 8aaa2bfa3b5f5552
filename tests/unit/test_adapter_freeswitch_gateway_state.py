"""FreeSWITCH ``sofia::gateway_state`` events to ``trunk.status`` with a state, a test per
header form and per pitfall. Headers as sofia_reg.c fires them
(sofia_reg_fire_custom_gateway_state_event); every event made goes through the real
decoder, so it is valid v1."""

from __future__ import annotations

import json
from collections.abc import Callable
from urllib.parse import quote

import pytest

from callpulse.adapters import freeswitch_gateway_state as gateways
from callpulse.adapters.base import AdapterError
from callpulse.adapters.freeswitch_channel import FreeSwitchChannel, FreeSwitchChannelOptions

from .adapters import translated

T = 1_764_000_000.0


def adapter() -> FreeSwitchChannel:
    return FreeSwitchChannel(FreeSwitchChannelOptions(site="lon1"))


def gateway_event(subclass: str = gateways.SUBCLASS, **headers: str) -> dict[str, str]:
    return {
        "Event-Name": "CUSTOM",
        "Core-UUID": "dfdcfeb2-5c24-4b48-a0ac-a778456d3339",
        "Event-Date-Timestamp": str(int(T * 1e6)),
        "Event-Calling-File": "sofia_reg.c",
        "Event-Subclass": subclass,
    } | {k.replace("_", "-"): v for k, v in headers.items()}


def as_json(**headers: str) -> bytes:
    return json.dumps(gateway_event(**headers)).encode()


def as_plain(**headers: str) -> bytes:
    """``event plain``: values URL-encoded (the subclass's ``::`` as ``%3A%3A``)."""
    lines = [f"{k}: {quote(v, safe='')}" for k, v in gateway_event(**headers).items()]
    return ("\n".join(lines) + "\n\n").encode()


@pytest.mark.parametrize("form", [as_json, as_plain])
@pytest.mark.parametrize(("ping", "state"), [("DOWN", "down"), ("UP", "up")])
def test_ping_status_is_the_trunks_state_in_either_form(
    form: Callable[..., bytes], ping: str, state: str
) -> None:
    [status] = translated(adapter(), form(Gateway="carrier-a", State="REGED", Ping_Status=ping))
    assert status["type"] == "trunk.status"
    assert (status["trunk_id"], status["state"]) == ("carrier-a", state)
    assert status["channels_in_use"] is None  # the legs count the channels, not the state
    assert status["occurred_at"] == "2025-11-24T16:00:00.000Z"
    assert status.get("channels_total") is None  # the capacity is configured, not sent


def test_a_refused_registration_is_down_only_once_freeswitch_marks_the_gateway_down() -> None:
    # sofia_reg.c: a 503 to a REGISTER fires FAILED while the gateway's status is still UP;
    # the next check moves it to FAIL_WAIT and sets it DOWN. Each event says what it is then.
    fs = adapter()
    failed = as_json(Gateway="carrier-a", State="FAILED", Ping_Status="UP", Status="503",
                     Phrase="Service Unavailable")  # fmt: skip
    waiting = as_json(Gateway="carrier-a", State="FAIL_WAIT", Ping_Status="DOWN")
    assert [e["state"] for e in translated(fs, failed, waiting)] == ["up", "down"]


def test_a_gateway_registering_for_the_first_time_does_not_read_as_down() -> None:
    # A gateway's status starts DOWN: FreeSWITCH starting fires UNREGED, TRYING and REGISTER
    # with Ping-Status DOWN (the last with Status 200) before REGED says UP. Read as down,
    # every restart would page for a second.
    fs = adapter()
    starting = [
        as_json(Gateway="carrier-a", State="UNREGED", Ping_Status="DOWN"),
        as_json(Gateway="carrier-a", State="TRYING", Ping_Status="DOWN"),
        as_json(Gateway="carrier-a", State="REGISTER", Ping_Status="DOWN", Status="200",
                Phrase="OK", Register_Network_IP="192.0.2.20", Register_Network_Port="5080"),
        as_json(Gateway="carrier-a", State="REGED", Ping_Status="UP"),
    ]  # fmt: skip
    assert [e["state"] for e in translated(fs, *starting)] == ["up"]
    assert dict(fs.ignored) == {gateways.REGISTERING: 3}
    # A registered gateway re-registering stays UP, and a ping failing while it is
    # registered, or a registration that fails, is down.
    again = [
        as_json(Gateway="carrier-a", State="TRYING", Ping_Status="UP"),
        as_json(Gateway="carrier-a", State="REGED", Ping_Status="DOWN"),
        as_json(Gateway="carrier-a", State="FAIL_WAIT", Ping_Status="DOWN"),
        as_json(Gateway="carrier-a", State="NOREG", Ping_Status="DOWN"),
    ]
    assert [e["state"] for e in translated(fs, *again)] == ["up", "down", "down", "down"]


@pytest.mark.parametrize(
    ("reg", "state"),
    [("REGED", "up"), ("NOREG", "up"), ("FAILED", "down"), ("FAIL_WAIT", "down"),
     ("DOWN", "down"), ("UNREGISTER", "down")],
)  # fmt: skip
def test_without_ping_status_the_registration_state_says_it(reg: str, state: str) -> None:
    [status] = translated(adapter(), as_json(Gateway="carrier-a", State=reg))
    assert status["state"] == state


@pytest.mark.parametrize("reg", ["TRYING", "REGISTER", "UNREGED", "EXPIRED", "TIMEOUT"])
def test_a_registration_under_way_says_nothing_and_is_counted(reg: str) -> None:
    fs = adapter()
    assert translated(fs, as_json(Gateway="carrier-a", State=reg)) == []
    assert dict(fs.ignored) == {gateways.REGISTERING: 1}


@pytest.mark.parametrize(
    "headers", [{"Ping_Status": "INVALID"}, {"Ping_Status": "MAYBE"}, {"State": "LIMBO"}, {}]
)
def test_an_unknown_state_is_ignored_and_counted(headers: dict[str, str]) -> None:
    fs = adapter()
    assert translated(fs, as_json(Gateway="carrier-a", **headers)) == []
    assert dict(fs.ignored) == {gateways.UNKNOWN_STATE: 1}


def test_a_users_state_is_no_trunks_state() -> None:
    # sofia::sip_user_state has a Ping-Status too (REACHABLE...): a registered phone's, not
    # a gateway's. Another CUSTOM event is counted as CUSTOM, as before.
    fs = adapter()
    user = json.dumps(
        gateway_event("sofia::sip_user_state", sip_user="1001", Ping_Status="UNREACHABLE")
    ).encode()
    assert translated(fs, user) == []
    assert dict(fs.ignored) == {"CUSTOM": 1}


def test_the_status_carries_no_count_of_the_legs_the_adapter_counts() -> None:
    # The trunk's count stands as its legs last said it, here or on another topic.
    fs = adapter()
    create = {
        "Event-Name": "CHANNEL_CREATE", "Event-Date-Timestamp": str(int(T * 1e6)),
        "Unique-ID": "a1", "Channel-Name": "sofia/external/+15550100@carrier-a",
        "variable_sip_gateway_name": "carrier-a",
    }  # fmt: skip
    translated(fs, json.dumps(create).encode())
    [status] = translated(fs, as_json(Gateway="carrier-a", Ping_Status="DOWN"))
    assert (status["state"], status["channels_in_use"]) == ("down", None)
    assert fs.channels.in_use() == {"carrier-a": 1}  # the count is kept, not told


@pytest.mark.parametrize(
    ("headers", "says"),
    [
        ({"Ping_Status": "DOWN"}, "Gateway is empty"),
        ({"Gateway": "carrier\u202ea", "Ping_Status": "DOWN"}, "Gateway"),
        ({"Gateway": "g" * 10_000, "Ping_Status": "DOWN"}, "characters long"),
    ],
)
def test_a_gateway_that_is_no_name_rejects_the_event(headers: dict[str, str], says: str) -> None:
    with pytest.raises(AdapterError, match=says):
        adapter().translate(as_json(**headers))


def test_a_gateway_header_that_is_no_string_rejects_the_event() -> None:
    event = gateway_event(Ping_Status="DOWN") | {"Gateway": ["carrier-a"]}
    with pytest.raises(AdapterError, match="Gateway must be a string"):
        adapter().translate(json.dumps(event).encode())


def test_an_event_without_a_time_is_rejected() -> None:
    event = gateway_event(Gateway="carrier-a", Ping_Status="DOWN")
    del event["Event-Date-Timestamp"]
    with pytest.raises(AdapterError, match="no time"):
        adapter().translate(json.dumps(event).encode())

"""Channels in use per trunk from leg starts and ends (adapters/trunk_channels.py), and the
freeswitch-channel adapter counting them from CHANNEL_CREATE to CHANNEL_HANGUP_COMPLETE.
Every status is read through the real decoder: valid v1, with no state and no total."""

from __future__ import annotations

import json
from typing import Any

import pytest

from callpulse.adapters.base import AdapterError, Writer
from callpulse.adapters.freeswitch_channel import FreeSwitchChannel, FreeSwitchChannelOptions
from callpulse.adapters.trunk_channels import MAX_LEGS_PER_CALL, TrunkChannels

from .adapters import body, statuses, translated

T = 1_764_000_000.0


class Counting:
    """A TrunkChannels and the statuses each call writes."""

    def __init__(self, **limits: Any) -> None:
        self.channels = TrunkChannels(**limits)

    def _out(self, at: float) -> Writer:
        return Writer(f"test|{at}".encode(), "lon1", at)

    def open(self, call: str, trunk: str, at: float = T) -> list[tuple[str, int]]:
        out = self._out(at)
        self.channels.open(call, trunk, at, out)
        return statuses([body(e) for e in out.events])

    def close(self, call: str, at: float = T) -> list[tuple[str, int]]:
        out = self._out(at)
        self.channels.close(call, out)
        return statuses([body(e) for e in out.events])

    def expire(self, now: float) -> list[tuple[str, int]]:
        out = self._out(now)
        self.channels.expire(now, out)
        return statuses([body(e) for e in out.events])


def test_each_open_and_close_is_the_trunks_count_after_it() -> None:
    c = Counting()
    assert c.open("c1", "carrier-a") == [("carrier-a", 1)]
    assert c.open("c2", "carrier-a") == [("carrier-a", 2)]
    assert c.open("c3", "carrier-b") == [("carrier-b", 1)]
    assert c.close("c1") == [("carrier-a", 1)]
    assert c.close("c2") == [("carrier-a", 0)]
    assert c.channels.in_use() == {"carrier-b": 1}  # a trunk at 0 is forgotten


def test_a_leg_opened_twice_is_one_channel_and_a_close_of_no_open_leg_changes_nothing() -> None:
    c = Counting()
    c.open("c1", "carrier-a")
    assert c.open("c1", "carrier-a") == []  # a record read twice, a retransmitted 200
    assert c.close("never-opened") == []
    assert c.close("c1") == [("carrier-a", 0)]
    assert c.close("c1") == []  # CHANNEL_DESTROY after CHANNEL_HANGUP_COMPLETE


def test_two_legs_of_one_call_on_two_trunks_count_on_both_and_close_together() -> None:
    c = Counting()
    assert c.open("call-1", "carrier-a") == [("carrier-a", 1)]
    assert c.open("call-1", "pbx-trunk") == [("pbx-trunk", 1)]
    assert c.close("call-1") == [("carrier-a", 0), ("pbx-trunk", 0)]


def test_a_call_holds_a_bounded_number_of_legs() -> None:
    c = Counting()
    for n in range(MAX_LEGS_PER_CALL + 5):
        c.open("call-1", f"trunk-{n}")
    assert c.channels.fill() == MAX_LEGS_PER_CALL / c.channels.max_legs


def test_past_the_cap_the_oldest_call_is_dropped_and_counted() -> None:
    c = Counting(max_legs=3)
    for n in range(3):
        c.open(f"c{n}", "carrier-a")
    assert c.open("c3", "carrier-b") == [("carrier-a", 2), ("carrier-b", 1)]
    assert (c.channels.dropped, c.channels.fill()) == (1, 1.0)
    assert c.close("c0") == []  # it went
    assert c.channels.in_use() == {"carrier-a": 2, "carrier-b": 1}


def test_a_leg_open_longer_than_a_call_lasts_expires() -> None:
    c = Counting(max_call_seconds=3600)
    c.open("c1", "carrier-a", T)
    c.open("c2", "carrier-a", T + 600)
    assert c.expire(T + 3599) == []
    assert c.expire(T + 3600) == [("carrier-a", 1)]
    assert c.expire(T + 4200) == [("carrier-a", 0)]
    assert c.channels.expired == 2
    assert c.close("c1") == []  # its hangup, if it ever comes, changes nothing


def test_a_leg_from_the_far_future_does_not_hold_the_others_back() -> None:
    c = Counting(max_call_seconds=3600)
    c.open("future", "carrier-a", 253_402_300_000)
    c.open("c1", "carrier-a", T)
    assert c.expire(T + 3600) == [("carrier-a", 1)]


def test_the_table_of_expiries_stays_bounded_without_a_clock_tick() -> None:
    # A replay may never tick: closed legs' entries must not pile up until one.
    c = Counting()
    for n in range(5000):
        c.open(f"c{n}", "carrier-a", T + n)
        c.close(f"c{n}", T + n)
    assert len(c.channels._expiry) <= 1025
    assert c.expire(T + 10**6) == []  # nothing left open to expire


# --- freeswitch-channel ------------------------------------------------------------------


def adapter() -> FreeSwitchChannel:
    return FreeSwitchChannel(FreeSwitchChannelOptions(site="lon1"))


def channel_event(name: str, leg: str, at: float, **headers: str) -> bytes:
    body = {"Event-Name": name, "Event-Date-Timestamp": str(int(at * 1e6)), "Unique-ID": leg}
    return json.dumps(body | headers).encode()


def created(leg: str, channel: str, at: float = T, **headers: str) -> bytes:
    return channel_event("CHANNEL_CREATE", leg, at, **{"Channel-Name": channel} | headers)


def hung_up(leg: str, channel: str, at: float = T + 60, **variables: str) -> bytes:
    answered = {"variable_answer_uepoch": str(int((at - 50) * 1e6))}
    named = {f"variable_{k}": v for k, v in variables.items()}
    return channel_event(
        "CHANNEL_HANGUP_COMPLETE", leg, at, **{"Channel-Name": channel} | answered | named
    )


def test_a_leg_holds_a_channel_from_its_create_to_its_hangup() -> None:
    fs = adapter()
    opened = translated(fs, created("leg-1", "sofia/external/15550100001@192.0.2.10"))
    assert statuses(opened) == [("external", 1)]
    assert opened[0]["occurred_at"] == "2025-11-24T16:00:00.000Z"
    assert "CHANNEL_CREATE" not in fs.ignored  # it said something
    ended = translated(fs, hung_up("leg-1", "sofia/external/15550100001@192.0.2.10"))
    assert [e["type"] for e in ended] == ["call.setup", "trunk.status"]
    assert statuses(ended) == [("external", 0)]


def test_the_two_legs_of_a_bridged_call_count_each_on_its_trunk() -> None:
    fs = adapter()
    inbound = created("a-leg", "sofia/external/15550100001@192.0.2.10")
    outbound = created(
        "b-leg", "sofia/gateway/carrier-a/15550100002", variable_sip_gateway_name="carrier-a"
    )
    assert statuses(translated(fs, inbound, outbound)) == [("external", 1), ("carrier-a", 1)]
    assert statuses(
        translated(fs, hung_up("b-leg", "sofia/external/x", sip_gateway_name="carrier-a"))
    ) == [("carrier-a", 0)]
    assert fs.channels.in_use() == {"external": 1}


def test_a_hangup_naming_another_trunk_closes_the_leg_where_it_was_counted() -> None:
    # A create written before the gateway was chosen names the profile; the hangup names
    # the gateway. Closing on the gateway would hold the profile's channel for ever.
    fs = adapter()
    translated(fs, created("leg-1", "sofia/internal/1000@192.0.2.20"))
    ended = translated(fs, hung_up("leg-1", "sofia/internal/1000", sip_gateway_name="carrier-a"))
    assert statuses(ended) == [("internal", 0)]
    assert fs.channels.in_use() == {}


def test_a_hangup_without_its_create_counts_its_setup_and_changes_no_count() -> None:
    fs = adapter()
    ended = translated(fs, hung_up("leg-9", "sofia/external/x"))
    assert [e["type"] for e in ended] == ["call.setup"]
    assert fs.channels.in_use() == {}


def test_a_destroy_closes_a_leg_whose_hangup_was_not_read_and_nothing_after_it() -> None:
    fs = adapter()
    translated(fs, created("leg-1", "sofia/external/x"))
    assert statuses(translated(fs, channel_event("CHANNEL_DESTROY", "leg-1", T + 9))) == [
        ("external", 0)
    ]
    assert translated(fs, channel_event("CHANNEL_DESTROY", "leg-1", T + 9)) == []
    assert fs.ignored["CHANNEL_DESTROY"] == 1


def test_a_leg_that_is_not_sip_holds_no_channel() -> None:
    fs = adapter()
    assert translated(fs, created("leg-1", "loopback/1000-a")) == []
    assert fs.ignored["CHANNEL_CREATE"] == 1


def test_a_lost_hangup_expires_on_the_clock_tick() -> None:
    fs = adapter()
    translated(fs, created("leg-1", "sofia/external/x"))
    assert fs.flush(T + 3600) == []
    [status] = [body(e) for e in fs.flush(T + 4 * 3600)]
    assert statuses([status]) == [("external", 0)]
    assert status["occurred_at"] == "2025-11-24T20:00:00.000Z"
    assert fs.channels.expired == 1


@pytest.mark.parametrize(
    "record",
    [
        created("a\x1b[2Jb", "sofia/external/x"),
        created("i" * 100_000, "sofia/external/x"),
        created("leg-1", "sofia/" + "p" * 300 + "/x"),
        created("leg-1", "sofia/external/x", **{"Event-Date-Timestamp": "soon"}),
    ],
    ids=["control-in-id", "100kb-id", "long-profile", "bad-time"],
)
def test_a_hostile_create_is_rejected_and_holds_nothing(record: bytes) -> None:
    fs = adapter()
    with pytest.raises(AdapterError):
        fs.translate(record)
    assert fs.channels.in_use() == {}
    assert fs.channels.fill() == 0


def test_the_channels_cap_is_reported_in_fill() -> None:
    fs = adapter()
    translated(fs, created("leg-1", "sofia/external/x"))
    assert fs.fill()["trunk_legs"] == 1 / fs.channels.max_legs

"""Channels in use per trunk from SIP proxies' transaction accounting: an INVITE's 2xx opens
a channel of its Call-ID on its trunk, the BYE of the Call-ID closes it; OpenSIPS' E_ACC_CDR,
written at the call's end, opens none."""

from __future__ import annotations

import json
from typing import Any

import pytest

from callpulse.adapters.base import AdapterError
from callpulse.adapters.kamailio_acc import KamailioAcc
from callpulse.adapters.opensips_acc import OpenSipsAcc
from callpulse.adapters.sip_acc import SipAccOptions

from .adapters import statuses, translated

T = 1_764_000_000
FORMATS = ["kamailio-acc", "opensips-acc"]
CALL = "3848276298220188511@10.0.0.5"


def adapter(fmt: str) -> KamailioAcc | OpenSipsAcc:
    made = KamailioAcc if fmt == "kamailio-acc" else OpenSipsAcc
    return made(SipAccOptions(site="lon1", trunk_attribute="gw"))


def acc(fmt: str, method: str, code: str, at: float, event: str = "", **given: Any) -> bytes:
    """One accounted transaction of ``CALL`` through gateway ``carrier-a``."""
    attrs = {"method": method, "from_tag": "7fa3c1d2", "to_tag": "as5e0b1c2d",
             "callid": CALL, "sip_code": code, "sip_reason": "OK", "time": at,
             "gw": "carrier-a"} | given  # fmt: skip
    attrs = {k: v for k, v in attrs.items() if v is not None}
    if fmt == "kamailio-acc":
        return json.dumps(attrs).encode()
    name = event or ("E_ACC_EVENT" if code.startswith("2") else "E_ACC_MISSED_EVENT")
    return json.dumps({"jsonrpc": "2.0", "method": name, "params": attrs}).encode()


@pytest.mark.parametrize("fmt", FORMATS)
def test_an_answered_invite_opens_a_channel_and_its_bye_closes_it(fmt: str) -> None:
    proxy = adapter(fmt)
    answered = translated(proxy, acc(fmt, "INVITE", "200", T))
    assert [e["type"] for e in answered] == ["call.setup", "trunk.status"]
    assert statuses(answered) == [("carrier-a", 1)]
    assert answered[1]["occurred_at"] == "2025-11-24T16:00:00.000Z"
    # The BYE's record names no trunk (the script sets gw on the INVITE): the Call-ID does.
    ended = translated(proxy, acc(fmt, "BYE", "200", T + 95, gw=None, from_tag="as5e0b1c2d"))
    assert statuses(ended) == [("carrier-a", 0)]
    assert ended[0]["occurred_at"] == "2025-11-24T16:01:35.000Z"
    assert "BYE" not in proxy.ignored


@pytest.mark.parametrize("fmt", FORMATS)
@pytest.mark.parametrize("code", ["486", "487", "503", "302"])
def test_a_failed_invite_holds_no_channel(fmt: str, code: str) -> None:
    proxy = adapter(fmt)
    assert statuses(translated(proxy, acc(fmt, "INVITE", code, T))) == []
    assert proxy.channels.in_use() == {}


@pytest.mark.parametrize("fmt", FORMATS)
def test_a_bye_of_a_call_not_counted_is_ignored_as_before(fmt: str) -> None:
    proxy = adapter(fmt)
    assert translated(proxy, acc(fmt, "BYE", "200", T, time="not a time")) == []
    assert proxy.ignored["BYE"] == 1


@pytest.mark.parametrize("fmt", FORMATS)
def test_an_invite_accounted_twice_is_one_channel(fmt: str) -> None:
    proxy = adapter(fmt)
    translated(proxy, acc(fmt, "INVITE", "200", T), acc(fmt, "INVITE", "200", T))
    assert proxy.channels.in_use() == {"carrier-a": 1}


@pytest.mark.parametrize("fmt", FORMATS)
def test_a_call_through_two_trunks_counts_on_both_and_its_bye_frees_both(fmt: str) -> None:
    # A call spiralled through the proxy: the carrier's side and the PBX's, one Call-ID.
    proxy = adapter(fmt)
    inbound = acc(fmt, "INVITE", "200", T, gw="carrier-a")
    outbound = acc(fmt, "INVITE", "200", T, gw="pbx-1")
    assert statuses(translated(proxy, inbound, outbound)) == [("carrier-a", 1), ("pbx-1", 1)]
    ended = translated(proxy, acc(fmt, "BYE", "200", T + 30))
    assert statuses(ended) == [("carrier-a", 0), ("pbx-1", 0)]


def test_an_opensips_cdr_is_a_setup_and_opens_no_channel() -> None:
    # With the cdr flag, E_ACC_CDR comes in place of the INVITE's E_ACC_EVENT, when the call
    # has ended: it cannot say which calls are up.
    proxy = adapter("opensips-acc")
    cdr = acc("opensips-acc", "INVITE", "200", T, event="E_ACC_CDR", duration=95)
    assert [e["type"] for e in translated(proxy, cdr)] == ["call.setup"]
    assert proxy.channels.in_use() == {}


@pytest.mark.parametrize("fmt", FORMATS)
def test_a_call_whose_bye_was_lost_expires_on_the_clock_tick(fmt: str) -> None:
    proxy = adapter(fmt)
    translated(proxy, acc(fmt, "INVITE", "200", T))
    assert proxy.flush(T + 3600) == []
    assert len(proxy.flush(T + 4 * 3600)) == 1
    assert proxy.channels.in_use() == {}
    assert proxy.fill()["trunk_legs"] == 0.0


@pytest.mark.parametrize("fmt", FORMATS)
@pytest.mark.parametrize("callid", ["a\x1b[2Jb", "i" * 100_000])
def test_a_hostile_call_id_holds_nothing(fmt: str, callid: str) -> None:
    proxy = adapter(fmt)
    with pytest.raises(AdapterError):
        proxy.translate(acc(fmt, "INVITE", "200", T, callid=callid))
    assert translated(proxy, acc(fmt, "BYE", "200", T, callid=callid)) == []
    assert proxy.channels.in_use() == {}

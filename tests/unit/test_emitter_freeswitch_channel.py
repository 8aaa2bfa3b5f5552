"""The simulator's caller legs written as FreeSWITCH's CHANNEL_CREATE, RECV_RTCP_MESSAGE and
CHANNEL_HANGUP_COMPLETE events, checked against the fields docs/adapters-freeswitch-channel.md
reads from FreeSWITCH's source, then read back through the adapter."""

from __future__ import annotations

import json
from typing import Any

from callpulse.adapters.freeswitch_channel import FreeSwitchChannel, FreeSwitchChannelOptions
from callpulse.simulation.emitters.freeswitch_channel import FreeSwitchChannelEmitter
from callpulse.simulation.emitters.freeswitch_legs import flaws_score, packets

from .adapters import translated
from .test_emitter_sip_acc import setup
from .test_emitter_twilio import played


def event(kind: str, at: str, **fields: Any) -> dict[str, Any]:
    return {"type": kind, "event_id": f"e-{kind}-{at}", "site": "lon1", "occurred_at": at} | fields


def test_a_refused_setup_is_a_leg_created_and_hung_up_at_once_with_mod_sofias_cause() -> None:
    created, record = FreeSwitchChannelEmitter().emit(setup(503, pdd=None))
    start, doc = json.loads(created), json.loads(record)
    assert (start["Event-Name"], start["Channel-State"]) == ("CHANNEL_CREATE", "CS_INIT")
    assert (start["Unique-ID"], start["Channel-Name"]) == (doc["Unique-ID"], doc["Channel-Name"])
    assert start["Event-Date-Timestamp"] == doc["Event-Date-Timestamp"]
    assert doc["Event-Name"] == "CHANNEL_HANGUP_COMPLETE"
    assert all(isinstance(v, str) for v in doc.values())  # switch_event_serialize_json
    assert doc["Channel-Name"].startswith("sofia/carrier-a/")
    assert "variable_sip_gateway_name" not in doc  # an inbound leg: named by its profile
    assert (doc["variable_hangup_cause"], doc["variable_hangup_cause_q850"]) == (
        "NORMAL_TEMPORARY_FAILURE", "41",
    )  # fmt: skip
    assert doc["variable_answer_uepoch"] == "0"
    adapter = FreeSwitchChannel(FreeSwitchChannelOptions(site="lon1"))
    [opened] = translated(adapter, created)  # the leg holds a channel of its trunk...
    assert (opened["type"], opened["trunk_id"], opened["channels_in_use"]) == (
        "trunk.status", "carrier-a", 1,
    )  # fmt: skip
    back, closed = translated(adapter, record)  # ...until its hangup
    assert (back["trunk_id"], back["sip_code"], back.get("post_dial_delay_ms")) == (
        "carrier-a", 503, None,
    )  # fmt: skip
    assert (closed["type"], closed["channels_in_use"]) == ("trunk.status", 0)


def test_an_answered_leg_is_written_at_its_hangup_with_its_media() -> None:
    emitter = FreeSwitchChannelEmitter()
    [created] = emitter.emit(setup(200, pdd=1234.6))  # the leg is up: its start only
    assert json.loads(created)["Event-Name"] == "CHANNEL_CREATE"
    media = event(
        "media.quality", "2025-11-24T16:03:31.640Z", trunk_id="carrier-a", call_id="lon1-c7",
        mos=4.1, jitter_ms=9.5, packet_loss_ratio=0.01, rtt_ms=60.0,
    )  # fmt: skip
    report, record = emitter.emit(media)
    doc, rtcp = json.loads(record), json.loads(report)
    # The last receiver report before the hang-up: RFC 3550's fraction lost (256ths) and
    # interarrival jitter (timestamp units at 8 kHz), as FreeSWITCH fires it.
    assert (rtcp["Event-Name"], rtcp["Unique-ID"]) == ("RECV_RTCP_MESSAGE", doc["Unique-ID"])
    assert (rtcp["Source0-Fraction"], rtcp["Source0-Jitter"], rtcp["RTP-Rate"]) == (
        "3", "76", "8000",
    )  # fmt: skip
    # 180 s of talk at 50 packets a second, 1 % of them skipped.
    assert doc["variable_rtp_audio_in_media_packet_count"] == "8910"
    assert doc["variable_rtp_audio_in_skip_packet_count"] == "90"
    assert doc["variable_progressmsec"] == "1235"  # whole milliseconds
    assert doc["variable_answer_uepoch"] == "1764000031640000"
    assert doc["Event-Date-Timestamp"] == "1764000211640000"
    adapter = FreeSwitchChannel(FreeSwitchChannelOptions(site="lon1"))
    translated(adapter, created)  # the leg's trunk, for its reports
    [got_report] = translated(adapter, report)
    assert (got_report["jitter_ms"], got_report["packet_loss_ratio"]) == (9.5, 3 / 256)
    back = translated(adapter, record)
    [got_setup] = [e for e in back if e["type"] == "call.setup"]
    [got_media] = [e for e in back if e["type"] == "media.quality"]
    assert (got_setup["sip_code"], got_setup["post_dial_delay_ms"]) == (200, 1235.0)
    assert got_setup["occurred_at"] == "2025-11-24T16:03:31.640Z"  # counted at the hangup
    assert got_media["packet_loss_ratio"] == 0.01
    assert got_media.get("mos") is None
    assert got_media.get("jitter_ms") is None
    # do_mos with R = 99: 1 + 0.035 * 99 + 7e-6 * 99 * 39 * 1 = 4.492.
    assert (got_media["score"], got_media["score_kind"]) == (4.49, "freeswitch_flaws")
    assert flaws_score(*packets(0.01, 180)) == 4.49


def test_a_leg_ends_when_its_caller_gives_up_or_the_ivr_lets_it_go() -> None:
    emitter = FreeSwitchChannelEmitter()
    first = setup(200, pdd=900.0)
    second = first | {"event_id": "lon1-e8", "call_id": "lon1-c8"}
    emitter.emit(first)
    emitter.emit(second)  # their CHANNEL_CREATEs
    start = event("ivr.session_started", "2025-11-24T16:00:32Z", session_id="s8",
                  application="main", call_id="lon1-c8")  # fmt: skip
    assert emitter.emit(start) == []
    moved = event("ivr.session_ended", "2025-11-24T16:01:00Z", session_id="s8",
                  application="main", outcome="contained", duration_seconds=28.0)  # fmt: skip
    [contained] = emitter.emit(moved)
    gone = event("call.abandoned", "2025-11-24T16:02:00Z", call_id="lon1-c7", queue="billing",
                 wait_seconds=60.0)  # fmt: skip
    [abandoned] = emitter.emit(gone)
    for record, call_end in ((contained, "1764000060000000"), (abandoned, "1764000120000000")):
        doc = json.loads(record)
        assert doc["Event-Date-Timestamp"] == call_end
        assert "variable_rtp_audio_in_media_packet_count" not in doc  # no media measured


def test_a_day_reads_back_as_the_format_keeps_it() -> None:
    events = [e for e in played("trunk-failure", 40) if e["site"] == "lon1"]
    emitter, reference = FreeSwitchChannelEmitter(), FreeSwitchChannelEmitter()
    adapter = FreeSwitchChannel(FreeSwitchChannelOptions(site="lon1"))
    watched = emitter.carries | emitter.watches
    # The gateways' states it also writes are test_emitter_trunk_states.py's: here, the
    # setups, the media and the channel counts at each leg's start and end.
    back = [
        got for e in events if e["type"] in watched
        for record in emitter.emit(e) for got in translated(adapter, record)
        if got["type"] in emitter.carries and got.get("state") is None
    ]  # fmt: skip
    kept = [
        k for e in events for k in reference.as_kept(e)
        if k["type"] in emitter.carries and k.get("state") is None
    ]  # fmt: skip

    def fact(e: dict[str, Any]) -> tuple[Any, ...]:
        measures = ("post_dial_delay_ms", "packet_loss_ratio", "jitter_ms", "score",
                    "channels_in_use")  # fmt: skip
        return (e["type"], e["occurred_at"], e.get("trunk_id"), e.get("sip_code"),
                *(e.get(m) for m in measures))  # fmt: skip

    assert {e["sip_code"] for e in back if e["type"] == "call.setup"} == {200, 503}
    assert any(e["type"] == "media.quality" for e in back)
    assert any(e.get("jitter_ms") for e in back)  # from the RTCP reports
    assert sorted(map(fact, back)) == sorted(map(fact, kept))
    # In the order the adapter counts them, the same counts.
    counts = [[e["channels_in_use"] for e in side if e["type"] == "trunk.status"]
              for side in (back, kept)]  # fmt: skip
    assert counts[0] == counts[1]
    assert max(counts[0]) > 1
    assert not adapter.ignored

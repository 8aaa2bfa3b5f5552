"""The simulator's trunk legs and trunk states written as Asterisk's AMI events, checked
against what docs/adapters-asterisk-ami.md reads from Asterisk's source, then read back
through the adapter."""

from __future__ import annotations

from typing import Any

import pytest

from callpulse.adapters.ami_fields import Q850_TO_SIP, cause_code
from callpulse.adapters.ami_records import read
from callpulse.adapters.asterisk_ami import AsteriskAmi, AsteriskAmiOptions
from callpulse.simulation.emitters.asterisk_ami import AsteriskAmiEmitter, cause_for

from .adapters import through, translated
from .test_emitter_sip_acc import setup
from .test_emitter_twilio import played


def event(kind: str, at: str, **fields: Any) -> dict[str, Any]:
    return {"type": kind, "event_id": f"e-{kind}-{at}", "site": "lon1", "occurred_at": at} | fields


def adapter() -> AsteriskAmi:
    return AsteriskAmi(AsteriskAmiOptions(site="lon1"))


def test_a_refused_setup_is_a_channel_hung_up_before_it_came_up() -> None:
    created, hangup = AsteriskAmiEmitter().emit(setup(503, pdd=None))
    assert created.endswith(b"\r\n\r\n")  # one event, as manager.c ends it
    assert read(created).name == "Newchannel"
    ended = read(hangup)
    assert (ended.name, ended.get("Cause"), ended.get("ChannelState")) == ("Hangup", "41", "4")
    assert (ended.get("Channel") or "").startswith("PJSIP/carrier-a-")
    back = translated(adapter(), created, hangup)
    [got] = [e for e in back if e["type"] == "call.setup"]
    assert (got["trunk_id"], got["sip_code"], got.get("post_dial_delay_ms")) == (
        "carrier-a", 503, None,
    )  # fmt: skip
    # The channel held the trunk from its creation to its hangup, at the same instant.
    assert [e["channels_in_use"] for e in back if e["type"] == "trunk.status"] == [1, 0]


@pytest.mark.parametrize("code", [486, 503, 404, 480, 408, 603, 500])
def test_a_refusals_cause_reads_back_as_rfc_3398_maps_it(code: int) -> None:
    cause = cause_for(code)
    assert 0 <= cause <= 127
    # A code the table maps a cause to comes back as itself; another as the table's 500.
    expected = code if code in Q850_TO_SIP.values() else 500
    assert cause_code(str(cause)) == expected
    assert (cause_for(486), cause_for(503)) == (17, 41)  # as PJSIP and mod_sofia refuse


def test_an_answered_leg_comes_up_at_once_and_hangs_up_with_its_media() -> None:
    emitter, ami = AsteriskAmiEmitter(), adapter()
    records = emitter.emit(setup(200, pdd=1234.6))
    assert [read(r).name for r in records] == ["Newchannel", "Newstate"]
    up = translated(ami, *records)
    [answered] = [e for e in up if e["type"] == "call.setup"]
    assert answered["sip_code"] == 200
    assert answered.get("post_dial_delay_ms") is None  # AMI has no carrier's ringing time
    media = event(
        "media.quality", "2025-11-24T16:03:31.640Z", trunk_id="carrier-a", call_id="lon1-c7",
        mos=4.1, jitter_ms=9.5, packet_loss_ratio=0.01, rtt_ms=60.0,
    )  # fmt: skip
    [record] = emitter.emit(media)
    hangup = read(record)
    assert (hangup.name, hangup.get("Cause"), hangup.get("Timestamp")) == (
        "Hangup", "16", "1764000211.640000",
    )  # fmt: skip
    # 180 s of talk at 50 packets a second, 1 % of them lost; seconds as %f writes them.
    assert hangup.chanvars["RTPAUDIOQOS"] == (
        "ssrc=1870234599;themssrc=3412099213;lp=90;rxjitter=0.000000;rxcount=8910;"
        "txjitter=0.009500;txcount=8910;rlp=0;rtt=0.060000"
    )
    back = translated(ami, record)
    [got] = [e for e in back if e["type"] == "media.quality"]
    assert got["packet_loss_ratio"] == 0.01
    assert got["jitter_ms"] == pytest.approx(9.5)
    assert got["rtt_ms"] == pytest.approx(60.0)
    assert (got.get("mos"), got.get("score")) == (None, None)  # no E-model MOS, no MES
    assert [e["channels_in_use"] for e in back if e["type"] == "trunk.status"] == [0]


def test_a_trunk_state_is_a_contact_status_when_it_changes() -> None:
    emitter, ami = AsteriskAmiEmitter(), adapter()

    def status(at: str, state: str) -> dict[str, Any]:
        return event("trunk.status", at, trunk_id="carrier-a", state=state,
                     channels_in_use=0, channels_total=30)  # fmt: skip

    heartbeats = [
        status("2025-11-24T16:00:00Z", "up"), status("2025-11-24T16:00:30Z", "up"),
        status("2025-11-24T16:01:00Z", "down"), status("2025-11-24T16:01:30Z", "down"),
        status("2025-11-24T16:02:00Z", "up"),
    ]  # fmt: skip
    records = [r for h in heartbeats for r in emitter.emit(h)]
    assert [read(r).get("ContactStatus") for r in records] == [
        "Reachable", "Unreachable", "Reachable"
    ]  # fmt: skip
    back = translated(ami, *records)
    assert [(e["occurred_at"], e["state"]) for e in back] == [
        ("2025-11-24T16:00:00.000Z", "up"), ("2025-11-24T16:01:00.000Z", "down"),
        ("2025-11-24T16:02:00.000Z", "up"),
    ]  # fmt: skip
    assert all(e.get("channels_total") is None for e in back)  # no AMI event says it


@pytest.mark.parametrize("scenario", ["trunk-failure", "normal-day"])
def test_a_day_reads_back_as_the_format_keeps_it(scenario: str) -> None:
    events = [e for e in played(scenario, 40) if e["site"] == "lon1"]
    ami = adapter()
    back, kept = through(AsteriskAmiEmitter(), AsteriskAmiEmitter(), ami, events)

    def fact(e: dict[str, Any]) -> tuple[Any, ...]:
        measures = ("sip_code", "state", "channels_in_use", "packet_loss_ratio", "jitter_ms",
                    "rtt_ms", "mos", "post_dial_delay_ms")  # fmt: skip
        return (e["type"], e["occurred_at"][:23], e.get("trunk_id"),
                *(e.get(m) for m in measures))  # fmt: skip

    assert sorted(map(fact, back)) == sorted(map(fact, kept))
    assert any(e["type"] == "media.quality" for e in back)
    codes = {e["sip_code"] for e in back if e["type"] == "call.setup"}
    states = [e["state"] for e in back if e["type"] == "trunk.status" and e.get("state")]
    if scenario == "trunk-failure":  # the trunk fails at 15 min, for 20
        assert codes == {200, 503}
        assert states == ["up", "down", "up"]
    else:
        assert (codes, states) == ({200}, ["up"])
    assert not ami.ignored


def test_trunkdown_through_ami_comes_from_its_qualify_events(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # The v1 trunk.status goes through the format, so an Asterisk whose qualify results
    # never reach Kafka raises no TrunkDown, and the comparison with events v1 says so.
    from callpulse.cli.scenario import _through
    from callpulse.config import Settings
    from callpulse.shipped import shipped
    from callpulse.simulation import platform, scenario

    class Unqualified(AsteriskAmiEmitter):
        def emit(self, event: Any) -> list[bytes]:
            return [] if event["type"] == "trunk.status" else super().emit(event)

    settings = Settings(rule_files=[shipped("rules.yaml")])
    report, problems = _through("asterisk-ami", scenario.load("trunk-failure"), settings)
    assert "TrunkDown" in report.fired
    assert not problems, problems
    monkeypatch.setattr(platform, "emitter_for", lambda fmt, site: Unqualified())
    report, problems = _through("asterisk-ami", scenario.load("trunk-failure"), settings)
    assert "TrunkDown" not in report.fired
    assert any(p.startswith("TrunkDown") and "events v1 1" in p for p in problems), problems

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
    # Configured as the runner configures lon1's instance: its IVR application's context and
    # its trunks (the scenarios' lon1-sip-1, and carrier-a of the tests here).
    return AsteriskAmi(
        AsteriskAmiOptions(
            site="lon1", ivr_contexts=["lon1-main"], trunks=["lon1-sip-1", "carrier-a"]
        )
    )


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
        ivr = ("session_id", "call_id", "application", "outcome", "duration_seconds")
        return (e["type"], e["occurred_at"][:23], e.get("trunk_id"),
                *(e.get(m) for m in measures + ivr))  # fmt: skip

    assert sorted(map(fact, back), key=repr) == sorted(map(fact, kept), key=repr)
    assert any(e["type"] == "media.quality" for e in back)
    outcomes = {e["outcome"] for e in back if e["type"] == "ivr.session_ended"}
    assert outcomes == {"contained", "hangup", "transferred"}
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


# --- IVR sessions ------------------------------------------------------------------------

START, END = "2025-11-24T16:00:31.640Z", "2025-11-24T16:01:16.905Z"


def ivr_day(outcome: str, answered: bool = True) -> list[dict[str, Any]]:
    """A caller's day: its leg answered, its IVR session and what follows its end."""
    session = {"session_id": "lon1-c7-ivr", "application": "lon1-main"}
    day = [setup(200)] if answered else []
    day.append(event("ivr.session_started", START, call_id="lon1-c7", **session))
    day.append(event("ivr.session_ended", END, outcome=outcome, duration_seconds=45.265, **session))
    if outcome == "transferred":
        day.append(event("call.queued", END, call_id="lon1-c7", queue="billing", priority=0))
    return day


def played_ivr(
    day: list[dict[str, Any]],
) -> tuple[list[bytes], list[dict[str, Any]], list[dict[str, Any]]]:
    """The AMI events ``day`` makes, what the adapter reads of them, and ``as_kept``'s."""
    emitter, reference = AsteriskAmiEmitter(), AsteriskAmiEmitter()
    records = [r for e in day for r in emitter.emit(e)]
    kept = [k for e in day for k in reference.as_kept(e) if k["type"].startswith("ivr.")]
    back = [e for e in translated(adapter(), *records) if e["type"].startswith("ivr.")]
    return records, back, kept


def names(records: list[bytes]) -> list[str]:
    return [
        f"{e.name}:{e.get('Application')}" if e.name == "Newexten" else e.name
        for e in map(read, records)
    ]


@pytest.mark.parametrize(
    ("outcome", "after", "read_as"),
    [
        ("transferred", ["QueueCallerJoin"], "transferred"),
        ("contained", ["Newexten:Hangup", "Hangup"], "contained"),
        ("hangup", ["Hangup"], "hangup"),
        ("error", ["Hangup"], "hangup"),  # AMI cannot tell an IVR's failure from a hang-up
    ],
)
def test_an_ivr_session_runs_on_the_callers_channel_and_ends_as_asterisk_shows_it(
    outcome: str, after: list[str], read_as: str
) -> None:
    records, back, kept = played_ivr(ivr_day(outcome))
    assert names(records) == ["Newchannel", "Newstate", "Newexten:Background", *after]
    channels = {read(r).get("Channel") for r in records}
    assert len(channels) == 1  # all on the caller's trunk leg
    entered = read(records[2])
    assert (entered.get("Context"), entered.get("Timestamp")) == ("lon1-main", "1764000031.640000")
    assert [read(r).name for r in records].count("Hangup") <= 1  # one per channel
    started, ended = back
    uid = read(records[0]).get("Uniqueid")
    assert (started["type"], started["session_id"], started["call_id"]) == (
        "ivr.session_started", uid, uid,
    )  # fmt: skip
    assert (ended["application"], ended["outcome"]) == ("lon1-main", read_as)
    assert ended["duration_seconds"] == pytest.approx(45.265, abs=1e-6)
    assert back == [k | {"event_id": b["event_id"], "schema_version": 1} for k, b in
                    zip(kept, back, strict=True)]  # fmt: skip


def test_a_transferred_caller_joins_the_queue_it_is_queued_in() -> None:
    records, _, _ = played_ivr(ivr_day("transferred"))
    joined = read(records[-1])
    assert (joined.name, joined.get("Queue"), joined.get("Timestamp")) == (
        "QueueCallerJoin", "billing", "1764000076.905000",
    )  # fmt: skip


def test_a_caller_on_no_trunk_leg_runs_its_ivr_on_a_local_channel() -> None:
    records, back, kept = played_ivr(ivr_day("contained", answered=False))
    assert names(records) == ["Newchannel", "Newexten:Background", "Newexten:Hangup", "Hangup"]
    assert (read(records[0]).get("Channel") or "").startswith("Local/")
    assert [e["outcome"] for e in back if e["type"] == "ivr.session_ended"] == ["contained"]
    assert [e["session_id"] for e in back] == [e["session_id"] for e in kept]


def test_the_ivr_rules_fire_through_ami_on_an_ivr_backend_outage() -> None:
    # The sessions go through AMI, the backend errors stay events v1: errors per session
    # and containment come out as events v1's, and the same IVR alerts fire.
    from callpulse.cli.scenario import _through
    from callpulse.config import Settings
    from callpulse.shipped import shipped
    from callpulse.simulation import scenario

    settings = Settings(rule_files=[shipped("rules.yaml")])
    report, problems = _through("asterisk-ami", scenario.load("ivr-backend-outage"), settings)
    assert not problems, problems
    assert {"IvrBackendErrors", "IvrContainmentCollapse"} <= set(report.fired)
    assert {app for _, app in report.ivr} == {"lon1-main", "nyc1-main"}

"""A simulated caller's setup, IVR session and media written into the Amazon Connect
contact record of their call, and read back by the real adapter: a contained caller, one
who hangs up in the flow, one transferred to an agent whose call is scored, and setups
refused while the trunk is down or full. For each, what the emitter says the format keeps
(``as_kept``, the reference ``scenario check --format`` compares with) is exactly what the
adapter gives."""

from __future__ import annotations

import json
from typing import Any

import pytest

from callpulse.adapters.amazon_connect import AmazonConnect, AmazonConnectOptions
from callpulse.adapters.connect_voice import TRUNK
from callpulse.config import Settings
from callpulse.core.timefmt import rfc3339
from callpulse.shipped import shipped
from callpulse.simulation import scenario as scenarios
from callpulse.simulation.emitters.amazon_connect import APPLICATION, AmazonConnectEmitter
from callpulse.simulation.emitters.connect_calls import quality_score

from .adapters import translated

T0 = 1_764_057_600.0  # 2025-11-25T08:00:00Z
VOICE = ("call.setup", "ivr.session_started", "ivr.session_ended", "media.quality")
GOOD_MEDIA = {"mos": 4.3, "jitter_ms": 8.0, "packet_loss_ratio": 0.002, "rtt_ms": 60.0}


def v1(n: int, kind: str, at: float, **fields: Any) -> dict[str, Any]:
    """A simulator's event ``at`` seconds after T0 (times to the millisecond, as it writes)."""
    return {"schema_version": 1, "event_id": f"sim-{n}", "type": kind,
            "occurred_at": rfc3339(T0 + at), "site": "lon1", **fields}  # fmt: skip


def caller(outcome: str, call: str = "lon1-c1") -> list[dict[str, Any]]:
    """A caller answered on the trunk whose IVR session ends ``outcome`` after 45.4 s; a
    transferred one is queued, answered, talks, is scored and wraps up."""
    session = {"session_id": f"{call}-ivr", "application": "lon1-main"}
    out = [
        v1(1, "call.setup", 0.3, trunk_id="lon1-sip-1", call_id=call, sip_code=200,
           post_dial_delay_ms=1180.4),
        v1(2, "ivr.session_started", 0.3, **session, call_id=call),
        v1(3, "ivr.session_ended", 45.7, **session, outcome=outcome, duration_seconds=45.4),
    ]  # fmt: skip
    if outcome == "transferred":
        queue = {"call_id": call, "queue": "billing"}
        out += [
            v1(4, "call.queued", 45.7, **queue, priority=0),
            v1(5, "call.answered", 75.2, **queue, agent_id="lon1-billing-a001",
               wait_seconds=29.5),
            v1(6, "media.quality", 375.2, trunk_id="lon1-sip-1", call_id=call, **GOOD_MEDIA),
            v1(7, "call.completed", 435.2, **queue, agent_id="lon1-billing-a001",
               talk_seconds=300.0, hold_seconds=0.0, acw_seconds=60.0),
        ]  # fmt: skip
    return out


def through(
    events: list[dict[str, Any]], application: str = APPLICATION
) -> tuple[list[dict[str, Any]], list[dict[str, Any]], list[dict[str, Any]]]:
    """(the Connect records written, what the adapter reads of them, what ``as_kept`` says
    the format keeps), for ``events`` in order."""
    emitter = AmazonConnectEmitter(ivr_application=application)
    options = dict(emitter.adapter_options)
    if options["ivr_application"]:  # as the runner configures lon1's instance: its IVR's name
        options["ivr_application"] = "lon1-main"
    adapter = AmazonConnect(AmazonConnectOptions(site="lon1", **options))
    written = [record for e in events for record in emitter.emit(e)]
    back = translated(adapter, *written)
    kept = [k for e in events for k in emitter.as_kept(dict(e))]
    return [json.loads(w) for w in written], back, kept


def voice(events: list[dict[str, Any]]) -> list[tuple[Any, ...]]:
    """The setup, IVR and media facts of ``events``, in a comparable form."""
    keys = ("trunk_id", "call_id", "sip_code", "post_dial_delay_ms", "session_id",
            "application", "outcome", "duration_seconds", "score", "score_kind", "mos")  # fmt: skip
    return sorted(
        (e["type"], e["occurred_at"], *(e.get(k) for k in keys))
        for e in events
        if e["type"] in VOICE
    )


def records(written: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [w for w in written if "ContactId" in w]


def test_a_contained_caller_is_a_contact_the_flow_disconnected() -> None:
    written, back, kept = through(caller("contained"))
    [record] = records(written)
    assert record["DisconnectReason"] == "CONTACT_FLOW_DISCONNECT"
    assert (record["Queue"], record["Agent"]) == (None, None)
    assert record["InitiationTimestamp"] == "2025-11-25T08:00:00Z"  # whole seconds
    assert record["DisconnectTimestamp"] == "2025-11-25T08:00:46Z"
    facts = voice(back)
    assert [(f[0], f[8]) for f in facts] == [
        ("call.setup", None), ("ivr.session_ended", "contained"), ("ivr.session_started", None)
    ]  # fmt: skip
    setup = next(e for e in back if e["type"] == "call.setup")
    assert (setup["trunk_id"], setup["sip_code"]) == (TRUNK, 200)
    assert "post_dial_delay_ms" not in setup or setup["post_dial_delay_ms"] is None
    assert facts == voice(kept)


def test_a_caller_hanging_up_in_the_flow_reads_as_contained() -> None:
    # Connect writes CUSTOMER_DISCONNECT, which the adapter cannot tell from a caller who
    # was served and hung up: the format keeps a hang-up as contained.
    written, back, kept = through(caller("hangup"))
    assert records(written)[0]["DisconnectReason"] == "CUSTOMER_DISCONNECT"
    [ended] = [e for e in back if e["type"] == "ivr.session_ended"]
    assert ended["outcome"] == "contained"
    assert voice(back) == voice(kept)


def test_a_transferred_caller_is_one_record_with_queue_agent_and_quality() -> None:
    written, back, kept = through(caller("transferred"))
    [record] = records(written)
    assert record["Queue"]["EnqueueTimestamp"] == "2025-11-25T08:00:46Z"
    assert record["Agent"]["Username"] == "lon1-billing-a001"
    audio = record["QualityMetrics"]["Customer"]["Audio"]
    assert audio == {"QualityScore": quality_score(GOOD_MEDIA)[0], "PotentialQualityIssues": []}
    assert record["QualityMetrics"]["Agent"] is None  # no softphone measure simulated
    # The session ends at the QUEUED contact event, to the millisecond, not minutes later
    # with the record (which gives no second one).
    [queued] = [w for w in written if w.get("detail", {}).get("eventType") == "QUEUED"]
    assert queued["detail"]["initiationTimestamp"] == "2025-11-25T08:00:00.300Z"
    [ended] = [e for e in back if e["type"] == "ivr.session_ended"]
    assert ended["outcome"] == "transferred"
    assert ended["duration_seconds"] == pytest.approx(45.4)
    assert ended["occurred_at"] == "2025-11-25T08:00:45.700Z"
    assert [e["type"] for e in back].index("ivr.session_ended") < [e["type"] for e in back].index(
        "call.answered"
    )
    [media] = [e for e in back if e["type"] == "media.quality"]
    assert (media["trunk_id"], media["score_kind"]) == (TRUNK, "connect_quality")
    assert media.get("mos") is None  # never presented as an E-model MOS
    assert media["occurred_at"] == "2025-11-25T08:06:15.000Z"  # the hang-up, not the ACW's end
    assert {e["type"] for e in back} >= {"call.queued", "call.answered", "call.completed"}
    assert voice(back) == voice(kept)


def test_a_setup_refused_while_the_trunk_is_down_is_a_telecom_problem() -> None:
    down = [v1(1, "call.setup", 12.6, trunk_id="lon1-sip-1", call_id="lon1-c9", sip_code=503)]
    written, back, kept = through(down)
    [record] = records(written)
    assert record["DisconnectReason"] == "TELECOM_PROBLEM"
    assert record["ConnectedToSystemTimestamp"] is None
    assert (record["Queue"], record["Agent"]) == (None, None)
    assert [(e["type"], e["sip_code"], e["trunk_id"]) for e in back] == [("call.setup", 503, TRUNK)]
    assert voice(back) == voice(kept)


def test_a_setup_refused_busy_leaves_no_contact() -> None:
    # Every channel busy: the caller never reaches the instance, and no record says so.
    busy = [v1(1, "call.setup", 1.0, trunk_id="lon1-sip-1", call_id="lon1-c3", sip_code=486)]
    written, back, kept = through(busy)
    assert (written, back, kept) == ([], [], [])


def test_without_an_ivr_application_the_records_give_setups_and_media_only() -> None:
    _, back, kept = through(caller("transferred"), application="")
    assert not [e for e in back if e["type"].startswith("ivr.")]
    assert voice(back) == voice(kept)


@pytest.mark.parametrize(
    ("media", "score", "issues"),
    [
        (GOOD_MEDIA, 4.92, []),
        ({"packet_loss_ratio": 0.05, "jitter_ms": 50.0, "rtt_ms": 400.0}, 1.2,
         ["HighPacketLoss", "HighRoundTripTime", "HighJitterBuffer"]),
        ({"packet_loss_ratio": 0.5, "jitter_ms": 200.0, "rtt_ms": 900.0}, 1.0,
         ["HighPacketLoss", "HighRoundTripTime", "HighJitterBuffer"]),
        ({"packet_loss_ratio": 0.0, "jitter_ms": 0.0, "rtt_ms": 0.0, "mos": 1.0}, 5.0, []),
    ],
)  # fmt: skip
def test_the_quality_score_falls_with_loss_jitter_and_delay_not_with_mos(
    media: dict[str, float], score: float, issues: list[str]
) -> None:
    assert quality_score(media) == (score, issues)


def test_connect_records_page_the_trunk_failure_as_events_v1_do() -> None:
    # The 503s of the trunk's outage reach the records at once; the answered setups only
    # when their contact ends: the ASR rule still fires, on connect-telephony.
    from callpulse.cli.scenario import _through

    settings = Settings(rule_files=[shipped("rules.yaml")])
    adapted, problems = _through("amazon-connect", scenarios.load("trunk-failure"), settings)
    assert problems == []
    assert {"TrunkAnswerSeizureRatioLow", "TrunkDown"} <= set(adapted.fired)
    asr = [e for e in adapted.episodes if e.alert == "TrunkAnswerSeizureRatioLow"]
    assert [dict(e.labels)["trunk"] for e in asr] == [TRUNK]
    assert adapted.trunks[("lon1", TRUNK)].setups_by_class.get("5xx", 0) > 0


def test_the_ivr_comparison_fails_when_the_records_lose_an_outcome(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # An emitter that writes a contained caller's contact with a reason the adapter cannot
    # read as the flow's (OTHER) loses those sessions: the IVR comparison says so.
    from callpulse.cli.scenario import _through
    from callpulse.simulation import platform

    class Unreadable(AmazonConnectEmitter):
        def emit(self, event: Any) -> list[bytes]:
            if event["type"] == "ivr.session_ended" and event["outcome"] == "contained":
                event = {**event, "outcome": "error"}
            return super().emit(event)

    monkeypatch.setattr(platform, "emitter_for", lambda fmt, site: Unreadable())
    settings = Settings(rule_files=[shipped("rules.yaml")])
    _, problems = _through("amazon-connect", scenarios.load("normal-day"), settings)
    assert any(p.startswith("lon1/lon1-main: contained ") for p in problems), problems

"""Asterisk AMI events, produced to a real broker by kcat as an AMI-to-Kafka bridge publishes
them (one JSON object of headers per event, timestampevents on), to exact trunk, media and
IVR KPIs on /metrics. The events are written from main/manager_channels.c and
main/rtp_engine.c (docs/adapters-asterisk-ami.md): six calls on trunk carrier-a in the last
minutes, and one event without a Timestamp."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import pytest

from .helpers import Samples
from .platforms import check_dead_letter, ignored_kinds, platform_daemon, settled_on

pytestmark = pytest.mark.integration
PBX = "PJSIP/1001-00000001"  # the phone that dials out: no trunk (a peer named by digits)


def event(name: str, at: float, **headers: str) -> bytes:
    body = {"Event": name, "Privilege": "call,all", "Timestamp": f"{at:.6f}", **headers}
    return json.dumps(body).encode()


def leg(n: int) -> dict[str, str]:
    return {"Channel": f"PJSIP/carrier-a-0000000{n}", "Uniqueid": f"1764000000.{n}",
            "Linkedid": f"1764000000.{n}"}  # fmt: skip


def dial_end(at: float, n: int, status: str) -> bytes:
    dest = {"DestChannel": f"PJSIP/carrier-a-0000000{n}", "DestUniqueid": f"1764000000.{n}"}
    return event("DialEnd", at, Channel=PBX, Uniqueid="1764000000.90", DialStatus=status, **dest)


def exten(at: float, n: int, app: str = "Playback") -> bytes:
    return event("Newexten", at, **leg(n), Context="ivr-main", Exten="s", Application=app)


def calls(now: float) -> list[bytes]:
    """Three outbound dials, three inbound calls (two through the IVR), and one hostile."""
    t = now - 240
    qos4 = (
        "ssrc=1;themssrc=2;lp=10;rxjitter=0.5;rxcount=990;txjitter=0.020;txcount=1000;rlp=0;"
        "rtt=0.05;rxmes=10;txmes=80"
    )
    qos5 = (
        "ssrc=3;themssrc=4;lp=0;rxjitter=0.0;rxcount=500;txjitter=inf;txcount=500;rlp=0;"
        "rtt=0;rxmes=0;txmes=1e83"
    )
    return [
        dial_end(t, 1, "ANSWER"),
        dial_end(t + 1, 2, "BUSY"),
        dial_end(t + 2, 3, "CONGESTION"),
        # Call 4: in from the carrier, the IVR, answered, on to a queue.
        event("Newchannel", t + 10, **leg(4), ChannelState="0"),
        exten(t + 10.5, 4),
        event("Newstate", t + 11, **leg(4), ChannelState="6"),
        event("QueueCallerJoin", t + 31, **leg(4), Queue="sales"),
        event("VarSet", t + 90, **leg(4), Variable="RTPAUDIOQOS", Value=qos4),
        event("Hangup", t + 90, **leg(4), Cause="16"),
        # Call 5: in, the IVR serves it to its end and hangs up itself.
        event("Newchannel", t + 20, **leg(5), ChannelState="0"),
        exten(t + 20.5, 5),
        event("Newstate", t + 21, **leg(5), ChannelState="6"),
        event("RTCPSent", t + 26, **leg(5), ReportCount="1", Report0FractionLost="64", MES="90.0"),
        exten(t + 40, 5, app="Hangup"),
        event("VarSet", t + 40.5, **leg(5), Variable="RTPAUDIOQOS", Value=qos5),
        event("Hangup", t + 40.5, **leg(5), Cause="16"),
        # Call 6: in, hung up by the far end before it came up: user busy.
        event("Newchannel", t + 50, **leg(6), ChannelState="0"),
        event("Hangup", t + 51, **leg(6), Cause="17"),
        # The carrier's only contact stops answering OPTIONS: the trunk is down.
        event(
            "ContactStatus",
            t + 100,
            URI="sip:sbc.carrier-a.example:5060",
            ContactStatus="Unreachable",
            AOR="carrier-a",
            EndpointName="carrier-a",
        ),
        b'{"Event": "DialEnd", "DestChannel": "PJSIP/carrier-a-7", "DialStatus": "ANSWER"}',
    ]


def figures(samples: Samples) -> dict[str, Any]:
    def get(name: str, **labels: str) -> float | None:
        key = frozenset({"site": "lon1", "window": "15m", **labels}.items())
        return samples.get((name, key))

    def now(name: str) -> float | None:  # an instant figure: no window
        return samples.get((name, frozenset({"site": "lon1", "trunk": "carrier-a"}.items())))

    trunk = {"trunk": "carrier-a"}
    ivr = {"application": "ivr-main"}
    return {
        "setups": get("callpulse_trunk_call_setups", **trunk),
        "asr": get("callpulse_trunk_asr_ratio", **trunk),
        "ner": get("callpulse_trunk_ner_ratio", **trunk),
        "loss": get("callpulse_trunk_packet_loss_mean_ratio", **trunk),
        "jitter": get("callpulse_trunk_jitter_mean_seconds", **trunk),
        "mes": get("callpulse_trunk_media_score_mean", kind="asterisk_mes", **trunk),
        "mos": get("callpulse_trunk_mos_mean", **trunk),
        "ended": get("callpulse_ivr_sessions_ended", **ivr),
        "contained": get("callpulse_ivr_containment_ratio", **ivr),
        "transferred": get("callpulse_ivr_transfer_ratio", **ivr),
        "up": now("callpulse_trunk_up"),
        "in_use": now("callpulse_trunk_channels_in_use"),
    }


def test_ami_events_through_kafka_give_exact_trunk_media_and_ivr_kpis(
    kafka_bootstrap: str, topics: tuple[str, str], tmp_path: Path
) -> None:
    records = calls(time.time())
    fmt = {
        "format": "asterisk-ami",
        "site": "lon1",
        "ivr_contexts": ["ivr-main"],
        "trunks": ["carrier-a"],
    }
    # By hand. Setups on carrier-a: 200 (ANSWER), 486 (BUSY), 503 (CONGESTION), 200 and 200
    # (calls 4 and 5 up), 486 (call 6, Q.850 17): ASR 3/6, NER (3 + 2 x 486) / 6.
    # Media: call 4's RTPAUDIOQOS loss 10/1000, jitter 20 ms, MES 80; call 5's RTCPSent
    # loss 64/256, MES 90; call 5's RTPAUDIOQOS loss 0 (its inf jitter and 1e83 MES left
    # out). Loss mean (0.01 + 0.25 + 0) / 3, jitter 0.020 s, MES (80 + 90) / 2; no MOS.
    # IVR: call 4 transferred, call 5 contained. The trunk: down at the ContactStatus, its
    # three inbound channels all hung up by then.
    expected = {
        "setups": 6.0, "asr": 0.5, "ner": pytest.approx(5 / 6), "loss": pytest.approx(0.26 / 3),
        "jitter": pytest.approx(0.020), "mes": pytest.approx(85.0), "mos": None,
        "ended": 2.0, "contained": 0.5, "transferred": 0.5, "up": 0.0, "in_use": 0.0,
    }  # fmt: skip
    with platform_daemon(kafka_bootstrap, topics, tmp_path, records, fmt) as daemon:
        samples = settled_on(daemon, figures, expected)
        # Trunk channels' Newchannel and Hangup count channels in use, and the IVR's
        # Hangup() makes call 5's session contained: nothing of these calls is skipped.
        assert ignored_kinds(samples) == {}
        check_dead_letter(kafka_bootstrap, topics[1], samples, "asterisk-ami", records[-1],
                          "no Timestamp header")  # fmt: skip

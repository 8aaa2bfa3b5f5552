"""FreeSWITCH channel records (event json, plain ESL and mod_json_cdr), produced to a real broker
by kcat, to exact trunk and media KPIs on /metrics. The records are the shipped sample
(docs/examples/freeswitch-channel.jsonl, written from switch_event.c, switch_core_media.c and
mod_sofia.c), moved to the last minutes, plus one leg as plain ESL text and one hostile
record."""

from __future__ import annotations

import json
import subprocess
import time
from pathlib import Path
from typing import Any
from urllib.parse import quote, unquote

import pytest

from .helpers import Daemon, Samples, wait_until
from .platforms import EXAMPLES, check_dead_letter, ignored_kinds, platform_daemon

pytestmark = pytest.mark.integration
SAMPLE = EXAMPLES / "freeswitch-channel.jsonl"
_TIMES = ("Event-Date-Timestamp", "Capture-Time")
_VARIABLE_TIMES = ("start_uepoch", "answer_uepoch", "end_uepoch")


def _shifted(values: dict[str, Any], names: tuple[str, ...], shift: int, encoded: bool) -> None:
    for name in names:
        value = values.get(name)
        if value not in (None, "0"):
            micros = int(unquote(value) if encoded else value) + shift * 1_000_000
            values[name] = str(micros)


def recent_sample(now: float) -> tuple[list[bytes], bytes]:
    """The sample with every microsecond time moved so that its first event is three minutes
    ago, and a hangup whose flaws score is out of FreeSWITCH's range (the one dead letter);
    and apart, the caller's inbound leg again as plain ESL text (several lines) under another
    UUID: a fourth caller, unanswered, 486 Busy."""
    docs = [json.loads(line) for line in SAMPLE.read_text().splitlines()]
    shift = int(now) - 180 - int(docs[0]["Event-Date-Timestamp"]) // 1_000_000
    out = []
    for doc in docs:
        if "variables" in doc:  # the mod_json_cdr document: URL-encoded values
            _shifted(doc["variables"], _VARIABLE_TIMES, shift, encoded=True)
        else:
            _shifted(doc, _TIMES, shift, encoded=False)
            _shifted(doc, tuple(f"variable_{n}" for n in _VARIABLE_TIMES), shift, encoded=False)
        out.append(json.dumps(doc, separators=(",", ":")).encode())
    busy = dict(json.loads(out[3]))
    busy |= {
        "Unique-ID": "c0ffee00-0000-4000-8000-000000000486",
        "variable_uuid": "c0ffee00-0000-4000-8000-000000000486",
        "variable_answer_uepoch": "0",
        "variable_hangup_cause": "USER_BUSY",
        "Hangup-Cause": "USER_BUSY",
        "variable_progress_mediamsec": "0",
        "variable_progressmsec": "300",
    }
    del busy["variable_sip_term_status"]
    plain = "".join(f"{k}: {quote(str(v), safe='')}\n" for k, v in busy.items()) + "\n"
    hostile = dict(json.loads(out[2]))
    hostile["variable_rtp_audio_in_mos"] = "7.5"
    out.append(json.dumps(hostile).encode())
    return out, plain.encode()


def produce_whole(bootstrap: str, topic: str, value: bytes, tmp: Path) -> None:
    """``value`` as one record, however many lines it has: kcat sends a file given as an
    argument as one message."""
    path = tmp / "plain-event.txt"
    path.write_bytes(value)
    cmd = ["kcat", "-P", "-b", bootstrap, "-t", topic, "-k", "lon1", "-z", "none", str(path)]
    subprocess.run(cmd, check=True, timeout=60)


def trunk(samples: Samples, name: str, trunk_id: str, **labels: str) -> float | None:
    key = frozenset({"site": "lon1", "trunk": trunk_id, "window": "15m", **labels}.items())
    return samples.get((name, key))


def figures(samples: Samples) -> dict[str, Any]:
    """The trunk KPIs this test checks, per trunk."""
    out: dict[str, Any] = {}
    for t in ("carrier-a", "external"):
        out[t] = {
            name.removeprefix("callpulse_trunk_"): trunk(samples, name, t)
            for name in (
                "callpulse_trunk_call_setups",
                "callpulse_trunk_asr_ratio",
                "callpulse_trunk_ner_ratio",
                "callpulse_trunk_packet_loss_mean_ratio",
                "callpulse_trunk_jitter_mean_seconds",
                "callpulse_trunk_mos_mean",
            )
        }
        out[t]["flaws"] = trunk(
            samples, "callpulse_trunk_media_score_mean", t, kind="freeswitch_flaws"
        )
    return out


def settled_trunks(daemon: Daemon, expected: dict[str, Any]) -> Samples:
    """The daemon's samples once the trunk figures are ``expected`` (polled: the records come
    in more than one fetch)."""
    last: dict[str, Any] = {}

    def right() -> bool:
        nonlocal last
        last = figures(daemon.samples())
        return bool(last == expected)

    try:
        wait_until(right, 30, "the trunk figures")
    except AssertionError:
        assert last == expected
    return daemon.samples()


def test_channel_records_through_kafka_give_exact_trunk_kpis(
    kafka_bootstrap: str, topics: tuple[str, str], tmp_path: Path
) -> None:
    sample, plain = recent_sample(time.time())
    produce_whole(kafka_bootstrap, topics[0], plain, tmp_path)
    fmt = {"format": "freeswitch-channel", "site": "lon1"}
    with platform_daemon(kafka_bootstrap, topics, tmp_path, sample, fmt) as daemon:
        # By hand. carrier-a: one setup, 200; loss from the hangup (30 / 3000) and the RTCP
        # report (5 / 256), averaged over those two reports; jitter from RTCP only, 96 units
        # at 8000 Hz = 12 ms; the flaws score 4.21 is no MOS.
        # external: the caller's leg (200) and the CDR's (200), the CANCEL (487) and the
        # busy leg as plain ESL (USER_BUSY: mod_sofia answers 486): 4 setups, ASR 2/4, NER
        # (2 + 486) / 4 = 3/4 (487 is the caller's own cancel, not counted as effective);
        # loss 0 and 100 / 3000 over the two answered legs; flaws 4.50 and 3.95.
        s = settled_trunks(daemon, {
            "carrier-a": {
                "call_setups": 1, "asr_ratio": 1.0, "ner_ratio": 1.0,
                "packet_loss_mean_ratio": pytest.approx((0.01 + 5 / 256) / 2, abs=2e-6),
                "jitter_mean_seconds": pytest.approx(0.012), "mos_mean": None,
                "flaws": pytest.approx(4.21),
            },
            "external": {
                "call_setups": 4, "asr_ratio": 0.5, "ner_ratio": 0.75,
                "packet_loss_mean_ratio": pytest.approx(100 / 3000 / 2, abs=2e-6),
                "jitter_mean_seconds": None, "mos_mean": None,
                "flaws": pytest.approx((4.5 + 3.95) / 2),
            },
        })  # fmt: skip
        setups = {
            c: s[("callpulse_trunk_setup_responses_total",
                  frozenset({"site": "lon1", "trunk": "external", "class": c}.items()))]
            for c in ("2xx", "4xx")
        }  # fmt: skip
        assert setups == {"2xx": 2, "4xx": 2}
        assert ignored_kinds(s) == {"CHANNEL_ANSWER": 1}
        check_dead_letter(kafka_bootstrap, topics[1], s, "freeswitch-channel", sample[-1],
                          "outside FreeSWITCH's 1.0-4.5")  # fmt: skip


def channel_event(name: str, leg: str, at: float, **headers: str) -> bytes:
    """A channel event as ``event json`` writes it (switch_event.c): core headers, then
    the channel's."""
    body = {
        "Event-Name": name,
        "Core-UUID": "dfdcfeb2-5c24-4b48-a0ac-a778456d3339",
        "Event-Date-Timestamp": str(int(at * 1e6)),
        "Unique-ID": leg,
    }
    return json.dumps(body | headers, separators=(",", ":")).encode()


def test_channel_creates_and_hangups_through_kafka_give_exact_utilization(
    kafka_bootstrap: str, topics: tuple[str, str], tmp_path: Path
) -> None:
    t = time.time() - 60
    gateway = {
        "Channel-Name": "sofia/external/15550100002",
        "variable_sip_gateway_name": "carrier-a",
    }
    inbound = {"Channel-Name": "sofia/external/15550100001@192.0.2.10"}
    busy = gateway | {"variable_hangup_cause": "USER_BUSY", "variable_sip_term_status": "486"}
    records = [
        channel_event("CHANNEL_CREATE", "leg-1", t, **gateway),
        channel_event("CHANNEL_CREATE", "leg-2", t + 1, **gateway),
        channel_event("CHANNEL_CREATE", "leg-3", t + 2, **gateway),
        channel_event("CHANNEL_CREATE", "leg-4", t + 3, **inbound),
        channel_event("CHANNEL_CREATE", "leg-5", t + 4, **{"Channel-Name": "loopback/1000-a"}),
        channel_event("CHANNEL_HANGUP_COMPLETE", "leg-2", t + 10, **busy),
        channel_event("CHANNEL_DESTROY", "leg-2", t + 10),
        channel_event("CHANNEL_CREATE", "leg\x1b[2J", t + 11, **gateway),  # the dead letter
        # The carrier stops answering the gateway's OPTIONS pings (sofia_reg.c).
        json.dumps({
            "Event-Name": "CUSTOM", "Event-Subclass": "sofia::gateway_state",
            "Core-UUID": "dfdcfeb2-5c24-4b48-a0ac-a778456d3339",
            "Event-Date-Timestamp": str(int((t + 12) * 1e6)), "Gateway": "carrier-a",
            "State": "REGED", "Ping-Status": "DOWN", "Phrase": "Request Timeout",
        }).encode(),
    ]  # fmt: skip
    fmt = {"format": "freeswitch-channel", "site": "lon1"}
    settings = {"kpi": {"trunk_channels": {"carrier-a": 4}}}
    with platform_daemon(
        kafka_bootstrap, topics, tmp_path, records, fmt, settings=settings
    ) as daemon:
        # By hand. carrier-a: legs 1, 2 and 3 created, leg 2 hung up (486): 2 of the 4
        # channels configured, 0.5; its gateway's pings then fail: down, with its 2 legs
        # still counted. external: leg 4, and no capacity configured, so no channels in
        # all and no utilization. leg 5 is no SIP leg. No status said external's state: no
        # trunk_up.
        def of(name: str, trunk_id: str) -> float | None:
            key = frozenset({"site": "lon1", "trunk": trunk_id}.items())
            return daemon.samples().get((name, key))

        names = (
            "callpulse_trunk_channels_in_use",
            "callpulse_trunk_channels",
            "callpulse_trunk_utilization_ratio",
            "callpulse_trunk_up",
        )
        expected = {"carrier-a": [2, 4, 0.5, 0], "external": [1, None, None, None]}
        last: dict[str, list[float | None]] = {}

        def right() -> bool:
            nonlocal last
            last = {t: [of(n, t) for n in names] for t in expected}
            return last == expected

        try:
            wait_until(right, 30, "the trunk channels")
        except AssertionError:
            assert last == expected
        assert ignored_kinds(daemon.samples()) == {"CHANNEL_CREATE": 1, "CHANNEL_DESTROY": 1}

"""Asterisk queue_log lines, produced to a real broker by kcat, to exact queue KPIs on
/metrics. The lines are the shipped sample (docs/examples/asterisk-queue_log), written from
the formats app_queue.c logs, moved to the last ten minutes."""

from __future__ import annotations

import time
import uuid
from pathlib import Path

import pytest

from .helpers import Daemon, kafka_config, kcat_consume, kcat_produce, wait_until

pytestmark = pytest.mark.integration
SAMPLE = Path(__file__).resolve().parents[2] / "docs" / "examples" / "asterisk-queue_log"
AGENTS = {"PJSIP/1001": "Alice", "PJSIP/1002": "Bob", "PJSIP/1003": "Carol"}


def recent_sample(now: float) -> list[bytes]:
    lines = SAMPLE.read_text().splitlines()
    shift = int(now) - 600 - int(lines[0].split("|")[0])
    return [f"{int(line.split('|')[0]) + shift}|{line.split('|', 1)[1]}".encode() for line in lines]


def test_queue_log_through_kafka_gives_exact_kpis(
    kafka_bootstrap: str, topics: tuple[str, str], tmp_path: Path
) -> None:
    topic, dlq = topics
    kcat_produce(kafka_bootstrap, topic, [("lon1", line) for line in recent_sample(time.time())],
                 tmp_path)  # fmt: skip
    formats = {topic: {"format": "asterisk-queue-log", "site": "lon1", "agent_names": AGENTS}}
    config = kafka_config(kafka_bootstrap, topic, dlq, f"g-{uuid.uuid4().hex}", formats=formats)
    daemon = Daemon(tmp_path, config)
    daemon.start()
    try:
        daemon.wait_ready()
        wait_until(
            lambda: daemon.value("callpulse_dead_letter_records_total") == 1, 30, "one dead letter"
        )
        s = daemon.samples()

        def q(name: str, **labels: str) -> float:
            return s[(name, frozenset({"site": "lon1", "queue": "billing", **labels}.items()))]

        # By hand: 7 callers; Alice answers after 8 s, Bob after 25 s (T = 20 s); one abandons
        # after 30 s, one times out after 300 s, one leaves by key after 1 s (a short abandon,
        # under S = 5 s); two still wait.
        assert q("callpulse_queue_offered_calls", window="15m") == 7
        assert q("callpulse_queue_answered_calls", window="15m") == 2
        assert q("callpulse_queue_abandoned_calls", window="15m") == 2
        assert q("callpulse_queue_service_level_ratio", window="15m") == pytest.approx(1 / 4)
        assert q("callpulse_queue_asa_seconds", window="15m") == pytest.approx(16.5)
        assert q("callpulse_queue_aht_seconds", window="15m") == pytest.approx(110.0)
        assert q("callpulse_queue_calls_waiting") == 2
        assert q("callpulse_queue_agents", state="available") == 2  # Alice and Bob
        assert q("callpulse_queue_agents", state="not_ready") == 1  # Carol, paused
        ignored = {
            dict(labels)["kind"]: v
            for (n, labels), v in s.items()
            if n == "callpulse_adapter_events_ignored_total"
        }
        assert ignored == {"DID": 1, "RINGNOANSWER": 1}
        invalid = ("callpulse_events_invalid_total",
                   frozenset({"reason": "invalid_asterisk-queue-log"}.items()))  # fmt: skip
        assert s[invalid] == 1

        [dead] = kcat_consume(kafka_bootstrap, dlq, 1)
        assert dead["headers"]["callpulse.reason"] == "invalid_asterisk-queue-log"
        assert dead["payload"].endswith("|billing")  # the line itself, as Asterisk wrote it
        assert "expected epoch|callid|queue|agent|event" in dead["headers"]["callpulse.error"]
    finally:
        assert daemon.stop() == 0

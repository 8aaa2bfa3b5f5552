"""Every event type through a real Kafka broker to its series; cardinality stays bounded."""

from __future__ import annotations

import asyncio
import json
import subprocess
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path

import pytest
from aiokafka import AIOKafkaProducer

from tests.unit.events import raw

from .helpers import Daemon, kafka_config, kcat_produce, wait_until

pytestmark = pytest.mark.integration
EXAMPLES = Path(__file__).resolve().parents[2] / "docs" / "examples" / "events-v1.jsonl"


def examples_now(now: float) -> list[tuple[str, bytes]]:
    out = []
    for i, line in enumerate(EXAMPLES.read_text().splitlines()):
        body = json.loads(line)
        # Within the last 20 s, so a slow start still finds them all in the 1m window.
        body["occurred_at"] = datetime.fromtimestamp(now - 20 + i / 2, UTC).isoformat()
        out.append((body["site"], json.dumps(body, separators=(",", ":")).encode()))
    return out


def test_one_event_of_every_type_reaches_its_series(
    kafka_bootstrap: str, topics: tuple[str, str], tmp_path: Path
) -> None:
    topic, dlq = topics
    records = examples_now(time.time())
    kcat_produce(kafka_bootstrap, topic, records, tmp_path)
    daemon = Daemon(tmp_path, kafka_config(kafka_bootstrap, topic, dlq, f"g-{uuid.uuid4().hex}"))
    daemon.start()
    try:
        daemon.wait_ready()
        wait_until(
            lambda: daemon.total("callpulse_events_total") == len(records),
            30,
            "all 20 events applied",
        )
        text = daemon.metrics_text()
        s = daemon.samples()

        def get(name: str, **labels: str) -> float | None:
            return s.get((name, frozenset(labels.items())))

        lon = {"site": "lon1"}
        app = lon | {"application": "main-menu"}
        trunk = lon | {"trunk": "bt-sip-1"}
        pbx = lon | {"component": "pbx-2", "kind": "pbx"}
        assert get("callpulse_events_total", type="ivr.node") == 1
        assert get("callpulse_ivr_sessions_started", window="1m", **app) == 1
        assert get("callpulse_ivr_transfer_ratio", window="5m", **app) == 1.0
        assert get("callpulse_ivr_containment_ratio", window="5m", **app) == 0.0
        assert get("callpulse_ivr_no_match_per_session", window="15m", **app) == 1.0
        assert get("callpulse_ivr_backend_errors", backend="crm", window="1m", **app) == 1
        assert get("callpulse_ivr_ports_utilization_ratio", **app) == pytest.approx(88 / 120)
        assert get("callpulse_ivr_sessions_total", outcome="transferred", **app) == 1
        assert get("callpulse_trunk_up", **trunk) == 1
        assert get("callpulse_trunk_utilization_ratio", **trunk) == pytest.approx(212 / 240)
        assert get("callpulse_trunk_asr_ratio", window="1m", **trunk) == 1.0
        assert get("callpulse_trunk_post_dial_delay_p95_seconds", window="1m", **trunk) == (
            pytest.approx(1.35, rel=0.02)
        )
        assert get("callpulse_trunk_mos_mean", window="1m", **trunk) == pytest.approx(4.2)
        assert get("callpulse_trunk_jitter_p95_seconds", window="1m", **trunk) == (
            pytest.approx(0.0065, rel=0.02)
        )
        assert get("callpulse_trunk_setup_responses_total", **trunk, **{"class": "2xx"}) == 1
        assert get("callpulse_component_status", status="down", **pbx) == 1
        assert get("callpulse_component_stale", **pbx) == 0
        billing = lon | {"queue": "billing"}
        # The ACD's snapshot is the newest word on billing: 4 waiting, the oldest for 37 s.
        assert get("callpulse_queue_calls_waiting", **billing) == 4
        assert get("callpulse_queue_oldest_wait_seconds", **billing) >= 37  # type: ignore[operator]
        assert get("callpulse_queue_aht_seconds", window="5m", **billing) == pytest.approx(229.5)
        assert get("callpulse_queue_agents", state="available", **billing) == 1
        assert get("callpulse_queue_agents_required", **billing) is not None

        check = subprocess.run(
            ["promtool", "check", "metrics"], input=text.encode(), capture_output=True, timeout=30
        )
        assert check.returncode == 0, check.stdout + check.stderr
        assert (check.stdout + check.stderr).strip() == b""
    finally:
        assert daemon.stop() == 0


def test_100k_distinct_queue_names_stay_bounded(
    kafka_bootstrap: str, topics: tuple[str, str], tmp_path: Path
) -> None:
    topic, dlq = topics
    names, cap = 100_000, 500

    async def flood() -> None:
        producer = AIOKafkaProducer(
            bootstrap_servers=kafka_bootstrap, linger_ms=20, max_batch_size=512 * 1024
        )
        await producer.start()
        try:
            now = time.time()
            for i in range(names):
                value = raw(
                    "call.queued",
                    now,
                    site="lon1",
                    call_id=f"c{i}",
                    queue=f"q-{i}",
                    event_id=f"flood-{i}",
                )
                await producer.send(topic, value, key=b"lon1")
            await producer.flush()
        finally:
            await producer.stop()

    asyncio.run(flood())
    config = kafka_config(kafka_bootstrap, topic, dlq, f"g-{uuid.uuid4().hex}")
    config["kpi"] = {"max_label_values": {"queue": cap}}
    daemon = Daemon(tmp_path, config)
    daemon.start()
    try:
        daemon.wait_ready()
        wait_until(
            lambda: daemon.total("callpulse_events_total") == names, 90, "the flood to be applied"
        )
        s = daemon.samples()
        waiting = {
            dict(labels)["queue"]: v
            for (n, labels), v in s.items()
            if n == "callpulse_queue_calls_waiting"
        }
        assert len(waiting) == cap + 1
        assert waiting["_overflow"] == 10_000  # the per-queue cap on waiting calls
        offered = (
            "callpulse_queue_calls_offered_total",
            frozenset({"site": "lon1", "queue": "_overflow"}.items()),
        )
        assert s[offered] == names - cap  # folded, not lost
        assert s[
            ("callpulse_label_values_overflow_total", frozenset({"label": "queue"}.items()))
        ] == (names - cap)
        series = len([1 for name, _ in s if name.startswith("callpulse_queue_")])
        assert series < 60 * (cap + 1)
        rss = s[("process_resident_memory_bytes", frozenset())]
        assert rss < 300 * 1024 * 1024, f"RSS {rss / 2**20:.0f} MiB"
        print(f"100k queue names: {series} queue series, RSS {rss / 2**20:.0f} MiB")
    finally:
        assert daemon.stop() == 0

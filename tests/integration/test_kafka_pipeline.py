"""ACD events through a real Kafka broker to exact KPIs on /metrics."""

from __future__ import annotations

import json
import subprocess
import time
import uuid
from pathlib import Path
from typing import Any

import pytest
from aiokafka.admin import AIOKafkaAdminClient

from tests.unit.events import raw

from .helpers import Daemon, kafka_config, kcat_consume, kcat_produce, wait_until

pytestmark = pytest.mark.integration


def acd_scenario(now: float) -> list[tuple[str, bytes]]:
    """Calls at three ages: 20 s ago (every window), 3 min ago (5m, 15m), 10 min ago (15m)."""
    recent, minutes, ten = now - 20, now - 180, now - 600
    q = {"queue": "billing"}
    events = [raw("call.queued", recent, call_id=f"c{i}", **q) for i in range(6)]
    events.append(raw("call.queued", recent, call_id="still-waiting", **q))
    for i, wait in enumerate((3.0, 12.0, 25.0)):  # two of three within T = 20 s
        events.append(
            raw("call.answered", recent, call_id=f"c{i}", agent_id="a1", wait_seconds=wait, **q)
        )
    for i, wait in zip((3, 4, 5), (2.0, 8.0, 30.0), strict=True):  # 2 s is a short abandon
        events.append(raw("call.abandoned", recent, call_id=f"c{i}", wait_seconds=wait, **q))
    events.append(
        raw(
            "call.completed",
            recent,
            call_id="c0",
            agent_id="a1",
            talk_seconds=100.0,
            hold_seconds=20.0,
            acw_seconds=30.0,
            **q,
        )
    )
    for i, wait in enumerate((5.0, 40.0)):
        events.append(raw("call.queued", minutes, call_id=f"d{i}", **q))
        events.append(
            raw("call.answered", minutes, call_id=f"d{i}", agent_id="a2", wait_seconds=wait, **q)
        )
    events.append(raw("call.queued", ten, call_id="e0", **q))
    events.append(raw("call.abandoned", ten, call_id="e0", wait_seconds=60.0, **q))
    # Another site on the same topic, to show labels keep sites apart.
    events.append(raw("call.queued", recent, site="nyc1", call_id="n0", **q))
    return [("nyc1" if b'"nyc1"' in e else "lon1", e) for e in events]


EXPECTED = {
    # window: offered, answered, abandoned, service level, abandon ratio, ASA
    "1m": (7, 3, 2, 2 / 5, 2 / 5, (3 + 12 + 25) / 3),
    "5m": (9, 5, 2, 3 / 7, 2 / 7, (3 + 12 + 25 + 5 + 40) / 5),
    "15m": (10, 5, 3, 3 / 8, 3 / 8, (3 + 12 + 25 + 5 + 40) / 5),
}


def test_exact_queue_kpis_per_window(
    kafka_bootstrap: str, topics: tuple[str, str], tmp_path: Path
) -> None:
    topic, dlq = topics
    scenario = acd_scenario(time.time())
    kcat_produce(kafka_bootstrap, topic, scenario, tmp_path)
    daemon = Daemon(tmp_path, kafka_config(kafka_bootstrap, topic, dlq, f"g-{uuid.uuid4().hex}"))
    daemon.start()
    try:
        daemon.wait_ready()
        wait_until(
            lambda: daemon.total("callpulse_events_total") == len(scenario),
            30,
            "every event applied",
        )
        text = daemon.metrics_text()
        samples = daemon.samples()

        def get(name: str, **labels: str) -> float | None:
            return samples.get(
                (name, frozenset(({"site": "lon1", "queue": "billing"} | labels).items()))
            )

        for window, (offered, answered, abandoned, sl, ab, asa) in EXPECTED.items():
            assert get("callpulse_queue_offered_calls", window=window) == offered, window
            assert get("callpulse_queue_answered_calls", window=window) == answered, window
            assert get("callpulse_queue_abandoned_calls", window=window) == abandoned, window
            assert get("callpulse_queue_service_level_ratio", window=window) == pytest.approx(sl)
            assert get("callpulse_queue_abandon_ratio", window=window) == pytest.approx(ab)
            assert get("callpulse_queue_asa_seconds", window=window) == pytest.approx(asa)
            assert get("callpulse_queue_aht_seconds", window=window) == pytest.approx(150.0)
        assert get("callpulse_queue_calls_waiting") == 1
        oldest = get("callpulse_queue_oldest_wait_seconds")
        assert oldest is not None
        assert 20 <= oldest < 90
        assert get("callpulse_queue_calls_offered_total") == 10
        assert get("callpulse_queue_calls_answered_total") == 5
        assert get("callpulse_queue_calls_abandoned_total") == 3
        assert get("callpulse_queue_calls_answered_within_threshold_total") == 3
        assert (
            samples[
                (
                    "callpulse_queue_offered_calls",
                    frozenset({"site": "nyc1", "queue": "billing", "window": "1m"}.items()),
                )
            ]
            == 1
        )
        # nyc1 answered nothing: no service level series for it at all.
        assert not any(
            n == "callpulse_queue_service_level_ratio" and ("site", "nyc1") in labels
            for n, labels in samples
        )

        # The status page's freshness: each site with the partition it came from, all of it
        # consumed, its last event 20 s old (not stale).
        def sites() -> list[dict[str, Any]] | None:
            found = json.loads(daemon.get("/api/v1/status")[1])["sites"]
            return found if all(s["lag"] == 0 for s in found) else None

        shown = {s["site"]: s for s in wait_until(sites, 30, "every site's lag at 0")}
        assert set(shown) == {"lon1", "nyc1"}
        for site in shown.values():
            [partition] = site["partitions"]
            assert partition.rsplit("/", 1)[0] == topic
            assert not site["stale"]
        assert 20 <= shown["lon1"]["last_event_age_seconds"] < 60

        # Acceptance 4: promtool finds nothing to say about the exposition.
        check = subprocess.run(
            ["promtool", "check", "metrics"], input=text.encode(), capture_output=True, timeout=30
        )
        assert check.returncode == 0, check.stdout + check.stderr
        assert (check.stdout + check.stderr).strip() == b""
    finally:
        assert daemon.stop() == 0


def test_poison_records_go_to_the_dead_letter_topic_and_duplicates_count_once(
    kafka_bootstrap: str, topics: tuple[str, str], tmp_path: Path
) -> None:
    topic, dlq = topics
    now = time.time()
    q = {"queue": "billing"}
    first = raw("call.queued", now, call_id="v1", event_id="valid-1", **q)
    records: list[tuple[str, bytes]] = [
        ("lon1", first),
        ("lon1", b"this is not json"),
        ("lon1", raw("call.queued", now, call_id="v2", **q)),
        ("lon1", raw("call.answered", now, call_id="v2", wait_seconds=1.0, **q)),  # no agent_id
        ("lon1", raw("call.teleported", now, call_id="v3", **q)),
        ("lon1", raw("call.queued", now, call_id="big", padding="x" * 300_000, **q)),
        ("lon1", raw("call.queued", now, call_id="v3", **q)),
        ("lon1", raw("call.queued", now + 3600, call_id="from-the-future", **q)),
        ("lon1", first),  # the same event again
    ]
    kcat_produce(kafka_bootstrap, topic, records, tmp_path)
    group = f"g-{uuid.uuid4().hex}"
    daemon = Daemon(tmp_path, kafka_config(kafka_bootstrap, topic, dlq, group))
    daemon.start()
    try:
        daemon.wait_ready()
        wait_until(
            lambda: daemon.value("callpulse_dead_letter_records_total") == 5,
            30,
            "five records dead-lettered",
        )
        samples = daemon.samples()
        invalid = {
            dict(labels)["reason"]: v
            for (n, labels), v in samples.items()
            if n == "callpulse_events_invalid_total"
        }
        assert invalid == {
            "invalid_json": 1,
            "invalid_schema": 1,
            "unknown_type": 1,
            "oversize": 1,
            "future_event": 1,
            "unsupported_version": 0,
            "processing_error": 0,
        }
        assert daemon.total("callpulse_events_total", samples) == 3
        assert samples[("callpulse_events_duplicate_total", frozenset())] == 1
        offered = (
            "callpulse_queue_calls_offered_total",
            frozenset({"site": "lon1", "queue": "billing"}.items()),
        )
        assert samples[offered] == 3

        dead = kcat_consume(kafka_bootstrap, dlq, 5)
        assert [r["headers"]["callpulse.reason"] for r in dead] == [
            "invalid_json",
            "invalid_schema",
            "unknown_type",
            "oversize",
            "future_event",
        ]
        assert [int(r["headers"]["callpulse.source.offset"]) for r in dead] == [1, 3, 4, 5, 7]
        assert {r["headers"]["callpulse.source.topic"] for r in dead} == {topic}
        assert {r["headers"]["callpulse.source.partition"] for r in dead} == {
            str(dead[0]["headers"]["callpulse.source.partition"])
        }
        assert dead[0]["payload"] == "this is not json"
        assert len(dead[3]["payload"]) > 300_000  # kept whole: nothing is lost
        assert "agent_id" in dead[1]["headers"]["callpulse.error"]

        logged = daemon.log_events("record_rejected")
        assert sorted(e["offset"] for e in logged) == [1, 3, 4, 5, 7]
    finally:
        assert daemon.stop() == 0
    # Every record, poison included, is committed: the stream never stalls on one.
    assert await_committed(kafka_bootstrap, group, topic) == len(records)


def await_committed(bootstrap: str, group: str, topic: str) -> int:
    import asyncio

    async def committed() -> int:
        admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
        await admin.start()
        try:
            offsets = await admin.list_consumer_group_offsets(group)
        finally:
            await admin.close()
        return sum(meta.offset for tp, meta in offsets.items() if tp.topic == topic)

    return asyncio.run(committed())

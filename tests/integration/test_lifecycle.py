"""The daemon's lifecycle against real parts: start-up, readiness, SIGTERM drain, restart."""

from __future__ import annotations

import asyncio
import signal
import threading
import time
import uuid
from pathlib import Path
from typing import Any

import pytest
from aiokafka import AIOKafkaProducer

from tests.unit.events import raw

from .helpers import Daemon, free_port, kafka_config, kcat_produce, wait_until

pytestmark = pytest.mark.integration


def test_default_run_serves_simulated_queue_kpis_within_15_seconds(tmp_path: Path) -> None:
    daemon = Daemon(tmp_path, {})  # no source section: the embedded simulator
    started = time.monotonic()
    daemon.start()
    try:

        def kpis() -> bool:
            daemon.assert_running()
            status, body = daemon.get("/metrics")
            return (
                status == 200
                and "callpulse_queue_offered_calls{" in body
                and ("callpulse_queue_calls_waiting{" in body)
            )

        wait_until(kpis, 15, "queue KPIs on /metrics")
        assert time.monotonic() - started < 15
        assert daemon.get("/readyz")[0] == 200
        assert daemon.get("/healthz") == (200, "ok\n")
    finally:
        assert daemon.stop() == 0


def test_unreachable_broker_keeps_the_daemon_alive_but_not_ready(tmp_path: Path) -> None:
    closed = f"127.0.0.1:{free_port()}"
    daemon = Daemon(tmp_path, kafka_config(closed, "t", "t.dlq", "g"))
    daemon.start()
    try:
        wait_until(lambda: daemon.get("/healthz")[0] == 200, 15, "/healthz")
        time.sleep(2)
        daemon.assert_running()
        status, body = daemon.get("/readyz")
        assert status == 503
        assert "starting the kafka source" in body
        assert daemon.value("callpulse_ready") == 0
        assert daemon.log_events("source_unavailable")
    finally:
        assert daemon.stop() == 0


def produce_steadily(bootstrap: str, topic: str, total: int, seconds: float) -> threading.Thread:
    """Produce ``total`` unique call.queued events over ``seconds``, keyed by site."""

    async def run() -> None:
        producer = AIOKafkaProducer(bootstrap_servers=bootstrap, linger_ms=5)
        await producer.start()
        try:
            per_tick = max(1, total // int(seconds * 20))
            sent = 0
            while sent < total:
                for _ in range(min(per_tick, total - sent)):
                    site = ("lon1", "nyc1", "sgp1")[sent % 3]
                    value = raw(
                        "call.queued",
                        time.time(),
                        site=site,
                        call_id=f"c{sent}",
                        queue="billing",
                        event_id=f"steady-{sent}",
                    )
                    await producer.send(topic, value, key=site.encode())
                    sent += 1
                await asyncio.sleep(0.05)
            await producer.flush()
        finally:
            await producer.stop()

    thread = threading.Thread(target=asyncio.run, args=(run(),), daemon=True)
    thread.start()
    return thread


def test_sigterm_mid_stream_then_restart_loses_and_double_counts_nothing(
    kafka_bootstrap: str, topics: tuple[str, str], tmp_path: Path
) -> None:
    topic, dlq = topics
    total = 30_000
    config = kafka_config(
        kafka_bootstrap, topic, dlq, f"g-{uuid.uuid4().hex}", max_batch_records=200
    )
    producer = produce_steadily(kafka_bootstrap, topic, total, seconds=10)

    first = Daemon(tmp_path, config, name="first").start()
    first.wait_ready()
    wait_until(
        lambda: (first.total("callpulse_events_total") or 0) > 3000,
        30,
        "the first daemon to be mid-stream",
    )
    assert first.stop(signal.SIGTERM) == 0
    [stopped] = first.log_events("callpulse_stopped")
    applied_first = stopped["events_applied"]
    assert 0 < applied_first < total, "SIGTERM should land mid-stream"
    assert stopped["events_duplicate"] == 0

    second = Daemon(tmp_path, config, name="second").start()
    try:
        second.wait_ready()
        producer.join(timeout=60)
        assert not producer.is_alive()
        wait_until(
            lambda: applied_first + second.total("callpulse_events_total") >= total,
            60,
            "the second daemon to catch up",
        )
        time.sleep(1)  # anything more would be double counting: give it the chance to show
        samples = second.samples()
        assert applied_first + second.total("callpulse_events_total", samples) == total
        assert samples[("callpulse_events_duplicate_total", frozenset())] == 0
        assert second.total("callpulse_queue_calls_offered_total", samples) + applied_first == total
    finally:
        assert second.stop() == 0


def kpi_view(samples: dict[Any, float]) -> dict[Any, float]:
    """The windowed and live queue KPIs of a scrape (not the per-process counters)."""
    keep = (
        "callpulse_queue_offered_calls",
        "callpulse_queue_answered_calls",
        "callpulse_queue_service_level_ratio",
        "callpulse_queue_asa_seconds",
        "callpulse_queue_calls_waiting",
        "callpulse_queue_agents",
    )
    return {k: v for k, v in samples.items() if k[0] in keep}


def test_a_restarted_replica_rebuilds_the_same_kpis_from_kafka(
    kafka_bootstrap: str, topics: tuple[str, str], tmp_path: Path
) -> None:
    topic, dlq = topics
    now = time.time()
    events = []
    for i in range(300):
        site = ("lon1", "nyc1", "sgp1")[i % 3]
        at = now - 25 + i * 0.05
        events.append((site, raw("call.queued", at, site=site, call_id=f"c{i}", queue="billing")))
        if i % 2:
            events.append(
                (
                    site,
                    raw(
                        "call.answered",
                        at + 0.01,
                        site=site,
                        call_id=f"c{i}",
                        queue="billing",
                        agent_id="a",
                        wait_seconds=float(i % 40),
                    ),
                )
            )
    events += [
        (
            s,
            raw(
                "agent.state",
                now - 20,
                site=s,
                agent_id=f"{s}-a",
                state="on_call",
                queues=["billing"],
            ),
        )
        for s in ("lon1", "nyc1", "sgp1")
    ]
    kcat_produce(kafka_bootstrap, topic, events, tmp_path)
    config = kafka_config(kafka_bootstrap, topic, dlq, f"g-{uuid.uuid4().hex}")

    first = Daemon(tmp_path, config, name="first").start()
    first.wait_ready()
    wait_until(lambda: first.total("callpulse_events_total") == len(events), 30, "all applied")
    before = kpi_view(first.samples())
    assert first.stop() == 0

    second = Daemon(tmp_path, config, name="second").start()
    try:
        second.wait_ready()  # not ready until the partitions are re-read
        samples = second.samples()
        assert kpi_view(samples) == before
        assert samples[("callpulse_events_total", frozenset({"type": "call.queued"}.items()))] == 0
        assert second.log_events("rebuild_complete")
    finally:
        assert second.stop() == 0


def test_sigkill_mid_stream_then_restart_loses_and_double_counts_nothing(
    kafka_bootstrap: str, topics: tuple[str, str], tmp_path: Path
) -> None:
    topic, dlq = topics
    total = 20_000
    config = kafka_config(
        kafka_bootstrap, topic, dlq, f"g-{uuid.uuid4().hex}", max_batch_records=200
    )
    producer = produce_steadily(kafka_bootstrap, topic, total, seconds=8)
    first = Daemon(tmp_path, config, name="first").start()
    first.wait_ready()
    wait_until(
        lambda: (first.total("callpulse_events_total") or 0) > 3000,
        30,
        "the first daemon to be mid-stream",
    )
    assert first.process is not None
    first.process.send_signal(signal.SIGKILL)  # no drain, no final commit
    first.process.wait(timeout=10)

    second = Daemon(tmp_path, config, name="second").start()
    try:
        second.wait_ready()
        producer.join(timeout=60)

        def offered_15m() -> float:
            samples = second.samples()
            return sum(
                v
                for (n, labels), v in samples.items()
                if n == "callpulse_queue_offered_calls" and ("window", "15m") in labels
            )

        # Every call offered exactly once in the rebuilt windows: nothing lost, nothing twice.
        wait_until(lambda: offered_15m() >= total, 60, "the second daemon to catch up")
        time.sleep(1)
        assert offered_15m() == total
        assert second.value("callpulse_events_duplicate_total") == 0
    finally:
        assert second.stop() == 0


def test_a_second_replica_joining_under_load_moves_sites_without_loss_or_double_count(
    kafka_bootstrap: str, topics: tuple[str, str], tmp_path: Path
) -> None:
    topic, dlq = topics
    total = 20_000
    config = kafka_config(
        kafka_bootstrap, topic, dlq, f"g-{uuid.uuid4().hex}", max_batch_records=200
    )
    producer = produce_steadily(kafka_bootstrap, topic, total, seconds=10)
    first = Daemon(tmp_path, config, name="first").start()
    second = None
    try:
        first.wait_ready()
        wait_until(
            lambda: (first.total("callpulse_events_total") or 0) > 3000,
            30,
            "the first replica to be mid-stream",
        )
        second = Daemon(tmp_path, config, name="second").start()
        second.wait_ready()
        producer.join(timeout=60)
        replicas = (first, second)

        def offered(d: Daemon) -> dict[str, float]:
            return {
                dict(labels)["site"]: v
                for (n, labels), v in d.samples().items()
                if n == "callpulse_queue_offered_calls" and ("window", "15m") in labels
            }

        def all_offered() -> float:
            return sum(sum(offered(d).values()) for d in replicas)

        wait_until(lambda: all_offered() >= total, 60, "both replicas to catch up")
        time.sleep(1)
        by_replica = [offered(d) for d in replicas]
        # Every site lives on exactly one replica, and every call is offered exactly once.
        assert not set(by_replica[0]) & set(by_replica[1])
        assert set(by_replica[0]) | set(by_replica[1]) == {"lon1", "nyc1", "sgp1"}
        assert all_offered() == total
        assert sum(d.total("callpulse_events_total") for d in replicas) == total
        assert sum(d.value("callpulse_events_duplicate_total") or 0 for d in replicas) == 0
    finally:
        if second is not None:
            assert second.stop() == 0
        assert first.stop() == 0

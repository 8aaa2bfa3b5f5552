"""End-to-end benchmark: simulated contact-center events through a real Kafka broker.

    .venv/bin/python -m benchmarks.e2e_kafka [--events 300000] [--rate 10000 | --half-max]
        [--seconds 20] [--no-peer] [--inline-scrape]

Phase 1 (throughput): ``--events`` events from the simulator are produced to a fresh topic
first; then the real pipeline (KafkaSource -> Ingest -> Monitor, commits, and a /metrics
scrape every second through the daemon's renderer and writer, as the daemon answers
Prometheus (OpenMetrics, gzip): in a forked child, or on the event loop with
``--inline-scrape``) consumes them from the start. ``scrape_held_loop_ms_max`` is the longest
the event loop was held by a scrape (the fork, or the whole render when inline). Reported:
events/s from first fetch to last commit. Then a bare aiokafka consumer (``getmany``, no
decoding: the ceiling of a Python Kafka consumer here) reads the same records, and the ratio
of the two is printed. Third, when
``.venv-peers`` exists (``benchmarks/peers/install``; not part of callpulse), a Quix Streams
app that does only the queue counts (benchmarks/peers/quix_counts.py: per site and queue,
5-minute tumbling windows on event time) reads the same records in its own process, and the
ratio of callpulse to it is printed; ``--no-peer`` leaves it out. Quix Streams consumes with
librdkafka, whose threads run outside the GIL, and its ``group_by`` goes through a repartition
topic on the same broker, so its figure is not strictly one core's.

Phase 2 (latency): a second process produces at ``--rate`` events/s (``--half-max``: half the
throughput of phase 1) for ``--seconds`` while the pipeline consumes live. Reported: p50/p99
of (applied at - Kafka record timestamp), i.e. from the producer handing the record over to
its effect being visible to the next scrape. Then the same traffic to a bare aiokafka
consumer, its latency to the fetch: what the producer, the broker and a Python consumer
sharing the machine's cores cost any consumer.

Peak RSS is the consuming process's high-water mark. The producer always runs in a separate
process so the consumer's figures are one core's. The broker is the one
KAFKA_BOOTSTRAP_SERVERS names, else one started with scripts/kafka-local (and stopped after).
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import math
import os
import resource
import statistics
import subprocess
import sys
import time
import uuid
from pathlib import Path
from typing import Any

from aiokafka import AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from prometheus_client.exposition import choose_encoder

ROOT = Path(__file__).resolve().parents[1]
PEER_PYTHON = ROOT / ".venv-peers" / "bin" / "python"
SITES, QUEUES_PER_SITE, PARTITIONS = 20, 10, 6
SIMULATED_MINUTES = 10.0


# --- producing (runs in its own process) ---------------------------------------------------


def simulated_events(count: int, seed: int) -> list[tuple[bytes, bytes]]:
    """About ``count`` events from the simulator, over the 10 minutes ending now."""
    from datetime import UTC, datetime

    from callpulse.simulation.model import ContactCenter
    from callpulse.simulation.scenario import Scenario

    # An answered call makes 6 ACD events (queued, answered, completed, three agent states);
    # aim a little high and keep the first ``count``, all of them in the past.
    queues = SITES * QUEUES_PER_SITE
    per_hour = count / (5.0 * queues * SIMULATED_MINUTES) * 60
    handle = 200 * math.exp(0.6**2 / 2) + 35
    agents = math.ceil(per_hour / 3600 * handle * 1.1) + 1
    start = time.time() - SIMULATED_MINUTES * 60
    scenario = Scenario.model_validate(
        {
            "name": "benchmark",
            "seed": seed,
            "start": datetime.fromtimestamp(start, UTC).replace(tzinfo=None),
            "duplicate_share": 0,
            "late_share": 0,
            "sites": [
                {
                    "name": f"site-{s}",
                    "queues": [
                        {
                            "name": f"queue-{q}",
                            "calls_per_hour": per_hour,
                            "agents": agents,
                            "talk": "200s",
                        }
                        for q in range(QUEUES_PER_SITE)
                    ],
                }
                for s in range(SITES)
            ],
        }
    )
    center = ContactCenter(scenario, start=start)
    out: list[tuple[bytes, bytes]] = []
    for event in center.advance(time.time()):
        out.append((event["site"].encode(), json.dumps(event, separators=(",", ":")).encode()))
        if len(out) == count:
            break
    return out


async def produce(bootstrap: str, topic: str, count: int, rate: float) -> None:
    events = simulated_events(count, seed=11)
    producer = AIOKafkaProducer(
        bootstrap_servers=bootstrap, linger_ms=5, max_batch_size=256 * 1024, acks=1
    )
    await producer.start()
    try:
        if rate <= 0:
            for key, value in events:
                await producer.send(topic, value, key=key)
        else:
            chunk = max(1, int(rate / 100))
            began = time.monotonic()
            for i in range(0, len(events), chunk):
                due = began + i / rate
                delay = due - time.monotonic()
                if delay > 0:
                    await asyncio.sleep(delay)
                for key, value in events[i : i + chunk]:
                    await producer.send(topic, value, key=key)
        await producer.flush()
    finally:
        await producer.stop()


# --- consuming (this process) --------------------------------------------------------------


class Pipeline:
    """The daemon's consuming path without its HTTP and alerting: KafkaSource -> Ingest ->
    Monitor, dead letters and commits, and the registry a scrape renders. Shared with
    ``benchmarks.scaleout``."""

    def __init__(self, bootstrap: str, topic: str, group: str) -> None:
        from callpulse import pipeline
        from callpulse.sources.kafka import KafkaSource
        from callpulse.web.exposition import CallpulseCollector, SourceMetrics, build_registry

        settings = kafka_settings(bootstrap, topic, group)
        self.source = KafkaSource(settings.source.kafka)
        self.parts = pipeline.build(
            settings, now=time.time(), clock=self.source.clock, deliver=False
        )
        self.monitor, self.ingest = self.parts.monitor, self.parts.ingest
        collector = CallpulseCollector(
            self.ingest,
            SourceMetrics(self.source.lag, self.source.dead_letters),
            ready=lambda: True,
        )
        self.registry = build_registry(collector)
        self.fetched_at = 0.0

    async def step(self) -> list[Any]:
        """Fetch one batch and apply, dead-letter and commit it, as the daemon's loop does;
        return its records (none when the fetch timed out). ``fetched_at`` is when the fetch
        returned (time.monotonic)."""
        batch = await self.source.fetch()
        self.fetched_at = time.monotonic()
        if batch.records:
            rejected = self.parts.feed(batch.records, time.time())
            if rejected:
                await self.source.dead_letter(rejected)
            await self.source.commit(batch)
        return list(batch.records)

    def counts(self) -> dict[str, Any]:
        """What the monitor made of what it was given."""
        stats = self.monitor.stats
        return {
            "invalid": sum(self.ingest.invalid.values()),
            "duplicates": stats.duplicates,
            "late": stats.late,
            "future": stats.future,
        }


async def consume(
    bootstrap: str, topic: str, expected: int, measure_latency: bool, inline_scrape: bool = False
) -> dict[str, Any]:
    from benchmarks.scale import PROMETHEUS_ACCEPT
    from callpulse.heap import FrozenHeap
    from callpulse.tasks import cancel
    from callpulse.web.compression import gzipped
    from callpulse.web.forked import ForkedRenderer
    from callpulse.web.textformat import fast_writer

    pipeline = Pipeline(bootstrap, topic, f"bench-{uuid.uuid4().hex[:8]}")
    # As the daemon (App) runs it: its state frozen out of the collector's full passes.
    heap = FrozenHeap()
    heap_task = asyncio.create_task(heap.run())
    pauses = CollectorPauses()
    source, registry = pipeline.source, pipeline.registry
    renderer = ForkedRenderer(registry, enabled=not inline_scrape)
    # What the daemon's /metrics does for Prometheus' Accept and Accept-Encoding.
    write = gzipped(fast_writer(choose_encoder(PROMETHEUS_ACCEPT)[0]))
    await source.start()
    seen = 0
    first = last = 0.0
    latencies: list[float] = []
    scrapes: list[float] = []
    next_scrape = time.monotonic() + 1.0
    scrape_gzip_bytes = 0
    scraping: asyncio.Task[None] | None = None

    async def scrape() -> None:
        nonlocal scrape_gzip_bytes
        began = time.perf_counter()
        scrape_gzip_bytes = len(await renderer.render(write))
        scrapes.append(time.perf_counter() - began)

    try:
        while seen < expected:
            records = await pipeline.step()
            if records:
                first = first or pipeline.fetched_at
                seen += len(records)
                last = time.monotonic()
                if measure_latency:
                    applied = time.time() * 1000
                    latencies.extend(applied - r.timestamp_ms for r in records if r.timestamp_ms)
            if time.monotonic() >= next_scrape and (scraping is None or scraping.done()):
                # As Prometheus does: a scrape a second, beside the consuming, through the
                # daemon's own renderer (a forked child unless --inline-scrape).
                scraping = asyncio.create_task(scrape())
                next_scrape = time.monotonic() + 1.0
    finally:
        if scraping is not None:
            await scraping
        await source.stop()
        await cancel(heap_task)
        heap.release()
        pauses.stop()
    series = sum(1 for _ in registry.collect() for _ in _.samples)
    result: dict[str, Any] = {
        "events": seen,
        "seconds": round(last - first, 3),
        "events_per_second": round(seen / (last - first)) if last > first else None,
        **pipeline.counts(),
        "series": series,
        "scrape_gzip_bytes": scrape_gzip_bytes,
        "scrape_ms_p50": round(statistics.median(scrapes) * 1000, 2) if scrapes else None,
        "scrape_ms_max": round(max(scrapes) * 1000, 2) if scrapes else None,
        "scrapes": len(scrapes),
        "scrape_held_loop_ms_max": round(
            (renderer.fork_seconds if renderer.forked else max(scrapes, default=0)) * 1000, 2
        ),
        **pauses.summary(),
    }
    return result | percentiles(latencies)


class CollectorPauses:
    """How long the garbage collector's passes held the process, by generation."""

    def __init__(self) -> None:
        self._began = 0.0
        self.seconds: dict[int, list[float]] = {0: [], 1: [], 2: []}
        gc.callbacks.append(self._on_gc)

    def _on_gc(self, phase: str, info: dict[str, int]) -> None:
        if phase == "start":
            self._began = time.perf_counter()
        else:
            self.seconds[info["generation"]].append(time.perf_counter() - self._began)

    def stop(self) -> None:
        gc.callbacks.remove(self._on_gc)

    def summary(self) -> dict[str, Any]:
        return {
            f"gc{gen}_passes_ms_max": [len(took), round(max(took, default=0) * 1000, 1)]
            for gen, took in self.seconds.items()
        }


async def consume_bare(
    bootstrap: str, topic: str, expected: int, measure_latency: bool = False
) -> dict[str, Any]:
    """The same records through a bare aiokafka consumer: fetched and counted, nothing else.
    ``measure_latency``: also each record's time from its producer to its fetch, the floor
    of what any Python consumer on this machine can reach at that rate."""
    from aiokafka import AIOKafkaConsumer

    consumer = AIOKafkaConsumer(
        topic,
        bootstrap_servers=bootstrap,
        group_id=f"bench-bare-{uuid.uuid4().hex[:8]}",
        auto_offset_reset="earliest",
        enable_auto_commit=False,
    )
    await consumer.start()
    seen = 0
    first = last = 0.0
    latencies: list[float] = []
    try:
        while seen < expected:
            batches = await consumer.getmany(timeout_ms=1000, max_records=5000)
            fetched = time.time() * 1000
            for records in batches.values():
                if records and not first:
                    first = time.monotonic()
                seen += len(records)
                if measure_latency:
                    latencies.extend(fetched - r.timestamp for r in records)
            last = time.monotonic()
    finally:
        await consumer.stop()
    seconds = last - first
    return {
        "events": seen,
        "seconds": round(seconds, 3),
        "events_per_second": round(seen / seconds) if seconds > 0 else None,
        **percentiles(latencies),
    }


def percentiles(latencies: list[float]) -> dict[str, float]:
    """p50, p99 and max of ``latencies`` (ms), none when there are none."""
    if not latencies:
        return {}
    latencies.sort()
    return {
        "latency_ms_p50": round(latencies[len(latencies) // 2], 1),
        "latency_ms_p99": round(latencies[int(len(latencies) * 0.99)], 1),
        "latency_ms_max": round(latencies[-1], 1),
    }


def quix_peer(bootstrap: str, topic: str, expected: int) -> dict[str, Any]:
    """The Quix Streams peer on the same records, in its own process and virtualenv: its JSON
    line (events, seconds, events_per_second), plus ``exit_code`` when it failed."""
    done = subprocess.run(
        [
            str(PEER_PYTHON),
            str(ROOT / "benchmarks" / "peers" / "quix_counts.py"),
            "--bootstrap",
            bootstrap,
            "--topic",
            topic,
            "--events",
            str(expected),
        ],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        text=True,
        check=False,
    )
    lines = [line for line in done.stdout.splitlines() if line.startswith("{")]
    result: dict[str, Any] = json.loads(lines[-1]) if lines else {}
    if done.returncode:
        result["exit_code"] = done.returncode
    return result


def kafka_settings(bootstrap: str, topic: str, group: str) -> Any:
    """Settings of a pipeline consuming ``topic`` in consumer group ``group``."""
    from callpulse.config import Settings

    kafka = {
        "bootstrap_servers": bootstrap,
        "topics": [topic],
        "group_id": group,
        "dead_letter_topic": f"{topic}.dlq",
    }
    return Settings.model_validate({"source": {"kind": "kafka", "kafka": kafka}})


async def new_topic(bootstrap: str) -> str:
    name = f"bench-{uuid.uuid4().hex[:8]}"
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        await admin.create_topics([NewTopic(name, PARTITIONS, 1), NewTopic(f"{name}.dlq", 1, 1)])
    finally:
        await admin.close()
    return name


def producer_process(
    bootstrap: str, topic: str, count: int, rate: float
) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [
            sys.executable,
            "-m",
            "benchmarks.e2e_kafka",
            "produce",
            bootstrap,
            topic,
            str(count),
            str(rate),
        ],
        cwd=ROOT,
    )


def main() -> None:
    if len(sys.argv) > 1 and sys.argv[1] == "produce":
        _, _, bootstrap, topic, count, rate = sys.argv
        asyncio.run(produce(bootstrap, topic, int(count), float(rate)))
        return
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--events", type=int, default=300_000)
    parser.add_argument("--rate", type=float, default=10_000)
    parser.add_argument("--seconds", type=float, default=20)
    parser.add_argument(
        "--inline-scrape",
        action="store_true",
        help="render /metrics on the event loop (http.render_in_child: false)",
    )
    parser.add_argument(
        "--no-peer", action="store_true", help="leave out the Quix Streams peer (.venv-peers)"
    )
    parser.add_argument(
        "--half-max",
        action="store_true",
        help="the live rate is half the throughput measured first (instead of --rate)",
    )
    args = parser.parse_args()

    bootstrap = os.environ.get("KAFKA_BOOTSTRAP_SERVERS")
    started_broker: dict[str, str] | None = None
    if not bootstrap:
        port = os.environ.get("KAFKA_PORT", "19192")
        started_broker = os.environ | {
            "KAFKA_PORT": port,
            "KAFKA_DATA_DIR": f"/tmp/callpulse-bench-kafka-{port}",
        }
        subprocess.run(
            [str(ROOT / "scripts" / "kafka-local"), "start"], env=started_broker, check=True
        )
        bootstrap = f"127.0.0.1:{port}"
    try:
        topic = asyncio.run(new_topic(bootstrap))
        print(f"producing {args.events} events to {topic} ...", flush=True)
        producer_process(bootstrap, topic, args.events, 0).wait()
        throughput = asyncio.run(
            consume(bootstrap, topic, args.events, False, inline_scrape=args.inline_scrape)
        )
        print("throughput:", json.dumps(throughput), flush=True)
        bare = asyncio.run(consume_bare(bootstrap, topic, args.events))
        print("bare aiokafka getmany:", json.dumps(bare), flush=True)
        if throughput["events_per_second"] and bare["events_per_second"]:
            ratio = throughput["events_per_second"] / bare["events_per_second"]
            print(f"callpulse / bare aiokafka: {ratio:.2f}x", flush=True)
        if not args.no_peer and not PEER_PYTHON.exists():
            print(
                "quix streams peer: skipped, .venv-peers is missing "
                "(benchmarks/peers/install installs it)",
                flush=True,
            )
        elif not args.no_peer:
            peer = quix_peer(bootstrap, topic, args.events)
            print("quix streams peer:", json.dumps(peer), flush=True)
            ok = "exit_code" not in peer and peer.get("events_per_second")
            if throughput["events_per_second"] and ok:
                ratio = throughput["events_per_second"] / peer["events_per_second"]
                print(f"callpulse / quix streams: {ratio:.2f}x", flush=True)

        rate = args.rate
        if args.half_max and throughput["events_per_second"]:
            rate = throughput["events_per_second"] / 2
        live = int(rate * args.seconds)
        topic = asyncio.run(new_topic(bootstrap))
        print(f"live: {rate:.0f} events/s for {args.seconds:.0f} s to {topic} ...", flush=True)
        feeder = producer_process(bootstrap, topic, live, rate)
        latency = asyncio.run(
            consume(bootstrap, topic, live, True, inline_scrape=args.inline_scrape)
        )
        feeder.wait()
        print("latency:", json.dumps(latency), flush=True)
        # The same live traffic to a bare aiokafka consumer: the producer, the broker and
        # the consumer share this machine's cores, and what that costs any consumer is here.
        topic = asyncio.run(new_topic(bootstrap))
        feeder = producer_process(bootstrap, topic, live, rate)
        bare_latency = asyncio.run(consume_bare(bootstrap, topic, live, measure_latency=True))
        feeder.wait()
        print("latency, bare aiokafka getmany:", json.dumps(bare_latency), flush=True)
        rss_mib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        print(f"peak RSS of the consuming process: {rss_mib:.0f} MiB", flush=True)
    finally:
        if started_broker is not None:
            subprocess.run(
                [str(ROOT / "scripts" / "kafka-local"), "stop"], env=started_broker, check=False
            )


if __name__ == "__main__":
    main()

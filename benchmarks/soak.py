"""Soak: the real pipeline under steady load for a long time, with its memory sampled.

    KAFKA_BOOTSTRAP_SERVERS=127.0.0.1:9092 .venv/bin/python -m benchmarks.soak \
        [--rate 25000] [--minutes 30]

A separate process produces simulator-shaped events at ``--rate`` per second (a pool of
simulated events, re-stamped with the current time and fresh ids), and this process runs the
pipeline (KafkaSource -> Ingest -> Monitor, commits, a /metrics render every second) on them,
printing its RSS every 30 s. Memory should be flat after warm-up: windows are O(buckets),
de-duplication is bounded by the longest window.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import subprocess
import sys
import time
import uuid
from pathlib import Path

from benchmarks.e2e_kafka import ROOT, kafka_settings, new_topic


def rss_mib() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


async def produce(bootstrap: str, topic: str, rate: float, seconds: float) -> None:
    from aiokafka import AIOKafkaProducer

    from benchmarks.e2e_kafka import simulated_events

    templates = []
    for key, value in simulated_events(50_000, seed=3):
        body = json.loads(value)
        body["event_id"], body["occurred_at"] = "{id}", "{at}"
        templates.append((key, json.dumps(body, separators=(",", ":"))))
    producer = AIOKafkaProducer(
        bootstrap_servers=bootstrap, linger_ms=20, max_batch_size=256 * 1024, acks=1
    )
    await producer.start()
    began, sent, run = time.monotonic(), 0, uuid.uuid4().hex[:6]
    try:
        while time.monotonic() - began < seconds:
            due = int((time.monotonic() - began) * rate)
            stamp = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime()) + "Z"
            while sent < due:
                key, template = templates[sent % len(templates)]
                value = template.replace("{id}", f"{run}-{sent}").replace("{at}", stamp)
                await producer.send(topic, value.encode(), key=key)
                sent += 1
            await asyncio.sleep(0.01)
        await producer.flush()
    finally:
        await producer.stop()


async def consume(bootstrap: str, topic: str, seconds: float) -> None:
    from prometheus_client import generate_latest

    from callpulse import pipeline
    from callpulse.sources.kafka import KafkaSource
    from callpulse.web.exposition import CallpulseCollector, SourceMetrics, build_registry

    settings = kafka_settings(bootstrap, topic, f"soak-{topic}")
    source = KafkaSource(settings.source.kafka)
    parts = pipeline.build(settings, now=time.time(), clock=source.clock, deliver=False)
    ingest = parts.ingest
    registry = build_registry(
        CallpulseCollector(
            ingest, SourceMetrics(source.lag, source.dead_letters), ready=lambda: True
        )
    )
    await source.start()
    began = time.monotonic()
    next_render, next_sample, applied = began + 1, began, 0
    try:
        while time.monotonic() - began < seconds:
            batch = await source.fetch()
            parts.feed(batch.records, time.time())
            await source.commit(batch)
            applied += len(batch.records)
            now = time.monotonic()
            if now >= next_render:
                generate_latest(registry)
                next_render = now + 1
            if now >= next_sample:
                lag = sum(source.lag().values())
                print(
                    f"{(now - began) / 60:5.1f} min  RSS {rss_mib():6.1f} MiB  "
                    f"applied {applied:,}  lag {lag:,}",
                    flush=True,
                )
                next_sample = now + 30
    finally:
        await source.stop()


def main() -> None:
    if len(sys.argv) > 1 and sys.argv[1] == "produce":
        _, _, bootstrap, topic, rate, seconds = sys.argv
        asyncio.run(produce(bootstrap, topic, float(rate), float(seconds)))
        return
    parser = argparse.ArgumentParser()
    parser.add_argument("--rate", type=float, default=25_000)
    parser.add_argument("--minutes", type=float, default=30)
    args = parser.parse_args()
    bootstrap = os.environ.get("KAFKA_BOOTSTRAP_SERVERS", "127.0.0.1:9092")
    topic = asyncio.run(new_topic(bootstrap))
    seconds = args.minutes * 60
    feeder = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "benchmarks.soak",
            "produce",
            bootstrap,
            topic,
            str(args.rate),
            str(seconds),
        ],
        cwd=ROOT,
    )
    try:
        asyncio.run(consume(bootstrap, topic, seconds + 10))
    finally:
        feeder.wait(timeout=120)


if __name__ == "__main__":
    main()

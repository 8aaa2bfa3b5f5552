"""How fast a replica rebuilds its state from Kafka after a restart.

    KAFKA_BOOTSTRAP_SERVERS=127.0.0.1:9092 .venv/bin/python -m benchmarks.rebuild [--events 200000]

Produces simulator events (all within the last 10 minutes), lets one consumer apply and
commit them all, then starts a fresh one in the same group and times the re-read of the
longest window up to the committed offsets (events/s of rebuild).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import time
import uuid

from benchmarks.e2e_kafka import kafka_settings, new_topic, producer_process


async def run(bootstrap: str, topic: str, events: int) -> None:
    from callpulse import pipeline
    from callpulse.sources.kafka import KafkaSource

    settings = kafka_settings(bootstrap, topic, f"rb-{uuid.uuid4().hex[:6]}")

    async def consume(rebuild: bool) -> tuple[int, float]:
        source = KafkaSource(settings.source.kafka, rebuild_seconds=905 if rebuild else 0)
        parts = pipeline.build(settings, now=time.time(), clock=source.clock, deliver=False)
        monitor = parts.monitor
        await source.start()
        seen, started = 0, 0.0
        try:
            while True:
                batch = await source.fetch()
                if batch.records and not started:
                    started = time.perf_counter()
                parts.feed(batch.records, time.time())
                await source.commit(batch)
                seen += len(batch.records)
                if rebuild and started and not source.rebuilding():
                    return monitor.stats.replayed, time.perf_counter() - started
                if not rebuild and seen >= events:
                    return seen, time.perf_counter() - started
        finally:
            await source.stop()

    applied, took = await consume(rebuild=False)
    print(f"first consumer applied {applied} events in {took:.1f} s")
    replayed, took = await consume(rebuild=True)
    print(f"rebuild: {replayed} events re-read in {took:.1f} s ({replayed / took:,.0f} events/s)")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--events", type=int, default=200_000)
    args = parser.parse_args()
    bootstrap = os.environ.get("KAFKA_BOOTSTRAP_SERVERS", "127.0.0.1:9092")
    topic = asyncio.run(new_topic(bootstrap))
    producer_process(bootstrap, topic, args.events, 0).wait()
    asyncio.run(run(bootstrap, topic, args.events))


if __name__ == "__main__":
    main()

"""``callpulse simulate``: a scenario's events to Kafka, or to a JSON-lines file."""

from __future__ import annotations

import asyncio
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

from callpulse.config import KafkaSettings
from callpulse.core.durations import format_duration, parse_duration
from callpulse.simulation import scenario as scenarios
from callpulse.simulation.model import ContactCenter

_STEP = 1.0  # simulated seconds advanced per step when producing


def simulate(
    name: str,
    kafka: str | None,
    topic: str,
    out: Path | None,
    speed: float,
    duration: str | None,
    security: KafkaSettings | None = None,
) -> int:
    """Produce a scenario to Kafka (or write it to ``out``); ``security``: the settings whose
    SASL and TLS options the producer uses, as the Kafka source would."""
    try:
        scenario = scenarios.load(name)
        length = parse_duration(duration) if duration else scenario.duration
    except ValueError as exc:
        print(f"callpulse: {exc}", file=sys.stderr)
        return 2
    if out is not None:
        return _write(scenario, out, length)
    assert kafka is not None
    settings = (security or KafkaSettings()).model_copy(update={"bootstrap_servers": kafka})
    return asyncio.run(_produce(scenario, settings, topic, speed, length))


def _write(scenario: scenarios.Scenario, out: Path, length: float) -> int:
    start = scenario.start.replace(tzinfo=UTC).timestamp()
    center = ContactCenter(scenario, start)
    count = 0
    with out.open("wb") as f:
        t = start
        while t < start + length:
            t = min(t + 60, start + length)
            for record in center.records(t):
                f.write((record.value or b"") + b"\n")
                count += 1
    print(f"{count:,} events of {scenario.name} ({format_duration(length)}) written to {out}")
    return 0


async def _produce(
    scenario: scenarios.Scenario, kafka: KafkaSettings, topic: str, speed: float, length: float
) -> int:
    from aiokafka import AIOKafkaProducer
    from aiokafka.errors import KafkaError

    wall_start = time.time()
    # Events must never be ahead of the wall clock (consumers reject those), so a faster
    # than real time run starts in the past and ends at the wall clock.
    lead = length if speed <= 0 else length * max(0.0, 1 - 1 / speed)
    start = wall_start - lead
    center = ContactCenter(scenario, start)
    from callpulse.sources.kafka import connection_options

    bootstrap = kafka.bootstrap_servers
    producer = AIOKafkaProducer(
        linger_ms=20, max_batch_size=256 * 1024, acks=1, **connection_options(kafka)
    )
    try:
        await producer.start()
    except KafkaError as exc:
        print(f"callpulse: cannot reach Kafka at {bootstrap}: {exc}", file=sys.stderr)
        return 2
    sent = 0
    shown = time.monotonic()
    try:
        t = start
        while t < start + length:
            t = min(t + _STEP, start + length)
            if speed > 0:
                due = wall_start + (t - start) / speed
                delay = due - time.time()
                if delay > 0:
                    await asyncio.sleep(delay)
            for record in center.records(t, topic):
                await producer.send(topic, record.value, key=record.key)
                sent += 1
            if time.monotonic() - shown > 0.5:
                shown = time.monotonic()
                _progress(scenario.name, t - start, length, sent, time.time() - wall_start)
        await producer.flush()
    finally:
        await producer.stop()
    elapsed = time.time() - wall_start
    _progress(scenario.name, length, length, sent, elapsed)
    print(
        f"\n{sent:,} events produced to {topic} in {elapsed:.1f} s "
        f"({sent / max(elapsed, 1e-9):,.0f} events/s)"
    )
    return 0


def _progress(name: str, done: float, total: float, sent: int, elapsed: float) -> None:
    width = 30
    filled = int(width * done / total) if total else width
    bar = "#" * filled + "-" * (width - filled)
    clock = datetime.fromtimestamp(done, UTC).strftime("%H:%M:%S")
    rate = sent / elapsed if elapsed > 0 else 0.0
    print(
        f"\r{name} [{bar}] {clock} simulated  {sent:,} events  {rate:,.0f} events/s",
        end="",
        file=sys.stderr,
        flush=True,
    )

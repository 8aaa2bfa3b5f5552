"""``callpulse simulate``: a scenario's events to Kafka, or to a JSON-lines file."""

from __future__ import annotations

import asyncio
import sys
import time
from collections import Counter
from contextlib import ExitStack
from datetime import UTC, datetime
from pathlib import Path

from callpulse.config import KafkaSettings
from callpulse.core.durations import format_duration, parse_duration
from callpulse.simulation import scenario as scenarios
from callpulse.simulation.model import ContactCenter
from callpulse.simulation.platform import PlatformWriter

_STEP = 1.0  # simulated seconds advanced per step when producing


def simulate(
    name: str,
    kafka: str | None,
    topic: str,
    out: Path | None,
    speed: float,
    duration: str | None,
    security: KafkaSettings | None = None,
    platform: str | None = None,
) -> int:
    """Produce a scenario to Kafka (or write it to ``out``); ``security``: the settings whose
    SASL and TLS options the producer uses, as the Kafka source would. ``platform``: the
    call and agent events written as that platform writes them, each site's to a topic (or
    file) of its own; the others stay events v1."""
    try:
        scenario = scenarios.load(name)
        length = parse_duration(duration) if duration else scenario.duration
    except ValueError as exc:
        print(f"callpulse: {exc}", file=sys.stderr)
        return 2
    sites = [s.name for s in scenario.sites]
    writer = PlatformWriter(platform, sites, prefix=topic) if platform else None
    if out is not None:
        return _write(scenario, out, length, writer)
    assert kafka is not None
    settings = (security or KafkaSettings()).model_copy(update={"bootstrap_servers": kafka})
    return asyncio.run(_produce(scenario, settings, topic, speed, length, writer))


def platform_file(out: Path, fmt: str, site: str) -> Path:
    """Where ``simulate --out OUT --format FMT`` writes one site's platform records."""
    kind = "queue_log" if fmt == "asterisk-queue-log" else "jsonl"
    return out.with_name(f"{out.stem}.{fmt}.{site}.{kind}")


def _write(
    scenario: scenarios.Scenario, out: Path, length: float, writer: PlatformWriter | None
) -> int:
    start = scenario.start.replace(tzinfo=UTC).timestamp()
    center = ContactCenter(scenario, start, in_order=writer is not None)
    counts: Counter[Path] = Counter({out: 0})
    with ExitStack() as stack:
        files = {out: stack.enter_context(out.open("wb"))}
        t = start
        while t < start + length:
            t = min(t + 60, start + length)
            records = center.records(t, topic="")
            for record in writer.write(records) if writer is not None else records:
                path = out
                if writer is not None and record.topic:  # a platform's record, keyed by site
                    path = platform_file(out, writer.format, (record.key or b"").decode())
                if path not in files:
                    files[path] = stack.enter_context(path.open("wb"))
                files[path].write((record.value or b"") + b"\n")
                counts[path] += 1
    for path, count in counts.items():
        what = "events" if path == out else "records"
        print(f"{count:,} {what} of {scenario.name} ({format_duration(length)}) written to {path}")
    return 0


async def _produce(
    scenario: scenarios.Scenario,
    kafka: KafkaSettings,
    topic: str,
    speed: float,
    length: float,
    writer: PlatformWriter | None,
) -> int:
    from aiokafka import AIOKafkaProducer
    from aiokafka.errors import KafkaError

    wall_start = time.time()
    # Events must never be ahead of the wall clock (consumers reject those), so a faster
    # than real time run starts in the past and ends at the wall clock.
    lead = length if speed <= 0 else length * max(0.0, 1 - 1 / speed)
    start = wall_start - lead
    center = ContactCenter(scenario, start, in_order=writer is not None)
    from callpulse.sources.kafka_connect import connection_options

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
            records = center.records(t, topic)
            for record in writer.write(records) if writer is not None else records:
                # A platform's records go to its site's topic, TOPIC.FORMAT.SITE.
                await producer.send(record.topic, record.value, key=record.key)
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

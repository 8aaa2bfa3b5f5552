"""The simulator's commands: ``scenario list``, ``scenario check`` and ``simulate``."""

from __future__ import annotations

import asyncio
import statistics
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

from callpulse.core.durations import format_duration, parse_duration
from callpulse.settings import ConfigError, Settings, load_settings
from callpulse.shipped import shipped
from callpulse.simulation import scenario as scenarios
from callpulse.simulation.model import ContactCenter, encode
from callpulse.simulation.runner import Report, run

_STEP = 1.0  # simulated seconds advanced per step when producing


def list_scenarios() -> int:
    """Print the shipped scenarios with their descriptions."""
    for name in scenarios.names():
        print(f"{name:<22} {scenarios.load(name).description}")
    return 0


def check(names: list[str], config: Path | None, seeds: int = 1) -> int:
    """Play each scenario through the pipeline (with ``seeds`` seeds from its own) and compare
    the alerts, their episodes and their forecasts with its ``expect``."""
    from callpulse import logs

    logs.configure("warning", "console")
    try:
        settings = load_settings(config) if config else Settings(rule_files=[shipped("rules.yaml")])
    except ConfigError as exc:
        print(f"callpulse: {exc}", file=sys.stderr)
        return 2
    failed = 0
    for name in names or scenarios.names():
        try:
            scenario = scenarios.load(name)
        except ValueError as exc:
            print(f"callpulse: {exc}", file=sys.stderr)
            return 2
        failed += not _check_one(scenario, settings, seeds)
    print("scenario checks failed" if failed else "scenario checks passed")
    return 1 if failed else 0


def _check_one(scenario: scenarios.Scenario, settings: Settings, seeds: int) -> bool:
    started = time.perf_counter()
    reports: list[tuple[int, Report]] = []
    problems: list[str] = []
    for k in range(seeds):
        seed = scenario.seed + k
        report = run(scenario.model_copy(update={"seed": seed}), settings)
        reports.append((seed, report))
        problems += [f"seed {seed}: {p}" for p in report.verdict(scenario)]
    took = time.perf_counter() - started
    for kind, scores, bound in (
        ("drain ETA", [s for _, r in reports for s in r.eta], scenario.expect.eta_error),
        (
            "forecast peak",
            [s for _, r in reports for s in r.forecasts],
            scenario.expect.forecast_error,
        ),
    ):
        errors = [e for s in scores if (e := s.error) is not None]
        if bound is not None and errors and statistics.median(errors) > bound.median:
            problems.append(
                f"median {kind} error {statistics.median(errors):.0%} > {bound.median:.0%}"
            )
    events = sum(r.events for _, r in reports)
    print(
        f"{'FAIL' if problems else 'PASS'}  {scenario.name}: {seeds} seed"
        f"{'s' if seeds > 1 else ''} x {format_duration(scenario.duration)} simulated in "
        f"{took:.1f} s, {events:,} events, {sum(r.rejected for _, r in reports)} rejected"
    )
    for line in _summary(reports):
        print("      " + line)
    for problem in problems:
        print(f"      ! {problem}")
    return not problems


def _summary(reports: list[tuple[int, Report]]) -> list[str]:
    """Per alert: episodes, flaps, time to detect; ETA and forecast errors; suppressions."""
    lines = []
    n = len(reports)
    names = sorted({e.alert for _, r in reports for e in r.episodes})
    for name in names:
        episodes = sum(r.fired[name] for _, r in reports)
        flaps = sum(1 for _, r in reports for e in r.flaps if e.alert == name)
        detect = [r.detect[name] for _, r in reports if name in r.detect]
        leads = [
            lead
            for _, r in reports
            for labels, lead in r.forecast_lead.items()
            if dict(labels)["alertname"] == name
        ]
        when = ""
        if leads:
            when = f", raised {statistics.median(leads) / 60:.1f} min before the window (median)"
        elif detect:
            median = statistics.median(detect)
            side = "after" if median >= 0 else "before"
            when = f", first {abs(median) / 60:.1f} min {side} the incident started (median)"
        lines.append(
            f"fired      {name}: {episodes} episode{'s' if episodes != 1 else ''} in {n} "
            f"run{'s' if n != 1 else ''}, {flaps} flap{'s' if flaps != 1 else ''}{when}"
        )
        scores = [s for _, r in reports for s in (r.eta + r.forecasts) if s.alert == name]
        errors = sorted(e for s in scores if (e := s.error) is not None)
        if scores:
            what = "drain ETA" if name == "MaintenanceBacklog" else "forecast peak"
            missing = len(scores) - len(errors)
            lines.append(
                f"           {what} error: median {statistics.median(errors):.0%}, worst "
                f"{errors[-1]:.0%} over {len(errors)}"
                + (f" ({missing} never reached)" if missing else "")
                if errors
                else f"           {what}: never reached in {missing}"
            )
    suppressed = sorted({a for _, r in reports for a in r.suppressed})
    lines += [f"suppressed {a} (maintenance)" for a in suppressed]
    return lines


def simulate(
    name: str, kafka: str | None, topic: str, out: Path | None, speed: float, duration: str | None
) -> int:
    """Produce a scenario to Kafka (or write it to ``out``)."""
    try:
        scenario = scenarios.load(name)
        length = parse_duration(duration) if duration else scenario.duration
    except ValueError as exc:
        print(f"callpulse: {exc}", file=sys.stderr)
        return 2
    if out is not None:
        return _write(scenario, out, length)
    assert kafka is not None
    return asyncio.run(_produce(scenario, kafka, topic, speed, length))


def _write(scenario: scenarios.Scenario, out: Path, length: float) -> int:
    start = scenario.start.replace(tzinfo=UTC).timestamp()
    center = ContactCenter(scenario, start)
    count = 0
    with out.open("wb") as f:
        t = start
        while t < start + length:
            t = min(t + 60, start + length)
            for event in center.advance(t):
                f.write(encode(event) + b"\n")
                count += 1
    print(f"{count:,} events of {scenario.name} ({format_duration(length)}) written to {out}")
    return 0


async def _produce(
    scenario: scenarios.Scenario, bootstrap: str, topic: str, speed: float, length: float
) -> int:
    from aiokafka import AIOKafkaProducer
    from aiokafka.errors import KafkaError

    wall_start = time.time()
    # Events must never be ahead of the wall clock (consumers reject those), so a faster
    # than real time run starts in the past and ends at the wall clock.
    lead = length if speed <= 0 else length * max(0.0, 1 - 1 / speed)
    start = wall_start - lead
    center = ContactCenter(scenario, start)
    producer = AIOKafkaProducer(
        bootstrap_servers=bootstrap, linger_ms=20, max_batch_size=256 * 1024, acks=1
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
            for event in center.advance(t):
                await producer.send(topic, encode(event), key=event["site"].encode())
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

"""File replay rate: an events-v1 JSON-lines file through ``callpulse replay``, as fast as it goes.

    .venv/bin/python -m benchmarks.replay [--events 200000]

``--events`` simulator events (e2e_kafka's traffic: 200 queues at 20 sites, ten minutes of it)
are written once, one events-v1 JSON object a line, to a temporary file (removed after). Then
the same file is replayed four ways, each printing a JSON line with events, seconds and
events_per_second:

- ``cli_report``: ``callpulse replay FILE --report`` as a subprocess, from spawn to exit (it
  exits by itself): process start-up, the whole file through the pipeline on its own event
  time with the shipped rules evaluated every ``alerting.evaluation_interval`` of it, and the
  per-queue table printed.
- ``cli_daemon``: ``callpulse replay FILE --speed 0`` (0: no pacing, the fastest there is) as
  a subprocess with JSON logs and an HTTP port of its own, from spawn to its
  ``source_exhausted`` log line; the daemon then keeps serving, so it is sent SIGTERM and its
  ``callpulse_stopped`` counts are checked. ``startup_seconds`` is spawn to
  ``replay_started``. (When the line count is not a multiple of the source's 2,000-line
  batch, the span also holds one idle poll, 0.5 s, before the source says it is exhausted;
  the default counts are multiples.)
- ``inprocess_source``: the daemon's loop without the process around it: ReplaySource ->
  Ingest -> Monitor (built by ``pipeline.build`` as the daemon builds them), a tick per batch,
  from ``start()`` to the batch that reaches the end of the file.
- ``inprocess_report``: ``callpulse.cli.report.play`` (what ``--report`` runs) in this process.
  Its cost follows the file's event-time span as well as its events: every evaluation of the
  rules reads every queue's view (the report leaps only across gaps where nothing but time
  passes), and the simulated traffic is ten minutes at any ``--events``.

The issue's target is >= 300k events/s.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from benchmarks.e2e_kafka import ROOT, simulated_events

TARGET = 300_000


def _rate(events: int, seconds: float) -> dict[str, Any]:
    return {
        "events": events,
        "seconds": round(seconds, 3),
        "events_per_second": round(events / seconds) if seconds > 0 else None,
    }


def _command() -> list[str]:
    """The virtualenv's ``callpulse`` script (beside this Python), else ``-m callpulse``."""
    script = Path(sys.executable).with_name("callpulse")
    return [str(script)] if script.exists() else [sys.executable, "-m", "callpulse"]


def environment(**settings: str) -> dict[str, str]:
    """No config file: the defaults, with JSON logs and HTTP on a free loopback port, and
    ``settings`` (``CALLPULSE_...`` variables) over them."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("CALLPULSE_")}
    return env | {
        "CALLPULSE_HTTP__HOST": "127.0.0.1",
        "CALLPULSE_HTTP__PORT": "0",
        "CALLPULSE_LOG__FORMAT": "json",
        "CALLPULSE_LOG__LEVEL": "info",
        **settings,
    }


@contextmanager
def daemon(
    command: list[str], env: dict[str, str], timeout: float
) -> Iterator[subprocess.Popen[str]]:
    """``command`` running with its log on a pipe (read it with :func:`log_entries`), killed
    after ``timeout`` seconds or when the block ends with it still running."""
    proc = subprocess.Popen(
        command,
        cwd=ROOT,
        env=env,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    watchdog = threading.Timer(timeout, proc.kill)
    watchdog.start()
    try:
        yield proc
    finally:
        watchdog.cancel()
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def log_entries(proc: subprocess.Popen[str]) -> Iterator[dict[str, Any] | str]:
    """Each line ``proc`` logs until it exits: a JSON entry, or the line as it is."""
    assert proc.stderr is not None
    for line in proc.stderr:
        try:
            yield json.loads(line)
        except ValueError:
            yield line.rstrip()


def cli_report(path: Path, events: int, timeout: float) -> dict[str, Any]:
    began = time.perf_counter()
    done = subprocess.run(
        [*_command(), "replay", str(path), "--report"],
        cwd=ROOT,
        env=environment(),
        capture_output=True,
        text=True,
        timeout=timeout,
        check=True,
    )
    took = time.perf_counter() - began
    lines = done.stdout.splitlines()
    result = _rate(events, took)
    # "200,000 records, <first> to <last>", then a row per queue; "rejected: ..." if any.
    result["records"] = int(lines[0].split(" records")[0].replace(",", "")) if lines else None
    result["queues"] = sum(1 for line in lines if line.startswith("site-"))
    result["rejected"] = next((ln for ln in lines if ln.startswith("rejected:")), None)
    return result


def cli_daemon(path: Path, events: int, timeout: float) -> dict[str, Any]:
    began = time.perf_counter()
    started = exhausted = None
    stopped: dict[str, Any] = {}
    other: list[str] = []
    command = [*_command(), "replay", str(path), "--speed", "0"]
    with daemon(command, environment(), timeout) as proc:
        for entry in log_entries(proc):
            if isinstance(entry, str):
                other.append(entry)
                continue
            event = entry.get("event")
            if event == "replay_started":
                started = time.perf_counter() - began
            elif event == "source_exhausted":
                exhausted = time.perf_counter() - began
                proc.send_signal(signal.SIGTERM)
            elif event == "callpulse_stopped":
                stopped = entry
            elif entry.get("level") in ("warning", "error", "critical"):
                other.append(json.dumps(entry))
        status = proc.wait()
    if exhausted is None:
        raise RuntimeError(f"callpulse replay ended ({status}) before the file's end: {other[-5:]}")
    result = _rate(events, exhausted)
    result["startup_seconds"] = round(started, 3) if started is not None else None
    result["exit_status"] = status
    result["applied"] = stopped.get("events_applied")
    result["invalid"] = stopped.get("events_invalid")
    if other:
        result["log"] = other[:5]
    return result


async def inprocess_source(path: Path, events: int) -> dict[str, Any]:
    from callpulse import pipeline
    from callpulse.adapters import records
    from callpulse.config import Settings
    from callpulse.sources.replay import ReplaySource

    settings = Settings.model_validate(
        {"source": {"kind": "replay", "replay": {"path": str(path), "speed": 0}}}
    )
    replay = settings.source.replay
    source = ReplaySource(replay, records.clock(replay.format))
    parts = pipeline.build(settings, now=time.time(), clock=source.clock)
    monitor = parts.monitor
    seen = rejected = 0
    began = time.perf_counter()
    await source.start()
    try:
        while not source.exhausted():
            batch = await source.fetch()
            if not batch.records:
                continue
            rejected += len(parts.feed(batch.records, time.time()))
            seen += len(batch.records)
    finally:
        await source.stop()
    result = _rate(seen, time.perf_counter() - began)
    result |= {
        "rejected": rejected,
        "applied": sum(monitor.stats.events_by_type.values()),
        "duplicates": monitor.stats.duplicates,
        "future": monitor.stats.future,
    }
    if seen != events:
        result["expected"] = events
    return result


def inprocess_report(path: Path, events: int) -> dict[str, Any]:
    from callpulse.cli.report import play
    from callpulse.config import Settings
    from callpulse.config.loading import load_settings
    from callpulse.shipped import shipped

    settings: Settings = load_settings(None)
    settings.source.kind = "replay"
    settings.source.replay.path = path
    settings.source.replay.speed = 0
    settings.rule_files = [shipped("rules.yaml")]  # as the CLI does without --config
    began = time.perf_counter()
    report = play(settings)
    result = _rate(report.lines, time.perf_counter() - began)
    result["queues"] = len(report.queues)
    result["rejected"] = sum(report.rejected.values())
    if report.lines != events:
        result["expected"] = events
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--events", type=int, default=200_000)
    args = parser.parse_args()
    from callpulse import logs

    logs.configure("warning", "json")  # this process's; the subprocesses log as configured
    timeout = 120 + args.events / 1000
    with tempfile.TemporaryDirectory(prefix="callpulse-replay-") as tmp:
        path = Path(tmp) / "events.jsonl"
        values = simulated_events(args.events, seed=5)
        with path.open("wb") as f:
            for _, value in values:
                f.write(value + b"\n")
        events = len(values)
        del values
        size = path.stat().st_size
        print(f"{events} events, {size / 2**20:.1f} MiB of JSON lines", flush=True)
        rates = {}
        for name, measure in (
            ("cli_report", lambda: cli_report(path, events, timeout)),
            ("cli_daemon", lambda: cli_daemon(path, events, timeout)),
            ("inprocess_source", lambda: asyncio.run(inprocess_source(path, events))),
            ("inprocess_report", lambda: inprocess_report(path, events)),
        ):
            result = {"path": name} | measure()
            rates[name] = result["events_per_second"]
            print(json.dumps(result), flush=True)
    print(
        f"target >= {TARGET:,} events/s: "
        + ", ".join(f"{k} {v / TARGET:.0%}" for k, v in rates.items() if v),
        flush=True,
    )


if __name__ == "__main__":
    main()

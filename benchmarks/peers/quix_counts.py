"""Benchmark peer: callpulse's queue counts, and nothing else, as a Quix Streams application.

    .venv-peers/bin/python benchmarks/peers/quix_counts.py --bootstrap HOST:PORT --topic T \\
        --events N [--timeout 300] [--verbose]

Not part of callpulse: it runs in its own virtualenv (``benchmarks/peers/install``), and
``benchmarks/e2e_kafka.py`` runs it on the topic its throughput phase consumed, to compare
callpulse with a general-purpose stream processor doing a small subset of the same work.

Per (site, queue) and 5-minute tumbling windows on event time (``occurred_at``, read by a
timestamp extractor): offered (``call.queued``), answered (``call.answered``), abandoned
(``call.abandoned``), answered within the service level (``call.answered`` with
``wait_seconds`` <= 20) and AHT (the mean of talk + hold + ACW seconds over
``call.completed``; the window keeps the sum and the count, and the mean is taken when it is
read). The events are those of docs/events.md.

The app is written the way Quix Streams' documentation shows: JSON values, a filter, a
``group_by`` on site + queue (which goes through a repartition topic, since the records are
keyed by site only), ``tumbling_window(...).reduce(...).current()``, Quix's defaults for the
rest (RocksDB state with changelog topics, at-least-once, a commit every 5 s). The latest
value of every window is kept in memory, as callpulse keeps its counts readable.

It reads every record of the topic from the earliest offset in a fresh consumer group,
counting them before any filter, until it has seen ``--events`` records and every queue
event among them has reached its window; then it stops the app and prints one JSON line:
``{"events": N, "seconds": S, "events_per_second": R}``, S from the first record processed
to the last. The state directory is a temporary one, removed at the end. After ``--timeout``
seconds it prints what it saw so far (with ``"timed_out": true``) and exits 1. The
repartition and changelog topics (named after the consumer group) stay on the broker.

``--verbose`` writes to stderr, per window, the counts summed over queues, and checks them
against the records' own types counted before the filter.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import tempfile
import threading
import time
import uuid
import warnings
from collections import Counter
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from quixstreams import Application

WINDOW = timedelta(minutes=5)
SERVICE_LEVEL_SECONDS = 20.0
QUEUE_TYPES = frozenset({"call.queued", "call.answered", "call.abandoned", "call.completed"})


# --- the app's functions -------------------------------------------------------------------


def occurred_at_ms(value: Any, headers: Any, timestamp: float, timestamp_type: Any) -> int:
    """Event time: ``occurred_at`` (RFC 3339 with an offset or Z) in epoch milliseconds, or
    the record's Kafka timestamp when the value has none that parses."""
    try:
        return int(datetime.fromisoformat(value["occurred_at"]).timestamp() * 1000)
    except (KeyError, TypeError, ValueError):
        return int(timestamp)


def is_queue_event(event: dict[str, Any]) -> bool:
    return event.get("type") in QUEUE_TYPES


def site_queue(event: dict[str, Any]) -> str:
    return f"{event['site']}/{event['queue']}"


def initial_counts(event: dict[str, Any]) -> dict[str, Any]:
    counts = {
        "offered": 0,
        "answered": 0,
        "abandoned": 0,
        "answered_within_sl": 0,
        "completed": 0,
        "handle_seconds": 0.0,
    }
    return add_event(counts, event)


def add_event(counts: dict[str, Any], event: dict[str, Any]) -> dict[str, Any]:
    kind = event["type"]
    if kind == "call.queued":
        counts["offered"] += 1
    elif kind == "call.answered":
        counts["answered"] += 1
        if event["wait_seconds"] <= SERVICE_LEVEL_SECONDS:
            counts["answered_within_sl"] += 1
    elif kind == "call.abandoned":
        counts["abandoned"] += 1
    elif kind == "call.completed":
        counts["completed"] += 1
        counts["handle_seconds"] += (
            event["talk_seconds"] + event["hold_seconds"] + event["acw_seconds"]
        )
    return counts


class Progress:
    """Counts records through the app's steps, and stops the app once all ``expected`` input
    records have been read and every queue event among them has reached its window."""

    def __init__(self, app: Application, expected: int, verbose: bool) -> None:
        self.app = app
        self.expected = expected
        self.verbose = verbose
        self.seen = 0  # records read, before any filter
        self.passed = 0  # queue events among them, sent on to the windows
        self.windowed = 0  # window updates
        self.late = 0  # queue events dropped as late by the windows
        self.first = self.last = 0.0
        self.types: Counter[str] = Counter()
        self.windows: dict[tuple[str, int], dict[str, Any]] = {}
        self.done = False
        self.timed_out = False

    def count(self, event: Any) -> bool:
        """The pre-filter step: every record passes here; the ones past ``expected`` stop."""
        if not self.first:
            self.first = time.monotonic()
        self.seen += 1
        if self.seen > self.expected:
            return False
        if self.verbose and isinstance(event, dict):
            self.types[str(event.get("type"))] += 1
        return True

    def sent_on(self, event: Any) -> None:
        self.passed += 1

    def window_updated(
        self, window: dict[str, Any], key: Any, timestamp: int, headers: Any
    ) -> None:
        self.windowed += 1
        self.windows[(key, window["start"])] = window
        self.check()

    def on_late(self, *args: Any) -> bool:
        self.late += 1
        self.check()
        return False  # counted here instead of a log line per event

    def check(self) -> None:
        if (
            not self.done
            and self.seen >= self.expected
            and self.windowed + self.late >= self.passed
        ):
            self.done = True
            self.last = time.monotonic()
            self.app.stop()

    def timeout(self) -> None:
        if not self.done:
            self.timed_out = True
            self.last = time.monotonic()
            self.app.stop()


def build(app: Application, topic_name: str, progress: Progress) -> None:
    topic = app.topic(topic_name, value_deserializer="json", timestamp_extractor=occurred_at_ms)
    sdf = app.dataframe(topic)
    sdf = sdf.filter(progress.count)
    sdf = sdf.filter(is_queue_event)
    sdf = sdf.update(progress.sent_on)
    sdf = sdf.group_by(site_queue, name="site_queue")
    sdf = (
        sdf.tumbling_window(WINDOW, on_late=progress.on_late)
        .reduce(add_event, initial_counts)
        .current()
    )
    sdf.update(progress.window_updated, metadata=True)


# --- reporting -----------------------------------------------------------------------------


def report_windows(progress: Progress) -> None:
    """Per window, the counts summed over (site, queue), and the check against the types."""
    fields = ("offered", "answered", "abandoned", "answered_within_sl", "completed")
    totals: dict[int, Counter[str]] = {}
    handle: Counter[int] = Counter()
    keys: dict[int, set[str]] = {}
    for (key, start), window in progress.windows.items():
        value = window["value"]
        totals.setdefault(start, Counter()).update({f: value[f] for f in fields})
        handle[start] += value["handle_seconds"]
        keys.setdefault(start, set()).add(key)
    out = sys.stderr
    for start in sorted(totals):
        t = totals[start]
        began = datetime.fromtimestamp(start / 1000, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        aht = f"{handle[start] / t['completed']:.1f} s" if t["completed"] else "-"
        print(
            f"window {began} ({len(keys[start])} queues): "
            + ", ".join(f"{f} {t[f]}" for f in fields)
            + f", AHT {aht}",
            file=out,
        )
    summed: Counter[str] = Counter()
    for t in totals.values():
        summed.update(t)
    print(
        f"records {min(progress.seen, progress.expected)} by type: {dict(progress.types)}",
        file=out,
    )
    print(
        f"queue events sent to the windows {progress.passed}, window updates "
        f"{progress.windowed}, late {progress.late}",
        file=out,
    )
    for field, kind in (
        ("offered", "call.queued"),
        ("answered", "call.answered"),
        ("abandoned", "call.abandoned"),
        ("completed", "call.completed"),
    ):
        verdict = "ok" if summed[field] == progress.types[kind] else "MISMATCH"
        print(
            f"{field} over all windows {summed[field]}, {kind} records "
            f"{progress.types[kind]}: {verdict}",
            file=out,
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--bootstrap", required=True, help="HOST:PORT of a broker")
    parser.add_argument("--topic", required=True)
    parser.add_argument("--events", type=int, required=True, help="records to read")
    parser.add_argument("--timeout", type=float, default=300, help="seconds before giving up")
    parser.add_argument("--verbose", action="store_true", help="per-window totals to stderr")
    args = parser.parse_args()

    # Quix Streams imports authlib's httpx integration, which warns about itself on import
    # (and forces its own warnings on, so recording them is the way to keep them quiet).
    with warnings.catch_warnings(record=True):
        from quixstreams import Application

    state_dir = tempfile.mkdtemp(prefix="quix-counts-")
    try:
        app = Application(
            broker_address=args.bootstrap,
            consumer_group=f"bench-quix-{uuid.uuid4().hex[:8]}",
            auto_offset_reset="earliest",
            state_dir=state_dir,
            loglevel="WARNING",
        )
        progress = Progress(app, args.events, args.verbose)
        build(app, args.topic, progress)
        timer = threading.Timer(args.timeout, progress.timeout)
        timer.daemon = True
        timer.start()
        try:
            app.run()
        finally:
            timer.cancel()
    finally:
        shutil.rmtree(state_dir, ignore_errors=True)

    events = min(progress.seen, args.events)
    seconds = progress.last - progress.first if progress.first else 0.0
    result: dict[str, Any] = {
        "events": events,
        "seconds": round(seconds, 3),
        "events_per_second": round(events / seconds) if seconds > 0 else None,
    }
    if not progress.done:
        result |= {
            "timed_out": progress.timed_out,
            "queue_events": progress.passed,
            "window_updates": progress.windowed,
            "late": progress.late,
        }
    if args.verbose:
        report_windows(progress)
    print(json.dumps(result), flush=True)
    if not progress.done:
        sys.exit(1)


if __name__ == "__main__":
    main()

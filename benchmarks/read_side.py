"""Read side: what an alert evaluation and a scrape's collect cost at N queues, in-process.

    .venv/bin/python -m benchmarks.read_side [--queues 10000] [--sites 200] [--repeats 7]

The pipeline the daemon builds (``callpulse.pipeline.build``, the shipped rules, the label
caps raised to the queues sent, the wall clock), filled with ``benchmarks.scale``'s traffic
(per queue two agents, three calls; per site a component, a trunk and an IVR application),
then frozen out of the garbage collector's full passes as the daemon freezes it
(:mod:`callpulse.heap`), then each of these timed ``--repeats`` times, after a tick of the
clock (which drops the monitor's memo of the queues' views, as the daemon's 1 s tick does):

- ``views``: ``Monitor.queue_views()``, every queue read (KPIs per window, flow, outlook);
- ``evaluation``: ``Pipeline.evaluate``, one alert evaluation, the views included;
- ``collect``: ``readings.collect`` of every family (what a scrape renders), the views
  included;
- ``collect_after_views``: the same with the views already read (what it adds to them);
- ``body``: the /metrics body as the daemon's render child writes it in the text format
  (``web.textformat``'s writer in parts, the daemon's collector: every family collected and
  written), the views included, uncompressed, with the garbage collector off as in the child;
- ``body_gzip``: the same, compressed as it comes, as the child sends it to a scrape that
  accepts gzip;
- ``gzip``: the whole body compressed at once at the child's level (what the compression
  alone costs).

No event loop, HTTP or Kafka: ``benchmarks.scale`` measures the daemon around these. One JSON
line on stdout (milliseconds: median, min, max); the build (compiled or pure) is in it, so
that two runs, one per build, compare. Nothing is asserted.
"""

from __future__ import annotations

import argparse
import gc
import json
import statistics
import sys
import time
from collections.abc import Callable, Iterable
from typing import Any

from benchmarks.scale import Traffic, settings_for


def timed(
    repeats: int, before: Callable[[], None], call: Callable[[], object], collector: bool = True
) -> dict[str, float]:
    """Milliseconds of ``call``, ``repeats`` times, each after ``before`` (not timed); with
    the garbage collector off unless ``collector``."""
    took = []
    for _ in range(repeats):
        before()
        gc.collect()
        if not collector:
            gc.disable()
        try:
            began = time.perf_counter()
            call()
            took.append((time.perf_counter() - began) * 1000)
        finally:
            gc.enable()
    return {
        "median": round(statistics.median(took), 1),
        "min": round(min(took), 1),
        "max": round(max(took), 1),
    }


def main() -> int:
    p = argparse.ArgumentParser(prog="python -m benchmarks.read_side", description=__doc__)
    p.add_argument("--queues", type=int, default=10_000)
    p.add_argument("--sites", type=int, default=200)
    p.add_argument("--repeats", type=int, default=7)
    p.add_argument("--fill-batch", type=int, default=5000)
    args = p.parse_args()

    from prometheus_client import exposition

    from callpulse import build, logs, pipeline
    from callpulse.core import readings
    from callpulse.core.clock import WALL_TIME
    from callpulse.heap import FrozenHeap
    from callpulse.protocols import DeadLetterStats
    from callpulse.web.compression import ENGINE, compressed, gzipped
    from callpulse.web.exposition import CallpulseCollector, SourceMetrics, build_registry
    from callpulse.web.textformat import fast_writer

    logs.configure("error", "json")
    settings = settings_for(args.queues, args.sites, [])
    parts = pipeline.build(settings, now=time.time(), clock=WALL_TIME, deliver=False)
    traffic = Traffic(args.queues, args.sites)
    began = time.perf_counter()
    for batch in traffic.fill(args.fill_batch):
        rejected = parts.feed(batch, time.time())
        if rejected:
            raise SystemExit(f"{len(rejected)} records rejected: {rejected[0]}")
    fill_s = time.perf_counter() - began
    monitor = parts.monitor
    if len(monitor.queues) != args.queues:
        raise SystemExit(f"{len(monitor.queues)} queues tracked, {args.queues} sent")
    print(f"filled {args.queues} queues in {fill_s:.1f} s", file=sys.stderr)

    def tick() -> None:
        monitor.tick(time.time())

    def tick_and_read() -> None:
        tick()
        monitor.queue_views()

    registry = build_registry(
        CallpulseCollector(
            parts.ingest,
            SourceMetrics(lag=dict, dead_letters=DeadLetterStats(0, 0)),
            ready=lambda: True,
        )
    )
    write = fast_writer(exposition.generate_latest)
    write_gzipped = gzipped(write)
    body = b"".join(write(registry))

    def sent(parts: Callable[[Any], Iterable[bytes]]) -> int:
        # The parts as the child sends them, each dropped once counted.
        return sum(len(part) for part in parts(registry))

    parts.evaluate(time.time())  # the first evaluation samples baselines it then keeps
    # As the daemon does (callpulse.heap): the filled state out of the full collections.
    heap = FrozenHeap()
    heap.refreeze()
    result: dict[str, Any] = {
        "queues": args.queues,
        "sites": args.sites,
        "compiled": build.compiled(),
        "gzip": ENGINE,
        "repeats": args.repeats,
        "views_ms": timed(args.repeats, tick, monitor.queue_views),
        "evaluation_ms": timed(args.repeats, lambda: None, lambda: parts.evaluate(time.time())),
        "collect_ms": timed(args.repeats, tick, lambda: readings.collect(monitor)),
        "collect_after_views_ms": timed(
            args.repeats, tick_and_read, lambda: readings.collect(monitor)
        ),
        # As the render child writes it: with the collector off (callpulse.web.forked).
        "body_ms": timed(args.repeats, tick, lambda: sent(write), collector=False),
        "body_gzip_ms": timed(args.repeats, tick, lambda: sent(write_gzipped), collector=False),
        "body_mb": round(len(body) / 1e6, 1),
        "gzip_ms": timed(args.repeats, lambda: None, lambda: compressed(body)),
    }
    print(json.dumps(result), flush=True)
    heap.release()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

"""The decoder and the monitor alone: simulated records through ``Ingest.process``, no broker.

    .venv/bin/python -m benchmarks.ingest [--events 200000] [--runs 3] [--profile]

The records are e2e_kafka's (200 queues at 20 sites, made once, before timing). Each run
builds a fresh monitor and applies them all in batches of 5,000 (a fetch's worth), with the
clock ticking between batches as the daemon's does. Reported: records/s per run and the
median; ``--profile`` prints where the time goes (cProfile, which slows it down).
"""

from __future__ import annotations

import argparse
import cProfile
import pstats
import statistics
import time

from benchmarks.e2e_kafka import kafka_settings, simulated_events

BATCH = 5000


def run(values: list[tuple[bytes, bytes]]) -> float:
    """One run over ``values``; records/s."""
    from callpulse import pipeline
    from callpulse.core.clock import WALL_TIME
    from callpulse.core.ingest import RawRecord

    settings = kafka_settings("127.0.0.1:9092", "bench", "bench")
    parts = pipeline.build(settings, now=time.time(), clock=WALL_TIME, deliver=False)
    batches = [
        [RawRecord(v, k, "bench", 0, i + j) for j, (k, v) in enumerate(values[i : i + BATCH])]
        for i in range(0, len(values), BATCH)
    ]
    began = time.perf_counter()
    for batch in batches:
        parts.feed(batch, time.time())
    return len(values) / (time.perf_counter() - began)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--events", type=int, default=200_000)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--profile", action="store_true")
    args = parser.parse_args()
    values = simulated_events(args.events, seed=1)
    if args.profile:
        profiler = cProfile.Profile()
        profiler.runcall(run, values)
        pstats.Stats(profiler).sort_stats("tottime").print_stats(20)
        return
    rates = [run(values) for _ in range(args.runs)]
    print(f"{len(values):,} records: " + ", ".join(f"{r:,.0f}" for r in rates) + " records/s")
    print(f"median {statistics.median(rates):,.0f} records/s")


if __name__ == "__main__":
    main()

"""The structures built from Rust alone, against their Python classes: the cost of a call.

    .venv-compiled/bin/python -m benchmarks.native [--adds 1000000]

Times the classes this build has: the Python ones of ``callpulse.core`` (compiled by mypyc
in a compiled build, Python in an editable one) and those of ``callpulse.core._native``
(built from Rust, where the wheel has it). The rolling counters of a queue as the tracker
makes them (13 fields, the first 8 counts; the default windows over 5 s buckets), and a
call's answer as it adds it (three fields): into the head bucket, as nearly every event
live, and into a closed one, as a late event or a replay's, which updates every window's
sums too; then reading every window, as a queue's view does. The de-duplication: an event
id seen for the first time (most of them), and again. The loop that calls is Python, as
the daemon's callers are not: the figures compare the classes, not what an event costs.
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable
from typing import Any

from callpulse.core.dedup import RecentIds
from callpulse.core.kpi import QUEUE_COUNTS, QUEUE_FIELDS
from callpulse.core.windows import CountersClass, RollingCounters

SPANS = (12, 60, 180)  # 1, 5 and 15 minutes of 5 s buckets: the default windows
HEAD = 1_000_000
ANSWERED = ((1, 1), (2, 1), (8, 5300))
# Taken back after each: a count kept growing would outgrow its 8-bit cell after 255 calls,
# and time the slower path of a cell that did.
TAKEN_BACK = ((1, -1), (2, -1), (8, -5300))


def classes() -> dict[str, tuple[CountersClass, Callable[[int, int], Any]]]:
    """Each build of the structures this build has, by name: counters and ids."""
    found: dict[str, tuple[CountersClass, Callable[[int, int], Any]]] = {
        "callpulse.core (Python classes)": (RollingCounters, RecentIds)
    }
    try:
        from callpulse.core import _native
    except ImportError:
        return found
    found["callpulse.core._native (Rust)"] = (_native.RollingCounters, _native.RecentIds)
    return found


def per_call(calls: int, call: Callable[[], object]) -> float:
    """Nanoseconds a call, the best of three rounds."""
    best = float("inf")
    for _ in range(3):
        began = time.perf_counter()
        for _ in range(calls):
            call()
        best = min(best, (time.perf_counter() - began) / calls)
    return best * 1e9


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--adds", type=int, default=1_000_000)
    args = parser.parse_args()
    from callpulse import build

    print(build.describe())
    for name, (make, ids_of) in classes().items():
        c = make(QUEUE_FIELDS, SPANS, HEAD, QUEUE_COUNTS)

        def pair(bucket: int) -> Callable[[], object]:
            return lambda: (c.add(bucket, ANSWERED), c.add(bucket, TAKEN_BACK))  # noqa: B023

        head = per_call(args.adds // 2, pair(HEAD)) / 2
        closed = per_call(args.adds // 2, pair(HEAD - 30)) / 2
        read = per_call(args.adds // 10, c.windows)
        event_ids = [f"call-{n}-answered" for n in range(args.adds)]
        seen = ids_of(2, 2_000_000)
        fresh = iter(event_ids)
        first = per_call(args.adds // 3, lambda: seen.add(next(fresh), 7))  # noqa: B023
        again = iter(event_ids)
        repeated = per_call(args.adds // 3, lambda: seen.add(next(again), 7))  # noqa: B023
        print(
            f"{name}: counters add to the head bucket {head:,.0f} ns, to a closed one"
            f" {closed:,.0f} ns, every window read {read:,.0f} ns; an id added"
            f" {first:,.0f} ns, seen again {repeated:,.0f} ns"
        )


if __name__ == "__main__":
    main()

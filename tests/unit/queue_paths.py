"""Simulated paths of the Erlang A backlog chain: the reference the drain forecasts are
checked against (tests, and the drain-forecast benchmark)."""

from __future__ import annotations

import math
import random

from callpulse.core.erlang_a import ErlangA


def simulated_drains(
    queue: ErlangA, waiting: int, target: int, paths: int, seed: int, horizon: float = math.inf
) -> tuple[float, float, float]:
    """P10, P50, P90 of the drain time over ``paths`` simulated paths of the chain.

    A path still above ``target`` at ``horizon`` seconds counts as never draining.
    """
    chance = random.Random(seed)
    times = []
    for _ in range(paths):
        level, clock = waiting, 0.0
        while level > target and clock < horizon:
            total = queue.arrivals + queue.down(level)
            clock += chance.expovariate(total)
            level += 1 if chance.random() * total < queue.arrivals else -1
        times.append(clock if level <= target else math.inf)
    times.sort()
    p10, p50, p90 = (times[int(share * paths)] for share in (0.1, 0.5, 0.9))
    return p10, p50, p90

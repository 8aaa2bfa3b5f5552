"""What really happened to a simulated queue around a maintenance window: the truths the
sweep scores the maintenance alerts against.

A *path* is the number of callers really waiting, sampled in time order as
``(seconds into the scenario, waiting)``. On it:

- the *baseline* B is the mean waiting over the :data:`BASELINE` before the window opens;
- the queue has *drained* at the first sample, after the window's end (and after the peak),
  at or below ``max(2, B)`` that stays within 2 callers of that level for :data:`HOLD`;
- a page is *warranted* when the window added at least ``max(5, 3 max(B, 1))`` callers
  (the peak from the window's start to the drain, less B) and either more than
  :data:`CROWD` waited for :data:`CROWD_FOR` in a row or the drain ends more than
  :data:`LATE` after the window.

The drain ETA's truth is a median over futures: the simulated center forked at the moment
the ETA was announced, played on with fresh randomness until it drains (:func:`eta_truth`).
The forecast's is a mean over futures forked as the window opens (:func:`forecast_truth`):
it forecasts the expected queue, and one path's excursion from it is chance (at 5 agents,
as large as the backlog).
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Sequence
from dataclasses import dataclass

from callpulse.simulation.model import ContactCenter

Path = Sequence[tuple[float, int]]

BASELINE = 1800.0
HOLD = 120.0
SLACK = 2
CROWD = 20
CROWD_FOR = 60.0
LATE = 900.0
RESTARTS = 16
CAP = 3 * 3600.0  # a future not drained this long after the checkpoint never drains
EVERY = 5.0  # seconds between samples of a path and of a future


def baseline(path: Path, window_start: float) -> float:
    """B: the mean waiting over the :data:`BASELINE` before ``window_start`` (0: no sample)."""
    values = [w for t, w in path if window_start - BASELINE <= t < window_start]
    return sum(values) / len(values) if values else 0.0


def drained_level(base: float) -> float:
    """The level a queue is drained at: ``max(2, B)``."""
    return max(2.0, base)


class DrainWatch:
    """Fed a path sample by sample, says when it drained (the first sample from ``after``
    at or below ``level`` that stays within :data:`SLACK` of it for :data:`HOLD`)."""

    def __init__(self, level: float, after: float) -> None:
        """``after``: the earliest time the drain may start."""
        self.level = level
        self.after = after
        self._since: float | None = None

    def feed(self, t: float, waiting: int) -> float | None:
        """The drain's time once confirmed (``t`` is then at least its time + HOLD)."""
        if self._since is not None and waiting > self.level + SLACK:
            self._since = None
        if self._since is None and t >= self.after and waiting <= self.level:
            self._since = t
        if self._since is not None and t - self._since >= HOLD:
            return self._since
        return None


def drained_at(path: Path, after: float, level: float) -> float | None:
    """When the path drained (see :class:`DrainWatch`); None: not by its end."""
    watch = DrainWatch(level, after)
    for t, w in path:
        done = watch.feed(t, w)
        if done is not None:
            return done
    return None


def crowd_from(path: Path, start: float, end: float) -> float | None:
    """The start of the first run, within [start, end], of more than :data:`CROWD` waiting
    for at least :data:`CROWD_FOR`; None: there is none."""
    since: float | None = None
    for t, w in path:
        if t < start or t > end:
            continue
        if w > CROWD:
            since = t if since is None else since
            if t - since >= CROWD_FOR:
                return since
        else:
            since = None
    return None


@dataclass(frozen=True)
class WindowTruth:
    """What a window did to its queue (seconds into the scenario)."""

    baseline: float
    level: float  # drained at or below this
    drained: float | None  # None: not by the run's end
    peak: int
    added: float  # peak - baseline
    crowd_from: float | None  # the first > CROWD-for-CROWD_FOR run
    overhang: float  # drained - window end (inf: not drained)
    big: bool  # the added callers alone would warrant a page
    warranted: bool


def window_truth(path: Path, start: float, end: float) -> WindowTruth:
    """The truth of a window from ``start`` to ``end`` on ``path``."""
    base = baseline(path, start)
    level = drained_level(base)
    drained = drained_at(path, end, level)
    until = drained if drained is not None else math.inf
    during = [w for t, w in path if start <= t <= until]
    peak = max(during, default=0)
    added = peak - base
    crowd = crowd_from(path, start, until)
    overhang = until - end
    big = added >= max(5.0, 3 * max(base, 1.0))
    return WindowTruth(
        baseline=base,
        level=level,
        drained=drained,
        peak=peak,
        added=added,
        crowd_from=crowd,
        overhang=overhang,
        big=big,
        warranted=big and (crowd is not None or overhang > LATE),
    )


def eta_truth(
    center: ContactCenter,
    site: str,
    queue: str,
    level: float,
    after: float,
    start: float,
    seed: int,
    restarts: int = RESTARTS,
) -> tuple[float, list[float | None]]:
    """The median, over ``restarts`` futures of ``center`` from now (seeds ``seed``,
    ``seed + 1``, ...), of the seconds until its queue has drained (``after``, in seconds
    into the scenario played from ``start``, is the earliest it may); inf when it has not
    within :data:`CAP`. Also each future's time: None for those still draining when the
    median was settled. The center is untouched.

    The futures are played side by side: a drain is confirmed :data:`HOLD` after it starts,
    so they are confirmed in the order of their times, and once more than half have, the
    median is known and the rest need not be played."""
    now = center.now
    futures = [center.fork(seed + k) for k in range(restarts)]
    watches = [DrainWatch(level, after) for _ in futures]
    times: list[float | None] = [None] * restarts
    settled = restarts // 2 + 1
    t = now
    while t - now < CAP + HOLD:
        for k, future in enumerate(futures):
            if times[k] is None:
                done = watches[k].feed(t - start, future.waiting(site, queue))
                if done is not None:
                    times[k] = done + start - now
        if sum(x is not None for x in times) >= settled:
            break
        t += EVERY
        for k, future in enumerate(futures):
            if times[k] is None:
                future.advance(t)
    known = sorted(x if x is not None and x <= CAP else math.inf for x in times)
    return statistics.median(known), times


def forecast_truth(
    center: ContactCenter,
    site: str,
    queue: str,
    end: float,
    last: float,
    start: float,
    seed: int,
    restarts: int = RESTARTS,
) -> list[float]:
    """Each of ``restarts`` futures of ``center`` from now (seeds ``seed``, ``seed + 1``,
    ...): its queue's mean waiting over the ``last`` seconds before ``end`` (seconds into
    the scenario played from ``start``). The center is untouched."""
    futures = [center.fork(seed + k) for k in range(restarts)]
    sums = [0.0] * restarts
    count = 0
    t = center.now
    while t - start < end:
        t += EVERY
        if t - start > end - last:
            count += 1
        for k, future in enumerate(futures):
            future.advance(t)
            if t - start > end - last:
                sums[k] += future.waiting(site, queue)
    return [total / count for total in sums] if count else []

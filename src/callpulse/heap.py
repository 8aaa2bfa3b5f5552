"""Keeping the daemon's long-lived state out of the garbage collector's full passes.

CPython frees most objects by reference counting; its cyclic collector is for reference
cycles only, yet a full pass walks every tracked object. At 10k queues the state is about
400k of them, and a pass took ~100 ms of the event loop (340 ms at 50k). It comes every time
the objects promoted since the last one reach a quarter of the old ones: the views an alert
evaluation keeps are promoted, so under traffic that was every few seconds.

``gc.freeze()`` moves every tracked object into a permanent generation that the passes skip.
Reference counting still frees a frozen object; what a pass can no longer find is a cycle of
frozen objects that became garbage after the freeze. So, every :data:`REFREEZE_SECONDS`:

- collect first, so that cycles already garbage are freed rather than frozen (the pass only
  walks what is not frozen: what came since the last refreeze, 20-25 ms at 10k queues);
- then freeze what is left.

And at most every :data:`SWEEP_SECONDS`, or at the first refreeze that finds the frozen
objects a quarter more than after the last sweep (but no sooner than
:data:`SWEEP_MIN_SECONDS` after it), a sweep unfreezes everything for one full pass (the old
cost, once) and freezes again: a frozen cycle lives an hour at most, and a state that grew
is looked at whole. Each sweep is logged with what it found, which is what frozen garbage
cost. The first sweep is at start, before any traffic: what start-up made (the modules, the
settings) is frozen then, and no refreeze's pass walks it. The growth rule waits between sweeps
because a daemon's state grows for its first minutes (a replica rebuilding its partitions,
a center's queues named one by one): swept at every quarter more, it was held a full pass
every 10 to 20 s while it grew (in ``benchmarks/e2e_kafka.py``'s 20 s of live traffic, two
sweeps of 55 and 128 ms).

While it runs, the youngest generation is collected every :data:`YOUNG_THRESHOLD`
allocations instead of CPython's 700. With the state frozen, what a full pass walks is the
young objects, and an alert evaluation makes 300k of them at 10k queues (the views it
judges): at every 700 allocations, ten young passes made a middle one and ten of those a
full one, several during each evaluation, 30-80 ms each inside one of its 10 ms steps. In
``benchmarks/scale.py`` at 10k queues the evaluation's holds of the loop were 64-82 ms at
the 99th percentile, with 17 full passes in the run; at 10,000 they are 17-21 ms, with 3. A
young pass over 10,000 objects takes about a millisecond. :meth:`release` gives the
thresholds back.
"""

from __future__ import annotations

import asyncio
import gc
import math
import time
from collections.abc import Callable
from dataclasses import dataclass

import structlog

log = structlog.get_logger("callpulse")

REFREEZE_SECONDS = 10.0
YOUNG_THRESHOLD = 10_000
SWEEP_SECONDS = 3600.0
SWEEP_GROWTH = 0.25
SWEEP_MIN_SECONDS = 300.0


@dataclass
class Sweep:
    """One full pass over the unfrozen heap."""

    frozen: int  # objects frozen before it
    collected: int  # found unreachable: frozen cycles that had become garbage
    seconds: float


class FrozenHeap:
    """Freezes the long-lived objects, and sweeps them now and then (see the module).

    Process-wide, as the collector is: one per process, :meth:`release` at the end.
    """

    def __init__(
        self,
        refreeze_seconds: float = REFREEZE_SECONDS,
        sweep_seconds: float = SWEEP_SECONDS,
        growth: float = SWEEP_GROWTH,
        clock: Callable[[], float] = time.monotonic,
        sweep_min_seconds: float = SWEEP_MIN_SECONDS,
    ) -> None:
        self._refreeze_seconds = refreeze_seconds
        self._sweep_seconds = sweep_seconds
        self._growth = growth
        self._sweep_min_seconds = sweep_min_seconds
        self._clock = clock
        self._swept_at: float | None = None
        self._swept_size = 0
        self.refreezes = 0
        self.sweeps: list[Sweep] = []  # the last few, for whoever asks
        self._thresholds: tuple[int, ...] | None = None  # the collector's, before run()

    def refreeze(self) -> Sweep | None:
        """Collect what is not frozen and freeze the rest; or sweep, when it is time (the
        sweep, returned)."""
        now = self._clock()
        frozen = gc.get_freeze_count()
        since = math.inf if self._swept_at is None else now - self._swept_at
        if since >= self._sweep_seconds or (
            since >= self._sweep_min_seconds and frozen > self._swept_size * (1 + self._growth)
        ):
            return self._sweep(now)
        gc.collect()
        gc.freeze()
        self.refreezes += 1
        return None

    def _sweep(self, now: float) -> Sweep:
        began = time.perf_counter()
        frozen = gc.get_freeze_count()
        gc.unfreeze()
        collected = gc.collect()
        gc.freeze()
        sweep = Sweep(frozen, collected, time.perf_counter() - began)
        self._swept_at, self._swept_size = now, gc.get_freeze_count()
        self.sweeps = [*self.sweeps[-9:], sweep]
        log.info(
            "heap_swept",
            collected=collected,
            frozen_before=frozen,
            frozen=self._swept_size,
            took_ms=round(sweep.seconds * 1000, 1),
        )
        return sweep

    async def run(self) -> None:
        """Sweep what start-up made, then collect the young generation every
        :data:`YOUNG_THRESHOLD` allocations and refreeze every ``refreeze_seconds``, until
        cancelled."""
        if self._thresholds is None:
            self._thresholds = gc.get_threshold()
            gc.set_threshold(YOUNG_THRESHOLD, *self._thresholds[1:])
        self.refreeze()
        while True:
            await asyncio.sleep(self._refreeze_seconds)
            self.refreeze()

    def release(self) -> None:
        """Unfreeze everything and give back the thresholds: the collector as it was before
        (on shutdown, and for a test process that starts daemons one after the other)."""
        gc.unfreeze()
        if self._thresholds is not None:
            gc.set_threshold(*self._thresholds)
            self._thresholds = None

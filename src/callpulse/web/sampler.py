"""The status page's sampler: its history takes a sample about every 5 seconds."""

from __future__ import annotations

import asyncio
import math
import time
from collections.abc import Callable

import structlog

from callpulse.core.queues import QueueView
from callpulse.core.steps import Steps
from callpulse.tasks import SLICE_SECONDS, cancel, in_slices
from callpulse.web.status import StatusBoard

log = structlog.get_logger("callpulse")

SAMPLE_SECONDS = 5.0


class StatusSampler:
    """Samples ``status`` right after an alert evaluation (:meth:`due`), or on its own
    when evaluations are slower than a sample or stop."""

    def __init__(self, status: StatusBoard, evaluation_interval: float) -> None:
        self.status = status
        # With evaluations every 5 s or more often, the sample is taken right after one (see
        # due) and the sampler's own loop only fills in if they stop; with slower ones, the
        # loop takes it.
        self._follows = evaluation_interval <= SAMPLE_SECONDS
        self._sampled = -math.inf  # time.monotonic() of the last sample
        self._task: asyncio.Task[None] | None = None
        self._sampling: asyncio.Task[None] | None = None  # a sample under way, in slices
        self._stopped = False

    def start(self) -> None:
        """Start sampling on its own clock."""
        self._task = asyncio.create_task(self._run(), name="callpulse-status")

    async def stop(self) -> None:
        """Stop sampling (an evaluation that ends after it starts none)."""
        self._stopped = True
        await cancel(self._task)
        await cancel(self._sampling)

    async def idle(self) -> None:
        """Wait until no sample is under way."""
        if self._sampling is not None:
            await asyncio.shield(self._sampling)

    async def _run(self) -> None:
        while True:
            await asyncio.sleep(SAMPLE_SECONDS)
            self._start(2 * SAMPLE_SECONDS if self._follows else 0.0, None)
            await self.idle()

    def due(self, age: float = SAMPLE_SECONDS - 0.5) -> None:
        """Sample the status board if its last sample is ``age`` seconds old or older (about
        5 s): right after an alert evaluation, of the queue views it judged, rather than
        computing them again (half a second at 10k queues); the sample is recorded in
        slices, by a task of its own, with the batches applied between them."""
        self._start(age, self.status.kept_views)

    def _start(self, age: float, views: Callable[[], list[QueueView]] | None) -> None:
        """Start a sample of ``views()`` (None: of the queues read in steps) if none is
        under way and the last is ``age`` seconds old or older."""
        idle = self._sampling is None or self._sampling.done()
        if not self._stopped and idle and self._stale(age):
            steps = self.status.sample_in_steps(None if views is None else views())
            self._sampling = asyncio.create_task(
                self._record(steps), name="callpulse-status-sample"
            )

    async def _record(self, steps: Steps[None]) -> None:
        try:
            await in_slices(steps, SLICE_SECONDS)
        except Exception:  # the page's history misses a sample; the daemon goes on
            log.exception("status_sample_failed")

    def _stale(self, age: float) -> bool:
        """Whether the last sample is ``age`` seconds old or older; if so, the next is taken
        from now (a sample in slices is not taken twice meanwhile)."""
        now = time.monotonic()
        if now - self._sampled < age:
            return False
        self._sampled = now
        return True

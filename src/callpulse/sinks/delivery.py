"""Delivering notifications without ever blocking event processing.

Each sink has a bounded queue and a worker. ``submit`` never waits: when the queue is full
the oldest notifications are dropped and counted. The worker sends batches; a failed batch
is retried with exponential backoff and jitter until it is older than ``max_age`` (by then
the evaluator has re-sent newer state), then dropped and counted.
"""

from __future__ import annotations

import abc
import asyncio
import random
import time
from collections import deque
from collections.abc import Sequence
from contextlib import suppress
from dataclasses import dataclass

import structlog

from callpulse.core.alert_state import Notification

log = structlog.get_logger("callpulse.alerts")

BATCH = 64


class DeliveryError(Exception):
    """A delivery failed; ``status`` is the HTTP status the receiver answered, if any."""

    def __init__(self, message: str, status: int | None = None) -> None:
        super().__init__(message)
        self.status = status


class PermanentError(DeliveryError):
    """The receiver refused the notifications for good (a 4xx, a redirect callpulse does not
    follow): retrying cannot help."""


@dataclass
class DeliveryStats:
    """Notifications by result: sent, failed (an attempt that will be retried), dropped."""

    sent: int = 0
    failed: int = 0
    dropped: int = 0

    def as_dict(self) -> dict[str, int]:
        """Counts by result, as the metric's ``result`` label names them."""
        return {"sent": self.sent, "failed": self.failed, "dropped": self.dropped}


class Sink(abc.ABC):
    """Queue and worker around :meth:`send`, which subclasses implement."""

    name = "sink"

    def __init__(self, capacity: int = 10_000, max_age: float = 60.0) -> None:
        self._queue: deque[tuple[float, Notification]] = deque()
        self._capacity = capacity
        self._max_age = max_age
        self._wakeup = asyncio.Event()
        self._drained = asyncio.Event()
        self.stats = DeliveryStats()

    @abc.abstractmethod
    async def send(self, batch: Sequence[Notification]) -> None:
        """Deliver ``batch`` or raise."""

    def submit(self, notifications: Sequence[Notification]) -> None:
        """Queue notifications for delivery; never blocks."""
        now = time.monotonic()
        for n in notifications:
            self._queue.append((now, n))
        while len(self._queue) > self._capacity:
            self._queue.popleft()
            self.stats.dropped += 1
        if notifications:
            self._wakeup.set()

    def pending(self) -> int:
        """Notifications waiting to be sent."""
        return len(self._queue)

    async def run(self) -> None:
        """The worker: send what is queued, forever (cancel to stop)."""
        delay = 0.5
        while True:
            if not self._queue:
                self._drained.set()
                self._wakeup.clear()
                await self._wakeup.wait()
            # Out of the queue while in flight, so that submit() trimming the queue can only
            # drop notifications that are really waiting.
            batch = [self._queue.popleft() for _ in range(min(BATCH, len(self._queue)))]
            try:
                await self.send([n for _, n in batch])
            except Exception as exc:
                self.stats.failed += len(batch)
                oldest = time.monotonic() - batch[0][0]
                answered = exc.status if isinstance(exc, DeliveryError) else None
                status = {} if answered is None else {"status": answered}
                if oldest > self._max_age or isinstance(exc, PermanentError):
                    self.stats.dropped += len(batch)
                    log.warning(
                        "notifications_dropped",
                        sink=self.name,
                        count=len(batch),
                        error=str(exc),
                        **status,
                    )
                else:
                    self._queue.extendleft(reversed(batch))
                    while len(self._queue) > self._capacity:
                        self._queue.popleft()
                        self.stats.dropped += 1
                    log.warning(
                        "notification_retry",
                        sink=self.name,
                        error=str(exc),
                        retry_in=round(delay, 2),
                        **status,
                    )
                await asyncio.sleep(delay * random.uniform(0.5, 1.5))
                delay = min(delay * 2, 10.0)
                continue
            delay = 0.5
            self.stats.sent += len(batch)

    async def close(self) -> None:  # noqa: B027 - optional: most sinks hold nothing
        """Release connections once the sink has stopped (nothing to release by default)."""

    async def flush(self, within: float) -> None:
        """Wait up to ``within`` seconds for the queue to empty (at shutdown)."""
        if not self._queue:
            return
        self._drained.clear()
        with suppress(TimeoutError):
            async with asyncio.timeout(within):
                await self._drained.wait()

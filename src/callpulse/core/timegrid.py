"""The time grid every tracker shares: bucket width, windows, and where *now* is."""

from __future__ import annotations

import math
from collections.abc import Sequence

from callpulse.core.durations import format_duration
from callpulse.core.histogram import RollingHistogram
from callpulse.core.windows import Counters, bucket_of, counters_class


def check_windows(windows: Sequence[float], bucket: float) -> None:
    """Raise ValueError unless ``bucket`` is positive and every window is a distinct, whole
    number of buckets: windows are made of buckets, and a fraction of one cannot be."""
    if bucket <= 0:
        raise ValueError("bucket must be longer than 0 s")
    for window in windows:
        ratio = window / bucket
        if window <= 0 or abs(ratio - round(ratio)) > 1e-9:
            raise ValueError(
                f"window {format_duration(window)} is not a whole number of "
                f"{format_duration(bucket)} buckets"
            )
    if len(set(windows)) != len(windows):
        raise ValueError("windows must not repeat")


_COUNTERS = counters_class()  # looked up once: a series is made on every new queue


class TimeGrid:
    """Buckets of ``bucket`` seconds and windows (in seconds) that are whole numbers of them.

    ``now`` only moves forward, through :meth:`advance`; ``head`` is the bucket holding it.
    Series are created at the current head and advanced lazily when touched or read.
    """

    def __init__(self, bucket: float, windows: Sequence[float], now: float) -> None:
        self.bucket = bucket
        self.windows = tuple(windows)
        self.spans = tuple(round(w / bucket) for w in self.windows)
        self.labels = tuple(format_duration(w) for w in self.windows)
        self.longest = max(self.spans)
        self.now = now
        self.head = bucket_of(now, bucket)
        # The start of the first bucket anything was counted in: a young window's span
        # starts there, not a whole window back (inf until the first event).
        self.origin = math.inf

    def advance(self, now: float) -> bool:
        """Move *now* forward; True when that started a new bucket."""
        if now <= self.now:
            return False
        self.now = now
        head = bucket_of(now, self.bucket)
        if head == self.head:
            return False
        self.head = head
        return True

    def note(self, bucket: int) -> None:
        """Record that ``bucket`` holds data (it may be older than what came before)."""
        start = bucket * self.bucket
        if start < self.origin:
            self.origin = start

    def bucket_for(self, timestamp: float) -> int:
        """The bucket an event at ``timestamp`` is counted in (clock skew counts as now)."""
        return bucket_of(timestamp, self.bucket) if timestamp < self.now else self.head

    def covers(self, bucket: int) -> bool:
        """Whether the longest window still covers ``bucket``."""
        return bucket >= self.head - self.longest

    def oldest_covered_time(self) -> float:
        """The start of the oldest bucket the longest window covers."""
        return (self.head - self.longest) * self.bucket

    def window_start(self, index: int) -> float:
        """The start of the oldest bucket window ``index`` covers."""
        return (self.head - self.spans[index]) * self.bucket

    def counters(self, fields: int, narrow: int = 0) -> Counters:
        """New rolling counters on this grid (the first ``narrow`` fields are counts)."""
        return _COUNTERS(fields, self.spans, self.head, narrow)

    def histogram(self) -> RollingHistogram:
        """A new rolling histogram on this grid."""
        return RollingHistogram(self.spans, self.head)

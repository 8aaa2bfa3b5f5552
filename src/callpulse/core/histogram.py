"""Percentiles over rolling windows in bounded memory.

Values are mapped to bins (log-spaced for delays, linear for MOS); each time bucket keeps a
sparse count per bin and each window a running sum of those counts, exactly like
:class:`~callpulse.core.windows.RollingCounters`. Memory per series is O(buckets x distinct bins
seen), never O(events).

Error bound: a percentile is reported as the midpoint of the bin holding it. For
:class:`LogBins` with ``growth`` g that is within a relative ``sqrt(g) - 1`` of the true sample
(1.98 % for the default g = 1.04); for :class:`LinearBins` within half a bin width.
"""

from __future__ import annotations

import math
from collections.abc import Sequence


class LogBins:
    """Bins growing by ``growth`` from ``smallest``; smaller values share bin 0 (reported 0)."""

    def __init__(self, smallest: float, growth: float = 1.04) -> None:
        self.smallest = smallest
        self.growth = growth
        self._log_growth = math.log(growth)

    def bin(self, value: float) -> int:
        """The bin holding ``value``."""
        if value < self.smallest:
            return 0
        return 1 + int(math.log(value / self.smallest) / self._log_growth)

    def value(self, index: int) -> float:
        """The value reported for bin ``index`` (its geometric midpoint)."""
        if index <= 0:
            return 0.0
        return self.smallest * self.growth ** (index - 1) * math.sqrt(self.growth)


class LinearBins:
    """Bins of equal ``width`` from 0."""

    def __init__(self, width: float) -> None:
        self.width = width

    def bin(self, value: float) -> int:
        """The bin holding ``value``."""
        return int(value / self.width)

    def value(self, index: int) -> float:
        """The value reported for bin ``index`` (its midpoint)."""
        return (index + 0.5) * self.width


class RollingHistogram:
    """Counts per bin, summed over several trailing windows of time buckets.

    Windows and buckets mean what they mean for ``RollingCounters``: a window of ``span``
    buckets read at ``head`` covers buckets ``head - span .. head``.
    """

    __slots__ = ("_head", "_ring", "_size", "_slot_bucket", "_spans", "_sums")

    def __init__(self, spans: Sequence[int], start: int) -> None:
        self._spans = tuple(spans)
        self._size = max(spans) + 1
        self._ring: list[dict[int, int] | None] = [None] * self._size
        self._slot_bucket = [-1] * self._size
        self._sums: list[dict[int, int]] = [{} for _ in self._spans]
        self._head = start

    def add(self, bucket: int, index: int) -> bool:
        """Count one value in bin ``index`` at time ``bucket``; False if no window covers it."""
        head = self._head
        if bucket > head:
            raise ValueError(f"bucket {bucket} is ahead of head {head}")
        if bucket <= head - self._size:
            return False
        slot = bucket % self._size
        counts = self._ring[slot]
        if counts is None or self._slot_bucket[slot] != bucket:
            counts = self._ring[slot] = {}
            self._slot_bucket[slot] = bucket
        counts[index] = counts.get(index, 0) + 1
        spans, sums = self._spans, self._sums
        for window in range(len(spans)):
            if bucket >= head - spans[window]:
                window_sums = sums[window]
                window_sums[index] = window_sums.get(index, 0) + 1
        return True

    def advance(self, head: int) -> None:
        """Move the windows' end to ``head``; buckets that fall out are subtracted."""
        old = self._head
        if head <= old:
            return
        for span, sums in zip(self._spans, self._sums, strict=True):
            if head - old > span:
                sums.clear()
                continue
            for leaving in range(old - span, head - span):
                slot = leaving % self._size
                counts = self._ring[slot]
                if counts is None or self._slot_bucket[slot] != leaving:
                    continue
                for index, n in counts.items():
                    left = sums[index] - n
                    if left:
                        sums[index] = left
                    else:
                        del sums[index]
        # Free the buckets that have now left every window, so an idle series holds nothing.
        if head - old >= self._size:
            self._ring = [None] * self._size
            self._slot_bucket = [-1] * self._size
        else:
            longest = self._size - 1
            for leaving in range(old - longest, head - longest):
                slot = leaving % self._size
                if self._slot_bucket[slot] == leaving:
                    self._ring[slot] = None
                    self._slot_bucket[slot] = -1
        self._head = head

    def count(self, window: int) -> int:
        """How many values window ``window`` holds."""
        return sum(self._sums[window].values())

    def quantile(self, window: int, q: float) -> int | None:
        """The bin holding the ``q`` quantile (0 < q <= 1) of the window, or None if empty."""
        sums = self._sums[window]
        total = sum(sums.values())
        if not total:
            return None
        rank = max(1, math.ceil(q * total))
        seen = 0
        for index in sorted(sums):
            seen += sums[index]
            if seen >= rank:
                return index
        return max(sums)

"""Rolling windows of integer counters on event time, in O(buckets) memory per series.

Time is cut into buckets of ``bucket`` seconds; bucket ``b`` holds events with
``b * bucket <= occurred_at < (b + 1) * bucket``. A window of ``span`` buckets, read when the
newest bucket is ``head``, covers buckets ``head - span .. head``: it always includes every event
no older than the window's length, plus at most one bucket of older events at its far edge.

Each window keeps a running sum per field of its *closed* buckets (all but ``head``), updated
when ``head`` moves and when a late value lands in a closed bucket; reading a window adds the
head bucket to it, so reading costs O(fields) whatever the window's length. A value for the
head bucket, which is nearly every value live, touches the ring alone: one addition per field
whatever the number of windows. Values are integers (durations are kept in milliseconds) so
that adding and later subtracting a bucket is exact.
"""

from __future__ import annotations

import math
from array import array
from collections.abc import Sequence


def bucket_of(timestamp: float, bucket: float) -> int:
    """Return the index of the bucket holding ``timestamp`` (epoch seconds)."""
    return math.floor(timestamp / bucket)


class RollingCounters:
    """A fixed set of integer fields summed over several trailing windows of buckets.

    ``spans`` are the windows' lengths in buckets (a 1-minute window over 5-second buckets is
    12). ``head`` starts at ``start`` and only moves forward, through :meth:`advance`. The
    first ``narrow`` fields are counts, which grow by at most one an event: a bucket keeps
    them in 32 bits; the others (durations in milliseconds) in 64. At 10k queues the buckets
    are most of the daemon's memory.
    """

    __slots__ = (
        "_counts",
        "_fields",
        "_head",
        "_narrow",
        "_ring",
        "_size",
        "_slot_bucket",
        "_spans",
        "_sums",
    )

    def __init__(self, fields: int, spans: Sequence[int], start: int, narrow: int = 0) -> None:
        if fields < 1 or not spans or min(spans) < 1:
            raise ValueError("need at least one field and windows of at least one bucket")
        if not 0 <= narrow <= fields:
            raise ValueError(f"narrow must be 0..{fields}, not {narrow}")
        self._fields = fields
        self._narrow = narrow
        self._spans = tuple(spans)
        # One bucket more than the longest span: the far-edge bucket is still covered.
        self._size = max(spans) + 1
        # Arrays, not lists: the garbage collector does not walk them (a list of ints is a
        # container it visits element by element on every full collection: at 10k queues,
        # 23M elements and 300 ms with the event loop held), and a value is stored inline
        # rather than as a pointer to an int object.
        self._counts = array("i", [0]) * (self._size * narrow)
        self._ring = array("q", [0]) * (self._size * (fields - narrow))
        self._slot_bucket = array("q", [-1]) * self._size
        self._sums = [[0] * fields for _ in self._spans]
        self._head = start

    @property
    def head(self) -> int:
        """The newest bucket the windows end at."""
        return self._head

    def covers(self, bucket: int) -> bool:
        """Whether ``bucket`` is inside the longest window (so adding to it counts somewhere)."""
        return self._head - self._size < bucket <= self._head

    def add(self, bucket: int, values: Sequence[tuple[int, int]]) -> bool:
        """Add ``(field, amount)`` pairs to ``bucket``; return False if no window covers it.

        ``bucket`` must not be ahead of :attr:`head` (callers clamp small clock skew).
        """
        head = self._head
        if bucket > head:
            raise ValueError(f"bucket {bucket} is ahead of head {head}")
        if bucket <= head - self._size:
            return False
        narrow = self._narrow
        wide = self._fields - narrow
        slot = bucket % self._size
        counts, ring = self._counts, self._ring
        count_base = slot * narrow
        ring_base = slot * wide - narrow  # so that field f (>= narrow) is ring[ring_base + f]
        if self._slot_bucket[slot] != bucket:
            # The slot still holds a bucket that left every window long ago: reuse it.
            self._slot_bucket[slot] = bucket
            for i in range(count_base, count_base + narrow):
                counts[i] = 0
            for i in range(ring_base + narrow, ring_base + narrow + wide):
                ring[i] = 0
        try:
            for done, (field, amount) in enumerate(values):  # noqa: B007 (the handler reads it)
                if field < narrow:
                    counts[count_base + field] += amount
                else:
                    ring[ring_base + field] += amount
        except OverflowError:
            # Past 32 or 64 bits (a producer's duration of a billion years): nothing of it is
            # kept, so that the bucket and the windows' sums still agree.
            for field, amount in values[:done]:
                if field < narrow:
                    counts[count_base + field] -= amount
                else:
                    ring[ring_base + field] -= amount
            raise ValueError(f"{values[done][1]} does not fit field {values[done][0]}") from None
        if bucket != head:  # a closed bucket: the windows covering it have it in their sums
            for span, sums in zip(self._spans, self._sums, strict=True):
                if bucket >= head - span:
                    for field, amount in values:
                        sums[field] += amount
        return True

    def _bucket(self, slot: int) -> list[int]:
        """Every field of the bucket in ``slot``."""
        narrow, wide = self._narrow, self._fields - self._narrow
        return [
            *self._counts[slot * narrow : (slot + 1) * narrow],
            *self._ring[slot * wide : (slot + 1) * wide],
        ]

    def advance(self, head: int) -> None:
        """Move the windows' end to ``head``; buckets that fall out are subtracted."""
        old = self._head
        if head <= old:
            return
        fields, size = self._fields, self._size
        closing = old % size
        closed = self._bucket(closing) if self._slot_bucket[closing] == old else None
        for span, sums in zip(self._spans, self._sums, strict=True):
            if head - old > span:
                # Every bucket this window held has left it, the old head too.
                for i in range(fields):
                    sums[i] = 0
                continue
            # Buckets old-span .. head-span-1 leave this window (all of them closed ones).
            for leaving in range(old - span, head - span):
                slot = leaving % size
                if self._slot_bucket[slot] != leaving:
                    continue
                for i, value in enumerate(self._bucket(slot)):
                    sums[i] -= value
            # The old head is a closed bucket now; the ones after it are empty (no value is
            # ever added ahead of the head).
            if closed is not None:
                for i, value in enumerate(closed):
                    sums[i] += value
        self._head = head

    def window(self, index: int) -> list[int]:
        """Return the sums of window ``index`` (in the order ``spans`` were given)."""
        slot = self._head % self._size
        if self._slot_bucket[slot] != self._head:
            return list(self._sums[index])
        head = self._bucket(slot)
        return [closed + now for closed, now in zip(self._sums[index], head, strict=True)]

    def windows(self) -> list[list[int]]:
        """The sums of every window (as :meth:`window` gives each), read in one pass."""
        slot = self._head % self._size
        if self._slot_bucket[slot] != self._head:
            return [list(sums) for sums in self._sums]
        head = self._bucket(slot)
        return [
            [closed + now for closed, now in zip(sums, head, strict=True)] for sums in self._sums
        ]

    def is_empty(self) -> bool:
        """Whether every window sums to zero on every field."""
        return not any(any(self.window(i)) for i in range(len(self._spans)))

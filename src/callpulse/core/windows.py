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

A bucket keeps its counts in 8 bits and its durations in 32 (at 10k queues the buckets are
most of the daemon's memory: 181 a queue, 13 fields each). A value that outgrows its cell (256
calls of a queue in one bucket: 51 a second; 25 days of waits) moves to a dict of the few that
did, where it stays exact up to 2**63 over the number of slots (so that a window's sum, kept
in 64 bits too, cannot overflow; a little stricter than needed, since a window's sums hold
one slot fewer: 1.6 million years of waits in one bucket of the default 15-minute window);
past that a value is refused. While any cell of a series is spilled, every addition to that
series takes the slower way through the dict, until the head clears its slot (a queue
offered more than 51 calls a second stays on it).
"""

from __future__ import annotations

import math
from array import array
from collections.abc import Sequence
from typing import Protocol

from callpulse.core.native import compiled

_LIMIT = 1 << 63
"""What a window's sum of one field stays under, either way: a bucket's value at or past it
over the slots is refused."""


def bucket_of(timestamp: float, bucket: float) -> int:
    """Return the index of the bucket holding ``timestamp`` (epoch seconds)."""
    return math.floor(timestamp / bucket)


class Counters(Protocol):
    """What the trackers use of a series' counters: :class:`RollingCounters`, or the same
    class compiled from Rust (``callpulse.core._native``, see :func:`counters_class`)."""

    @property
    def head(self) -> int:
        """The newest bucket the windows end at."""

    def covers(self, bucket: int) -> bool:
        """Whether ``bucket`` is inside the longest window."""

    def add(self, bucket: int, values: Sequence[tuple[int, int]]) -> bool:
        """Add ``(field, amount)`` pairs to ``bucket``; False if no window covers it."""

    def advance(self, head: int) -> None:
        """Move the windows' end to ``head``."""

    def window(self, index: int) -> list[int]:
        """The sums of window ``index``."""

    def windows(self) -> list[list[int]]:
        """The sums of every window."""

    def is_empty(self) -> bool:
        """Whether every window sums to zero on every field."""


class CountersClass(Protocol):
    """A class of :class:`Counters`, made as :class:`RollingCounters` is."""

    def __call__(
        self, fields: int, spans: Sequence[int], start: int, narrow: int = 0
    ) -> Counters: ...


def counters_class() -> CountersClass:
    """The class new counters are made of: the compiled one when the build has it (a wheel
    built where Rust's cargo works), else :class:`RollingCounters`.

    Both keep the same values the same way (``tests/unit/test_windows.py`` runs on each);
    the compiled one adds without an int object per cell: a closed bucket's add in under
    half the time, a read of every window in about a tenth (``benchmarks/native.py``)."""
    made: CountersClass = compiled("RollingCounters", RollingCounters)
    return made


class RollingCounters:
    """A fixed set of integer fields summed over several trailing windows of buckets.

    ``spans`` are the windows' lengths in buckets (a 1-minute window over 5-second buckets is
    12). ``head`` starts at ``start`` and only moves forward, through :meth:`advance`. The
    first ``narrow`` fields are counts, which grow by at most one an event: a bucket keeps
    them in 8 bits; the others (durations in milliseconds) in 32; either moves to
    ``_spill`` when it outgrows its cell (see the module). At 10k queues the buckets
    are most of the daemon's memory.
    """

    __slots__ = (
        "_counts",
        "_fields",
        "_head",
        "_narrow",
        "_ring",
        "_size",
        "_spans",
        "_spill",
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
        self._counts = array("B", [0]) * (self._size * narrow)
        self._ring = array("i", [0]) * (self._size * (fields - narrow))
        # Every slot holds the bucket of (head - size, head] it stands for, or zeros: advance
        # clears a slot as the head reaches its bucket (no tag a slot to tell which bucket it
        # holds: 8 bytes a slot, 15 MB at 10k queues).
        # The cells that outgrew their array, by slot * fields + field: their whole value
        # (the array's cell stays 0). Nearly always empty: only then is the array alone read.
        self._spill: dict[int, int] = {}
        # Each window's sums, field by field, one window after the other: in 64 bits, as the
        # buckets' values are bounded so that a sum of them all fits (lists of ints took a
        # kilobyte a queue, most of it int objects for the durations' sums).
        self._sums = array("q", [0]) * (len(self._spans) * fields)
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
        if self._spill:
            self._add_spilled(slot, values)
        else:
            try:
                for done, (field, amount) in enumerate(values):  # noqa: B007 (read below)
                    if field < narrow:
                        counts[count_base + field] += amount
                    else:
                        ring[ring_base + field] += amount
            except OverflowError:
                # A value outgrew its cell: undo this call's additions to the arrays, the
                # last first (a field named twice, once negative, stays inside its cell), and
                # make them all where a cell that outgrew its array is looked for.
                for field, amount in reversed(values[:done]):
                    self._undo(slot, field, amount)
                self._add_spilled(slot, values)
        if bucket != head:  # a closed bucket: the windows covering it have it in their sums
            sums, fields = self._sums, self._fields
            for window, span in enumerate(self._spans):
                if bucket >= head - span:
                    base = window * fields
                    for field, amount in values:
                        sums[base + field] += amount
        return True

    def _add_spilled(self, slot: int, values: Sequence[tuple[int, int]]) -> None:
        """:meth:`add`'s values to ``slot``, each to its spilled value if it has one, else to
        its array's cell, or to a spilled value made of the cell when it outgrows it. A value
        at or past 2**63 over the slots (a producer's duration of millions of years) is
        refused, and nothing of this call kept, so that the bucket and the windows' sums
        still agree."""
        spill = self._spill
        done: list[tuple[int, int]] = []
        for field, amount in values:
            key = slot * self._fields + field
            cells, cell = self._cell(slot, field)
            held = spill.get(key)
            if held is None:
                try:
                    cells[cell] += amount
                except OverflowError:
                    held = cells[cell]
            if held is not None:
                total = held + amount
                limit = _LIMIT // self._size
                if not -limit < total < limit:
                    for field_done, amount_done in reversed(done):
                        self._undo(slot, field_done, amount_done)
                    raise ValueError(f"{amount} does not fit field {field}") from None
                spill[key] = total
                cells[cell] = 0
            done.append((field, amount))

    def _undo(self, slot: int, field: int, amount: int) -> None:
        """Take back an ``amount`` added to ``field`` of ``slot``, where it went."""
        key = slot * self._fields + field
        if key in self._spill:
            self._spill[key] -= amount
        else:
            cells, cell = self._cell(slot, field)
            cells[cell] -= amount

    def _cell(self, slot: int, field: int) -> tuple[array[int], int]:
        """The array that keeps ``field`` of the bucket in ``slot``, and its index there."""
        narrow = self._narrow
        if field < narrow:
            return self._counts, slot * narrow + field
        return self._ring, slot * (self._fields - narrow) + field - narrow

    def _bucket(self, slot: int) -> list[int]:
        """Every field of the bucket in ``slot``."""
        narrow, fields = self._narrow, self._fields
        wide = fields - narrow
        values = [
            *self._counts[slot * narrow : (slot + 1) * narrow],
            *self._ring[slot * wide : (slot + 1) * wide],
        ]
        if self._spill:
            for field in range(fields):
                held = self._spill.get(slot * fields + field)
                if held is not None:
                    values[field] += held
        return values

    def advance(self, head: int) -> None:
        """Move the windows' end to ``head``; buckets that fall out are subtracted."""
        old = self._head
        if head <= old:
            return
        fields, size = self._fields, self._size
        closed = self._bucket(old % size)
        sums = self._sums
        for window, span in enumerate(self._spans):
            base = window * fields
            if head - old > span:
                # Every bucket this window held has left it, the old head too.
                for i in range(base, base + fields):
                    sums[i] = 0
                continue
            # Buckets old-span .. head-span-1 leave this window (all of them closed ones).
            for leaving in range(old - span, head - span):
                for i, value in enumerate(self._bucket(leaving % size), base):
                    sums[i] -= value
            # The old head is a closed bucket now; the ones after it are empty (no value is
            # ever added ahead of the head).
            for i, value in enumerate(closed, base):
                sums[i] += value
        # The slots of the new buckets held buckets that have now left every window (the
        # longest spans size - 1): they start again from zero.
        for bucket in range(old + 1, min(head, old + size) + 1):
            self._clear(bucket % size)
        self._head = head

    def _clear(self, slot: int) -> None:
        narrow, fields = self._narrow, self._fields
        wide = fields - narrow
        counts, ring = self._counts, self._ring
        for i in range(slot * narrow, (slot + 1) * narrow):
            counts[i] = 0
        for i in range(slot * wide, (slot + 1) * wide):
            ring[i] = 0
        if self._spill:
            for key in range(slot * fields, (slot + 1) * fields):
                self._spill.pop(key, None)

    def window(self, index: int) -> list[int]:
        """Return the sums of window ``index`` (in the order ``spans`` were given)."""
        if not 0 <= index < len(self._spans):
            raise IndexError(f"no window {index}")
        head = self._bucket(self._head % self._size)
        fields = self._fields
        sums = self._sums[index * fields : (index + 1) * fields]
        return [closed + now for closed, now in zip(sums, head, strict=True)]

    def windows(self) -> list[list[int]]:
        """The sums of every window (as :meth:`window` gives each), read in one pass."""
        head = self._bucket(self._head % self._size)
        sums, fields = self._sums, self._fields
        return [
            [closed + now for closed, now in zip(sums[base : base + fields], head, strict=True)]
            for base in range(0, len(sums), fields)
        ]

    def is_empty(self) -> bool:
        """Whether every window sums to zero on every field."""
        return not any(any(self.window(i)) for i in range(len(self._spans)))

"""Remembering recent ``event_id``s so that a replayed or re-sent event counts once."""

from __future__ import annotations

from array import array
from collections import deque
from collections.abc import Callable
from typing import Protocol

from callpulse.core.native import compiled

_MIN_SLOTS = 64  # a shard's smallest table, a power of two
_SHARD_BITS = 6
_SHARDS = 1 << _SHARD_BITS  # tables, each resized on its own (a hash's low bits pick it)
_LOW = 0xFFFF_FFFF
_LOOK_BACK = 4  # lists looked at for an event's bucket, newest first
MAX_CAPACITY = 2**30
"""The most ids a :class:`RecentIds` keeps: its tables then have 2**31 slots (16 GiB)."""


class RecentIds:
    """The ids of events seen in the last ``horizon`` buckets, up to ``capacity`` ids.

    Ids are kept as 64-bit hashes, bucketed by the event's time, and forgotten bucket by
    bucket as time moves on. When more than ``capacity`` ids are held, the oldest buckets are
    forgotten early and :attr:`evicted` counts the ids lost that way: a duplicate of one of
    them would then count twice, which is the price of bounded memory.

    The hashes are held in open-addressing tables of 64-bit slots (linear probing, a
    removal shifting back the entries after it, so that no tombstone is left), a quarter to
    half full; a bucket's list keeps the low 32 bits of each (all that is needed to find it
    again, see :meth:`_remove`): 20 to 36 bytes an id (40 MiB at the default capacity of 2M
    ids), where a dict of ints took about 150 (its entry, an int object per hash and per bucket).
    A table doubles as ids come and shrinks to a quarter once under an eighth full, so
    what a burst took is given back. A resize re-inserts every id of its table at once, so
    the ids are spread over :data:`_SHARDS` tables by the low bits of their hashes, each
    resized on its own: one table of 2M ids held the event loop 240 ms as it doubled
    (compiled), one of 64 holds it under 5.
    """

    __slots__ = (
        "_buckets", "_capacity", "_count", "_counts", "_horizon", "_masks", "_tables", "evicted",
    )  # fmt: skip

    def __init__(self, horizon: int, capacity: int) -> None:
        if not 0 < capacity <= MAX_CAPACITY:
            # More would grow the tables past 2**32 slots, and a table past 2**26 (twice its
            # share of them), where the low half of a hash no longer holds its table and slot
            # (see _remove). Event ids' hashes are salted per process: a table holds its
            # share give or take a fraction of a percent.
            raise ValueError(f"capacity must be 1..{MAX_CAPACITY}, not {capacity}")
        self._horizon = horizon
        self._capacity = capacity
        self._tables = [_empty(_MIN_SLOTS) for _ in range(_SHARDS)]
        self._masks = [_MIN_SLOTS - 1] * _SHARDS
        self._counts = [0] * _SHARDS
        self._count = 0
        # Each bucket's ids (the low half of their hashes) in an array of C unsigned ints, 4
        # bytes wherever CPython runs: the garbage collector does not walk it (millions of
        # ids in lists made every full collection visit each).
        self._buckets: deque[tuple[int, array[int]]] = deque()
        self.evicted = 0

    def __len__(self) -> int:
        return self._count

    @property
    def fill(self) -> float:
        """The share of ``capacity`` in use, 0..1."""
        return self._count / self._capacity

    @property
    def slots(self) -> int:
        """The tables' size in ids (8 bytes each)."""
        return sum(len(table) for table in self._tables)

    def add(self, event_id: str, bucket: int) -> bool:
        """Record ``event_id`` at ``bucket``; return False if it was already recorded."""
        return self.add_hash(hash(event_id), bucket)

    def add_hash(self, key: int, bucket: int) -> bool:
        """:meth:`add` of an id already hashed to ``key``."""
        key = key or 1  # 0 marks a free slot: an id hashed to 0 is taken as hashed to 1
        shard = key & (_SHARDS - 1)
        table, mask = self._tables[shard], self._masks[shard]
        slot = (key >> _SHARD_BITS) & mask
        while True:
            held = table[slot]
            if held == 0:
                break
            if held == key:
                return False
            slot = (slot + 1) & mask
        table[slot] = key
        self._count += 1
        counts = self._counts
        held_here = counts[shard] + 1
        counts[shard] = held_here
        buckets = self._buckets
        # Events mostly arrive in time order, so the newest list is nearly always the one.
        # Partitions read in turn interleave the buckets either side of a boundary: the
        # lists just before it are looked at too (a list a switch, of a few ids each, took
        # 30 bytes an id more). An event later still opens a list of its own at the end and
        # is forgotten a little later.
        for back in range(1, min(len(buckets), _LOOK_BACK) + 1):
            held_bucket, lows = buckets[-back]
            if held_bucket == bucket:
                lows.append(key & _LOW)
                break
        else:
            buckets.append((bucket, array("I", (key & _LOW,))))
        if self._count > self._capacity:
            self._drop_oldest()
        # The count before an eviction above (which resizes no table): at capacity a table
        # may double a little early, and an expiry gives the room back.
        if 2 * held_here > len(table):
            self._resize(shard, 2 * len(table))
        return True

    def expire(self, head: int) -> None:
        """Forget ids of buckets older than ``head - horizon``."""
        oldest_kept = head - self._horizon
        buckets = self._buckets
        while buckets and buckets[0][0] < oldest_kept:
            self._forget(buckets.popleft()[1])
        for shard, table in enumerate(self._tables):
            size = len(table)
            if size > _MIN_SLOTS and 8 * self._counts[shard] < size:
                self._resize(shard, max(_MIN_SLOTS, size // 4))

    def _drop_oldest(self) -> None:
        while self._count > self._capacity and self._buckets:
            self.evicted += self._forget(self._buckets.popleft()[1])

    def _forget(self, lows: array[int]) -> int:
        for low in lows:
            self._remove(low)
        return len(lows)

    def _remove(self, low: int) -> None:
        """Take out a hash whose low 32 bits are ``low``. Its table and home slot are in them
        (a table has fewer than 2**26 slots), so the first such hash of the run from there is
        found.
        Two hashes alike in their low half (at 2M ids, one id in about 2,000 has such a
        twin) are taken out in either order: each bucket's list takes out one hash for each
        id it added, so every hash still leaves, one twin a little early (a duplicate of it
        would count again) and the other as late."""
        shard = low & (_SHARDS - 1)
        table, mask = self._tables[shard], self._masks[shard]
        slot = (low >> _SHARD_BITS) & mask
        while True:
            held = table[slot]
            if held == 0:
                return  # not held (cannot happen: every id of a bucket's list is)
            if held & _LOW == low:
                break
            slot = (slot + 1) & mask
        # Shift back each entry after it in the run that would no longer be found from its
        # home slot once this one is free: one whose probe from home passes the free slot.
        free = slot
        while True:
            slot = (slot + 1) & mask
            held = table[slot]
            if held == 0:
                break
            home = (held >> _SHARD_BITS) & mask
            if (home <= free < slot) if home <= slot else (free >= home or free < slot):
                table[free] = held
                free = slot
        table[free] = 0
        self._count -= 1
        self._counts[shard] -= 1

    def _resize(self, shard: int, size: int) -> None:
        old = self._tables[shard]
        self._tables[shard] = table = _empty(size)
        self._masks[shard] = mask = size - 1
        for key in old:
            if key:
                slot = (key >> _SHARD_BITS) & mask
                while table[slot]:
                    slot = (slot + 1) & mask
                table[slot] = key


def _empty(size: int) -> array[int]:
    return array("q", bytes(8 * size))


class SeenIds(Protocol):
    """What the monitor uses of a :class:`RecentIds`: the Python class, or the same built
    from Rust (``callpulse.core._native``, see :func:`recent_ids`)."""

    @property
    def evicted(self) -> int:
        """Ids forgotten early, over capacity."""

    @property
    def fill(self) -> float:
        """The share of capacity in use, 0..1."""

    @property
    def slots(self) -> int:
        """The tables' size in ids."""

    def __len__(self) -> int:
        """The ids held."""

    def add(self, event_id: str, bucket: int) -> bool:
        """Record ``event_id`` at ``bucket``; False if it was already recorded."""

    def add_hash(self, key: int, bucket: int) -> bool:
        """:meth:`add` of an id already hashed to ``key``."""

    def expire(self, head: int) -> None:
        """Forget ids of buckets older than ``head - horizon``."""


_RECENT_IDS: Callable[[int, int], SeenIds] = compiled("RecentIds", RecentIds)


def recent_ids(horizon: int, capacity: int) -> SeenIds:
    """New :class:`RecentIds`: built from Rust when the build has it (a wheel built where
    cargo works), else the Python class. Both keep the same hashes in the same tables
    (``tests/unit/test_dedup.py`` runs every test on each, and the two side by side)."""
    return _RECENT_IDS(horizon, capacity)

"""Remembering recent ``event_id``s so that a replayed or re-sent event counts once."""

from __future__ import annotations

from array import array
from collections import deque


class RecentIds:
    """The ids of events seen in the last ``horizon`` buckets, up to ``capacity`` ids.

    Ids are kept as 64-bit hashes, bucketed by the event's time, and forgotten bucket by
    bucket as time moves on. When more than ``capacity`` ids are held, the oldest buckets are
    forgotten early and :attr:`evicted` counts the ids lost that way: a duplicate of one of
    them would then count twice, which is the price of bounded memory.
    """

    __slots__ = ("_buckets", "_capacity", "_horizon", "_seen", "evicted")

    def __init__(self, horizon: int, capacity: int) -> None:
        self._horizon = horizon
        self._capacity = capacity
        self._seen: dict[int, int] = {}
        # Each bucket's ids in an array: the garbage collector does not walk it (millions of
        # ids in lists made every full collection visit each one).
        self._buckets: deque[tuple[int, array[int]]] = deque()
        self.evicted = 0

    def __len__(self) -> int:
        return len(self._seen)

    @property
    def fill(self) -> float:
        """The share of ``capacity`` in use, 0..1."""
        return len(self._seen) / self._capacity

    def add(self, event_id: str, bucket: int) -> bool:
        """Record ``event_id`` at ``bucket``; return False if it was already recorded."""
        key = hash(event_id)
        if key in self._seen:
            return False
        self._seen[key] = bucket
        buckets = self._buckets
        # Events mostly arrive in time order, so the newest list is nearly always the one; a
        # late event opens a list of its own at the end and is forgotten a little later.
        if buckets and buckets[-1][0] == bucket:
            buckets[-1][1].append(key)
        else:
            buckets.append((bucket, array("q", (key,))))
        if len(self._seen) > self._capacity:
            self._drop_oldest()
        return True

    def expire(self, head: int) -> None:
        """Forget ids of buckets older than ``head - horizon``."""
        oldest_kept = head - self._horizon
        buckets = self._buckets
        while buckets and buckets[0][0] < oldest_kept:
            self._forget(buckets.popleft()[1])

    def _drop_oldest(self) -> None:
        while len(self._seen) > self._capacity and self._buckets:
            self.evicted += self._forget(self._buckets.popleft()[1])

    def _forget(self, keys: array[int]) -> int:
        seen = self._seen
        for key in keys:
            del seen[key]
        return len(keys)

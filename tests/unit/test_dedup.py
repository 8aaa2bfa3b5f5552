"""RecentIds against a plain model of it: a dict of ids by bucket, forgotten oldest first."""

from __future__ import annotations

import random
from collections import OrderedDict

import pytest

from callpulse.core.dedup import RecentIds


class Model:
    """What RecentIds promises, kept the obvious way."""

    def __init__(self, horizon: int, capacity: int) -> None:
        self.horizon, self.capacity = horizon, capacity
        self.buckets: OrderedDict[int, list[int]] = OrderedDict()  # in order of first use
        self.order: list[tuple[int, list[int]]] = []
        self.held: set[int] = set()
        self.evicted = 0

    def add(self, key: int, bucket: int) -> bool:
        key = key or 1
        if key in self.held:
            return False
        self.held.add(key)
        if self.order and self.order[-1][0] == bucket:
            self.order[-1][1].append(key)
        else:
            self.order.append((bucket, [key]))
        while len(self.held) > self.capacity and self.order:
            _, keys = self.order.pop(0)
            self.held.difference_update(keys)
            self.evicted += len(keys)
        return True

    def expire(self, head: int) -> None:
        while self.order and self.order[0][0] < head - self.horizon:
            self.held.difference_update(self.order.pop(0)[1])


@pytest.mark.parametrize("seed", range(6))
def test_recent_ids_hold_what_the_model_holds(seed: int) -> None:
    rng = random.Random(seed)
    horizon, capacity = 12, rng.choice([1000, 3000, 50_000])
    ids, model = RecentIds(horizon, capacity), Model(horizon, capacity)
    # Keys that share their low bits (the table's home slots) with many others, negative
    # ones, 0, and plain random ones: long probe runs that wrap round the table's end.
    pool = [rng.randrange(-(2**63), 2**63) for _ in range(3000)]
    pool += [k << 20 for k in range(-200, 200)] + [(1 << 10) * k - 1 for k in range(300)]
    head = 0
    for _ in range(40_000):
        step = rng.random()
        if step < 0.02:
            head += rng.randint(1, 3)
            ids.expire(head)
            model.expire(head)
            continue
        key = rng.choice(pool) if step < 0.5 else rng.randrange(-(2**63), 2**63)
        bucket = head - rng.choice([0, 0, 0, 1, 5])
        assert ids.add_hash(key, bucket) == model.add(key, bucket)
        assert len(ids) == len(model.held)
    assert ids.evicted == model.evicted
    for key in pool:
        assert ids.add_hash(key, head) == model.add(key, head)


def test_the_table_grows_with_the_ids_and_gives_the_room_back_as_they_go() -> None:
    ids = RecentIds(horizon=2, capacity=100_000)
    small = ids.slots
    for n in range(60_000):
        assert ids.add(f"event-{n}", 0)
    assert not ids.add("event-5", 1)
    assert ids.slots >= 2 * len(ids) > ids.slots // 2
    ids.expire(10)  # every id is older than the horizon
    assert len(ids) == 0
    ids.expire(11)  # shrinks a step a call, down to its first size
    ids.expire(12)
    ids.expire(13)
    assert ids.slots == small
    assert ids.add("event-5", 13)


def test_past_capacity_the_oldest_buckets_go_and_are_counted() -> None:
    ids = RecentIds(horizon=100, capacity=1000)
    for n in range(1000):
        ids.add(f"a{n}", n // 100)
    assert ids.add("b", 10)
    assert (len(ids), ids.evicted) == (901, 100)  # bucket 0 went whole
    assert ids.add("a5", 10)  # forgotten early: a duplicate of it counts again
    assert not ids.add("a500", 10)

"""RecentIds against a plain model of it: lists of ids by bucket, forgotten oldest first.

Every test runs on each class of it: the Python one, and the one built from Rust
(rust/native) where the build has it, which must keep the same tables.
"""

from __future__ import annotations

import random
from typing import Any

import pytest

from callpulse.core.dedup import MAX_CAPACITY
from callpulse.core.dedup import RecentIds as PythonRecentIds

from .conftest import native


@pytest.fixture(params=["python", "rust"])
def recent_ids(request: pytest.FixtureRequest) -> Any:
    return PythonRecentIds if request.param == "python" else native("RecentIds")


class Model:
    """What RecentIds promises, kept the obvious way."""

    def __init__(self, horizon: int, capacity: int) -> None:
        self.horizon, self.capacity = horizon, capacity
        self.order: list[tuple[int, list[int]]] = []
        self.held: set[int] = set()
        self.evicted = 0

    def add(self, key: int, bucket: int) -> bool:
        key = key or 1
        if key in self.held:
            return False
        self.held.add(key)
        # The list of the same bucket among the last four, else a new one at the end.
        same = [keys for b, keys in self.order[-4:] if b == bucket]
        if same:
            same[-1].append(key)
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
def test_recent_ids_hold_what_the_model_holds(recent_ids: Any, seed: int) -> None:
    rng = random.Random(seed)
    horizon, capacity = 12, rng.choice([1000, 3000, 50_000])
    ids, model = recent_ids(horizon, capacity), Model(horizon, capacity)
    # Keys that share their low bits (the tables and home slots) with many others, negative
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


def test_the_table_grows_with_the_ids_and_gives_the_room_back_as_they_go(recent_ids: Any) -> None:
    ids = recent_ids(horizon=2, capacity=100_000)
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


def test_past_capacity_the_oldest_buckets_go_and_are_counted(recent_ids: Any) -> None:
    ids = recent_ids(horizon=100, capacity=1000)
    for n in range(1000):
        ids.add(f"a{n}", n // 100)
    assert ids.add("b", 10)
    assert (len(ids), ids.evicted) == (901, 100)  # bucket 0 went whole
    assert ids.add("a5", 10)  # forgotten early: a duplicate of it counts again
    assert not ids.add("a500", 10)


def test_ids_alike_in_their_low_half_each_leave_with_a_bucket_of_theirs(recent_ids: Any) -> None:
    # A bucket's list keeps the low 32 bits of each hash: of two ids alike in them, the
    # first bucket to go takes one of the two out, the other bucket the other.
    low = 0x1234_5678
    first, second = (1 << 32) | low, (-5 << 32) | low
    ids = recent_ids(horizon=2, capacity=1000)
    assert [ids.add_hash(first, 0), ids.add_hash(7, 0)] == [True, True]
    assert [ids.add_hash(second, 1), ids.add_hash(9, 1)] == [True, True]
    assert [ids.add_hash(first, 1), ids.add_hash(second, 1)] == [False, False]
    ids.expire(3)  # bucket 0 goes: two ids
    assert len(ids) == 2
    assert ids.add_hash(7, 3)
    assert [ids.add_hash(first, 3), ids.add_hash(second, 3)].count(True) == 1
    ids.expire(10)
    assert len(ids) == 0
    assert not any(any(table) for table in ids._tables)


@pytest.mark.parametrize("seed", range(4))
def test_with_ids_alike_in_their_low_half_the_rest_is_held_as_the_model_holds_it(
    recent_ids: Any,
    seed: int,
) -> None:
    # Which of two such twins is still held may differ from the model, never how many ids
    # are held, nor whether any other id is.
    rng = random.Random(seed)
    horizon = 6
    ids = recent_ids(horizon, 1_000_000)
    lows = [rng.randrange(1 << 32) for _ in range(20)]
    twins = {(rng.randrange(-(2**31), 2**31) << 32) | low for low in lows for _ in range(8)}
    others = [rng.randrange(-(2**63), 2**63) for _ in range(2000)]
    pool = sorted(twins) + others
    added_in: dict[int, int] = {}  # bucket -> ids it added
    last_added: dict[int, int] = {}  # id (not a twin) -> the bucket it was last added in
    head = 0
    for _ in range(20_000):
        if rng.random() < 0.03:
            head += 1
            ids.expire(head)
        key = rng.choice(pool)
        added = ids.add_hash(key, head)
        if key not in twins:
            held = last_added.get(key, -(10**9)) >= head - horizon
            assert added is not held
        if added:
            added_in[head] = added_in.get(head, 0) + 1
            last_added[key] = head
        assert len(ids) == sum(n for b, n in added_in.items() if b >= head - horizon)
    ids.expire(head + horizon + 1)
    assert len(ids) == 0
    assert not any(any(table) for table in ids._tables)


def test_buckets_interleaved_at_a_boundary_keep_a_list_each(recent_ids: Any) -> None:
    # Partitions read in turn: ids of buckets 7 and 8 alternate for a while.
    ids = recent_ids(horizon=3, capacity=1000)
    for n in range(100):
        ids.add(f"e{n}", 7 + n % 2)
    assert [b for b, _ in ids._buckets] == [7, 8]
    ids.add("late", 2)  # further back than the lists looked at: one of its own
    ids.add("later", 7)
    assert [(b, len(lows)) for b, lows in ids._buckets] == [(7, 51), (8, 50), (2, 1)]
    ids.expire(11)  # 7 goes; 2 waits behind 8, forgotten a little later
    assert [b for b, _ in ids._buckets] == [8, 2]
    assert len(ids) == 51
    ids.expire(12)
    assert len(ids) == 0


@pytest.mark.parametrize("capacity", [0, MAX_CAPACITY + 1])
def test_a_capacity_the_low_halves_cannot_serve_is_refused(recent_ids: Any, capacity: int) -> None:
    with pytest.raises(ValueError, match="capacity must be"):
        recent_ids(horizon=2, capacity=capacity)


def test_a_table_grows_alone_so_a_resize_moves_a_share_of_the_ids(recent_ids: Any) -> None:
    # One table of 2M ids held the event loop 240 ms as it doubled; each of the tables the
    # ids are spread over holds about its share, and grows on its own.
    ids = recent_ids(horizon=2, capacity=1_000_000)
    tables = len(ids._tables)
    for n in range(200_000):
        ids.add(f"event-{n}", 0)
    sizes = [len(table) for table in ids._tables]
    assert tables >= 64
    assert max(sizes) <= 2 * min(sizes)
    assert max(sizes) <= 4 * len(ids) / tables


def test_the_compiled_class_keeps_the_tables_the_python_one_keeps() -> None:
    # Side by side on the same ids (strings, hashed by both as Python hashes them; ids alike
    # in their low half; the hash 0), buckets out of order, expiry, eviction past capacity,
    # tables growing and shrinking: every answer, and the tables slot by slot, the same.
    compiled_class = native("RecentIds")
    rng = random.Random(9)
    python, compiled = PythonRecentIds(8, 2500), compiled_class(8, 2500)
    head = 0
    grown = shrunk = False
    for step in range(40_000):
        if rng.random() < 0.002:
            head += rng.choice((1, 1, 2, 9))
            python.expire(head)
            compiled.expire(head)
        bucket = head - rng.choice((0, 0, 0, 1, 2, 5))
        if rng.random() < 0.1:
            key = rng.choice((0, 1 << 32, 2 << 32, -(1 << 40), rng.getrandbits(63)))
            assert python.add_hash(key, bucket) == compiled.add_hash(key, bucket)
        else:
            event_id = f"call-{rng.randrange(20_000)}"
            assert python.add(event_id, bucket) == compiled.add(event_id, bucket)
        if step % 1000 == 0:
            assert [list(table) for table in python._tables] == compiled._tables
        grown = grown or python.slots > 64 * 64
        shrunk = shrunk or (grown and python.slots == 64 * 64)
    assert (len(python), python.evicted, python.slots) == (
        len(compiled),
        compiled.evicted,
        compiled.slots,
    )
    assert [(b, list(lows)) for b, lows in python._buckets] == [
        (b, list(lows)) for b, lows in compiled._buckets
    ]
    assert python.evicted > 0
    assert grown
    assert shrunk

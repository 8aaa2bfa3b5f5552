"""Rolling windows: which bucket an event lands in and when it leaves each window.

Every test of the counters runs on each class of them: the Python one, and the one compiled
from Rust (rust/native) where the build has it, which must behave the same.
"""

from typing import Any

import pytest

from callpulse.core.windows import Counters, CountersClass, RollingCounters, bucket_of

from .conftest import native

# Two windows over 5 s buckets: 1 minute (12 buckets) and 5 minutes (60 buckets).
SPANS = (12, 60)


@pytest.fixture(params=["python", "rust"])
def make(request: pytest.FixtureRequest) -> Any:
    return RollingCounters if request.param == "python" else native("RollingCounters")


def counters(make: CountersClass, head: int = 1000) -> Counters:
    return make(fields=2, spans=SPANS, start=head)


def test_bucket_of_puts_a_boundary_instant_in_the_bucket_it_starts() -> None:
    assert bucket_of(100.0, 5.0) == 20
    assert bucket_of(99.999, 5.0) == 19
    assert bucket_of(104.999, 5.0) == 20


def test_value_in_the_current_bucket_counts_in_every_window(make: CountersClass) -> None:
    c = counters(make)
    assert c.add(1000, ((0, 1), (1, 250)))
    assert c.window(0) == [1, 250]
    assert c.window(1) == [1, 250]


def test_window_covers_its_span_plus_the_far_edge_bucket(make: CountersClass) -> None:
    c = counters(make)
    c.add(1000 - 12, ((0, 1),))  # exactly one window length back: still covered
    c.add(1000 - 13, ((0, 10),))  # one bucket further: only in the 5-minute window
    assert c.window(0) == [1, 0]
    assert c.window(1) == [11, 0]


def test_advancing_by_one_bucket_drops_exactly_the_far_edge(make: CountersClass) -> None:
    c = counters(make)
    c.add(1000 - 12, ((0, 1),))
    c.add(1000 - 11, ((0, 2),))
    c.advance(1001)
    assert c.window(0) == [2, 0]
    assert c.window(1) == [3, 0]


def test_late_value_inside_the_window_counts_where_it_belongs(make: CountersClass) -> None:
    c = counters(make)
    c.advance(1040)  # 40 buckets (200 s) later
    assert c.add(1000, ((0, 1),))  # 200 s late: outside 1m, inside 5m
    assert c.window(0) == [0, 0]
    assert c.window(1) == [1, 0]


def test_value_older_than_every_window_is_refused(make: CountersClass) -> None:
    c = counters(make)
    assert not c.add(1000 - 61, ((0, 1),))
    assert c.is_empty()


def test_value_ahead_of_head_is_a_caller_error(make: CountersClass) -> None:
    with pytest.raises(ValueError, match="ahead of head"):
        counters(make).add(1001, ((0, 1),))


def test_idle_series_empties_when_time_moves_past_every_window(make: CountersClass) -> None:
    c = counters(make)
    c.add(1000, ((0, 3), (1, 7)))
    c.advance(1000 + 60)
    assert c.window(0) == [0, 0]
    assert c.window(1) == [3, 7]
    c.advance(1000 + 61)
    assert c.is_empty()


def test_long_jump_forward_resets_sums_and_reuses_slots_cleanly(make: CountersClass) -> None:
    c = counters(make)
    c.add(1000, ((0, 5),))
    c.advance(1000 + 61 * 7)  # several ring turns with no data
    assert c.is_empty()
    c.add(c.head, ((0, 1),))  # same ring slot family as old buckets
    assert c.window(0) == [1, 0]
    assert c.window(1) == [1, 0]


def test_out_of_order_values_sum_the_same_as_in_order(make: CountersClass) -> None:
    in_order, shuffled = counters(make), counters(make)
    buckets = [990, 991, 995, 999, 1000, 970, 945]
    for b in buckets:
        in_order.add(b, ((0, 1), (1, b)))
    for b in reversed(buckets):
        shuffled.add(b, ((0, 1), (1, b)))
    for i in range(len(SPANS)):
        assert in_order.window(i) == shuffled.window(i)


def test_running_sums_match_a_brute_force_recount(make: CountersClass) -> None:
    import random

    rng = random.Random(7)
    c = counters(make, head=0)
    added: list[tuple[int, int]] = []
    for head in range(0, 400):
        c.advance(head)
        for _ in range(rng.randint(0, 3)):
            bucket = head - rng.randint(0, 70)
            if c.add(bucket, ((0, 1), (1, bucket))):
                added.append((bucket, bucket))
        for i, span in enumerate(SPANS):
            inside = [b for b, _ in added if head - span <= b <= head]
            assert c.window(i) == [len(inside), sum(inside)]


def test_running_sums_match_a_brute_force_recount_when_time_jumps(make: CountersClass) -> None:
    import random

    rng = random.Random(11)
    c = counters(make, head=0)
    added: list[tuple[int, int]] = []
    head = 0
    while head < 2000:
        head += rng.choice((0, 1, 1, 2, 13, 59, 60, 61, 80))
        c.advance(head)
        for _ in range(rng.randint(0, 4)):
            bucket = head - rng.choice((0, 0, 0, 1, rng.randint(0, 70)))
            if c.add(bucket, ((0, 1), (1, bucket))):
                added.append((bucket, bucket))
        for i, span in enumerate(SPANS):
            inside = [b for b, _ in added if head - span <= b <= head]
            assert c.window(i) == [len(inside), sum(inside)]
        assert c.is_empty() == (not any(head - max(SPANS) <= b for b, _ in added))


def test_a_value_past_the_limit_is_refused_whole(make: CountersClass) -> None:
    c = make(fields=3, spans=SPANS, start=1000, narrow=1)
    c.add(1000, ((0, 1), (1, 5), (2, 7)))
    with pytest.raises(ValueError, match="does not fit field 2"):
        c.add(1000, ((0, 1), (1, 5), (2, 2**63)))
    with pytest.raises(ValueError, match="does not fit field 0"):
        c.add(999, ((1, 5), (0, 2**63)))
    with pytest.raises(ValueError, match="does not fit field 1"):
        c.add(999, ((0, 70_000), (1, 2**57), (1, 2**57)))  # past the limit once both are in
    assert c.window(0) == [1, 5, 7]
    c.advance(1100)  # the buckets leave the windows: what they held is what was added
    assert c.window(1) == [0, 0, 0]


def test_a_full_window_of_the_largest_values_sums_exactly(make: CountersClass) -> None:
    # A bucket's value stays under 2**63 over the slots, so the longest window's sum of all
    # of them (kept in 64 bits) cannot overflow, either way.
    c = make(fields=2, spans=SPANS, start=1000, narrow=1)
    slots = max(SPANS) + 1
    largest = (1 << 63) // slots - 1
    with pytest.raises(ValueError, match="does not fit field 1"):
        c.add(1000, ((1, largest + 1),))
    for bucket in range(1000 - slots + 1, 1001):
        c.add(bucket, ((0, largest), (1, -largest)))
    assert c.window(len(SPANS) - 1) == [slots * largest, -slots * largest]
    assert slots * largest < 1 << 63
    c.advance(1000 + slots)
    assert c.is_empty()


def test_cells_that_outgrow_their_arrays_keep_exact_values(make: CountersClass) -> None:
    # Counts are kept in 8 bits, durations in 32: past them a cell's value moves aside.
    c = make(fields=3, spans=SPANS, start=1000, narrow=1)
    for _ in range(70):
        c.add(1000, ((0, 1_000), (1, 40_000_000)))  # 70,000 calls; 2.8e9 ms
    c.add(1000, ((2, -(2**40)),))
    c.add(999, ((0, 65_536), (2, 5)))
    assert c.window(0) == [135_536, 2_800_000_000, 5 - 2**40]
    c.add(1000, ((1, -2_800_000_000),))  # back inside 32 bits, still exact
    assert c.window(0) == [135_536, 0, 5 - 2**40]
    c.advance(1012)  # bucket 999 leaves the 1-minute window
    assert c.window(0) == [70_000, 0, -(2**40)]
    assert c.window(1) == [135_536, 0, 5 - 2**40]
    c.advance(1000 + 61)  # every bucket has left: the slots are used again from zero
    assert c.is_empty()
    c.add(c.head, ((0, 1), (1, 2)))
    c.add(c.head, ((2, 3),))
    assert c.window(0) == [1, 2, 3]
    c.advance(c.head + 61 * 3)
    c.add(c.head, ((0, 2),))
    assert c.window(1) == [2, 0, 0]


def test_a_busy_queue_counted_one_event_at_a_time_past_its_cell(make: CountersClass) -> None:
    # 300 calls of one queue in a bucket, one at a time, as the tracker adds them: the 256th
    # outgrows the count's cell, and every one is still counted, in the bucket and the sums.
    c = make(fields=2, spans=SPANS, start=1000, narrow=1)
    for _ in range(300):
        c.add(1000, ((0, 1), (1, 4000)))
        c.add(999, ((0, 1),))
    assert c.window(0) == [600, 1_200_000]
    c.advance(1001)  # the head's 300 now in the closed sums, its slot still counted there
    assert c.window(0) == [600, 1_200_000]
    c.advance(1012)  # bucket 999 leaves the 1-minute window
    assert c.window(0) == [300, 1_200_000]
    c.advance(1013)
    assert c.window(0) == [0, 0]
    assert c.window(1) == [600, 1_200_000]


def test_sums_with_values_that_outgrow_their_cells_match_a_brute_force_recount(
    make: CountersClass,
) -> None:
    import random

    rng = random.Random(5)
    c = make(fields=2, spans=SPANS, start=0, narrow=1)
    added: list[tuple[int, int, int]] = []
    head = 0
    while head < 1500:
        head += rng.choice((0, 1, 1, 2, 13, 61))
        c.advance(head)
        for _ in range(rng.randint(0, 4)):
            bucket = head - rng.choice((0, 0, 1, rng.randint(0, 70)))
            count = rng.choice((1, 1, 200, 300, 30_000, 70_000))
            duration = rng.choice((5, -5, 2**30, 2**33, -(2**35)))
            if c.add(bucket, ((0, count), (1, duration))):
                added.append((bucket, count, duration))
        for i, span in enumerate(SPANS):
            inside = [(n, d) for b, n, d in added if head - span <= b <= head]
            assert c.window(i) == [sum(n for n, _ in inside), sum(d for _, d in inside)]


def test_a_field_named_twice_once_negative_then_a_cell_outgrown_stays_exact(
    make: CountersClass,
) -> None:
    # The additions already made are undone last first: 3 then -1 in an 8-bit count taken
    # back as +1 then -3 never leaves the cell's range.
    c = make(fields=2, spans=(12,), start=100, narrow=1)
    c.add(99, ((0, 3), (0, -1), (1, 2**31)))
    assert c.window(0) == [2, 2**31]
    c.advance(112)
    assert c.window(0) == [0, 0]


def test_the_compiled_class_keeps_what_the_python_one_keeps() -> None:
    # Side by side on the same random additions, advances and refusals: time jumps, late
    # buckets, values that outgrow their cells and come back, fields named twice, values
    # past the limit. Each answer, each error and each window must be the same.
    import random

    compiled_class = native("RollingCounters")
    rng = random.Random(3)
    spans = (12, 60, 180)
    python, compiled = RollingCounters(4, spans, 500, 2), compiled_class(4, spans, 500, 2)
    counts, durations = (0, 1, 1, 1, 2), (0, 5_000, 250_000, 3_600_000)
    large = (256, 70_000, 2**31, -(2**31) - 1, 2**40, 2**56, 2**62, 2**70, -1)

    def amount(field: int) -> int:  # mostly what fits a cell: most of the run is unspilled
        if rng.random() < 0.005:
            return rng.choice(large)
        return rng.choice(counts if field < 2 else durations)

    for _ in range(20_000):
        if rng.random() < 0.05:
            head = python.head + rng.choice((1, 1, 2, 13, 61, 181, 500))
            python.advance(head)
            compiled.advance(head)
        bucket = python.head - rng.choice((0, 0, 0, 1, rng.randint(0, 200)))
        values = tuple(
            (field, amount(field)) for field in rng.choices(range(4), k=rng.randint(1, 4))
        )
        answers = []
        for c in (python, compiled):
            try:
                answers.append(c.add(bucket, values))
            except ValueError as exc:
                answers.append(str(exc))
        assert answers[0] == answers[1], (bucket, values)
        assert python.windows() == compiled.windows()
        assert python.is_empty() == compiled.is_empty()
        assert python.covers(bucket) == compiled.covers(bucket)


def test_buckets_at_the_edges_of_64_bits_and_windows_that_are_not_there(
    make: CountersClass,
) -> None:
    # No bucket a clock gives comes near these; each class still answers as Python's ints
    # do, and neither hangs nor wraps around.
    top = 2**63 - 1
    c = make(1, (3,), -(2**62))
    c.add(c.head, ((0, 5),))
    c.advance(2**62)  # a jump past every window, however long
    assert c.is_empty()
    c = make(1, (3,), top - 6)
    c.add(top - 6, ((0, 7),))
    c.advance(top - 3)
    c.advance(top - 2)  # the slot bucket top - 6 held is cleared as the head reaches it
    assert c.windows() == [[0]]
    c = make(1, (3,), -(2**63))
    assert c.covers(-(2**63))
    assert c.add(-(2**63), ((0, 1),))
    assert c.windows() == [[1]]
    with pytest.raises(ValueError, match="ahead of head"):
        c.add(2**63, ((0, 1),))
    assert not c.add(-(2**63) - 4, ((0, 1),))
    with pytest.raises(IndexError):
        c.window(1)
    with pytest.raises(IndexError):
        c.window(-1)

"""What a fetch's records become: each offset handed out once, those below a partition's
rebuild point marked as re-read (``replay``), whatever a fetch overlaps."""

from __future__ import annotations

from dataclasses import dataclass

from callpulse.core.raw_record import RawRecord, take_fetched


@dataclass
class Fetched:
    offset: int
    key: bytes | None = b"k"
    value: bytes | None = b"{}"
    timestamp: int = 1_700_000_000_000


def offsets(records: list[RawRecord]) -> list[tuple[int, bool]]:
    return [(r.offset, r.replay) for r in records]


def test_new_records_are_taken_with_their_coordinates() -> None:
    out: list[RawRecord] = []
    taken = take_fetched([Fetched(5, b"a", b"x", 7), Fetched(6)], "t", 3, -1, (-1, -1), out)
    assert taken == (7, -1)
    first = out[0]
    assert (first.value, first.key, first.topic, first.partition, first.offset) == (
        b"x",
        b"a",
        "t",
        3,
        5,
    )
    assert (first.timestamp_ms, first.replay, first.event) == (7, False, None)


def test_an_offset_already_handed_out_is_not_taken_again() -> None:
    out: list[RawRecord] = []
    taken = take_fetched([Fetched(o) for o in (3, 4, 5)], "t", 0, -1, (5, -1), out)
    assert offsets(out) == [(5, False)]
    assert taken == (6, -1)
    out.clear()
    assert take_fetched([Fetched(4), Fetched(5)], "t", 0, -1, taken, out) == (6, -1)
    assert out == []


def test_below_the_rebuild_point_records_are_re_read_once_each() -> None:
    out: list[RawRecord] = []
    # Offsets 0-9 are re-read to rebuild state, up to 2 already; 10 on are new, up to 12
    # handed out already.
    fetched = [Fetched(o) for o in (2, 3, 9, 10, 11, 12, 13)]
    taken = take_fetched(fetched, "t", 0, 10, (13, 3), out)
    assert offsets(out) == [(3, True), (9, True), (13, False)]
    assert taken == (14, 10)
    out.clear()
    # A fetch under way at the assignment overlaps both: nothing twice.
    assert take_fetched([Fetched(o) for o in range(15)], "t", 0, 10, taken, out) == (15, 10)
    assert offsets(out) == [(14, False)]

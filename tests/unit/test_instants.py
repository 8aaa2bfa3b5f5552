"""An event's instant in epoch seconds: the Python definition and the function built from
Rust (rust/native), where the build has it, give ``datetime.timestamp()``'s float, bit for
bit, for every datetime an event can hold."""

from __future__ import annotations

import math
from collections.abc import Callable
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import msgspec
import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from callpulse.core.instants import EPOCH_SECONDS, epoch_seconds

from .conftest import native


# Module-scoped: hypothesis runs many examples through one fixture value.
@pytest.fixture(params=["python", "rust"], scope="module")
def seconds(request: pytest.FixtureRequest) -> Callable[[datetime], float]:
    if request.param == "python":
        return epoch_seconds
    built: Callable[[datetime], float] = native("epoch_seconds")
    return built


def same(a: float, b: float) -> bool:
    return a == b and math.copysign(1, a) == math.copysign(1, b)


OFFSETS = st.integers(-23 * 60, 23 * 60).map(lambda m: timezone(timedelta(minutes=m)))


# Within 2**53 microseconds of the epoch either way, where the Rust function reads the
# fields itself rather than handing the datetime to timestamp().
EXACT = st.datetimes(
    min_value=datetime(1684, 7, 28, 0, 12, 25, 259_009),
    max_value=datetime(2255, 6, 5, 23, 47, 34, 740_991),
    timezones=st.just(UTC),
)


@given(moment=EXACT)
@example(moment=datetime(1970, 1, 1, tzinfo=UTC))
@example(moment=datetime(1969, 12, 31, 23, 59, 59, 999_999, tzinfo=UTC))
@example(moment=datetime(2000, 2, 29, 12, 0, 0, 1, tzinfo=UTC))
@example(moment=datetime(2100, 3, 1, tzinfo=UTC))
@example(moment=datetime(1700, 2, 28, 23, 59, 59, 999_999, tzinfo=UTC))
@example(moment=datetime(2255, 6, 5, 23, 47, 34, 740_991, tzinfo=UTC))  # 2**53 - 1 us
@example(moment=datetime(1684, 7, 28, 0, 12, 25, 259_009, tzinfo=UTC))  # -(2**53 - 1) us
def test_a_utc_datetime_read_from_its_fields_is_its_timestamp(
    seconds: Any, moment: datetime
) -> None:
    assert same(seconds(moment), moment.timestamp())


@given(moment=st.datetimes(timezones=st.just(UTC)))
@example(moment=datetime(1, 1, 1, tzinfo=UTC))
@example(moment=datetime(9999, 12, 31, 23, 59, 59, 999_999, tzinfo=UTC))
@example(moment=datetime(2255, 6, 5, 23, 47, 34, 740_992, tzinfo=UTC))  # 2**53 us: past it
@example(moment=datetime(1684, 7, 28, 0, 12, 25, 259_008, tzinfo=UTC))  # -(2**53) us
def test_any_utc_datetime_is_its_timestamp(seconds: Any, moment: datetime) -> None:
    assert same(seconds(moment), moment.timestamp())


@given(moment=st.datetimes(timezones=OFFSETS))
def test_another_offset_is_its_timestamp(seconds: Any, moment: datetime) -> None:
    assert same(seconds(moment), moment.timestamp())


def test_what_the_decoder_gives_is_its_timestamp(seconds: Any) -> None:
    for text in (
        "2026-12-07T22:40:32.852Z",
        "2026-12-07T22:40:32Z",
        "2026-12-07T23:40:32.852001+01:00",
        "1999-12-31T23:59:59.999999-08:00",
    ):
        moment = msgspec.json.decode(f'"{text}"'.encode(), type=datetime)
        assert same(seconds(moment), moment.timestamp()), text


def test_a_subclass_or_a_naive_datetime_is_left_to_timestamp(seconds: Any) -> None:
    class Moment(datetime):
        def timestamp(self) -> float:
            return 42.0

    assert seconds(Moment(2026, 1, 1, tzinfo=UTC)) == 42.0
    naive = datetime(2026, 1, 1, 12)
    assert seconds(naive) == naive.timestamp()


def test_not_a_datetime_raises(seconds: Any) -> None:
    with pytest.raises(AttributeError):
        seconds("2026-01-01")


def test_the_build_picks_the_rust_function_where_it_has_one() -> None:
    try:
        from callpulse.core import _native
    except ImportError:
        assert EPOCH_SECONDS is epoch_seconds
    else:
        assert EPOCH_SECONDS is _native.epoch_seconds

"""A scrape's line buffers: the Python class, and the one compiled from Rust (rust/native)
where the build has it, must write the same text, numbers as Go writes them."""

from __future__ import annotations

import random
import struct
from typing import Any

import pytest
from hypothesis import example, given
from hypothesis import strategies as st
from prometheus_client.utils import floatToGoString

from callpulse.core.row_text import LineBuffers, go_float

from .conftest import native

HEADS = ["plain", "labelled{"]


@pytest.fixture(params=["python", "rust"])
def make(request: pytest.FixtureRequest) -> Any:
    return LineBuffers if request.param == "python" else native("LineBuffers")


def test_lines_are_handed_on_as_one_piece_a_family_each_pack(make: Any) -> None:
    pieces: list[list[str]] = [[], ["kept before"]]
    lines = make(HEADS, pieces)
    lines.line(0, " ", 1)
    lines.key('queue="é ☎",site="lon"')
    lines.key_line(1, "} ", 2.5)
    lines.key_lines([1, 0, 1], ',window="5m"} ', [None, True, 0.1])
    lines.key_each(1, [',state="idle"} ', ',state="busy"} '], [None, 4])
    lines.pack()
    lines.pack()  # nothing new: no piece
    lines.key('queue="b\\\\s",site="x"')
    lines.key_lines((1,), "} ", (-0.0,))
    lines.pack()
    assert pieces == [
        ['plain 1.0\nplainqueue="é ☎",site="lon",window="5m"} 1.0\n'],
        [
            "kept before",
            'labelled{queue="é ☎",site="lon"} 2.5\n'
            'labelled{queue="é ☎",site="lon",window="5m"} 0.1\n'
            'labelled{queue="é ☎",site="lon",state="busy"} 4.0\n',
            'labelled{queue="b\\\\s",site="x"} -0.0\n',
        ],
    ]


def test_a_family_or_value_that_is_not_there_is_refused(make: Any) -> None:
    with pytest.raises(ValueError, match="2 heads for 1 families"):
        make(HEADS, [[]])
    lines = make(HEADS, [[], []])
    with pytest.raises(ValueError, match="1 values for 2 families"):
        lines.key_lines([0, 1], "} ", [1.0])
    with pytest.raises(IndexError):
        lines.line(2, " ", 1.0)
    with pytest.raises(IndexError):
        lines.key_line(5, "} ", 1.0)
    with pytest.raises(IndexError):
        lines.key_lines([7], "} ", [1.0])
    with pytest.raises(ValueError, match="2 values for 1 tails"):
        lines.key_each(0, ["} "], [1.0, 2.0])
    with pytest.raises(IndexError):
        lines.key_each(2, ["} "], [1.0])


def written(make: Any, value: float) -> str:
    pieces: list[list[str]] = [[]]
    lines = make([""], pieces)
    lines.line(0, "", value)
    lines.pack()
    return pieces[0][0][:-1]


@given(st.floats(allow_nan=True, allow_infinity=True) | st.integers(-(10**15), 10**15))
@example(-0.0)
@example(999_999.0)
@example(1_000_000.0)
@example(1e16)
@example(1e-5)
@example(779539845543410.25)  # two shortest digits as near: Python writes the even one
@example(5e-324)
def test_a_value_is_written_as_go_writes_it(value: float) -> None:
    assert written(LineBuffers, value) == floatToGoString(value)
    assert written(native("LineBuffers"), value) == floatToGoString(value)


def test_a_rows_values_are_read_as_float_reads_them(make: Any) -> None:
    # Through key_lines and key_each, which read ints and bools without a float object.
    values = [True, 2**53 + 1, 3, 0.25, None]
    if make is not LineBuffers:
        # Ints past 64 bits, which only the class from Rust takes (a compiled Python
        # function taking a float refuses them; no view holds one).
        values += [2**63, -(2**63) - 1, 10**30]
    pieces: list[list[str]] = [[]]
    lines = make([""], pieces)
    lines.key_lines([0] * len(values), "", values)
    lines.key_each(0, [""] * len(values), values)
    lines.pack()
    expected = [floatToGoString(float(v)) for v in values if v is not None]
    assert pieces[0][0].splitlines() == expected * 2
    with pytest.raises((OverflowError, TypeError)):
        lines.key_lines([0], "", [2**1024])


def test_random_doubles_are_written_as_python_writes_them() -> None:
    # Every kind of double: any bits, dyadic fractions (exact ties between two shortest
    # decimals), and decimals of every size, against Python's go_float.
    compiled = native("LineBuffers")
    rnd = random.Random(26)
    values = []
    for _ in range(20_000):
        values.append(struct.unpack("d", struct.pack("Q", rnd.getrandbits(64)))[0])
        values.append(rnd.randint(-(2**60), 2**60) / rnd.choice([2, 4, 8, 1024]))
        values.append(rnd.random() * 10 ** rnd.randint(-30, 30))
    pieces: list[list[str]] = [[]]
    lines = compiled([""], pieces)
    for value in values:
        lines.line(0, "", value)
    lines.pack()
    assert pieces[0][0].splitlines() == [go_float(value) for value in values]

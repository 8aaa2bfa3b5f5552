"""Sample lines of the Prometheus text formats, written from rows of label values.

The hot part of a scrape (400k lines at 10k queues), kept here, pure and typed, so that the
compiled build compiles it (``web/textformat.py`` around it subclasses prometheus_client's
classes and stays Python). ``tests/unit/test_textformat.py`` holds the result to
prometheus_client's bytes.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import Protocol

from callpulse.core.native import compiled

Value = float | int | bool | None
"""A sample's value as read of a view: ``None`` is no sample."""

_INF = math.inf
# Most samples are small counts (80 % at 10k queues): their text, written once.
_SMALL_WHOLE = 1024
_WHOLE_TEXT = [f"{whole}.0" for whole in range(_SMALL_WHOLE)]


def go_float(value: float) -> str:
    """``value`` as Go (and prometheus_client's ``floatToGoString``) writes it."""
    d = float(value)
    if d != d:
        return "NaN"
    if d == _INF:
        return "+Inf"
    if d == -_INF:
        return "-Inf"
    if -1e15 < d < 1e6:
        # Most samples are counts: a whole number is written as repr writes it ("12.0"),
        # from the integer, which costs a third of repr's shortest-digits search.
        whole = int(d)
        if whole == d and (whole != 0 or math.copysign(1.0, d) > 0):  # -0.0 stays "-0.0"
            return _WHOLE_TEXT[whole] if 0 <= whole < _SMALL_WHOLE else f"{whole}.0"
    s = repr(d)
    dot = s.find(".")
    # Go switches to exponents sooner than Python (only positive values matter: le, quantile).
    if d > 0 and dot > 6:
        mantissa = f"{s[0]}.{s[1:dot]}{s[dot + 1 :]}".rstrip("0.")
        return f"{mantissa}e+{dot - 1:02d}"
    return s


def escape_value(value: str) -> str:
    """A label value as the text formats write it between quotes."""
    if "\\" in value or "\n" in value or '"' in value:
        return value.replace("\\", r"\\").replace("\n", r"\n").replace('"', r"\"")
    return value


def label_pairs(names: Sequence[str], values: Sequence[str]) -> str:
    """The labels of a sample line as the text formats write them between its braces:
    ``name="value"`` by name, comma-separated, each value escaped; ``names`` written as
    they are given (already escaped)."""
    order = sorted(range(len(names)), key=names.__getitem__)
    return ",".join([f'{names[i]}="{escape_value(values[i])}"' for i in order])


def row_lines(
    name: str,
    label_names: Sequence[str],
    rows: Sequence[tuple[Sequence[str], float]],
    known: dict[tuple[str, ...], str] | None = None,
) -> str:
    """The sample lines of ``rows`` (label values in the order of ``label_names``, and a
    value each) as sample ``name``: ``name{label="value",...} value``, labels sorted by name.
    ``name`` and ``label_names`` are written as they are given (already escaped).

    ``known``: the labels' part of a line, by its tuple of label values, for rows under these
    same ``label_names``; read and filled here. A scrape's families share their label tuples
    (a queue's, a queue's window's), so one dict over all the families with the same label
    names writes each set of labels once instead of once a family."""
    if not label_names:
        return "".join([f"{name} {go_float(value)}\n" for _, value in rows])
    if known is None:
        known = {}
    lines = []
    for labels, value in rows:
        pairs = known.get(labels) if isinstance(labels, tuple) else None
        if pairs is None:
            pairs = label_pairs(label_names, labels)
            if isinstance(labels, tuple):
                known[labels] = pairs
        lines.append(f"{name}{{{pairs}}} {go_float(value)}\n")
    return "".join(lines)


class Lines(Protocol):
    """Where a scrape's sample lines are written as they are read: a buffer per family,
    each handed on to the family's list of pieces (:attr:`Samples.lines`) as one string
    by :meth:`pack`. Family ``index`` is the ``index``-th of those it was made with; a
    line of it starts with its head (its sample name, and ``{`` if it has labels).

    An index that is not a family's (negative ones included) is the caller's error: it
    raises, and lines of the same call may or may not have been written before it."""

    def key(self, text: str) -> None:
        """The labels' text that :meth:`key_line`, :meth:`key_lines` and :meth:`key_each`
        write after a line's head until the next key (``queue="billing",site="lon"``: by
        name, escaped)."""

    def line(self, index: int, labels: str, value: float) -> None:
        """A line of family ``index``: its head, ``labels`` (the text up to the value, the
        closing brace and the space included) and ``value`` as Go writes it."""

    def key_line(self, index: int, tail: str, value: float) -> None:
        """A line of family ``index`` under the key's labels, ``tail`` after them (the
        rest of the text up to the value)."""

    def key_lines(self, indices: Sequence[int], tail: str, values: Sequence[Value]) -> None:
        """:meth:`key_line` of each of ``values`` to the family at the same place in
        ``indices``; a value of ``None`` is no line."""

    def key_each(self, index: int, tails: Sequence[str], values: Sequence[Value]) -> None:
        """:meth:`key_line` of each of ``values`` to family ``index``, with the tail at the
        same place in ``tails``; a value of ``None`` is no line."""

    def pack(self) -> None:
        """Each family's lines since the last pack appended to its pieces as one string."""


class LineBuffers:
    """:class:`Lines` in Python: a line's parts appended to its family's list, joined by
    :meth:`pack` (400k lines' strings made, then joined with the others, cost a quarter
    more than joining their parts once)."""

    __slots__ = ("_heads", "_key", "_parts", "_pieces")

    def __init__(self, heads: Sequence[str], pieces: Sequence[list[str]]) -> None:
        if len(heads) != len(pieces):
            raise ValueError(f"{len(heads)} heads for {len(pieces)} families")
        self._heads = list(heads)
        self._pieces = list(pieces)
        self._parts: list[list[str]] = [[] for _ in self._heads]
        self._key = ""

    def key(self, text: str) -> None:
        self._key = text

    def line(self, index: int, labels: str, value: float) -> None:
        self._parts[index] += (self._heads[index], labels, go_float(value), "\n")

    def key_line(self, index: int, tail: str, value: float) -> None:
        self._parts[index] += (self._heads[index], self._key, tail, go_float(value), "\n")

    def key_lines(self, indices: Sequence[int], tail: str, values: Sequence[Value]) -> None:
        if len(indices) != len(values):
            raise ValueError(f"{len(values)} values for {len(indices)} families")
        # A line's parts added here, not by a call of key_line: interpreted, a call is
        # dearer than the line it writes.
        heads, parts, key = self._heads, self._parts, self._key
        for index, value in zip(indices, values, strict=True):
            if value is not None:
                parts[index] += (heads[index], key, tail, go_float(value), "\n")

    def key_each(self, index: int, tails: Sequence[str], values: Sequence[Value]) -> None:
        if len(tails) != len(values):
            raise ValueError(f"{len(values)} values for {len(tails)} tails")
        parts, head, key = self._parts[index], self._heads[index], self._key
        for tail, value in zip(tails, values, strict=True):
            if value is not None:
                parts += (head, key, tail, go_float(value), "\n")

    def pack(self) -> None:
        for parts, pieces in zip(self._parts, self._pieces, strict=True):
            if parts:
                pieces.append("".join(parts))
                parts.clear()


def line_buffers(heads: Sequence[str], pieces: Sequence[list[str]]) -> Lines:
    """New :class:`LineBuffers`: built from Rust where the build has it (the same lines,
    written into a byte buffer per family without a string per part), else the Python
    class. ``tests/unit/test_row_text.py`` holds both to the same text."""
    return _LINE_BUFFERS(heads, pieces)


_LINE_BUFFERS: Callable[[Sequence[str], Sequence[list[str]]], Lines] = compiled(
    "LineBuffers", LineBuffers
)

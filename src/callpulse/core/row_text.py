"""Sample lines of the Prometheus text formats, written from rows of label values.

The hot part of a scrape (400k lines at 10k queues), kept here, pure and typed, so that the
compiled build compiles it (``web/textformat.py`` around it subclasses prometheus_client's
classes and stays Python). ``tests/unit/test_textformat.py`` holds the result to
prometheus_client's bytes.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

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

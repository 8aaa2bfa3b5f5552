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


def go_float(value: float) -> str:
    """``value`` as Go (and prometheus_client's ``floatToGoString``) writes it."""
    d = float(value)
    if d != d:
        return "NaN"
    if d == _INF:
        return "+Inf"
    if d == -_INF:
        return "-Inf"
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


def row_lines(
    name: str, label_names: Sequence[str], rows: Sequence[tuple[Sequence[str], float]]
) -> str:
    """The sample lines of ``rows`` (label values in the order of ``label_names``, and a
    value each) as sample ``name``: ``name{label="value",...} value``, labels sorted by name.
    ``name`` and ``label_names`` are written as they are given (already escaped)."""
    order = sorted(range(len(label_names)), key=label_names.__getitem__)
    if not order:
        return "".join([f"{name} {go_float(value)}\n" for _, value in rows])
    keys = [(f'{label_names[i]}="', i) for i in order]
    lines = []
    for labels, value in rows:
        pairs = '",'.join([key + escape_value(labels[i]) for key, i in keys])
        lines.append(f'{name}{{{pairs}"}} {go_float(value)}\n')
    return "".join(lines)

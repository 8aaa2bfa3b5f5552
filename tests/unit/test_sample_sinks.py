"""The line sink's two ways of labelling a sample: label values given whole, or a key's
values (written once per key) and one value after them. Both must write the same lines,
through either class of line buffers (Python, and Rust where the build has it)."""

from __future__ import annotations

from typing import Any

import pytest

from callpulse.core.catalog import Family, Samples
from callpulse.core.row_text import LineBuffers
from callpulse.core.sample_sinks import LineSink, Row, Rows, Sink

from .conftest import native

KEY = ("site", "queue")
KEYS = [("lon", "billing"), ('say "hi"', "back\\slash"), ("é ☎", "new\nline")]
FAMILIES = [
    Family("plain", "", KEY, "queue"),
    Family("by_state", "", (*KEY, "state"), "queue"),
    # Labels a key's tail cannot be written for: written whole instead.
    Family("sorts_first", "", (*KEY, "agent"), "queue"),
    Family("other_order", "", ("queue", "site", "window"), "queue"),
    Family("other_key", "", ("site", "trunk", "window"), "queue"),
    Family("counted", "", KEY, "queue", "counter"),
]


@pytest.fixture(params=["python", "rust"])
def buffers(request: pytest.FixtureRequest) -> Any:
    """The line sink's buffers: each class of them."""
    return LineBuffers if request.param == "python" else native("LineBuffers")


def written(keyed: bool, sink_class: type[Sink], buffers: Any = None) -> dict[str, list[Any]]:
    out = {f.name: Samples(f) for f in FAMILIES}
    sink = sink_class(out) if buffers is None else LineSink(out, buffers)
    places = {name: n for n, name in enumerate(out)}
    rows = (
        Rows([Row(out["by_state"], lambda v: v, places["by_state"])]),
        Rows([Row(out["sorts_first"], lambda v: v * 2, places["sorts_first"])]),
    )
    for n, key in enumerate(KEYS):
        if keyed:
            sink.key(KEY, key)
        for f in FAMILIES:
            extra = None if len(f.labels) == 2 else f"x{n}"
            value = None if n == 1 and f.name == "plain" else n + 0.5
            if keyed:
                sink.key_add(f.name, value, extra)
            else:
                sink.add(f.name, key if extra is None else (*key, extra), value)
        for extra in ("a", 'q"uote'):
            if keyed:
                sink.key_rows(rows[0], 3, extra)
                sink.key_rows(rows[1], 3, extra)
            else:
                sink.rows(rows[0], (*key, extra), 3)
                sink.rows(rows[1], (*key, extra), 3)
        for name in ("by_state", "sorts_first"):
            if keyed:
                sink.key_each(name, ("p", "q"), [n, None])
            else:
                sink.add(name, (*key, "p"), n)
        if keyed and n == 0:
            sink.pack()  # the lines so far joined into a piece, after the first key
    sink.pack()
    return {name: ["".join(s.lines), *s.samples] for name, s in out.items()}


def test_a_keys_values_are_those_of_their_label_values_given_whole() -> None:
    whole, keyed = written(False, Sink), written(True, Sink)
    assert keyed == whole
    assert sum(len(v) - 1 for v in whole.values()) == 3 * len(FAMILIES) - 1 + 18


def test_a_keys_lines_are_those_of_their_label_values_given_whole(buffers: Any) -> None:
    whole, keyed = written(False, LineSink, buffers), written(True, LineSink, buffers)
    assert keyed == whole
    assert sum(text.count("\n") for (text,) in whole.values()) == 3 * len(FAMILIES) - 1 + 18


def test_a_keys_lines_are_labelled_by_name_and_escaped(buffers: Any) -> None:
    lines = {
        name: text.splitlines(keepends=True)
        for name, (text,) in written(True, LineSink, buffers).items()
    }
    assert lines["by_state"][0] == 'by_state{queue="billing",site="lon",state="x0"} 0.5\n'
    assert lines["by_state"][-2].startswith(
        'by_state{queue="new\\nline",site="é ☎",state="q\\"uote"} 3'
    )
    assert lines["by_state"][-1] == 'by_state{queue="new\\nline",site="é ☎",state="p"} 2.0\n'
    assert lines["sorts_first"][0] == 'sorts_first{agent="x0",queue="billing",site="lon"} 0.5\n'
    assert lines["counted"][0] == 'counted_total{queue="billing",site="lon"} 0.5\n'

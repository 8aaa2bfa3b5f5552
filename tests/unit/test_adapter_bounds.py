"""What a producer can make an adapter keep or count, per format: ignored kinds make a fixed
set of label values, and a name longer than events v1 allows (or not printable) is refused
before anything is kept."""

from __future__ import annotations

import gc
import tracemalloc
import typing
from collections.abc import Callable

import pytest

from callpulse.adapters.base import Adapter, AdapterError
from callpulse.core import events
from callpulse.exposition import ignored_by_format

from .adapter_records import IDS, KINDS, adapter
from .adapters import translated

FORMATS = list(IDS)
CONTROLS = ["\x1b[2J", "\x07", "\x00", "\r", "\x9b", "\u202e"]
# A known kind of each format, and a record of it, counted by name.
KNOWN = {
    "asterisk-queue-log": "RINGNOANSWER",
    "freeswitch-callcenter": "members-count",
    "amazon-connect": "INITIATED",
    "twilio-taskrouter": "task.created",
}


def feed(target: Adapter, records: list[bytes]) -> int:
    """Translate ``records``; return how many were rejected (as the format's AdapterError)."""
    reasons = []
    for record in records:
        try:
            target.translate(record)
        except AdapterError as exc:
            reasons.append(exc.reason)
    assert set(reasons) <= {f"invalid_{target.format}"}
    return len(reasons)


@pytest.mark.parametrize("fmt", FORMATS)
def test_200k_distinct_kinds_make_one_series(fmt: str) -> None:
    target = adapter(fmt)
    template = KINDS[fmt]("@KIND@", 0)
    feed(target, [template.replace(b"@KIND@", b"KIND%d" % n) for n in range(200_000)])
    feed(target, [KINDS[fmt](KNOWN[fmt], 0)])
    assert dict(target.ignored) == {"_other": 200_000, KNOWN[fmt]: 1}


@pytest.mark.parametrize("fmt", FORMATS)
def test_control_characters_in_a_kind_never_reach_a_label(fmt: str) -> None:
    target = adapter(fmt)
    feed(target, [KINDS[fmt](f"X{c}Y", n) for n, c in enumerate(CONTROLS)])
    labels = [kind for _, kind in ignored_by_format([target])]
    assert labels == ["_other"]


LONG = "i" * 100_000
ID_KINDS = [(fmt, what) for fmt, builders in IDS.items() for what in builders]


def held(fmt: str, play: Callable[[Adapter], None]) -> int:
    """The bytes an adapter of ``fmt`` holds after ``play`` beyond a fresh one."""
    gc.collect()
    tracemalloc.start()
    try:
        target = adapter(fmt)
        before = tracemalloc.get_traced_memory()[0]
        play(target)
        gc.collect()
        return tracemalloc.get_traced_memory()[0] - before
    finally:
        tracemalloc.stop()


@pytest.mark.parametrize(("fmt", "what"), ID_KINDS)
def test_a_100kb_id_is_rejected_and_nothing_of_it_kept(fmt: str, what: str) -> None:
    records = IDS[fmt][what](LONG, 0)
    naming = [r for r in records if LONG.encode() in r]
    rejected = 0

    def play(target: Adapter) -> None:
        nonlocal rejected
        rejected = feed(target, records)

    # A long id once kept held about its size (100 KB) per record; what is held now is at
    # most the state of the records around it that are accepted.
    assert held(fmt, play) < 8 * 1024
    assert rejected == len(naming) > 0


@pytest.mark.parametrize(("fmt", "what"), ID_KINDS)
def test_a_name_is_kept_up_to_the_events_v1_limit_and_refused_past_it(fmt: str, what: str) -> None:
    [limit] = [
        m.max_length for m in typing.get_args(events.Name)[1].metadata if hasattr(m, "max_length")
    ]
    records = IDS[fmt][what]
    at_limit = "n" * limit
    assert translated(adapter(fmt), *records(at_limit, 0))  # valid events v1, with the name
    assert feed(adapter(fmt), records(at_limit + "n", 0)) > 0


@pytest.mark.parametrize(("fmt", "what"), ID_KINDS)
@pytest.mark.parametrize("control", CONTROLS)
def test_a_name_with_a_control_character_is_refused(fmt: str, what: str, control: str) -> None:
    records = IDS[fmt][what](f"a{control}b", 0)
    assert feed(adapter(fmt), records) > 0

"""What a producer can make an adapter keep or count, per format: ignored kinds make a fixed
set of label values, a name longer than events v1 allows (or not printable) is refused
before anything is kept, and the queues of every agent share one cap."""

from __future__ import annotations

import gc
import tracemalloc
import typing
from collections.abc import Callable
from typing import Any

import pytest

from callpulse.adapters import amazon_connect, asterisk, freeswitch, freeswitch_channel, twilio
from callpulse.adapters.base import AdapterError
from callpulse.core import events
from callpulse.protocols import Adapter
from callpulse.web.exposition import ignored_by_format

from .adapter_records import IDS, KINDS, adapter
from .adapters import translated

FORMATS = list(IDS)
CONTROLS = ["\x1b[2J", "\x07", "\x00", "\r", "\x9b", "\u202e"]
# A known kind of each format, and a record of it, counted by name.
KNOWN = {
    "asterisk-queue-log": "RINGNOANSWER",
    "freeswitch-callcenter": "members-count",
    "freeswitch-channel": "HEARTBEAT",
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
    limit = typing.get_args(events.Name)[1].max_length
    records = IDS[fmt][what]
    at_limit = "n" * limit
    assert translated(adapter(fmt), *records(at_limit, 0))  # valid events v1, with the name
    assert feed(adapter(fmt), records(at_limit + "n", 0)) > 0


@pytest.mark.parametrize(("fmt", "what"), ID_KINDS)
@pytest.mark.parametrize("control", CONTROLS)
def test_a_name_with_a_control_character_is_refused(fmt: str, what: str, control: str) -> None:
    records = IDS[fmt][what](f"a{control}b", 0)
    assert feed(adapter(fmt), records) > 0


# Per format: its module, and the kind of id whose records give an agent a queue each.
JOINS: dict[str, tuple[Any, str]] = {
    "asterisk-queue-log": (asterisk, "queue"),
    "freeswitch-callcenter": (freeswitch, "queue"),
    "amazon-connect": (amazon_connect, "routing profile queue ARN"),
    "twilio-taskrouter": (twilio, "queue name"),
}


@pytest.mark.parametrize("fmt", list(JOINS))  # the formats that name agents
def test_the_queues_of_every_agent_share_one_cap(fmt: str, monkeypatch: pytest.MonkeyPatch) -> None:
    module, what = JOINS[fmt]
    monkeypatch.setattr(module, "MAX_MEMBERSHIPS", 5)
    capped = adapter(fmt)
    for n in range(8):  # eight agents, each in a queue of its own
        feed(capped, IDS[fmt][what](f"queue-{n}", n))
    assert capped.fill()["memberships"] == 1.0
    # An agent forgotten gives its queues back.
    monkeypatch.setattr(module, "MAX_WORKERS" if fmt == "twilio-taskrouter" else "MAX_AGENTS", 2)
    forgetting = adapter(fmt)
    for n in range(8):
        feed(forgetting, IDS[fmt][what](f"queue-{n}", n))
    assert forgetting.fill()["memberships"] == 2 / 5


@pytest.mark.parametrize("fmt", FORMATS)
def test_every_cap_says_how_full_it_is(fmt: str) -> None:
    target = adapter(fmt)
    assert set(target.fill().values()) == {0.0}
    for what, records in IDS[fmt].items():
        feed(target, records(f"{what}-1", 1))
    filled = target.fill()
    assert all(0 < ratio < 1 for ratio in filled.values()), filled


def test_the_legs_awaiting_reports_are_capped(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(freeswitch_channel, "MAX_LEGS", 5)
    target = adapter("freeswitch-channel")
    for n in range(8):
        feed(target, IDS["freeswitch-channel"]["leg"](f"leg-{n}", n))
    assert target.fill()["legs"] == 1.0


@pytest.mark.parametrize("depth", [1_000, 100_000, 1_000_000])
@pytest.mark.parametrize(
    "fmt", ["freeswitch-callcenter", "freeswitch-channel", "amazon-connect", "twilio-taskrouter"]
)
def test_deep_nesting_is_the_formats_error_not_a_recursion(fmt: str, depth: int) -> None:
    record = KINDS[fmt]("@", 0).replace(b'"@"', b"[" * depth + b"]" * depth)
    with pytest.raises(AdapterError, match="nested deeper than"):
        adapter(fmt).translate(record)

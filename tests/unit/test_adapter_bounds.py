"""What a producer can make an adapter count, per format: ignored kinds make a fixed set of
label values."""

from __future__ import annotations

import pytest

from callpulse.adapters.base import Adapter, AdapterError
from callpulse.exposition import ignored_by_format

from .adapter_records import IDS, KINDS, adapter

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

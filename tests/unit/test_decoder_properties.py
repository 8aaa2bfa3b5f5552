"""Bad input at scale: whatever bytes arrive, the decoder raises nothing but DecodeError, and
every rejection has a reason the dead-letter headers can carry."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from callpulse.core.ingest import REJECT_REASONS, DecodeError, Ingest, RawRecord, decode
from callpulse.core.monitor import Monitor, MonitorConfig

EXAMPLES = [
    json.loads(line)
    for line in (Path(__file__).resolve().parents[2] / "docs/examples/events-v1.jsonl")
    .read_text()
    .splitlines()
]
JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=20),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=10), children, max_size=4)
    ),
    max_leaves=12,
)


def decodes_or_rejects(value: bytes, max_bytes: int = 4096) -> None:
    error: DecodeError | None = None
    try:
        decode(value, max_bytes)
    except DecodeError as exc:  # anything else escapes and fails the test
        error = exc
    if error is not None:
        assert error.reason in REJECT_REASONS
        assert error.detail


@settings(max_examples=400, deadline=None)
@given(st.binary(max_size=600))
def test_arbitrary_bytes(value: bytes) -> None:
    decodes_or_rejects(value)


@settings(max_examples=400, deadline=None)
@given(st.sampled_from(EXAMPLES), st.sampled_from(["drop", "set"]), st.data())
def test_mutated_valid_events(example: dict[str, Any], how: str, data: st.DataObject) -> None:
    body = dict(example)
    key = data.draw(st.sampled_from(sorted(body)))
    if how == "drop":
        del body[key]
    else:
        body[key] = data.draw(JSON)
    decodes_or_rejects(json.dumps(body).encode())


@settings(max_examples=200, deadline=None)
@given(
    st.lists(
        st.binary(max_size=200) | st.sampled_from(EXAMPLES).map(lambda e: json.dumps(e).encode()),
        max_size=30,
    )
)
def test_every_invalid_record_is_returned_with_a_reason(values: list[bytes]) -> None:
    ingest = Ingest(Monitor(MonitorConfig(), now=1_800_000_000.0), max_record_bytes=4096)
    records = [RawRecord(v, offset=i) for i, v in enumerate(values)]
    rejected = ingest.process(records)
    applied = sum(ingest.monitor.stats.events_by_type.values())
    # Late events are applied (to the totals), so they are among those applied.
    handled = applied + ingest.monitor.stats.duplicates + len(rejected)
    assert handled == len(records)  # nothing vanishes
    assert all(r.reason in REJECT_REASONS for r in rejected)

"""What a refused record leaves behind goes with the last reference to its batch.

Held in a reference cycle instead (an error kept past its ``except``, whose traceback holds
the frames that kept it), a record's bytes, up to ``max_record_bytes`` each, would wait for
the collector, which the daemon runs rarely while its state is frozen (callpulse.heap): a
hostile producer's records would pile up meanwhile. With the collector off, every record of
the hostile corpus is fed and logged as the consumer does, and the youngest generation,
where all that was made since is, must hold no cycle.
"""

from __future__ import annotations

import gc
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, get_args

import pytest
import structlog

from callpulse.config import Settings
from callpulse.config.source_settings import FormatSettings
from callpulse.core.clock import WALL_TIME
from callpulse.core.ingest import Ingest, RawRecord
from callpulse.core.monitor import Monitor, MonitorConfig, Outcome
from callpulse.pipeline import build
from callpulse.rejections import RejectionLog
from tests.hostile import FORMATS, corpus

from .events import raw

NOW = 1_800_000_000.0


@contextmanager
def collector_off() -> Iterator[None]:
    gc.collect()
    gc.disable()
    try:
        yield
    finally:
        gc.enable()


def cycles_left_by(action: Callable[[], object]) -> int:
    """How many objects ``action`` left in reference cycles (the collector off meanwhile)."""
    action()
    return gc.collect(0)


def refused_without_cycles(fmt: str, values: list[bytes | None]) -> int:
    """Feed ``values`` of format ``fmt`` one at a time, each logged as the consumer logs
    them, asserting that none leaves a cycle; how many were refused."""
    kafka: dict[str, Any] = {"topics": ["t"], "max_record_bytes": 8 << 20}
    if fmt != "events-v1":
        kafka["formats"] = {"t": {"format": fmt, "site": "pbx1"}}
    if fmt == "amazon-connect-flow-logs":
        kafka["formats"]["t"]["ivr_application"] = "main-ivr"
    settings = Settings.model_validate({"source": {"kind": "kafka", "kafka": kafka}})
    pipeline = build(settings, now=NOW, clock=WALL_TIME, deliver=False)
    log = RejectionLog()
    refused = 0
    with structlog.testing.capture_logs(), collector_off():
        for offset, value in enumerate(values):
            record = RawRecord(value, topic="t", offset=offset)

            def feed(record: RawRecord = record) -> None:
                rejected = pipeline.feed([record], NOW)
                log(rejected)
                nonlocal refused
                refused += len(rejected)

            assert cycles_left_by(feed) == 0, value[:200] if value else value
    return refused


@pytest.mark.parametrize("fmt", FORMATS)
def test_no_hostile_record_leaves_a_reference_cycle(fmt: str) -> None:
    hostile = corpus(fmt, NOW)
    refused = refused_without_cycles(fmt, [h.value for h in hostile])
    assert refused == sum(h.fate == "rejected" for h in hostile)


# What any format's adapter may be sent, wherever its own corpus is not in tests.hostile:
# documents it cannot read whole, and ones it can read in part (a CloudWatch Logs
# subscription with entries that are not log events, or whose message is no entry).
UNREADABLE = [
    None,
    b"",
    b"{",
    b"[1, 2]",
    b'{"a": NaN}',
    b"\xff\xfe not text",
    b"[" * 10_000 + b"]" * 10_000,
    b'{"n": ' + b"9" * 5000 + b"}",
    b'{"messageType": "DATA_MESSAGE", "logEvents": [1, {"message": ""}, {"message": "{"}]}',
    b'{"messageType": "DATA_MESSAGE", "logEvents": [{"message": "[]", "timestamp": 1}]}',
    b"Event: Hangup\r\nUniqueid: \r\n\r\n",
    b"no|such|line",
]


@pytest.mark.parametrize("fmt", get_args(FormatSettings.model_fields["format"].annotation))
def test_no_unreadable_record_of_any_format_leaves_a_reference_cycle(fmt: str) -> None:
    assert refused_without_cycles(fmt, UNREADABLE) > 0


class Buggy(Monitor):
    """A monitor with defects, each error a new one: applying call c-bad raises a KeyError,
    c-worse a ValueError while handling one."""

    def apply(self, event: Any, replay: bool = False) -> Outcome:
        call_id = getattr(event, "call_id", None)
        if call_id == "c-bad":
            return {}[call_id]  # type: ignore[no-any-return]
        if call_id == "c-worse":
            try:
                {}[call_id]
            except KeyError:
                raise ValueError(call_id)  # noqa: B904 - its context is the point
        return super().apply(event, replay)


@pytest.mark.parametrize("call_id", ["c-bad", "c-worse"])
def test_a_defect_once_logged_leaves_no_reference_cycle(call_id: str) -> None:
    ingest = Ingest(Buggy(MonitorConfig(), now=NOW))
    log = RejectionLog()
    value = raw("call.queued", NOW, call_id=call_id, queue="q")
    with structlog.testing.capture_logs() as logged, collector_off():
        for _ in range(2):  # the first logs a traceback, the second only its line
            assert cycles_left_by(lambda: log(ingest.process([RawRecord(value)]))) == 0
    assert [e["event"] for e in logged] == ["record_processing_failed", "record_rejected"]
    assert ingest.errors["monitor"] == 2

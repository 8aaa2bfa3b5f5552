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
from typing import Any

import pytest
import structlog

from callpulse.config import Settings
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


@pytest.mark.parametrize("fmt", FORMATS)
def test_no_hostile_record_leaves_a_reference_cycle(fmt: str) -> None:
    kafka: dict[str, Any] = {"topics": ["t"], "max_record_bytes": 8 << 20}
    if fmt != "events-v1":
        kafka["formats"] = {"t": {"format": fmt, "site": "pbx1"}}
    settings = Settings.model_validate({"source": {"kind": "kafka", "kafka": kafka}})
    pipeline = build(settings, now=NOW, clock=WALL_TIME, deliver=False)
    log = RejectionLog()
    hostile = corpus(fmt, NOW)
    refused = 0
    with structlog.testing.capture_logs(), collector_off():
        for offset, h in enumerate(hostile):
            record = RawRecord(h.value, topic="t", offset=offset)

            def feed(record: RawRecord = record) -> None:
                rejected = pipeline.feed([record], NOW)
                log(rejected)
                nonlocal refused
                refused += len(rejected)

            assert cycles_left_by(feed) == 0, h.name
    assert refused == sum(h.fate == "rejected" for h in hostile)


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

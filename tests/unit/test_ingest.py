from __future__ import annotations

from callpulse.core.ingest import Ingest, RawRecord
from callpulse.core.monitor import Monitor, MonitorConfig, Outcome

from .events import raw

NOW = 1_800_000_000.0


def test_valid_records_are_applied_and_invalid_ones_returned_with_coordinates() -> None:
    ingest = Ingest(Monitor(MonitorConfig(), now=NOW), max_record_bytes=4096)
    values = [
        raw("call.queued", NOW, call_id="a", queue="billing"),
        b"{broken",
        raw("call.queued", NOW + 3600, call_id="b", queue="billing"),
        raw("call.queued", NOW, call_id="c", queue="billing"),
        b"x" * 5000,
    ]
    records = [RawRecord(v, b"lon1", "events", 3, 100 + i) for i, v in enumerate(values)]
    rejected = ingest.process(records)
    assert [(r.reason, r.record.offset) for r in rejected] == [
        ("invalid_json", 101),
        ("future_event", 102),
        ("oversize", 104),
    ]
    assert "ahead of the clock" in rejected[1].detail
    assert ingest.invalid["invalid_json"] == 1
    assert ingest.invalid["future_event"] == 1
    assert ingest.invalid["oversize"] == 1
    assert ingest.monitor.stats.events_by_type == {"call.queued": 2}


class BrokenMonitor(Monitor):
    def apply(self, event: object, replay: bool = False) -> Outcome:  # type: ignore[override]
        raise KeyError("a bug")


def test_a_bug_in_applying_rejects_the_record_instead_of_stopping_the_stream() -> None:
    ingest = Ingest(BrokenMonitor(MonitorConfig(), now=NOW))
    record = RawRecord(raw("call.queued", NOW, call_id="a", queue="billing"), offset=9)
    [rejection] = ingest.process([record])
    assert rejection.reason == "processing_error"
    assert "a bug" in rejection.detail
    assert ingest.invalid["processing_error"] == 1

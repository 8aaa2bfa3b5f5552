"""``replay --report`` feeds the records between two evaluations as one batch, and reads a
line's time from the event it decodes once: every evaluation sees the records it saw one
record at a time, hostile lines keep the time their JSON says, and a batch the ingest cuts
short loses no record and no rejection."""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterable, Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from callpulse import pipeline
from callpulse.cli import report, report_run
from callpulse.config import Settings
from callpulse.core import ingest
from callpulse.core.events import Event
from callpulse.core.ingest import MAX_DEPTH, RawRecord, Rejection
from callpulse.sources.replay import event_time

from .test_replay_report import EXAMPLES, settings_for

NOW = datetime(2026, 3, 2, 10, tzinfo=UTC).timestamp()


def v1(i: int, at: float, body: dict[str, object]) -> bytes:
    """An events-v1 line: ``body`` (the type and its fields) at epoch second ``at``."""
    when = datetime.fromtimestamp(at, UTC).isoformat()
    envelope = {"schema_version": 1, "event_id": f"e{i}", "site": "par1", "occurred_at": when}
    return json.dumps(body | envelope).encode()


def busy_file(path: Path) -> Path:
    """Two queues over 40 minutes: agents, calls answered, calls abandoned, a quiet gap long
    enough to leap, and hostile lines among them (not JSON, out-of-order times, a time far
    ahead on a line that is refused, duplicates)."""
    lines: list[bytes] = []
    i = 0
    for n, queue in enumerate(("sales", "billing")):
        lines.append(
            v1(i, NOW, {"type": "agent.state", "agent_id": f"a{n}", "state": "available",
                        "queues": [queue]})
        )  # fmt: skip
        i += 1
    for k in range(300):
        at = NOW + 5 * k + (1800 if k >= 200 else 0)  # a half-hour gap after call 200
        queue = ("sales", "billing")[k % 2]
        call = f"c{k}"
        lines.append(v1(i, at, {"type": "call.queued", "call_id": call, "queue": queue}))
        i += 1
        if k % 3:
            lines.append(
                v1(i, at + 25, {"type": "call.answered", "call_id": call, "queue": queue,
                                "agent_id": "a0", "wait_seconds": 25})
            )  # fmt: skip
        else:
            lines.append(
                v1(i, at + 40, {"type": "call.abandoned", "call_id": call, "queue": queue,
                                "wait_seconds": 40})
            )  # fmt: skip
        i += 1
        if k % 37 == 0:
            lines.append(b"not json")
        if k % 53 == 0:
            ahead = datetime.fromtimestamp(at + 900, UTC).isoformat()
            lines.append(json.dumps({"type": "call.unknown", "occurred_at": ahead}).encode())
        if k % 41 == 0:
            lines.append(lines[-2])  # a duplicate event
        if k % 61 == 0:
            lines.append(v1(i, at - 600, {"type": "call.queued", "call_id": f"x{k}",
                                          "queue": queue}))  # fmt: skip
            i += 1
    path.write_bytes(b"\n".join(lines) + b"\n")
    return path


def traced(settings: Settings) -> tuple[list[tuple[object, ...]], str]:
    """What every evaluation saw (its time, the events applied, the monitor's clock, the
    calls waiting, the rejections so far) and the report as printed."""
    trace: list[tuple[object, ...]] = []

    def observe(now: float, parts: pipeline.Pipeline) -> None:
        monitor = parts.monitor
        views = monitor.queue_views()
        trace.append(
            (
                now,
                sum(monitor.stats.events_by_type.values()),
                monitor.now,
                sum(v.calls_waiting for v in views),
                tuple(sorted(parts.ingest.invalid.items())),
            )
        )

    played = report.play(settings, observe=observe)
    return trace, report.render(played)


@pytest.mark.parametrize(
    ("sample", "fmt", "site"),
    [
        (None, "events-v1", None),
        ("events-v1.jsonl", "events-v1", None),
        ("asterisk-queue_log", "asterisk-queue-log", "lon1"),
        ("amazon-connect.jsonl", "amazon-connect", "lon1"),
        ("twilio-taskrouter.jsonl", "twilio-taskrouter", "lon1"),
    ],
)
@pytest.mark.parametrize(
    ("batch", "cap"),
    [(3, report_run.BATCH_BYTES), (report_run.BATCH_RECORDS, report_run.BATCH_BYTES),
     (report_run.BATCH_RECORDS, 1000)],
)  # fmt: skip
def test_each_evaluation_sees_what_it_saw_one_record_at_a_time(
    sample: str | None,
    fmt: str,
    site: str | None,
    batch: int,
    cap: int,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    path = busy_file(tmp_path / "busy.jsonl") if sample is None else EXAMPLES / sample
    settings = settings_for(path, fmt, site)
    monkeypatch.setattr(report_run, "BATCH_RECORDS", 1)
    one_at_a_time = traced(settings)
    monkeypatch.setattr(report_run, "BATCH_RECORDS", batch)
    monkeypatch.setattr(report_run, "BATCH_BYTES", cap)
    batched = traced(settings)
    assert batched == one_at_a_time
    trace, shown = batched
    assert len(trace) > 10  # the rules were evaluated between the records
    assert "rejected: " in shown or sample is not None


@pytest.mark.parametrize("back", [895, 899, 900, 904])
def test_a_record_at_the_edge_of_the_window_is_applied_before_the_clock_moves_on(
    back: int, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A call at X, one from the edge of the 15-minute window, then one 6 s later: the
    # clock moves to the cadence's instant before the third, and the second must have been
    # applied before it, as one record at a time applies it (after, it would be late).
    queued = {"type": "call.queued", "queue": "q"}
    lines = [v1(n, NOW + at, queued | {"call_id": f"c{n}"}) for n, at in enumerate([0, -back, 6])]
    path = tmp_path / "edge.jsonl"
    path.write_bytes(b"\n".join(lines) + b"\n")
    settings = settings_for(path, "events-v1", None)
    monkeypatch.setattr(report_run, "BATCH_RECORDS", 1)
    one_at_a_time = traced(settings)
    monkeypatch.setattr(report_run, "BATCH_RECORDS", 2000)
    assert traced(settings) == one_at_a_time


def test_a_file_whose_time_stands_still_is_fed_in_bounded_batches(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "still.jsonl"
    calls = (
        v1(i, NOW, {"type": "call.queued", "call_id": f"c{i}", "queue": "q"}) for i in range(5000)
    )
    path.write_bytes(b"\n".join([*calls, *[b"x" * 3000] * 3000]) + b"\n")
    sizes: list[tuple[int, int]] = []
    real = pipeline.Pipeline.feed

    def feed(
        self: pipeline.Pipeline, batch: Iterable[RawRecord], now: float, **kw: object
    ) -> object:
        records = list(batch)
        sizes.append((len(records), sum(len(r.value or b"") for r in records)))
        return real(self, records, now, **kw)

    monkeypatch.setattr(pipeline.Pipeline, "feed", feed)
    played = report.play(settings_for(path))
    assert played.applied == 5000
    assert played.rejected["invalid_json"] == 3000
    assert sum(n for n, _ in sizes) == 8000
    assert max(n for n, _ in sizes) == report_run.BATCH_RECORDS
    assert max(size for _, size in sizes) < report_run.BATCH_BYTES + 3000


def cutting(at_lines: set[int]) -> object:
    """A Pipeline.feed whose records, handed to the ingest, raise at ``at_lines``: an error
    the ingest lets out, mid-batch (after the records before it were applied)."""
    real = pipeline.Pipeline.feed

    def feed(
        self: pipeline.Pipeline,
        batch: Iterable[RawRecord],
        now: float,
        *,
        translated: bool = False,
        rejected: list[Rejection] | None = None,
    ) -> list[Rejection]:
        def records() -> Iterator[RawRecord]:
            for record in batch:
                if record.offset in at_lines:
                    raise RuntimeError(f"cut at {record.offset}")
                yield record

        return real(self, records(), now, translated=translated, rejected=rejected)

    return feed


@pytest.mark.parametrize("batch", [1, report_run.BATCH_RECORDS])
def test_a_batch_the_ingest_cuts_short_loses_nothing(
    batch: int, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = busy_file(tmp_path / "busy.jsonl")
    settings = settings_for(path)
    clean = report.play(settings)
    monkeypatch.setattr(report_run, "BATCH_RECORDS", batch)
    # Lines 10 and 11 back to back, and the line just after a line that is not JSON.
    lines = path.read_bytes().splitlines()
    after = next(n for n, line in enumerate(lines, 1) if n > 20 and line == b"not json") + 1
    monkeypatch.setattr(pipeline.Pipeline, "feed", cutting({10, 11, after}))
    cut = report.play(settings)
    assert cut.rejected["processing_error"] == 3
    assert cut.examples["processing_error"].lines == [10, 11, after]
    assert cut.examples["processing_error"].message == "RuntimeError: cut at 10"
    # Every other record was applied, and every other rejection kept, with its line.
    assert cut.applied == clean.applied - 3
    assert cut.rejected - Counter(processing_error=3) == clean.rejected
    assert cut.examples["invalid_json"].lines == clean.examples["invalid_json"].lines
    assert cut.lines_rejected == clean.lines_rejected + 3


# --- a line's time ------------------------------------------------------------------------

GOOD = {
    "schema_version": 1,
    "type": "call.queued",
    "event_id": "e1",
    "site": "par1",
    "queue": "sales",
    "call_id": "c1",
}
AT = "2026-03-02T10:00:00+00:00"
LATER = "2026-03-02T11:00:00+00:00"


def body(**fields: object) -> bytes:
    return json.dumps(GOOD | fields).encode()


HOSTILE = {
    # A line nested deeper than json reads: no time, refused by the ingest.
    "deep": body(occurred_at=AT)[:-1] + b', "x": ' + b"[" * 10**5 + b"]" * 10**5 + b"}",
    # Just past the decoders' limit, well short of the interpreter's: no time either.
    "past the limit": body(occurred_at=AT)[:-1]
    + b', "x": '
    + b"[" * MAX_DEPTH
    + b"]" * MAX_DEPTH
    + b"}",
    # The last of duplicate keys counts, in the JSON and the decoded event alike.
    "duplicate": body(occurred_at=AT)[:-1] + f', "occurred_at": "{LATER}"}}'.encode(),
    "duplicate, the first good": body(occurred_at=AT)[:-1] + b', "occurred_at": 5}',
    # An escaped key is the key.
    "escaped key": body(occurred_at=AT).replace(b'"occurred_at"', b'"occurred\\u005fat"'),
    # occurred_at in a string value or a nested object is not the event's.
    "in a string": json.dumps(GOOD | {"note": f'"occurred_at": "{AT}"'}).encode(),
    "nested": json.dumps(GOOD | {"x": {"occurred_at": AT}}).encode(),
    "nested, and the event's": body(x={"occurred_at": LATER}, occurred_at=AT),
    # Not events v1, with a time: refused, but the time is the file's.
    "unknown type": body(type="call.teleported", occurred_at=LATER),
    "not an object": json.dumps([{"occurred_at": AT}]).encode(),
    "not a time": body(occurred_at="yesterday"),
    "naive": body(occurred_at="2026-03-02T10:00:00"),
    "a number": body(occurred_at=1772445600),
    "NaN": body(occurred_at=AT)[:-1] + b', "x": NaN}',
    "not JSON": b'{"occurred_at": "' + AT.encode() + b'"',
    "not UTF-8": body(occurred_at=AT)[:-1] + b', "x": "\xff"}',
}


@pytest.mark.parametrize("name", HOSTILE)
def test_a_hostile_line_keeps_the_time_its_json_says(name: str, tmp_path: Path) -> None:
    line = HOSTILE[name]
    run = report_run.Run(settings_for(tmp_path / "unused.jsonl"))
    record = RawRecord(line, None, run.topic, 0, 1)
    moment = run._moment(record)
    if record.event is None:  # refused: the ingest decodes it again, and says why
        assert moment == event_time(line)
        return
    # Decoded: the ingest applies this very event, and the monitor's clock moves to its
    # time, which the rules are evaluated up to first. Where json reads the line, that is
    # the time json reads; a byte that is not UTF-8 in a field events v1 does not have
    # leaves the event valid, where json reads nothing.
    assert moment == record.event.occurred_at.timestamp()
    assert moment == event_time(line) or name == "not UTF-8"


def test_the_hostile_lines_read_as_json_reads_them() -> None:
    at, later = (datetime.fromisoformat(t).timestamp() for t in (AT, LATER))
    expected = {
        "deep": None,
        "past the limit": None,
        "duplicate": later,
        "duplicate, the first good": None,
        "escaped key": at,
        "in a string": None,
        "nested": None,
        "nested, and the event's": at,
        "unknown type": later,
        "not an object": None,
        "not a time": None,
        "naive": datetime.fromisoformat("2026-03-02T10:00:00").timestamp(),
        "a number": None,
        "NaN": at,
        "not JSON": None,
        "not UTF-8": None,
    }
    assert {name: event_time(line) for name, line in HOSTILE.items()} == expected


def test_a_line_decoded_for_its_time_is_not_decoded_again(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "two.jsonl"
    path.write_bytes(body(occurred_at=AT) + b"\n" + body(occurred_at=LATER, call_id="c2") + b"\n")
    decoded: list[bytes | None] = []
    real = ingest.decode

    def counting(value: bytes | None, max_bytes: int) -> Event:
        decoded.append(value)
        return real(value, max_bytes)

    monkeypatch.setattr(report_run, "decode", counting)
    monkeypatch.setattr(ingest, "decode", counting)  # where the ingest is interpreted
    played = report.play(settings_for(path))
    assert played.applied == 2
    assert len(decoded) == 2  # once each, for the time; the ingest applied what it made

"""``callpulse replay FILE --report``: a whole file through the pipeline on its own event
time, summed per queue, with the alerts that would have fired; printed, then exit.

The file goes through the same adapter, decoder, monitor and rules as the daemon's replay.
Rules are evaluated every ``alerting.evaluation_interval`` of event time, leaping across gaps
where only time passes (:mod:`callpulse.cli.timeline`), and an alert that would have paged
counts once per episode (from firing to resolved), as the scenario checks count them. The
per-queue figures are over the whole file (the windows' formulas over every call since the
first line, docs/metrics.md), not over the last window. A record that makes any part of it
raise is counted as rejected, and the report goes on.
"""

from __future__ import annotations

import sys
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TextIO

from callpulse import pipeline
from callpulse.adapters import records
from callpulse.cli.timeline import Timeline
from callpulse.config import Settings
from callpulse.core.ingest import DecodeError, PartlyDecodedError, RawRecord
from callpulse.core.queues import QueueWindow
from callpulse.sources.files import read_records
from callpulse.sources.replay import event_time
from callpulse.text import plain

Labels = tuple[tuple[str, str], ...]
_FAULT = "processing_error"  # what a record made raise, when it is no DecodeError


@dataclass
class ReplayReport:
    """What one file did: per-queue KPIs, alert episodes, and what was not applied."""

    lines: int = 0
    first: float | None = None  # event time of the first record
    last: float | None = None  # and of the newest event applied (None: none was)
    queues: dict[tuple[str, str], QueueWindow] = field(default_factory=dict)
    episodes: Counter[Labels] = field(default_factory=Counter)  # firing episodes per alert
    rejected: Counter[str] = field(default_factory=Counter)  # by reason
    ignored: Counter[str] = field(default_factory=Counter)  # platform kinds skipped
    thresholds: dict[tuple[str, str], float] = field(default_factory=dict)

    def alerts_of(self, site: str, queue: str) -> Counter[str]:
        """Episodes per alert name whose labels name this queue."""
        out: Counter[str] = Counter()
        for labels, count in self.episodes.items():
            named = dict(labels)
            if named.get("site") == site and named.get("queue") == queue:
                out[named["alertname"]] += count
        return out

    def other_alerts(self) -> Counter[str]:
        """Episodes of alerts that name no queue (trunks, IVR, components, sites)."""
        out: Counter[str] = Counter()
        for labels, count in self.episodes.items():
            named = dict(labels)
            if "queue" not in named:
                out[f"{named['alertname']} {_show(named)}".rstrip()] += count
        return out


def play(settings: Settings, progress: Callable[[int], None] = lambda size: None) -> ReplayReport:
    """Play ``settings.source.replay`` to its end and return the report; ``progress`` is told
    the size in bytes of each line read."""
    run = _Run(settings)
    replay, limit = settings.source.replay, settings.source.kafka.max_record_bytes
    with replay.path.open("rb") as f:
        for number, record in read_records(f, replay.format.format, limit, progress):
            run.record(record, number)
    return run.finish()


class _Run:
    """One file through the pipeline: its records in order, the rules evaluated between them
    on the file's time (:class:`Timeline`), and what was counted."""

    def __init__(self, settings: Settings) -> None:
        parts = pipeline.build(settings, now=0.0, event_time_clock=True, deliver=False)
        self.parts = parts
        parts.monitor.queues.keep_run()
        self.timeline = Timeline(settings, parts.monitor, parts.alerting.evaluator.rules)
        self.report = ReplayReport()
        self.topic = str(settings.source.replay.path)
        self.firing: set[Labels] = set()
        # A platform's record is judged by the ingest (its size, its adapter's errors) as in
        # the daemon, but its events are handed back rather than applied: the rules are
        # evaluated between two events of one record as the file's time passes between them
        # (a contact record tells when the caller queued, was answered and hung up).
        self.held: list[RawRecord] = []
        translate = parts.ingest.translators.get(self.topic)
        self.adapted = translate is not None
        if translate is not None:

            def hold(record: RawRecord) -> Sequence[RawRecord]:
                try:
                    self.held = list(translate(record))
                except PartlyDecodedError as exc:  # counted as rejected; what was read is held
                    self.held = list(exc.records)
                    raise PartlyDecodedError(exc.reason, exc.detail, ()) from None
                return ()

            parts.ingest.translators[self.topic] = hold

    def record(self, line: bytes, number: int) -> None:
        """Apply one line of the file (record ``number``), the rules evaluated up to its time
        first. Whatever it makes the adapter, the decoder, the monitor or the reading of its
        time raise rejects it (``processing_error``, or the DecodeError's reason), and the
        file goes on."""
        self.report.lines += 1
        record = RawRecord(line, None, self.topic, 0, number)
        if not self.adapted:
            self._apply(record)
            return
        self.held = []
        if self._process([record]):
            for each in self.held:
                self._apply(each, translated=True)

    def _apply(self, record: RawRecord, translated: bool = False) -> None:
        try:
            moment = event_time(record.value or b"")
        except Exception as exc:  # e.g. RecursionError: a line nested deeper than json reads
            self._reject(exc)
            return
        if moment is not None:
            if self.report.first is None:
                self.report.first = moment
            # The rules are evaluated on the clock between events, as live: a caller waiting
            # through a quiet minute is seen waiting, not only when they leave.
            for now in self.timeline.until(moment):
                self.evaluate(now)
        self._process([record], translated)

    def _process(self, batch: list[RawRecord], translated: bool = False) -> bool:
        """``batch`` through the ingest, its rejections counted; False if it raised. The
        ingest is the daemon's boundary, so a record it contains is rejected as the daemon
        rejects it; what it lets out is still counted here rather than ending the report."""
        try:
            rejected = self.parts.ingest.process(batch, translated=translated)
        except Exception as exc:
            self._reject(exc)
            return False
        self.report.rejected.update(r.reason for r in rejected)
        return True

    def _reject(self, exc: Exception) -> None:
        self.report.rejected[exc.reason if isinstance(exc, DecodeError) else _FAULT] += 1

    def evaluate(self, now: float) -> None:
        """Evaluate the rules at ``now`` (the monitor is there), once what the adapters
        assumed by then (a wrap-up ending) is applied; count the episodes that start."""
        parts, report = self.parts, self.report
        for adapter in parts.adapters.values():
            try:
                flushed = records.flushed(adapter, now, self.topic)
            except Exception as exc:  # a wrap-up a record made end out of range
                self._reject(exc)
                continue
            self._process(flushed, translated=True)
        for n in parts.alerting.evaluate():
            labels: Labels = tuple(sorted(n.labels.items()))
            if n.ends_at > now:
                if labels not in self.firing:
                    self.firing.add(labels)
                    report.episodes[labels] += 1
            else:
                self.firing.discard(labels)

    def finish(self) -> ReplayReport:
        """The last evaluation, at the newest event, and the report."""
        monitor, report = self.parts.monitor, self.report
        if report.first is not None:
            self.evaluate(monitor.now)
        if monitor.stats.events_by_type:
            report.last = monitor.latest_event_time
        report.queues = monitor.queues.run_kpis()
        config = monitor.config
        report.thresholds = {
            key: config.service_level_overrides.get(key[1], config.service_level).threshold
            for key in report.queues
        }
        for adapter in self.parts.adapters.values():
            report.ignored.update(adapter.ignored)
        return report


def render(report: ReplayReport) -> str:
    """The report as a plain-text table. Names come from the file: each is escaped
    (:func:`callpulse.text.plain`), so that none can move the cursor or recolour the table."""
    head = ("site", "queue", "offered", "answered", "abandoned", "SL", "ASA", "AHT", "alerts")
    rows = [head]
    for (site, queue), kpis in sorted(report.queues.items()):
        alerts = report.alerts_of(site, queue)
        rows.append(
            (
                plain(site),
                plain(queue),
                str(kpis.offered),
                str(kpis.answered),
                str(kpis.abandoned),
                _ratio(kpis.service_level),
                _seconds(kpis.asa_seconds),
                _seconds(kpis.aht_seconds),
                ", ".join(f"{plain(name)} x{n}" for name, n in sorted(alerts.items())) or "-",
            )
        )
    widths = [max(len(row[i]) for row in rows) for i in range(len(head))]
    numeric = range(2, 8)
    lines = [
        "  ".join(
            cell.rjust(widths[i]) if i in numeric else cell.ljust(widths[i])
            for i, cell in enumerate(row)
        ).rstrip()
        for row in rows
    ]
    span = (
        f"{_when(report.first)} to {_when(report.last)}"
        if report.first is not None and report.last is not None
        else "no event applied"
    )
    lines.insert(0, f"{report.lines:,} records, {span}")
    thresholds = sorted(set(report.thresholds.values()))
    if thresholds:
        lines.append(
            "SL: answered within "
            + " / ".join(f"{t:g} s" for t in thresholds)
            + " (kpi.service_level); ASA: mean wait of answered calls; AHT: talk + hold + ACW"
        )
    others = report.other_alerts()
    if others:
        lines.append(
            "other alerts: " + ", ".join(f"{plain(a)} x{n}" for a, n in sorted(others.items()))
        )
    if report.rejected:
        lines.append(
            "rejected: " + ", ".join(f"{plain(r)} {n}" for r, n in sorted(report.rejected.items()))
        )
    if report.ignored:
        lines.append(
            "ignored (no events-v1 use): "
            + ", ".join(f"{plain(k)} {n}" for k, n in sorted(report.ignored.items()))
        )
    return "\n".join(lines)


def main(settings: Settings, out: TextIO | None = None) -> int:
    """Print the report of ``settings.source.replay``; 2 if the file cannot be read. On a
    terminal, a progress bar on stderr shows how much of the file has been read."""
    try:
        with _progress(settings.source.replay.path) as advance:
            report = play(settings, advance)
    except OSError as exc:
        path = plain(str(settings.source.replay.path))
        print(f"callpulse replay: cannot read {path}: {exc.strerror}", file=sys.stderr)
        return 2
    print(render(report), file=out or sys.stdout)
    return 0


@contextmanager
def _progress(path: Path) -> Iterator[Callable[[int], None]]:
    """A bar of the bytes of ``path`` read, told by the function yielded; none unless stderr
    is a terminal (a redirected report has nobody to watch it)."""
    if not sys.stderr.isatty():
        yield lambda size: None
        return
    from rich.console import Console
    from rich.progress import BarColumn, DownloadColumn, Progress, TextColumn, TimeRemainingColumn

    bar = Progress(
        TextColumn("{task.description}", markup=False),
        BarColumn(),
        DownloadColumn(),
        TimeRemainingColumn(),
        console=Console(stderr=True),
        transient=True,
    )
    total = path.stat().st_size
    task = bar.add_task(plain(path.name), total=total or None)
    # A step of the bar is a 200th of the file, at most 64 KiB: its lock and arithmetic are
    # not free, and are not paid per line.
    step = min(total // 200, 1 << 16)
    unsaid = 0

    def advance(size: int) -> None:
        nonlocal unsaid
        unsaid += size
        if unsaid > step:
            bar.advance(task, unsaid)
            unsaid = 0

    with bar:
        yield advance


def _ratio(value: float | None) -> str:
    return "-" if value is None else f"{value:.1%}"


def _seconds(value: float | None) -> str:
    return "-" if value is None else f"{value:.1f} s"


def _when(ts: float | None) -> str:
    return "-" if ts is None else datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%d %H:%M:%SZ")


def _show(labels: dict[str, str]) -> str:
    shown = {k: v for k, v in labels.items() if k not in {"alertname", "severity"}}
    return "{" + ", ".join(f"{k}={v}" for k, v in sorted(shown.items())) + "}" if shown else ""

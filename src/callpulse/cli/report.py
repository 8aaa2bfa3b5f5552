"""``callpulse replay FILE --report``: a whole file through the pipeline on its own event
time, summed per queue, with the alerts that would have fired; printed, then exit.

The file goes through the same adapter, decoder, monitor and rules as the daemon's replay.
Rules are evaluated every ``alerting.evaluation_interval`` of event time, leaping across gaps
where only time passes (:mod:`callpulse.cli.timeline`), and an alert that would have paged
counts once per episode (from firing to resolved), as the scenario checks count them. The
per-queue figures are over the whole file (the windows' formulas over every call since the
first line, docs/metrics.md), not over the last window. A record that makes any part of it
raise is counted as rejected, with its line and what was wrong with it, and the report goes
on. When most records are rejected, the report guesses what the file holds
(:mod:`callpulse.cli.guess`); the exit status says whether the file was of use (:func:`status`).
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import TextIO

from callpulse import pipeline
from callpulse.cli import guess
from callpulse.cli.report_ivr import ivr_lines
from callpulse.cli.report_run import ReplayReport, Run
from callpulse.cli.report_trunks import aligned, trunk_lines
from callpulse.config import Settings
from callpulse.sources.files import ReadError, head, open_replay, position, read_records
from callpulse.text import plain

NOTHING_APPLIED = 1
MOSTLY_REJECTED = 3
UNREADABLE = 2


def play(
    settings: Settings,
    progress: Callable[[int], None] = lambda position: None,
    observe: pipeline.Observer | None = None,
) -> ReplayReport:
    """Play ``settings.source.replay`` to its end and return the report; ``progress`` is told
    now and then how far into the file (in its bytes on disk) reading has got. Raises
    OSError if the file cannot be opened. ``observe``: told of every evaluation."""
    run = Run(settings, observe)
    limit = settings.source.kafka.max_record_bytes
    fmt = settings.source.replay.format.format
    with open_replay(settings.source.replay.path) as stream:
        try:
            for count, (number, line) in enumerate(read_records(stream, fmt, limit), 1):
                run.record(line, number)
                if not count % _PROGRESS_EVERY:
                    progress(position(stream))
        except ReadError as exc:  # what was read before it is reported
            run.report.unreadable = str(exc)
    return run.finish()


_PROGRESS_EVERY = 64  # records between two reports of the position


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
    lines = aligned(rows, range(2, 8))
    span = (
        f"{_when(report.first)} to {_when(report.last)}"
        if report.first is not None and report.last is not None
        else "no event applied"
    )
    lines.insert(0, f"{report.lines:,} record{'' if report.lines == 1 else 's'}, {span}")
    if (report.trunks or report.ivr) and len(rows) == 1:  # no queue: no empty queue table
        lines = lines[:1]
    lines.extend(trunk_lines(report.trunks))
    lines.extend(ivr_lines(report.ivr))
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
        lines.extend(_why(report))
    if report.ignored:
        lines.append(
            "ignored (no events-v1 use): "
            + ", ".join(f"{plain(k)} {n}" for k, n in sorted(report.ignored.items()))
        )
        if report.only_unused:
            lines.append("every record was read, and none is of a kind events v1 counts")
    if report.unreadable:
        lines.append(f"stopped reading at {plain(report.unreadable)}")
    if report.guess:
        lines.append(f"guess: {report.guess}")
    lines.extend(f"hint: {hint}" for hint in report.hints)
    return "\n".join(lines)


def _why(report: ReplayReport) -> list[str]:
    """A line per reason: its first lines, and the message of one of them."""
    out = []
    for reason, count in sorted(report.rejected.items()):
        example = report.examples.get(reason)
        if example is None:
            continue
        said = f"line {example.line}: {example.message}" if example.line else example.message
        if len(example.lines) > 1:
            more = ", ..." if count > len(example.lines) else ""
            said = f"lines {', '.join(map(str, example.lines))}{more}; {said}"
        out.append(f"  {plain(reason)}: {said}")
    return out


def status(report: ReplayReport) -> int:
    """The exit status the report's figures call for: 1 when no record was applied (a
    wrong ``--format``, an empty file), 3 when more than half the lines were rejected, 0
    otherwise; 2 when the file could not be read to its end."""
    if report.unreadable:
        return UNREADABLE
    if not report.applied:
        return NOTHING_APPLIED
    if 2 * report.lines_rejected > report.lines:
        return MOSTLY_REJECTED
    return 0


def main(settings: Settings, out: TextIO | None = None) -> int:
    """Print the report of ``settings.source.replay``, and return :func:`status` (2 if the
    file cannot be read). On a terminal, a progress bar on stderr shows how much of the file
    has been read, once it takes more than a moment."""
    replay = settings.source.replay
    try:
        with _progress(replay.path) as advance:
            report = play(settings, advance)
        if status(report) in (NOTHING_APPLIED, MOSTLY_REJECTED) and not report.only_unused:
            report.guess = guess.explain(head(replay.path, guess.HEAD_BYTES), replay.format.format)
    except OSError as exc:
        path = plain(str(replay.path))
        print(f"callpulse replay: cannot read {path}: {exc.strerror or exc}", file=sys.stderr)
        return UNREADABLE
    print(render(report), file=out or sys.stdout)
    return status(report)


@contextmanager
def _progress(path: Path) -> Iterator[Callable[[int], None]]:
    """A bar of how far into ``path`` reading has got, told by the function yielded; none
    unless stderr is a terminal (a redirected report has nobody to watch it), and none
    before :data:`_PROGRESS_AFTER` seconds (a bar that flashes by says nothing)."""
    if not sys.stderr.isatty():
        yield lambda position: None
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
    shown_from = time.monotonic() + _PROGRESS_AFTER

    def advance(position: int) -> None:
        bar.update(task, completed=position)
        if not bar.live.is_started and time.monotonic() >= shown_from:
            bar.start()

    try:
        yield advance
    finally:
        if bar.live.is_started:
            bar.stop()


_PROGRESS_AFTER = 2.0


def _ratio(value: float | None) -> str:
    return "-" if value is None else f"{value:.1%}"


def _seconds(value: float | None) -> str:
    return "-" if value is None else f"{value:.1f} s"


def _when(ts: float | None) -> str:
    return "-" if ts is None else datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%d %H:%M:%SZ")

"""``callpulse replay FILE --report``: a whole file through the pipeline on its own event
time, summed per queue, with the alerts that would have fired; printed, then exit.

The file goes through the same adapter, decoder, monitor and rules as the daemon's replay.
Rules are evaluated every ``alerting.evaluation_interval`` of event time, and an alert that
would have paged counts once per episode (from firing to resolved), as the scenario checks
count them. The per-queue figures are over the whole file (the windows' formulas over every
call since the first line, docs/metrics.md), not over the last window.
"""

from __future__ import annotations

import sys
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TextIO

from callpulse import pipeline
from callpulse.adapters import records
from callpulse.config import Settings
from callpulse.core.ingest import DecodeError, RawRecord
from callpulse.core.queues import QueueWindow
from callpulse.sources.replay import event_time

Labels = tuple[tuple[str, str], ...]


@dataclass
class ReplayReport:
    """What one file did: per-queue KPIs, alert episodes, and what was not applied."""

    lines: int = 0
    first: float | None = None  # event time of the first and last applied event
    last: float | None = None
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


def play(settings: Settings) -> ReplayReport:
    """Play ``settings.source.replay`` to its end and return the report."""
    replay = settings.source.replay
    parts = pipeline.build(settings, now=0.0, event_time_clock=True, deliver=False)
    monitor, ingest, alerting = parts.monitor, parts.ingest, parts.alerting
    monitor.queues.keep_run()
    interval = settings.alerting.evaluation_interval
    report = ReplayReport()
    firing: set[Labels] = set()
    topic = str(replay.path)
    next_evaluation: float | None = None

    def evaluate(now: float) -> None:
        for adapter in parts.adapters.values():
            flushed = records.flushed(adapter, now, topic)
            for rejection in ingest.process(flushed, translated=True):
                report.rejected[rejection.reason] += 1
        for n in alerting.evaluate():
            labels: Labels = tuple(sorted(n.labels.items()))
            if n.ends_at > now:
                if labels not in firing:
                    firing.add(labels)
                    report.episodes[labels] += 1
            else:
                firing.discard(labels)

    translate = ingest.translators.get(topic)
    with replay.path.open("rb") as f:
        for number, raw in enumerate(f, 1):
            line = raw.rstrip(b"\r\n")
            if not line.strip():
                continue
            report.lines += 1
            record = RawRecord(line, None, topic, 0, number)
            try:
                events = translate(record) if translate is not None else [record]
            except DecodeError as exc:
                report.rejected[exc.reason] += 1
                continue
            for each in events:
                moment = event_time(each.value or b"")
                if moment is not None:
                    if next_evaluation is None:
                        report.first = moment
                        next_evaluation = (moment // interval + 1) * interval
                    # The rules are evaluated on the clock between events, as live: a caller
                    # waiting through a quiet minute is seen waiting, not only when they leave.
                    while next_evaluation <= moment:
                        monitor.advance(next_evaluation)
                        evaluate(next_evaluation)
                        next_evaluation += interval
                for rejection in ingest.process([each], translated=True):
                    report.rejected[rejection.reason] += 1
    if report.first is not None:
        evaluate(monitor.now)
        report.last = monitor.latest_event_time
    report.queues = monitor.queues.run_kpis()
    config = monitor.config
    report.thresholds = {
        key: config.service_level_overrides.get(key[1], config.service_level).threshold
        for key in report.queues
    }
    for adapter in parts.adapters.values():
        report.ignored.update(adapter.ignored)
    return report


def render(report: ReplayReport) -> str:
    """The report as a plain-text table."""
    head = ("site", "queue", "offered", "answered", "abandoned", "SL", "ASA", "AHT", "alerts")
    rows = [head]
    for (site, queue), kpis in sorted(report.queues.items()):
        alerts = report.alerts_of(site, queue)
        rows.append(
            (
                site,
                queue,
                str(kpis.offered),
                str(kpis.answered),
                str(kpis.abandoned),
                _ratio(kpis.service_level),
                _seconds(kpis.asa_seconds),
                _seconds(kpis.aht_seconds),
                ", ".join(f"{name} x{n}" for name, n in sorted(alerts.items())) or "-",
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
        lines.append("other alerts: " + ", ".join(f"{a} x{n}" for a, n in sorted(others.items())))
    if report.rejected:
        lines.append(
            "rejected: " + ", ".join(f"{r} {n}" for r, n in sorted(report.rejected.items()))
        )
    if report.ignored:
        lines.append(
            "ignored (no events-v1 use): "
            + ", ".join(f"{k} {n}" for k, n in sorted(report.ignored.items()))
        )
    return "\n".join(lines)


def main(settings: Settings, out: TextIO = sys.stdout) -> int:
    """Print the report of ``settings.source.replay``; 2 if the file cannot be read."""
    try:
        report = play(settings)
    except OSError as exc:
        print(f"callpulse replay: cannot read {settings.source.replay.path}: {exc.strerror}",
              file=sys.stderr)  # fmt: skip
        return 2
    print(render(report), file=out)
    return 0


def _ratio(value: float | None) -> str:
    return "-" if value is None else f"{value:.1%}"


def _seconds(value: float | None) -> str:
    return "-" if value is None else f"{value:.1f} s"


def _when(ts: float | None) -> str:
    return "-" if ts is None else datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%d %H:%M:%SZ")


def _show(labels: dict[str, str]) -> str:
    shown = {k: v for k, v in labels.items() if k not in {"alertname", "severity"}}
    return "{" + ", ".join(f"{k}={v}" for k, v in sorted(shown.items())) + "}" if shown else ""

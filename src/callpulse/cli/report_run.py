"""One file through the pipeline for ``callpulse replay FILE --report``: its records in
order, the rules evaluated between them on the file's own time, and what was counted (per
queue, per alert episode, per rejection reason) in a :class:`ReplayReport`.

The records between two evaluations are fed to the pipeline together, as the daemon feeds
a source's batch: nothing but the records themselves happens between them, so an
evaluation sees exactly the records before it in the file, whether they came one at a time
or all at once. A line of events v1 is decoded once, where its time is read (the ingest
then applies the event it carries); a line that does not decode keeps the time its JSON
says (:func:`~callpulse.sources.replay.event_time`), and the ingest decodes it again to say
why it is rejected. A platform's record is judged by its adapter as it comes, so the events
held from the ones before it are fed first: its rejections count in line order.

A record that makes any part of it raise is counted as rejected, with its line and what
was wrong with it, and the run goes on.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field

from callpulse import pipeline
from callpulse.adapters import records
from callpulse.cli import hints
from callpulse.cli.timeline import Timeline
from callpulse.config import Settings
from callpulse.core.clock import EVENT_TIME
from callpulse.core.ingest import DecodeError, PartlyDecodedError, RawRecord, Rejection, decode
from callpulse.core.instants import EPOCH_SECONDS
from callpulse.core.ivr import IvrRun
from callpulse.core.queues import QueueWindow
from callpulse.core.trunk_run import TrunkRun
from callpulse.sources.replay import event_time
from callpulse.text import plain

Labels = tuple[tuple[str, str], ...]
_FAULT = "processing_error"  # what a record made raise, when it is no DecodeError
_AGENT_ID = re.compile(rb'"agent_id":\s*"([^"\\]{1,256})"')
_AGENTS_LOOKED_AT = 1000
_LINES_SHOWN = 5  # line numbers kept per reason
_MESSAGE_CHARS = 200  # of the example's message, once escaped
# Records fed at once at most, and their bytes: a file whose time stands still (or that has
# none) cannot make what waits for the next evaluation grow without bound.
BATCH_RECORDS = 2000
BATCH_BYTES = 4 * 2**20


@dataclass
class Example:
    """Where a reason's records are (the first lines) and what was wrong with the first."""

    lines: list[int] = field(default_factory=list)
    line: int = 0  # of the message (0: a record of no line, an adapter's assumed end)
    message: str = ""


@dataclass
class ReplayReport:
    """What one file did: per-queue KPIs, alert episodes, and what was not applied."""

    lines: int = 0
    first: float | None = None  # event time of the first record
    last: float | None = None  # and of the newest event applied (None: none was)
    queues: dict[tuple[str, str], QueueWindow] = field(default_factory=dict)
    trunks: dict[tuple[str, str], TrunkRun] = field(default_factory=dict)
    ivr: dict[tuple[str, str], IvrRun] = field(default_factory=dict)
    episodes: Counter[Labels] = field(default_factory=Counter)  # firing episodes per alert
    rejected: Counter[str] = field(default_factory=Counter)  # by reason
    examples: dict[str, Example] = field(default_factory=dict)  # by reason
    lines_rejected: int = 0  # lines with at least one rejection
    applied: int = 0  # events the monitor took
    unreadable: str | None = None  # why reading stopped before the end
    guess: str | None = None  # what the file looks like, when most of it was rejected
    hints: list[str] = field(default_factory=list)  # options that would name things better
    raw_agent: str | None = None  # an agent id of the file that is a platform's id
    ignored: Counter[str] = field(default_factory=Counter)  # platform kinds skipped
    thresholds: dict[tuple[str, str], float] = field(default_factory=dict)

    @property
    def only_unused(self) -> bool:
        """Whether every record was read and none is of a kind events v1 counts: nothing
        applied, nothing wrong, and so nothing to guess at."""
        return not self.applied and not self.rejected and bool(self.ignored)

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


class Run:
    """One file through the pipeline: its records in order, the rules evaluated between them
    on the file's time (:class:`Timeline`), and what was counted."""

    def __init__(self, settings: Settings, observe: pipeline.Observer | None = None) -> None:
        self.observe = observe
        # The file's own time, unbounded: a report of last week's file rejects nothing as
        # "future", and the rules are evaluated as that time passes between its events.
        parts = pipeline.build(settings, now=0.0, clock=EVENT_TIME, deliver=False)
        self.parts = parts
        parts.monitor.queues.keep_run()
        parts.monitor.trunks.keep_run()
        parts.monitor.ivr.keep_run()
        self.timeline = Timeline(settings, parts.monitor, parts.alerting.evaluator.rules)
        self.report = ReplayReport()
        self.topic = str(settings.source.replay.path)
        self.format = settings.source.replay.format.format
        self.firing: set[Labels] = set()
        self.last_rejected = 0  # the line of the latest rejection
        # Records whose agent id is looked at for the hint: a platform writes every agent the
        # same way, so the first ones tell, and the rest are not searched.
        self.agents_to_look_at = _AGENTS_LOOKED_AT
        # A platform's record is judged by the ingest (its size, its adapter's errors) as in
        # the daemon, but its events are handed back rather than applied: the rules are
        # evaluated between two events of one record as the file's time passes between them
        # (a contact record tells when the caller queued, was answered and hung up).
        self.held: list[RawRecord] = []
        self.pending: list[RawRecord] = []  # taken, to be fed before the next evaluation
        self.pending_bytes = 0
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
        """Take one line of the file (record ``number``), the rules evaluated up to its time
        first. Whatever it makes the adapter, the decoder, the monitor or the reading of its
        time raise rejects it (``processing_error``, or the DecodeError's reason), and the
        file goes on."""
        self.report.lines += 1
        record = RawRecord(line, None, self.topic, 0, number)
        if not self.adapted:
            self._take(record)
            return
        self._feed()  # the events of the records before it count first
        self.held = []
        if self._process([record]):
            for each in self.held:
                self._take(each)

    def _take(self, record: RawRecord) -> None:
        """Evaluate up to ``record``'s time, then keep it for the next feed."""
        try:
            moment = self._moment(record)
        except Exception as exc:  # whatever reading it raises: a defect, a MemoryError
            self._feed()
            self._reject(exc, record.offset)
            return
        if self.agents_to_look_at and self.report.raw_agent is None:
            self.agents_to_look_at -= 1
            event = record.event
            if not self.adapted:
                self._look_at_agent(record.value or b"")
            elif isinstance(agent := getattr(event, "agent_id", None), str):
                self._keep_if_raw(agent)
        if moment is not None:
            if self.report.first is None:
                self.report.first = moment
            # The rules are evaluated on the clock between events, as live: a caller waiting
            # through a quiet minute is seen waiting, not only when they leave. The records
            # before go in before the clock moves on: after, one at the edge of a window
            # would be late.
            timeline = self.timeline
            moves = timeline.moves_before(moment)
            if moves:
                self._feed()
            if moves or not timeline.saw(moment):
                for now in timeline.until(moment):
                    self.evaluate(now)
        self.pending.append(record)
        self.pending_bytes += len(record.value or b"")
        if len(self.pending) >= BATCH_RECORDS or self.pending_bytes >= BATCH_BYTES:
            self._feed()

    def _moment(self, record: RawRecord) -> float | None:
        """``record``'s event time; a line of events v1 is decoded here, once, and carries
        its event on to the ingest."""
        event = record.event  # what an adapter made of a platform's record
        if event is None:
            try:
                event = decode(record.value, self.parts.ingest.max_record_bytes)
            except Exception:  # the ingest decodes it again, and says why it is rejected
                return event_time(record.value or b"")
            record.event = event
        return EPOCH_SECONDS(event.occurred_at)

    def _look_at_agent(self, value: bytes) -> None:
        """Keep the record's agent id if it is a platform's id (an ARN's, a SID), for the
        hint that ``agent_names`` can name it."""
        found = _AGENT_ID.search(value)
        if found is not None:
            self._keep_if_raw(found[1].decode(errors="replace"))

    def _keep_if_raw(self, agent: str) -> None:
        if hints.raw_id(agent):
            self.report.raw_agent = agent

    def _feed(self) -> None:
        """The records taken since the last feed, through the pipeline."""
        if self.pending:
            batch, self.pending, self.pending_bytes = self.pending, [], 0
            self._process(batch, translated=self.adapted)

    def _process(self, batch: list[RawRecord], translated: bool = False) -> bool:
        """``batch`` through the ingest, its rejections counted; False if it raised. The
        ingest is the daemon's boundary, so a record it contains is rejected as the daemon
        rejects it; what it lets out is counted here, against the record in hand (with its
        line; 0 for an adapter's assumed ends), and the records after it are fed on."""
        whole = True
        while batch:
            rejected: list[Rejection] = []
            at = -1

            def handed(records: list[RawRecord]) -> Iterator[RawRecord]:
                nonlocal at
                for record in records:
                    at += 1  # the record in hand, should the ingest let an error out
                    yield record

            try:
                self.parts.feed(
                    handed(batch), self.parts.monitor.now, translated=translated, rejected=rejected
                )
            except Exception as exc:
                failed = max(at, 0)
                self._counted(rejected)
                self._reject(exc, batch[failed].offset)
                batch, whole = batch[failed + 1 :], False
                continue
            self._counted(rejected)
            break
        return whole

    def _counted(self, rejected: list[Rejection]) -> None:
        for rejection in rejected:
            self._count(rejection.reason, rejection.record.offset, rejection.detail)

    def _reject(self, exc: Exception, line: int) -> None:
        if isinstance(exc, DecodeError):
            self._count(exc.reason, line, exc.detail)
        else:
            self._count(_FAULT, line, f"{type(exc).__name__}: {exc}")

    def _count(self, reason: str, line: int, detail: str) -> None:
        """One rejection: its reason counted, its line kept among the reason's first, and its
        message if it is the reason's first. Records come in line order."""
        report = self.report
        report.rejected[reason] += 1
        if line <= 0:
            line = 0
        elif line != self.last_rejected:
            self.last_rejected = line
            report.lines_rejected += 1
        example = report.examples.setdefault(reason, Example())
        if not example.message:
            example.line, example.message = line, cut(plain(detail[: 2 * _MESSAGE_CHARS]))
        if line and len(example.lines) < _LINES_SHOWN and line not in example.lines:
            example.lines.append(line)

    def evaluate(self, now: float) -> None:
        """Evaluate the rules at ``now`` (the monitor is there), once the records taken so
        far and what the adapters assumed by then (a wrap-up ending) are applied; count the
        episodes that start."""
        self._feed()
        parts, report = self.parts, self.report
        for adapter in parts.adapters.values():
            try:
                flushed = records.flushed(adapter, now, self.topic)
            except Exception as exc:  # a wrap-up a record made end out of range
                self._reject(exc, 0)
                continue
            self._process(flushed, translated=True)
        for n in parts.evaluate(now):
            labels: Labels = tuple(sorted(n.labels.items()))
            if n.ends_at > now:
                if labels not in self.firing:
                    self.firing.add(labels)
                    report.episodes[labels] += 1
            else:
                self.firing.discard(labels)
        if self.observe is not None:
            self.observe(now, parts)

    def finish(self) -> ReplayReport:
        """The last evaluation, at the newest event, and the report."""
        monitor, report = self.parts.monitor, self.report
        self._feed()
        if report.first is not None:
            self.evaluate(monitor.now)
        report.applied = sum(monitor.stats.events_by_type.values())
        if report.applied:
            report.last = monitor.latest_event_time
        report.queues = monitor.queues.run_kpis()
        report.trunks = monitor.trunks.run_kpis()
        report.ivr = monitor.ivr.run_kpis()
        config = monitor.config
        report.thresholds = {
            key: config.service_level_overrides.get(key[1], config.service_level).threshold
            for key in report.queues
        }
        queues = (queue for _, queue in report.queues)
        report.hints = hints.names(queues, report.raw_agent, self.format)
        for adapter in self.parts.adapters.values():
            report.ignored.update(adapter.ignored)
            report.hints.extend(hints.from_adapter(adapter))
        return report


def cut(text: str) -> str:
    """``text`` cut to what a message may show."""
    return text if len(text) <= _MESSAGE_CHARS else text[: _MESSAGE_CHARS - 3] + "..."


def _show(labels: dict[str, str]) -> str:
    shown = {k: v for k, v in labels.items() if k not in {"alertname", "severity"}}
    return "{" + ", ".join(f"{k}={v}" for k, v in sorted(shown.items())) + "}" if shown else ""

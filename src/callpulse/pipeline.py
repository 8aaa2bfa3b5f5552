"""The pipeline, built in one place: decode (Ingest) -> monitor -> alert rules and sinks.

Its verbs are the only way records and time go in: :meth:`Pipeline.feed` applies records as
a source gives them (raw bytes, with their coordinates), :meth:`Pipeline.evaluate` runs the
rules, :meth:`Pipeline.flush` applies what adapters assumed by a time. Each takes ``now``, and
the :class:`~callpulse.core.clock.Clock` chosen at :func:`build` says what it means. The
daemon's consumer, ``callpulse rules test``, ``replay --report``, the scenario runner and the
benchmarks are each a short loop over them, so what a rule test or a report proves is what the
daemon does, with the same limits, and a new part of the pipeline is wired here once.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass

from callpulse.adapters import records
from callpulse.alerting import Alerting
from callpulse.alerting.sinks import build_sinks
from callpulse.config import Settings
from callpulse.config.address import external_url
from callpulse.config.convert import maintenance_policy, monitor_config
from callpulse.config.rules import compile_config
from callpulse.core.alert_state import Notification
from callpulse.core.clock import Clock
from callpulse.core.consumer_health import Blindness
from callpulse.core.ingest import Ingest, RawRecord, Rejection
from callpulse.core.monitor import Monitor
from callpulse.core.queues import QueueView
from callpulse.core.rules import Rule
from callpulse.core.steps import Steps, finish
from callpulse.protocols import Adapter


@dataclass(frozen=True)
class Pipeline:
    """The parts that turn records into KPIs and alerts."""

    monitor: Monitor
    ingest: Ingest
    alerting: Alerting
    adapters: dict[str, Adapter]  # by topic (or replayed file), where it is not events v1
    clock: Clock

    def feed(
        self,
        batch: Iterable[RawRecord],
        now: float,
        *,
        translated: bool = False,
        rejected: list[Rejection] | None = None,
    ) -> list[Rejection]:
        """Apply ``batch`` at ``now``; return the rejected records, in order.

        ``translated``: events v1 already, though their topic has an adapter (what
        :meth:`flush` hands on, or a report's events held back from their record).
        ``rejected``: the list to add them to (:meth:`Ingest.process`)."""
        self.clock.feed(self.monitor, now)
        return self.ingest.process(batch, translated=translated, rejected=rejected)

    def evaluate(self, now: float, views: list[QueueView] | None = None) -> list[Notification]:
        """Evaluate every rule at ``now``; return the notifications queued for the sinks.

        ``views``: every queue's view, read in slices just before (see
        :meth:`Monitor.keep_queue_views <callpulse.core.monitor.Monitor.keep_queue_views>`);
        by default the queues are read now, at once."""
        return finish(self.evaluate_in_steps(now, views))

    def evaluate_in_steps(
        self, now: float, views: list[QueueView] | None = None
    ) -> Steps[list[Notification]]:
        """:meth:`evaluate`, yielding between its pieces (see
        :meth:`Alerting.evaluate_in_steps
        <callpulse.alerting.tick.Alerting.evaluate_in_steps>`)."""
        self.clock.evaluate(self.monitor, now)
        if views is not None:
            self.monitor.keep_queue_views(views)
        return (yield from self.alerting.evaluate_in_steps())

    def flush(self, now: float) -> list[Rejection]:
        """Time passes to ``now`` with no record: the windows age, and what the adapters
        have due by the monitor's time with no record saying so (an assumed wrap-up ending
        on a quiet log) is applied, for the sites of the partitions fed so far (after a
        revoke, another replica owns the rest)."""
        self.clock.feed(self.monitor, now)
        if not self.adapters:
            return []
        now = self.monitor.now  # on event time, the adapters' clock is the records'
        owned = {
            (topic, site): partition
            for (topic, partition), sites in self.ingest.sites_by_partition.items()
            for site in sites
        }
        due = []
        for topic, adapter in self.adapters.items():
            for record in records.flushed(adapter, now, topic):
                partition = owned.get((topic, (record.key or b"").decode()))
                if partition is not None:
                    due.append(dataclasses.replace(record, partition=partition))
        return self.feed(due, now, translated=True) if due else []


Observer = Callable[[float, Pipeline], None]
"""Told of each evaluation a caller makes: its time, and the pipeline just after it (what a
test reads the KPIs and the alerts of)."""


def build(
    settings: Settings,
    *,
    rules: Sequence[Rule] | None = None,
    now: float,
    clock: Clock,
    deliver: bool = True,
    hold: Callable[[], bool] = lambda: False,
    blind: Callable[[], Blindness | None] = lambda: None,
    web_tls: bool = False,
) -> Pipeline:
    """Build the pipeline ``settings`` describe, its clock at ``now``.

    ``clock``: whose time windows end at, and what bounds an event's (see
    :mod:`callpulse.core.clock`). ``deliver`` False: no sink, no state file
    (a scenario check evaluates the rules but pages nobody). ``hold``, ``blind``: see
    :class:`Alerting`. ``web_tls``: the HTTP server serves HTTPS (the scheme of the
    ``external_url`` alerts link to, when the settings name none).
    ``rules``: the ones compiled when ``settings`` were loaded (:class:`LoadedConfig`);
    None compiles the settings' own now (a ConfigError as a load would raise it).
    """
    if rules is None:
        rules = compile_config(settings).rules
    monitor = Monitor(monitor_config(settings, event_time_clock=clock.event_time), now=now)
    ingest = Ingest(monitor, max_record_bytes=settings.source.kafka.max_record_bytes)
    adapters = _adapters(settings)
    for topic, adapter in adapters.items():
        ingest.translators[topic] = records.translator(adapter)
        ingest.invalid.setdefault(f"invalid_{adapter.format}", 0)
    alerting_settings = settings.alerting
    if alerting_settings.external_url is None:
        http = settings.http
        alerting_settings = alerting_settings.model_copy(
            update={"external_url": external_url(http.host, http.port, web_tls)}
        )
    if not deliver:
        alerting_settings = alerting_settings.model_copy(
            update={"log": False, "state_file": None, "alertmanagers": [], "webhooks": []}
        )
    alerting = Alerting(
        alerting_settings,
        list(rules),
        monitor,
        paging=maintenance_policy(settings.maintenance.backlog).paging,
        hold=hold,
        blind=blind,
        sinks=build_sinks(alerting_settings, lambda: monitor.now, event_time=clock.event_time),
    )
    return Pipeline(monitor, ingest, alerting, adapters, clock)


def _adapters(settings: Settings) -> dict[str, Adapter]:
    """The adapters of the topics (or the replayed file) that do not carry events v1."""
    source = settings.source
    formats = (
        {str(source.replay.path): source.replay.format}
        if source.kind == "replay"
        else source.kafka.formats
        if source.kind == "kafka"
        else {}
    )
    built = {topic: records.build(f) for topic, f in formats.items()}
    return {topic: adapter for topic, adapter in built.items() if adapter is not None}

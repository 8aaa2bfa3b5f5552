"""Prometheus exposition: a custom collector that reads the monitor at scrape time.

Nothing on the event path touches a prometheus_client object; every family here is built
when Prometheus asks (docs/metrics.md): the KPI families from :mod:`callpulse.core.catalog`, the
daemon's own from plain counters.
"""

from __future__ import annotations

import time
import weakref
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import ClassVar, TypeVar

from prometheus_client import CollectorRegistry
from prometheus_client.core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    InfoMetricFamily,
    Metric,
)
from prometheus_client.platform_collector import PlatformCollector
from prometheus_client.process_collector import ProcessCollector
from prometheus_client.registry import Collector

from callpulse.build import build_labels
from callpulse.core import readings
from callpulse.core.alert_state import Alert
from callpulse.core.consumer_health import STATUSES as CONSUMER_STATUSES
from callpulse.core.events import EVENT_TYPES
from callpulse.core.ingest import Ingest
from callpulse.protocols import Adapter, DeadLetterStats
from callpulse.web.textformat import RowFamily, lines_welcome

F = TypeVar("F", CounterMetricFamily, GaugeMetricFamily)


class SourceMetrics:
    """What a source reports about itself at scrape time."""

    def __init__(
        self,
        lag: Callable[[], Mapping[tuple[str, int], int]],
        dead_letters: DeadLetterStats,
        health: Callable[[], Mapping[tuple[str, int], str]] = dict,
    ) -> None:
        self.lag = lag
        self.dead_letters = dead_letters
        self.health = health


class AlertMetrics:
    """What the alerting side reports at scrape time."""

    def __init__(
        self,
        alerts: Callable[[], Iterable[Alert]],
        deliveries: Callable[[], Mapping[str, Mapping[str, int]]],
        suppressed: Callable[[], Mapping[tuple[str, str], int]] = dict,
        suppressed_by: Callable[[Alert], str | None] = lambda alert: None,
    ) -> None:
        """``suppressed_by``: the maintenance window withholding an alert from the sinks."""
        self.alerts = alerts
        self.deliveries = deliveries
        self.suppressed = suppressed
        self.suppressed_by = suppressed_by


NO_ALERTS = AlertMetrics(alerts=list, deliveries=dict)


class CallpulseCollector(Collector):
    """Builds every callpulse_* family from the monitor and the ingest counters."""

    def __init__(
        self,
        ingest: Ingest,
        source: SourceMetrics,
        ready: Callable[[], bool],
        wall_clock: Callable[[], float] = time.time,
        alerting: AlertMetrics = NO_ALERTS,
        reloads: Callable[[], Mapping[str, int]] = dict,
        ignored: Callable[[], Mapping[tuple[str, str], int]] = dict,
        caps: Callable[[], Mapping[str, float]] = dict,
    ) -> None:
        """``caps``: the fill (0..1) of caps kept outside the monitor (an adapter's state),
        by name, shown beside the monitor's own in ``callpulse_cap_fill_ratio``."""
        self._reloads = reloads
        self._ignored = ignored
        self._caps = caps
        self._ingest = ingest
        self._source = source
        self._alerting = alerting
        self._ready = ready
        self._wall_clock = wall_clock
        self.last_collect_seconds = 0.0

    def describe(self) -> Iterable[Metric]:
        # Families depend on what arrived; an empty description keeps registration cheap.
        return []

    def collect(self) -> Iterable[Metric]:
        started = time.perf_counter()
        yield from self._kpis()
        yield from self._alerts()
        yield from self._daemon()
        self.last_collect_seconds = time.perf_counter() - started
        scrape = GaugeMetricFamily(
            "callpulse_collect_duration_seconds",
            "Time spent computing the callpulse_* families for this scrape.",
        )
        scrape.add_metric([], self.last_collect_seconds)
        yield scrape

    def _kpis(self) -> Iterable[Metric]:
        # For the project's writers, each sample's line is written as its value is read.
        lines = lines_welcome()
        for family in readings.collect(self._ingest.monitor, lines=lines):
            spec = family.family
            # The writer drops each family once written: its lines go with it.
            text = family.lines if lines else None
            yield RowFamily(spec.name, spec.help, spec.kind, spec.labels, family.samples, text)

    def _alerts(self) -> Iterable[Metric]:
        # Like Prometheus' ALERTS: one series per pending or firing alert, with its labels;
        # one a window suppresses carries suppressed_by (its name), as Alertmanager reports
        # such an alert suppressed, so `suppressed_by=""` selects the ones that notify.
        alerts = Metric(
            "callpulse_alerts",
            "Pending and firing alerts, like Prometheus' ALERTS; suppressed_by names the "
            "maintenance window withholding one from the sinks.",
            "gauge",
        )
        for alert in self._alerting.alerts():
            if alert.state in ("pending", "firing"):
                labels = alert.label_dict() | {"alertstate": alert.state}
                window = self._alerting.suppressed_by(alert)
                if window is not None:
                    labels["suppressed_by"] = window
                alerts.add_sample("callpulse_alerts", labels, 1.0)
        yield alerts
        deliveries = sorted(self._alerting.deliveries().items())
        notifications = CounterMetricFamily(
            "callpulse_alert_notifications",
            "Alert notifications by sink and result (sent, failed and retried, dropped).",
            labels=["sink", "result"],
        )
        yield _rows(notifications, (((s, r), n) for s, rs in deliveries for r, n in rs.items()))
        suppressed = CounterMetricFamily(
            "callpulse_alerts_suppressed",
            "Alerts a maintenance window explained, withheld from the sinks (once per alert).",
            labels=["alertname", "maintenance"],
        )
        yield _rows(suppressed, sorted(self._alerting.suppressed().items()))

    def _daemon(self) -> Iterable[Metric]:
        monitor = self._ingest.monitor
        stats = monitor.stats

        info = InfoMetricFamily(
            "callpulse_build", "callpulse's version, the commit it was built from, and Python's."
        )
        info.add_metric([], build_labels())
        yield info

        ready = GaugeMetricFamily("callpulse_ready", "1 when /readyz answers ready.")
        ready.add_metric([], 1.0 if self._ready() else 0.0)
        yield ready

        yield _counter(
            "callpulse_events",
            "Valid events applied, by type (duplicates excluded).",
            "type",
            {t: stats.events_by_type.get(t, 0) for t in EVENT_TYPES},
        )
        yield _counter(
            "callpulse_events_invalid",
            "Records rejected, by reason; each is sent to the dead-letter topic.",
            "reason",
            self._ingest.invalid,
        )
        yield _counter(
            "callpulse_processing_errors",
            "Records that made callpulse raise (a defect, or a record built to break it), by "
            "the stage that raised; each is a processing_error dead letter.",
            "stage",
            self._ingest.errors,
        )

        yield CounterMetricFamily(
            "callpulse_events_duplicate",
            "Events whose event_id was already applied.",
            value=stats.duplicates,
        )
        yield CounterMetricFamily(
            "callpulse_events_replayed",
            "Events re-read to rebuild state after a restart or rebalance.",
            value=stats.replayed,
        )
        yield CounterMetricFamily(
            "callpulse_events_late",
            "Valid events older than the longest window: in the totals, in no window.",
            value=stats.late,
        )
        yield CounterMetricFamily(
            "callpulse_dead_letter_records",
            "Rejected records written to the dead-letter topic.",
            value=self._source.dead_letters.written,
        )
        yield CounterMetricFamily(
            "callpulse_dead_letter_failures",
            "Rejected records the dead-letter topic refused for good (logged with coordinates).",
            value=self._source.dead_letters.failed,
        )

        yield _counter(
            "callpulse_config_reload",
            "Reloads of rules and maintenance windows (SIGHUP or a changed file), by result.",
            "result",
            dict(sorted(self._reloads().items())),
        )
        yield _counter(
            "callpulse_label_values_overflow",
            "Events whose label value was past its cap and folded into _overflow.",
            "label",
            monitor.guard.overflow,
        )
        ignored = CounterMetricFamily(
            "callpulse_adapter_events_ignored",
            "Well-formed platform records of a kind events v1 has no use for, skipped.",
            labels=["format", "kind"],
        )
        yield _rows(ignored, sorted(self._ignored().items()))
        yield CounterMetricFamily(
            "callpulse_label_values_released",
            "Label values forgotten and given back to their cap: queues, IVR applications and "
            "backends aged out of every window; sites, trunks and components idle past every "
            "window whose place a new value needed.",
            value=stats.released,
        )
        fill = GaugeMetricFamily(
            "callpulse_cap_fill_ratio",
            "Share of each cap in use (0..1); at 1, new values are folded into _overflow, "
            "forgotten early or refused.",
            labels=["cap"],
        )
        caps = monitor.cap_fill() | dict(self._caps())
        yield _rows(fill, (((cap,), ratio) for cap, ratio in sorted(caps.items())))

        lag = GaugeMetricFamily(
            "callpulse_consumer_lag_records",
            "Records in the partition not yet fetched (high watermark - position).",
            labels=["topic", "partition"],
        )
        lags = sorted(self._source.lag().items())
        yield _rows(lag, (((topic, str(p)), records) for (topic, p), records in lags))

        status = GaugeMetricFamily(
            "callpulse_consumer_status",
            "1 for each partition's consumer verdict (ok, slow, stalled, unknown), 0 for others.",
            labels=["topic", "partition", "status"],
        )
        for (topic, partition), verdict in sorted(self._source.health().items()):
            for name in CONSUMER_STATUSES:
                status.add_metric([topic, str(partition), name], 1.0 if verdict == name else 0.0)
        yield status

        event_lag = GaugeMetricFamily(
            "callpulse_event_time_lag_seconds",
            "Wall clock minus the newest occurred_at applied.",
        )
        if monitor.latest_event_time:
            event_lag.add_metric([], max(0.0, self._wall_clock() - monitor.latest_event_time))
        yield event_lag

        # A timestamp, not an age, as exporters give them: time() - it is each site's data
        # freshness, and it does not go stale between scrapes.
        last = GaugeMetricFamily(
            "callpulse_site_last_event_timestamp_seconds",
            "The newest occurred_at applied for each site (Unix seconds).",
            labels=["site"],
        )
        yield _rows(last, (((site,), at) for site, at in sorted(monitor.site_last_event.items())))


def _counter(
    name: str, documentation: str, label: str, counts: Mapping[str, int]
) -> CounterMetricFamily:
    """A counter family with one label, a series per value of ``counts``."""
    family = CounterMetricFamily(name, documentation, labels=[label])
    return _rows(family, (((value,), count) for value, count in counts.items()))


def _rows(family: F, rows: Iterable[tuple[Sequence[str], float]]) -> F:
    """``family`` with a sample per row of ``rows``: its label values, then its value."""
    for labels, value in rows:
        family.add_metric(labels, value)
    return family


def adapter_fill(adapters: Iterable[Adapter]) -> dict[str, float]:
    """The adapters' caps as ``<format>_<cap>``: the fullest where topics share a format."""
    fill: dict[str, float] = {}
    for adapter in adapters:
        for cap, ratio in adapter.fill().items():
            name = f"{adapter.format.replace('-', '_')}_{cap}"
            fill[name] = max(ratio, fill.get(name, 0.0))
    return fill


def ignored_by_format(adapters: Iterable[Adapter]) -> dict[tuple[str, str], int]:
    """The adapters' skipped records, by (format, kind)."""
    counts: dict[tuple[str, str], int] = {}
    for adapter in adapters:
        for kind, count in adapter.ignored.items():
            key = (adapter.format, kind)
            counts[key] = counts.get(key, 0) + count
    return counts


class FrozenInParent(Collector):
    """A collector whose families can be collected ahead of time: the ``process_*`` families
    of a scrape rendered in a forked child (``callpulse.web.forked``) must describe the
    parent (its memory, CPU, file descriptors), so they are collected just before the fork."""

    _all: ClassVar[weakref.WeakSet[FrozenInParent]] = weakref.WeakSet()

    def __init__(self, inner: Collector) -> None:
        self._inner = inner
        self._frozen: list[Metric] | None = None
        FrozenInParent._all.add(self)

    @classmethod
    def freeze_all(cls) -> None:
        """Collect every such collector now; they answer with that until :meth:`thaw_all`."""
        for each in cls._all:
            each._frozen = list(each._inner.collect())

    @classmethod
    def thaw_all(cls) -> None:
        """Collect afresh on each call again."""
        for each in cls._all:
            each._frozen = None

    def collect(self) -> Iterable[Metric]:
        return self._frozen if self._frozen is not None else self._inner.collect()


def build_registry(collector: CallpulseCollector) -> CollectorRegistry:
    """A fresh registry with callpulse's families and the process's own."""
    registry = CollectorRegistry(auto_describe=True)
    registry.register(collector)
    registry.register(FrozenInParent(ProcessCollector(registry=None)))
    PlatformCollector(registry=registry)
    return registry

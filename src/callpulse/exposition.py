"""Prometheus exposition: a custom collector that reads the monitor at scrape time.

Nothing on the event path touches a prometheus_client object; every family here is built
from plain counters and the monitor's views when Prometheus asks (METRICS.md).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Mapping

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

from callpulse import __version__
from callpulse.core.events import AGENT_STATES, EVENT_TYPES
from callpulse.core.ingest import Ingest
from callpulse.core.monitor import QueueView

_Q = ["site", "queue"]
_QW = ["site", "queue", "window"]

# (metric name, help, attribute of WindowKpis) for the windowed queue gauges.
_WINDOWED = (
    ("callpulse_queue_offered_calls", "call.queued events in the window.", "offered"),
    ("callpulse_queue_answered_calls", "call.answered events in the window.", "answered"),
    (
        "callpulse_queue_abandoned_calls",
        "Calls abandoned after the short-abandon threshold, in the window.",
        "abandoned",
    ),
    (
        "callpulse_queue_service_level_ratio",
        "Answered within the threshold / (answered + abandoned after the short-abandon threshold).",
        "service_level",
    ),
    (
        "callpulse_queue_abandon_ratio",
        "Abandoned after the short-abandon threshold / (answered + abandoned after it).",
        "abandon_ratio",
    ),
    ("callpulse_queue_asa_seconds", "Mean queue wait of answered calls.", "asa_seconds"),
    (
        "callpulse_queue_aht_seconds",
        "Mean talk + hold + after-call work of completed calls.",
        "aht_seconds",
    ),
    (
        "callpulse_queue_occupancy_ratio",
        "Agents' handle time / (handle time + available time).",
        "occupancy",
    ),
)

_TOTALS = (
    ("callpulse_queue_calls_offered", "call.queued events, cumulative.", "offered"),
    ("callpulse_queue_calls_answered", "call.answered events, cumulative.", "answered"),
    (
        "callpulse_queue_calls_abandoned",
        "Calls abandoned after the short-abandon threshold, cumulative.",
        "abandoned",
    ),
    (
        "callpulse_queue_calls_answered_within_threshold",
        "Calls answered within the service level threshold, cumulative.",
        "answered_within_threshold",
    ),
)


class SourceMetrics:
    """What a source reports about itself at scrape time."""

    def __init__(
        self,
        lag: Callable[[], Mapping[tuple[str, int], int]],
        dead_lettered: Callable[[], int],
    ) -> None:
        self.lag = lag
        self.dead_lettered = dead_lettered


class CallpulseCollector(Collector):
    """Builds every callpulse_* family from the monitor and the ingest counters."""

    def __init__(
        self,
        ingest: Ingest,
        source: SourceMetrics,
        ready: Callable[[], bool],
        wall_clock: Callable[[], float] = time.time,
    ) -> None:
        self._ingest = ingest
        self._source = source
        self._ready = ready
        self._wall_clock = wall_clock
        self.last_collect_seconds = 0.0

    def describe(self) -> Iterable[Metric]:
        # Families depend on what arrived; an empty description keeps registration cheap.
        return []

    def collect(self) -> Iterable[Metric]:
        started = time.perf_counter()
        yield from self._queue_families(self._ingest.monitor.queue_views())
        yield from self._daemon_families()
        self.last_collect_seconds = time.perf_counter() - started
        scrape = GaugeMetricFamily(
            "callpulse_collect_duration_seconds",
            "Time spent computing the callpulse_* families for the previous scrape.",
        )
        scrape.add_metric([], self.last_collect_seconds)
        yield scrape

    def _queue_families(self, views: list[QueueView]) -> Iterable[Metric]:
        waiting = GaugeMetricFamily(
            "callpulse_queue_calls_waiting", "Calls waiting in the queue now.", labels=_Q
        )
        oldest = GaugeMetricFamily(
            "callpulse_queue_oldest_wait_seconds",
            "Age of the oldest waiting call now (0 when none).",
            labels=_Q,
        )
        agents = GaugeMetricFamily(
            "callpulse_queue_agents",
            "Agents serving the queue, by state.",
            labels=["site", "queue", "state"],
        )
        windowed = [GaugeMetricFamily(name, doc, labels=_QW) for name, doc, _ in _WINDOWED]
        totals = [CounterMetricFamily(name, doc, labels=_Q) for name, doc, _ in _TOTALS]
        for view in views:
            labels = [view.site, view.queue]
            waiting.add_metric(labels, view.calls_waiting)
            oldest.add_metric(labels, view.oldest_wait_seconds)
            for state in AGENT_STATES:
                agents.add_metric([*labels, state], view.agents[state])
            for total, (_, _, key) in zip(totals, _TOTALS, strict=True):
                total.add_metric(labels, view.totals[key])
            for kpis in view.windows:
                window_labels = [*labels, kpis.window]
                for family, (_, _, attr) in zip(windowed, _WINDOWED, strict=True):
                    value = getattr(kpis, attr)
                    if value is not None:  # zero denominator: no series (METRICS.md)
                        family.add_metric(window_labels, value)
        yield waiting
        yield oldest
        yield agents
        yield from windowed
        yield from totals

    def _daemon_families(self) -> Iterable[Metric]:
        monitor = self._ingest.monitor
        stats = monitor.stats

        info = InfoMetricFamily("callpulse_build", "callpulse's version.")
        info.add_metric([], {"version": __version__})
        yield info

        ready = GaugeMetricFamily("callpulse_ready", "1 when /readyz answers ready.")
        ready.add_metric([], 1.0 if self._ready() else 0.0)
        yield ready

        by_type = CounterMetricFamily(
            "callpulse_events",
            "Valid events applied, by type (duplicates excluded).",
            labels=["type"],
        )
        for event_type in EVENT_TYPES:
            by_type.add_metric([event_type], stats.events_by_type.get(event_type, 0))
        yield by_type

        invalid = CounterMetricFamily(
            "callpulse_events_invalid",
            "Records rejected, by reason; each is sent to the dead-letter topic.",
            labels=["reason"],
        )
        for reason, count in self._ingest.invalid.items():
            invalid.add_metric([reason], count)
        yield invalid

        yield CounterMetricFamily(
            "callpulse_events_duplicate",
            "Events whose event_id was already applied within the longest window.",
            value=stats.duplicates,
        )
        yield CounterMetricFamily(
            "callpulse_events_late",
            "Valid events older than the longest window: in the totals, in no window.",
            value=stats.late,
        )
        yield CounterMetricFamily(
            "callpulse_dead_letter_records",
            "Rejected records written to the dead-letter topic.",
            value=self._source.dead_lettered(),
        )

        lag = GaugeMetricFamily(
            "callpulse_consumer_lag_records",
            "Records in the partition not yet fetched (high watermark - position).",
            labels=["topic", "partition"],
        )
        for (topic, partition), records in sorted(self._source.lag().items()):
            lag.add_metric([topic, str(partition)], records)
        yield lag

        latest = monitor.latest_event_time
        if latest:
            event_lag = GaugeMetricFamily(
                "callpulse_event_time_lag_seconds",
                "Wall clock minus the newest occurred_at applied.",
            )
            event_lag.add_metric([], max(0.0, self._wall_clock() - latest))
            yield event_lag


def build_registry(collector: CallpulseCollector) -> CollectorRegistry:
    """A fresh registry with callpulse's families and the process's own."""
    registry = CollectorRegistry(auto_describe=True)
    registry.register(collector)
    ProcessCollector(registry=registry)
    PlatformCollector(registry=registry)
    return registry

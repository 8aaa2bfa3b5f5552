"""Prometheus exposition: a custom collector that reads the monitor at scrape time.

Nothing on the event path touches a prometheus_client object; every family here is built
from the monitor's views and plain counters when Prometheus asks (METRICS.md). Windowed
families are declared in tables below, one row per metric, so a new KPI is one line.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

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
from callpulse.core.components import STATUSES
from callpulse.core.events import AGENT_STATES, EVENT_TYPES
from callpulse.core.ingest import Ingest
from callpulse.core.ivr import OUTCOMES
from callpulse.core.trunks import CODE_CLASSES
from callpulse.sources.base import DeadLetterStats

# (metric name, help, attribute of the window dataclass). A None value is no series.
Row = tuple[str, str, str]

QUEUE_WINDOWED: tuple[Row, ...] = (
    ("callpulse_queue_offered_calls", "call.queued events in the window.", "offered"),
    ("callpulse_queue_answered_calls", "call.answered events in the window.", "answered"),
    ("callpulse_queue_abandoned_calls", "Calls abandoned after S, in the window.", "abandoned"),
    (
        "callpulse_queue_service_level_ratio",
        "Answered within T / (answered + abandoned after S).",
        "service_level",
    ),
    (
        "callpulse_queue_abandon_ratio",
        "Abandoned after S / (answered + abandoned after S).",
        "abandon_ratio",
    ),
    ("callpulse_queue_asa_seconds", "Mean queue wait of answered calls.", "asa_seconds"),
    ("callpulse_queue_aht_seconds", "Mean talk + hold + acw of completed calls.", "aht_seconds"),
    (
        "callpulse_queue_occupancy_ratio",
        "Agents' handle time / (handle time + available time).",
        "occupancy",
    ),
)
QUEUE_INSTANT: tuple[Row, ...] = (
    ("callpulse_queue_calls_waiting", "Calls waiting in the queue now.", "calls_waiting"),
    (
        "callpulse_queue_oldest_wait_seconds",
        "Age of the oldest waiting call now (0 when none).",
        "oldest_wait_seconds",
    ),
    (
        "callpulse_queue_predicted_service_level_ratio",
        "Erlang C service level at the current arrival rate, AHT and agents (N > A only).",
        "predicted_service_level",
    ),
    (
        "callpulse_queue_agents_required",
        "Erlang C agents needed for the target service level at the current load.",
        "agents_required",
    ),
    (
        "callpulse_queue_drain_eta_seconds",
        "Time to work off the waiting calls at current staffing; +Inf when it cannot drain.",
        "drain_eta_seconds",
    ),
)
QUEUE_TOTALS: tuple[Row, ...] = (
    ("callpulse_queue_calls_offered", "call.queued events, cumulative.", "offered"),
    ("callpulse_queue_calls_answered", "call.answered events, cumulative.", "answered"),
    ("callpulse_queue_calls_abandoned", "Calls abandoned after S, cumulative.", "abandoned"),
    (
        "callpulse_queue_calls_answered_within_threshold",
        "Calls answered within T, cumulative.",
        "answered_within_threshold",
    ),
)
IVR_WINDOWED: tuple[Row, ...] = (
    ("callpulse_ivr_sessions_started", "IVR sessions started in the window.", "started"),
    ("callpulse_ivr_sessions_ended", "IVR sessions ended in the window.", "ended"),
    ("callpulse_ivr_containment_ratio", "Sessions contained / ended.", "containment"),
    ("callpulse_ivr_transfer_ratio", "Sessions transferred to an agent / ended.", "transfer"),
    ("callpulse_ivr_hangup_ratio", "Sessions the caller hung up / ended.", "hangup"),
    (
        "callpulse_ivr_no_input_per_session",
        "No-input errors per ended session.",
        "no_input_per_session",
    ),
    (
        "callpulse_ivr_no_match_per_session",
        "No-match errors per ended session.",
        "no_match_per_session",
    ),
    (
        "callpulse_ivr_backend_errors_per_session",
        "Backend errors per ended session.",
        "backend_errors_per_session",
    ),
)
IVR_INSTANT: tuple[Row, ...] = (
    ("callpulse_ivr_ports_in_use", "IVR ports in use (last ivr.ports).", "ports_in_use"),
    ("callpulse_ivr_ports", "IVR ports in all (last ivr.ports).", "ports_total"),
)
TRUNK_WINDOWED: tuple[Row, ...] = (
    ("callpulse_trunk_call_setups", "call.setup final responses in the window.", "setups"),
    ("callpulse_trunk_asr_ratio", "Answer-seizure ratio: 2xx / setups.", "asr"),
    ("callpulse_trunk_ser_ratio", "RFC 6076 SER: 2xx / (setups - 3xx).", "ser"),
    (
        "callpulse_trunk_ner_ratio",
        "RFC 6076 SEER: (2xx + 480, 486, 600, 603) / (setups - 3xx).",
        "ner",
    ),
    (
        "callpulse_trunk_post_dial_delay_p50_seconds",
        "Median post-dial delay (within 2 %).",
        "post_dial_delay_p50",
    ),
    (
        "callpulse_trunk_post_dial_delay_p95_seconds",
        "95th percentile post-dial delay (within 2 %).",
        "post_dial_delay_p95",
    ),
    ("callpulse_trunk_mos_mean", "Mean MOS of media.quality samples.", "mos_mean"),
    ("callpulse_trunk_mos_p5", "5th percentile MOS, the worst 5 % (within 0.005).", "mos_p5"),
    ("callpulse_trunk_jitter_mean_seconds", "Mean jitter.", "jitter_mean"),
    ("callpulse_trunk_jitter_p95_seconds", "95th percentile jitter (within 2 %).", "jitter_p95"),
    ("callpulse_trunk_packet_loss_mean_ratio", "Mean packet loss.", "packet_loss_mean"),
    (
        "callpulse_trunk_packet_loss_p95_ratio",
        "95th percentile packet loss (within 2 %).",
        "packet_loss_p95",
    ),
)


class SourceMetrics:
    """What a source reports about itself at scrape time."""

    def __init__(
        self,
        lag: Callable[[], Mapping[tuple[str, int], int]],
        dead_letters: DeadLetterStats,
    ) -> None:
        self.lag = lag
        self.dead_letters = dead_letters


def _windowed(
    rows: Sequence[Row], labels: list[str], items: Iterable[tuple[list[str], Iterable[Any]]]
) -> list[GaugeMetricFamily]:
    """One gauge family per row, a series per item and window where the value exists."""
    families = [GaugeMetricFamily(name, doc, labels=[*labels, "window"]) for name, doc, _ in rows]
    for values, windows in items:
        for w in windows:
            for family, (_, _, attr) in zip(families, rows, strict=True):
                value = getattr(w, attr)
                if value is not None:
                    family.add_metric([*values, w.window], value)
    return families


def _instant(
    rows: Sequence[Row], labels: list[str], items: Iterable[tuple[list[str], Any]]
) -> list[GaugeMetricFamily]:
    families = [GaugeMetricFamily(name, doc, labels=labels) for name, doc, _ in rows]
    for values, view in items:
        for family, (_, _, attr) in zip(families, rows, strict=True):
            value = getattr(view, attr)
            if value is not None:
                family.add_metric(values, value)
    return families


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
        yield from self._queues()
        yield from self._ivr()
        yield from self._trunks()
        yield from self._components()
        yield from self._daemon()
        self.last_collect_seconds = time.perf_counter() - started
        scrape = GaugeMetricFamily(
            "callpulse_collect_duration_seconds",
            "Time spent computing the callpulse_* families for this scrape.",
        )
        scrape.add_metric([], self.last_collect_seconds)
        yield scrape

    def _queues(self) -> Iterable[Metric]:
        views = self._ingest.monitor.queue_views()
        labels = ["site", "queue"]
        yield from _instant(QUEUE_INSTANT, labels, (([v.site, v.queue], v) for v in views))
        agents = GaugeMetricFamily(
            "callpulse_queue_agents",
            "Agents serving the queue, by state.",
            labels=[*labels, "state"],
        )
        totals = [CounterMetricFamily(name, doc, labels=labels) for name, doc, _ in QUEUE_TOTALS]
        for v in views:
            for state in AGENT_STATES:
                agents.add_metric([v.site, v.queue, state], v.agents[state])
            for family, (_, _, key) in zip(totals, QUEUE_TOTALS, strict=True):
                family.add_metric([v.site, v.queue], v.totals[key])
        yield agents
        yield from totals
        yield from _windowed(
            QUEUE_WINDOWED, labels, (([v.site, v.queue], v.windows) for v in views)
        )

    def _ivr(self) -> Iterable[Metric]:
        views = self._ingest.monitor.ivr_views()
        labels = ["site", "application"]
        yield from _windowed(
            IVR_WINDOWED, labels, (([v.site, v.application], v.windows) for v in views)
        )
        yield from _instant(IVR_INSTANT, labels, (([v.site, v.application], v) for v in views))
        utilization = GaugeMetricFamily(
            "callpulse_ivr_ports_utilization_ratio", "IVR ports in use / ports.", labels=labels
        )
        backend = GaugeMetricFamily(
            "callpulse_ivr_backend_errors",
            "ivr.backend_error events in the window, by failing backend.",
            labels=[*labels, "backend", "window"],
        )
        outcomes = CounterMetricFamily(
            "callpulse_ivr_sessions",
            "IVR sessions ended, by outcome, cumulative.",
            labels=[*labels, "outcome"],
        )
        for v in views:
            if v.ports_total:
                utilization.add_metric(
                    [v.site, v.application], (v.ports_in_use or 0) / v.ports_total
                )
            for w in v.windows:
                for name, count in w.backend_errors.items():
                    backend.add_metric([v.site, v.application, name, w.window], count)
            for outcome in OUTCOMES:
                outcomes.add_metric([v.site, v.application, outcome], v.outcomes_total[outcome])
        yield utilization
        yield backend
        yield outcomes

    def _trunks(self) -> Iterable[Metric]:
        views = self._ingest.monitor.trunk_views()
        labels = ["site", "trunk"]
        yield from _windowed(
            TRUNK_WINDOWED, labels, (([v.site, v.trunk], v.windows) for v in views)
        )
        up = GaugeMetricFamily("callpulse_trunk_up", "1 when the trunk is up.", labels=labels)
        in_use = GaugeMetricFamily(
            "callpulse_trunk_channels_in_use", "Channels in use (last trunk.status).", labels=labels
        )
        channels = GaugeMetricFamily(
            "callpulse_trunk_channels", "Channels in all (last trunk.status).", labels=labels
        )
        utilization = GaugeMetricFamily(
            "callpulse_trunk_utilization_ratio", "Channels in use / channels.", labels=labels
        )
        setups = CounterMetricFamily(
            "callpulse_trunk_setup_responses",
            "call.setup final responses by SIP class, cumulative.",
            labels=[*labels, "class"],
        )
        for v in views:
            values = [v.site, v.trunk]
            if v.up is not None:
                up.add_metric(values, 1.0 if v.up else 0.0)
            if v.channels_total:
                in_use.add_metric(values, v.channels_in_use or 0)
                channels.add_metric(values, v.channels_total)
                utilization.add_metric(values, (v.channels_in_use or 0) / v.channels_total)
            for code_class in CODE_CLASSES:
                setups.add_metric([*values, code_class], v.setups_total[code_class])
        yield from (up, in_use, channels, utilization, setups)

    def _components(self) -> Iterable[Metric]:
        labels = ["site", "component", "kind"]
        status = GaugeMetricFamily(
            "callpulse_component_status",
            "1 for the component's effective status (down when stale), 0 for the others.",
            labels=[*labels, "status"],
        )
        age = GaugeMetricFamily(
            "callpulse_component_heartbeat_age_seconds",
            "Time since the component's last component.health event.",
            labels=labels,
        )
        stale = GaugeMetricFamily(
            "callpulse_component_stale",
            "1 when the component has been silent longer than component_stale_after.",
            labels=labels,
        )
        for v in self._ingest.monitor.component_views():
            values = [v.site, v.component, v.kind]
            for name in STATUSES:
                status.add_metric([*values, name], 1.0 if v.status == name else 0.0)
            age.add_metric(values, v.heartbeat_age_seconds)
            stale.add_metric(values, 1.0 if v.stale else 0.0)
        yield from (status, age, stale)

    def _daemon(self) -> Iterable[Metric]:
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
            "Events whose event_id was already applied.",
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
            value=self._source.dead_letters.written,
        )
        yield CounterMetricFamily(
            "callpulse_dead_letter_failures",
            "Rejected records the dead-letter topic refused for good (logged with coordinates).",
            value=self._source.dead_letters.failed,
        )

        overflow = CounterMetricFamily(
            "callpulse_label_values_overflow",
            "Events whose label value was past its cap and folded into _overflow.",
            labels=["label"],
        )
        for label, count in monitor.guard.overflow.items():
            overflow.add_metric([label], count)
        yield overflow

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

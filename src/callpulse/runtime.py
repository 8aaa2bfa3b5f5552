"""The composition root: :func:`compose` wires callpulse from settings and a source, and
does nothing else: no task is started, no socket opened. What it returns, a :class:`Runtime`,
holds the services with a life (the consumer, the HTTP server, alerting, the status sampler,
the config watcher) that :class:`callpulse.app.App` starts, runs and stops.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path

from prometheus_client import CollectorRegistry

from callpulse import pipeline
from callpulse.adapters import records
from callpulse.alerting import Alerting
from callpulse.config import LoadedConfig, Settings
from callpulse.config.convert import http_limits, monitor_config
from callpulse.consumer import Consumer
from callpulse.core.alert_changelog import Rows
from callpulse.protocols import (
    CanGoBlind,
    DeadLettering,
    DeadLetterStats,
    Lagging,
    Partitioned,
    Source,
)
from callpulse.reload import Reloader
from callpulse.sinks.silence_metrics import SilenceCollector
from callpulse.sinks.silence_reader import SilenceReader
from callpulse.web.exposition import (
    AlertMetrics,
    CallpulseCollector,
    SourceMetrics,
    adapter_fill,
    build_registry,
    ignored_by_format,
)
from callpulse.web.forked import ForkedRenderer
from callpulse.web.page_context import PageContext, links, silence_reader, source_status
from callpulse.web.routes import routes
from callpulse.web.sampler import StatusSampler
from callpulse.web.server import HttpServer
from callpulse.web.status import StatusBoard
from callpulse.web.webconfig import WebConfig, load_web_config


@dataclass
class Runtime:
    """Everything one daemon is made of, wired."""

    config: LoadedConfig  # as loaded at start-up (a reload changes the settings' reloadable keys)
    config_path: Path | None
    source: Source
    web: WebConfig
    pipeline: pipeline.Pipeline
    consumer: Consumer
    registry: CollectorRegistry
    renderer: ForkedRenderer
    status: StatusBoard
    sampler: StatusSampler
    silence_reader: SilenceReader | None
    reloader: Reloader
    http: HttpServer
    stopping: asyncio.Event  # set once a shutdown has begun

    @property
    def settings(self) -> Settings:
        """The running settings."""
        return self.config.settings

    def readiness(self) -> tuple[bool, str]:
        """Ready when the source delivers and no shutdown is under way."""
        return self.consumer.readiness()


def build_source(settings: Settings) -> Source:
    """The source ``settings.source.kind`` names."""
    kind = settings.source.kind
    if kind == "kafka":
        from callpulse.sources.kafka import KafkaSource

        # Re-read the longest window (and a bucket) of partitions new to this replica.
        rebuild = max(settings.kpi.windows) + settings.kpi.bucket
        return KafkaSource(settings.source.kafka, rebuild_seconds=rebuild)
    if kind == "replay":
        from callpulse.sources.replay import ReplaySource

        return ReplaySource(
            settings.source.replay,
            records.clock(settings.source.replay.format),
            settings.source.kafka.max_record_bytes,
        )
    from callpulse.sources.simulator import SimulatorSource

    return SimulatorSource(settings.source.simulator)


def compose(
    config: LoadedConfig,
    source: Source | None = None,
    config_path: Path | None = None,
    *,
    clock: Callable[[], float] = time.time,
) -> Runtime:
    """Wire the daemon ``config`` describes around ``source`` (by default the one it names).
    ``clock``: the wall clock the consumer feeds and ticks on (a test steps its own)."""
    settings = config.settings
    source = source or build_source(settings)
    web = load_web_config(settings.http.web_config_file)
    stopping = asyncio.Event()

    def holding() -> bool:  # the consumer, made next, knows what is owned
        return consumer.holding()

    parts = pipeline.build(
        _with_source(settings, source),
        rules=config.rules,
        now=clock(),
        clock=source.clock,
        hold=holding,
        blind=source.blindness if isinstance(source, CanGoBlind) else lambda: None,
        web_tls=web.ssl_context is not None,
    )
    consumer = Consumer(source, parts, stopping, tick_seconds=settings.kpi.tick, clock=clock)
    alerting = parts.alerting
    alerting.owned_sites = consumer.owned_sites
    _carry_alert_state(settings, source, consumer, alerting)
    reloader = Reloader(
        config_path,
        settings,
        alerting,
        parts.monitor,
        lambda new: monitor_config(
            _with_source(new, source), event_time_clock=source.clock.event_time
        ),
    )
    collector = CallpulseCollector(
        parts.ingest,
        _source_metrics(source),
        ready=lambda: consumer.readiness()[0],
        alerting=AlertMetrics(
            alerting.alerts,
            alerting.delivery_stats,
            lambda: alerting.suppressed,
            alerting.suppressed_by,
        ),
        reloads=lambda: reloader.counts,
        ignored=lambda: ignored_by_format(parts.adapters.values()),
        caps=lambda: adapter_fill(parts.adapters.values()) | http.fill(),
    )
    registry = build_registry(collector)
    if alerting.silences is not None:
        registry.register(SilenceCollector(alerting.silences.stats))
    renderer = ForkedRenderer(
        registry, timeout=settings.http.render_timeout, enabled=settings.http.render_in_child
    )
    reader = silence_reader(settings)
    status = StatusBoard(
        parts.monitor,
        alerting,
        PageContext(
            source=source_status(settings),
            links=links(settings),
            stale_after=settings.kpi.component_stale_after,
            partitions=lambda: parts.ingest.sites_by_partition,
            # Only partitions shared out among replicas are worth a place on the page.
            lag=source.lag if isinstance(source, Partitioned) else None,
            silences=reader,
        ),
    )
    http = HttpServer(
        settings.http.host,
        settings.http.port,
        routes(renderer, consumer.readiness, alerting, status),
        http_limits(settings.http),
        web,
    )
    sampler = StatusSampler(status, settings.alerting.evaluation_interval)
    return Runtime(
        config, config_path, source, web, parts, consumer, registry, renderer, status,
        sampler, reader, reloader, http, stopping,
    )  # fmt: skip


def _source_metrics(source: Source) -> SourceMetrics:
    """What ``source`` can report at scrape time: a capability it lacks reads as nothing."""
    return SourceMetrics(
        lag=source.lag if isinstance(source, Lagging) else dict,
        dead_letters=source.dead_letters
        if isinstance(source, DeadLettering)
        else DeadLetterStats(),
        health=source.health if isinstance(source, Partitioned) else dict,
    )


def _with_source(settings: Settings, source: Source) -> Settings:
    """``settings`` as the source completes them: the simulator's planned maintenance is in
    the calendar, as an operator would have entered it."""
    from callpulse.sources.simulator import SimulatorSource

    if isinstance(source, SimulatorSource):
        return source.with_planned_windows(settings)
    return settings


def _carry_alert_state(
    settings: Settings, source: Source, consumer: Consumer, alerting: Alerting
) -> None:
    """With an alert state topic, each site's alert state travels with its partition:
    written by its owner, adopted by the next before its rebuild."""
    if settings.source.kind != "kafka" or not settings.source.kafka.alert_state_topic:
        return
    from callpulse.sources.kafka import KafkaSource

    if not isinstance(source, KafkaSource):
        return
    kafka = source
    kafka.on_alert_state = alerting.adopt_sites

    def write(changes: Mapping[str, Rows | None]) -> None:
        where = consumer.site_partitions()
        kafka.write_alert_state(
            {site: (where[site], rows) for site, rows in changes.items() if site in where}
        )

    alerting.write_state = write

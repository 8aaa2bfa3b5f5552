"""The composition root: builds callpulse from settings and owns its lifecycle.

start-up: HTTP first (so /healthz answers and /readyz says why it is not ready), then the
source, retried with backoff while it is unreachable. Main loop: fetch a batch, decode and
apply it, dead-letter what was rejected, commit. A wall-clock tick ages the windows even when
no event arrives. Shutdown on SIGTERM or SIGINT: /readyz turns false, fetching stops, the
in-flight batch is finished and committed, connections close, exit 0 within
``shutdown_grace``; a second signal exits at once with status 1.
"""

from __future__ import annotations

import asyncio
import math
import signal
import time
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager, suppress
from pathlib import Path

import structlog

from callpulse import __version__, pipeline
from callpulse.adapters import records
from callpulse.config import Settings
from callpulse.config.reload import Reloader
from callpulse.core.alert_changelog import Rows
from callpulse.exposition import (
    AlertMetrics,
    CallpulseCollector,
    SourceMetrics,
    adapter_fill,
    build_registry,
    ignored_by_format,
)
from callpulse.rejections import RejectionLog
from callpulse.sinks.silence_metrics import SilenceCollector
from callpulse.sources.base import Batch, Source, SourceError, SourceRefusedError
from callpulse.web.address import listen_url
from callpulse.web.forked import ForkedRenderer
from callpulse.web.page_context import PageContext, links, silence_reader, source_status
from callpulse.web.routes import routes
from callpulse.web.server import HttpServer
from callpulse.web.status import StatusBoard
from callpulse.web.webconfig import load_web_config

log = structlog.get_logger("callpulse")

_RETRY_MIN, _RETRY_MAX = 0.5, 30.0
_FORCED_CLOSE_SECONDS = 1.0
_STATUS_SAMPLE_SECONDS = 5.0


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


class App:
    """One callpulse daemon."""

    def __init__(
        self, settings: Settings, source: Source | None = None, config_path: Path | None = None
    ) -> None:
        self.settings = settings
        self.config_path = config_path
        self.source = source or build_source(settings)
        self._web = load_web_config(settings.http.web_config_file)
        self._settled = False  # the source has been ready once: it owns what it has read
        parts = pipeline.build(
            self._with_source(settings),
            now=time.time(),
            clock=self.source.clock,
            hold=self._holding,
            blind=self.source.blindness,
            web_tls=self._web.ssl_context is not None,
        )
        self.pipeline = parts
        self.monitor, self.ingest, self.alerting = parts.monitor, parts.ingest, parts.alerting
        self.adapters = parts.adapters
        self.collector = CallpulseCollector(
            self.ingest,
            SourceMetrics(
                lag=self.source.lag,
                dead_letters=self.source.dead_letters,
                health=self.source.health,
            ),
            ready=lambda: self.readiness()[0],
            alerting=AlertMetrics(
                self.alerting.alerts,
                self.alerting.delivery_stats,
                lambda: self.alerting.suppressed,
                self.alerting.suppressed_by,
            ),
            reloads=lambda: self.reloader.counts,
            ignored=lambda: ignored_by_format(parts.adapters.values()),
            caps=lambda: adapter_fill(parts.adapters.values()) | self.http.fill(),
        )
        self.registry = build_registry(self.collector)
        if self.alerting.silences is not None:
            self.registry.register(SilenceCollector(self.alerting.silences.stats))
        self.renderer = ForkedRenderer(
            self.registry,
            timeout=settings.http.render_timeout,
            enabled=settings.http.render_in_child,
        )
        self.silence_reader = silence_reader(settings)
        kafka = self.source.name == "kafka"  # the others' "partitions" are not Kafka's
        self.status = StatusBoard(
            self.monitor,
            self.alerting,
            PageContext(
                source=source_status(settings),
                links=links(settings),
                stale_after=settings.kpi.component_stale_after,
                partitions=lambda: self.ingest.sites_by_partition,
                lag=self.source.lag if kafka else None,
                silences=self.silence_reader,
            ),
        )
        self._log_rejections = RejectionLog()
        self._status_sampled = -math.inf  # time.monotonic() of the last status sample
        self.source.on_revoke = self._on_revoke
        self.alerting.owned_sites = self._owned_sites
        self._carry_alert_state(settings)
        self.reloader = Reloader(
            config_path,
            settings,
            self.alerting,
            self.monitor,
            lambda new: self._with_source(new).monitor_config(
                event_time_clock=self.source.clock.event_time
            ),
        )
        self.http = HttpServer(
            settings.http.host,
            settings.http.port,
            routes(self.renderer, lambda: self.readiness(), self.alerting, self.status),
            settings.http.limits(),
            self._web,
        )
        self._stop = asyncio.Event()
        self._source_started = False
        self._force = asyncio.Event()
        self._signals = 0
        self._forced = False
        self._failed = False

    def _with_source(self, settings: Settings) -> Settings:
        """``settings`` as the source completes them: the simulator's planned maintenance
        is in the calendar, as an operator would have entered it."""
        from callpulse.sources.simulator import SimulatorSource

        if isinstance(self.source, SimulatorSource):
            return self.source.with_planned_windows(settings)
        return settings

    # --- lifecycle ---------------------------------------------------------------------

    async def run(self) -> int:
        """Run until a signal (or :meth:`request_stop`); return the process exit status.

        As uvicorn's ``Server.serve``: signals are captured for the whole run and restored
        however it ends, start-up failures included; then :meth:`startup`,
        :meth:`main_loop` and :meth:`shutdown`.
        """
        with self._signals_captured():
            await self.startup()
            tasks = self._start_tasks()
            try:
                await self.main_loop(tasks["main"])
            finally:
                await self.shutdown(tasks)
        return 1 if self._forced or self._failed else 0

    @contextmanager
    def _signals_captured(self) -> Iterator[None]:
        loop = asyncio.get_running_loop()
        handled = (signal.SIGTERM, signal.SIGINT, signal.SIGHUP)
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, self._on_signal, sig)
        loop.add_signal_handler(signal.SIGHUP, lambda: self._reload_soon("SIGHUP"))
        try:
            yield
        finally:
            for sig in handled:
                loop.remove_signal_handler(sig)

    async def startup(self) -> None:
        """Serve HTTP first, so /healthz answers and /readyz says why it is not ready yet."""
        await self.http.start()
        settings = self.settings
        # One short line each for what was loaded: a config that loads no rules says so here.
        # The whole (redacted) settings are for debugging: 3 KB is no start-up line.
        log.info(
            "callpulse_started",
            version=__version__,
            config=str(self.config_path) if self.config_path else "(embedded default)",
            source=self.source.name,
            rules=settings.rules_loaded(),
            maintenance_windows=len(settings.maintenance.windows),
            external_url=self.alerting.external_url,
        )
        log.debug("settings_loaded", settings=settings.redacted())
        tls = self._web.ssl_context is not None
        log.info("listening_on", url=listen_url(settings.http.host, self.http.port, tls))

    def _start_tasks(self) -> dict[str, asyncio.Task[None]]:
        tasks = {
            "main": asyncio.create_task(self._main(), name="callpulse-main"),
            "tick": asyncio.create_task(self._tick(), name="callpulse-tick"),
            "status": asyncio.create_task(self._sample_status(), name="callpulse-status"),
            "watch": asyncio.create_task(self.reloader.watch(), name="callpulse-config-watch"),
            "alerting": asyncio.create_task(
                self.alerting.run(after=self._status_due), name="callpulse-alerting"
            ),
        }
        if self.silence_reader is not None:
            tasks["silences"] = asyncio.create_task(
                self.silence_reader.run(), name="callpulse-silence-reader"
            )
        return tasks

    async def main_loop(self, main: asyncio.Task[None]) -> None:
        """Wait for a stop request; a main loop that ends by itself is a bug (exit 1)."""
        stopping = asyncio.create_task(self._stop.wait())
        await asyncio.wait({main, stopping}, return_when=asyncio.FIRST_COMPLETED)
        stopping.cancel()
        if main.done() and not self._stop.is_set():
            # Only a bug ends the main loop on its own; exit non-zero so that it is restarted.
            log.error("main_loop_failed", exc_info=main.exception())
            self._failed = True
            self._stop.set()

    async def shutdown(self, tasks: dict[str, asyncio.Task[None]]) -> None:
        """Finish and commit the batch in flight within ``shutdown_grace`` (a second signal
        cuts it short), then stop the helpers, flush the sinks and close HTTP."""
        self._stop.set()
        main = tasks["main"]
        log.info("shutdown_started", grace_seconds=self.settings.shutdown_grace)
        forced = asyncio.create_task(self._force.wait())
        done, _ = await asyncio.wait(
            {main, forced},
            timeout=self.settings.shutdown_grace,
            return_when=asyncio.FIRST_COMPLETED,
        )
        forced.cancel()
        if main not in done:
            if not self._force.is_set():
                log.error("shutdown_grace_exceeded", grace_seconds=self.settings.shutdown_grace)
            self._forced = True
            # Cancel twice at most: the first may land in a close() that awaits again.
            for _ in range(2):
                main.cancel()
                finished, _ = await asyncio.wait({main}, timeout=_FORCED_CLOSE_SECONDS)
                if finished:
                    break
        elif main.exception() is not None and not self._failed:
            log.error("main_loop_failed", exc_info=main.exception())
            self._failed = True
        for name in ("tick", "status", "watch", "silences"):
            if name not in tasks:
                continue
            tasks[name].cancel()
            with suppress(asyncio.CancelledError):
                await tasks[name]
        await self.alerting.stop(tasks["alerting"], grace=2.0)
        await self.http.stop()
        stats = self.monitor.stats
        log.info(
            "callpulse_stopped",
            forced=self._forced,
            events_applied=sum(stats.events_by_type.values()),
            events_duplicate=stats.duplicates,
            events_late=stats.late,
            events_invalid=sum(self.ingest.invalid.values()),
        )

    def request_stop(self) -> None:
        """Begin a graceful shutdown (what SIGTERM does)."""
        self._stop.set()

    def _on_signal(self, sig: signal.Signals) -> None:
        self._signals += 1
        if self._signals == 1:
            log.info("signal_received", signal=sig.name)
            self._stop.set()
        else:
            log.warning("second_signal_forcing_exit", signal=sig.name)
            self._force.set()

    async def _main(self) -> None:
        try:
            if await self._start_source():
                await self._consume()
        finally:
            if self._source_started:
                await self.source.stop()

    async def _start_source(self) -> bool:
        delay = _RETRY_MIN
        while not self._stop.is_set():
            try:
                await self.source.start()
            except SourceRefusedError as exc:
                # Retrying cannot fix a refused credential: say what to fix once, and stop.
                log.error("source_refused", source=self.source.name, error=str(exc))
                self._failed = True
                self._stop.set()
                return False
            except SourceError as exc:
                log.warning(
                    "source_unavailable", source=self.source.name, error=str(exc), retry_in=delay
                )
                with suppress(TimeoutError):
                    await asyncio.wait_for(self._stop.wait(), timeout=delay)
                delay = min(delay * 2, _RETRY_MAX)
                continue
            self._source_started = True
            return True
        return False

    async def _consume(self) -> None:
        source, stop = self.source, self._stop
        delay = _RETRY_MIN
        stop_waiter = asyncio.create_task(stop.wait())
        try:
            while not stop.is_set():
                fetch = asyncio.create_task(source.fetch())
                done, _ = await asyncio.wait(
                    {fetch, stop_waiter}, return_when=asyncio.FIRST_COMPLETED
                )
                if fetch not in done:
                    # Stopping: nothing of this fetch was applied, so nothing is committed.
                    fetch.cancel()
                    with suppress(asyncio.CancelledError, SourceError):
                        await fetch
                    break
                try:
                    batch = fetch.result()
                except SourceError as exc:
                    log.warning("fetch_failed", error=str(exc), retry_in=delay)
                    with suppress(TimeoutError):
                        await asyncio.wait_for(asyncio.shield(stop_waiter), timeout=delay)
                    delay = min(delay * 2, _RETRY_MAX)
                    continue
                finally:
                    # A task keeps its result: the batch would stay alive while the next fetch
                    # waits, perhaps all night, and a producer's largest records with it.
                    del fetch, done
                delay = _RETRY_MIN
                if not batch.records:
                    if source.exhausted():
                        log.info("source_exhausted", source=source.name)
                        await stop_waiter  # keep serving what was computed until told to stop
                    continue
                await self._apply(batch)
                del batch
        finally:
            stop_waiter.cancel()

    async def _apply(self, batch: Batch) -> None:
        """Apply a batch, dead-letter what it rejected, commit it."""
        source = self.source
        rejected = self.pipeline.feed(batch.records, time.time())
        if rejected:
            self._log_rejections(rejected)
            await source.dead_letter(rejected)
        await source.commit(batch)

    async def _tick(self) -> None:
        interval = self.settings.kpi.tick
        if not self.source.clock.wall_bound:
            return  # a time-compressed simulation: its clock is the only one
        while True:
            rejected = self.pipeline.flush(time.time())
            if rejected:
                self._log_rejections(rejected)
            await asyncio.sleep(interval)

    # --- reloading rules and maintenance windows ---------------------------------------------

    def _reload_soon(self, cause: str) -> None:
        asyncio.get_running_loop().call_soon(self.reload, cause)

    def reload(self, cause: str) -> bool:
        """Re-read the config file and swap in its rules and maintenance windows (see
        :class:`~callpulse.config.reload.Reloader`)."""
        return self.reloader.reload(cause)

    def _on_revoke(self, partitions: Sequence[tuple[str, int]]) -> None:
        # The sites of revoked partitions now belong to another replica: exporting our stale
        # view of them beside its live one would double every sum and freeze waiting calls.
        # Their alerts go too, unresolved: the new owner pages for them, and a resolution
        # from here would tell Alertmanager the opposite of its page.
        sites = self.ingest.release_partitions(partitions)
        if sites:
            self.monitor.forget_sites(sites)
            dropped = self.alerting.release_sites(sites, "partitions revoked")
            log.info("sites_released", sites=sorted(sites), alerts_dropped=dropped)

    def _carry_alert_state(self, settings: Settings) -> None:
        """With an alert state topic, each site's alert state travels with its partition:
        written by its owner, adopted by the next before its rebuild."""
        if settings.source.kind != "kafka" or not settings.source.kafka.alert_state_topic:
            return
        from callpulse.sources.kafka import KafkaSource

        kafka = self.source
        if not isinstance(kafka, KafkaSource):
            return
        kafka.on_alert_state = self.alerting.adopt_sites

        def write(changes: Mapping[str, Rows | None]) -> None:
            where = {
                site: partition
                for partition, sites in self.ingest.sites_by_partition.items()
                for site in sites
            }
            kafka.write_alert_state(
                {site: (where[site], rows) for site, rows in changes.items() if site in where}
            )

        self.alerting.write_state = write

    def _holding(self) -> bool:
        """Whether the alerts wait for whole state: until the source has been ready once
        (partitions assigned, their state rebuilt), and while a new partition's is rebuilt."""
        return not self._is_settled() or self.source.rebuilding()

    def _owned_sites(self) -> set[str] | None:
        """The sites of the partitions this replica owns; None until the source has been
        ready once, before which what it owns is not known yet."""
        if not self._is_settled():
            return None
        return set().union(*self.ingest.sites_by_partition.values())

    def _is_settled(self) -> bool:
        if not self._settled and self._source_started and self.source.readiness()[0]:
            self._settled = True
        return self._settled

    # --- HTTP --------------------------------------------------------------------------

    def readiness(self) -> tuple[bool, str]:
        """Ready when the source delivers and no shutdown is under way."""
        if self._stop.is_set():
            return False, "shutting down"
        if not self._source_started:
            return False, f"starting the {self.source.name} source"
        return self.source.readiness()

    async def _sample_status(self) -> None:
        # With evaluations every 5 s or more often, the sample is taken right after one (see
        # _status_due) and this only fills in if they stop; with slower ones, this takes it.
        follows = self.settings.alerting.evaluation_interval <= _STATUS_SAMPLE_SECONDS
        while True:
            await asyncio.sleep(_STATUS_SAMPLE_SECONDS)
            self._status_due(age=2 * _STATUS_SAMPLE_SECONDS if follows else 0.0)

    def _status_due(self, age: float = _STATUS_SAMPLE_SECONDS - 0.5) -> None:
        """Sample the status board if its last sample is ``age`` seconds old or older (about
        5 s: right after an alert evaluation, it reads the queue views the evaluation
        computed instead of computing them again on the event loop, half a second at 10k
        queues)."""
        now = time.monotonic()
        if now - self._status_sampled >= age:
            self._status_sampled = now
            self.status.sample()

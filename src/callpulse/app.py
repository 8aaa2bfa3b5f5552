"""The daemon's lifecycle over a :class:`~callpulse.runtime.Runtime` it is handed (as
uvicorn's ``Server`` runs over a ``Config``); :func:`callpulse.runtime.compose` wires it.

start-up: HTTP first (so /healthz answers and /readyz says why it is not ready), then the
consumer, which retries its source with backoff while it is unreachable. Main loop: wait for a
stop. Shutdown on SIGTERM or SIGINT: /readyz turns false, fetching stops, the in-flight batch
is finished and committed, connections close, exit 0 within ``shutdown_grace``; a second
signal exits at once with status 1.
"""

from __future__ import annotations

import asyncio
import signal
from collections.abc import Iterator
from contextlib import contextmanager

import structlog

from callpulse import __version__
from callpulse.config.address import listen_url
from callpulse.config.format_gaps import source_gaps
from callpulse.heap import FrozenHeap
from callpulse.runtime import Runtime
from callpulse.tasks import cancel

log = structlog.get_logger("callpulse")

_FORCED_CLOSE_SECONDS = 1.0


class App:
    """One callpulse daemon: starts, runs and stops the services of ``runtime``."""

    def __init__(self, runtime: Runtime) -> None:
        self.runtime = runtime
        self._stop = runtime.stopping
        self._force = asyncio.Event()
        self._signals = 0
        self._forced = False
        self._failed = False
        self.heap = FrozenHeap()

    # --- lifecycle ---------------------------------------------------------------------

    async def run(self) -> int:
        """Run until a signal (or :meth:`request_stop`); return the process exit status.

        As uvicorn's ``Server.serve``: signals are captured for the whole run and restored
        however it ends, start-up failures included; then :meth:`startup`,
        :meth:`main_loop` and :meth:`shutdown`.
        """
        with self._signals_captured():
            await self.startup()
            tasks = self._start_services()
            try:
                await self.main_loop(tasks["main"])
            finally:
                await self.shutdown(tasks)
        failed = self._forced or self._failed or self.runtime.consumer.refused
        return 1 if failed else 0

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
        runtime = self.runtime
        await runtime.http.start()
        settings, path = runtime.settings, runtime.config_path
        calendar = runtime.pipeline.monitor.maintenance.calendar
        # One short line each for what was loaded: a config that loads no rules says so here.
        # The whole (redacted) settings are for debugging: 3 KB is no start-up line.
        log.info(
            "callpulse_started",
            version=__version__,
            config=str(path) if path else "(embedded default)",
            source=runtime.source.name,
            rules=runtime.config.rules_loaded(),
            # The calendar as it runs: the demo's planned window is the simulator's, not the
            # settings'.
            maintenance_windows=len(calendar.windows) if calendar is not None else 0,
            external_url=runtime.pipeline.alerting.external_url,
        )
        for where, gaps in source_gaps(settings.source).items():
            log.warning("format_leaves_out", topic=where, gaps=gaps)
        log.debug("settings_loaded", settings=settings.redacted())
        tls = runtime.web.ssl_context is not None
        log.info("listening_on", url=listen_url(settings.http.host, runtime.http.port, tls))

    def _start_services(self) -> dict[str, asyncio.Task[None]]:
        runtime = self.runtime
        runtime.sampler.start()
        tasks = {
            "main": runtime.consumer.start(),
            "watch": asyncio.create_task(runtime.reloader.watch(), name="callpulse-config-watch"),
            "alerting": asyncio.create_task(
                runtime.pipeline.alerting.run(
                    runtime.consumer.evaluate_in_slices, after=runtime.sampler.due
                ),
                name="callpulse-alerting",
            ),
        }
        # The state the daemon keeps is out of the collector's full passes (callpulse.heap).
        tasks["heap"] = asyncio.create_task(self.heap.run(), name="callpulse-heap")
        if runtime.silence_reader is not None:
            tasks["silences"] = asyncio.create_task(
                runtime.silence_reader.run(), name="callpulse-silence-reader"
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
        runtime, main = self.runtime, tasks["main"]
        grace = runtime.settings.shutdown_grace
        log.info("shutdown_started", grace_seconds=grace)
        forced = asyncio.create_task(self._force.wait())
        done, _ = await asyncio.wait(
            {main, forced}, timeout=grace, return_when=asyncio.FIRST_COMPLETED
        )
        forced.cancel()
        if main not in done:
            if not self._force.is_set():
                log.error("shutdown_grace_exceeded", grace_seconds=grace)
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
        try:
            await cancel(tasks.get("heap"))
        finally:
            self.heap.release()  # the collector as before, whatever stops next
        await runtime.consumer.stop()
        await runtime.sampler.stop()
        for name in ("watch", "silences"):
            await cancel(tasks.get(name))
        await runtime.pipeline.alerting.stop(tasks["alerting"], grace=2.0)
        await runtime.http.stop()
        stats = runtime.pipeline.monitor.stats
        log.info(
            "callpulse_stopped",
            forced=self._forced,
            events_applied=sum(stats.events_by_type.values()),
            events_duplicate=stats.duplicates,
            events_late=stats.late,
            events_invalid=sum(runtime.pipeline.ingest.invalid.values()),
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

    # --- reloading rules and maintenance windows ---------------------------------------------

    def _reload_soon(self, cause: str) -> None:
        asyncio.get_running_loop().call_soon(self.reload, cause)

    def reload(self, cause: str) -> bool:
        """Re-read the config file and swap in its rules and maintenance windows (see
        :class:`~callpulse.reload.Reloader`)."""
        return self.runtime.reloader.reload(cause)

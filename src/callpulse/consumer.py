"""The daemon's consumer: fetch -> feed -> dead-letter -> commit, and time passing between.

It owns the source: starts it (retried with backoff while it is unreachable), feeds each batch
through :meth:`Pipeline.feed <callpulse.pipeline.Pipeline.feed>`, dead-letters what was
rejected, commits, and on the wall clock lets time pass every ``kpi.tick`` (windows age,
adapters' assumed ends are applied for the partitions it owns). It also says what "now" is
when the alerting loop evaluates (:meth:`Consumer.evaluate`). A revoke releases the sites
of the partitions that went, with their alerts. It stops when the shared ``stopping`` event
is set, after finishing (and committing) the batch in flight.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Sequence
from contextlib import suppress

import structlog

from callpulse.core.alert_state import Notification
from callpulse.core.steps import Steps
from callpulse.pipeline import Pipeline
from callpulse.protocols import Batch, DeadLettering, Finite, Partitioned, Readiness, Source
from callpulse.rejections import RejectionLog
from callpulse.sources.errors import SourceError, SourceRefusedError
from callpulse.tasks import SLICE_SECONDS, cancel, in_slices

log = structlog.get_logger("callpulse")

_RETRY_MIN, _RETRY_MAX = 0.5, 30.0


class Consumer:
    """Runs records from ``source`` through ``pipeline`` until ``stopping`` is set."""

    def __init__(
        self,
        source: Source,
        pipeline: Pipeline,
        stopping: asyncio.Event,
        *,
        tick_seconds: float,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.source = source
        self.pipeline = pipeline
        self.stopping = stopping
        self.tick_seconds = tick_seconds
        self.clock = clock  # the wall clock; a test steps it
        self.started = False  # the source has started
        self.refused = False  # the source refused this configuration: retrying cannot help
        self._settled = False  # the source has been ready once: it owns what it has read
        self._log_rejections = RejectionLog()
        self._tick: asyncio.Task[None] | None = None
        # What the source can do besides its four verbs, asked once: a capability it lacks
        # is simply done without (rejects only logged, never exhausted, nothing rebuilt).
        self._dead_letters = source if isinstance(source, DeadLettering) else None
        self._finite = source if isinstance(source, Finite) else None
        self._partitions = source if isinstance(source, Partitioned) else None
        self._readiness = source if isinstance(source, Readiness) else None
        if self._partitions is not None:
            self._partitions.on_revoke = self.on_revoke

    # --- service ---------------------------------------------------------------------------

    def start(self) -> asyncio.Task[None]:
        """Start consuming (and ticking); return the task that ends once stopped."""
        self._tick = asyncio.create_task(self._ticking(), name="callpulse-tick")
        return asyncio.create_task(self._main(), name="callpulse-main")

    async def stop(self) -> None:
        """Stop the clock (the main task ends on ``stopping``, or is cancelled by the caller)."""
        await cancel(self._tick)

    async def _main(self) -> None:
        try:
            if await self.open():
                await self._consume()
        finally:
            if self.started:
                await self.source.stop()

    async def open(self) -> bool:
        """Start the source, retried with backoff while it is unreachable; False if it
        refused, or a stop came first."""
        delay = _RETRY_MIN
        while not self.stopping.is_set():
            try:
                await self.source.start()
            except SourceRefusedError as exc:
                # Retrying cannot fix a refused credential: say what to fix once, and stop.
                log.error("source_refused", source=self.source.name, error=str(exc))
                self.refused = True
                self.stopping.set()
                return False
            except SourceError as exc:
                log.warning(
                    "source_unavailable", source=self.source.name, error=str(exc), retry_in=delay
                )
                with suppress(TimeoutError):
                    await asyncio.wait_for(self.stopping.wait(), timeout=delay)
                delay = min(delay * 2, _RETRY_MAX)
                continue
            self.started = True
            return True
        return False

    async def _consume(self) -> None:
        source, stop = self.source, self.stopping
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
                    if self._finite is not None and self._finite.exhausted():
                        log.info("source_exhausted", source=source.name)
                        await stop_waiter  # keep serving what was computed until told to stop
                    continue
                await self.apply(batch)
                del batch
        finally:
            stop_waiter.cancel()

    async def apply(self, batch: Batch) -> None:
        """Feed a batch, dead-letter what it rejected, commit it."""
        rejected = self.pipeline.feed(batch.records, self.clock())
        if rejected:
            self._log_rejections(rejected)
            if self._dead_letters is not None:
                await self._dead_letters.dead_letter(rejected)
        await self.source.commit(batch)

    async def _ticking(self) -> None:
        if not self.source.clock.wall_bound:
            return  # a time-compressed simulation: its clock is the only one
        while True:
            self.tick()
            await in_slices(self.pipeline.monitor.settle(), SLICE_SECONDS)
            await asyncio.sleep(self.tick_seconds)

    def evaluate(self) -> list[Notification]:
        """Evaluate the rules now, through :meth:`Pipeline.evaluate
        <callpulse.pipeline.Pipeline.evaluate>`: at the wall clock, or, on event time alone
        (a time-compressed simulation), at the newest event's time, its clock being the
        only one."""
        return self.pipeline.evaluate(self._evaluation_time())

    async def evaluate_in_slices(self) -> list[Notification]:
        """:meth:`evaluate` in slices of about :data:`SLICE_SECONDS` each
        (:meth:`evaluation_steps`), the batches waiting meanwhile applied between them: at
        10k queues an evaluation is over a second of Python, and at once it would hold
        ingest for the whole of it."""
        return await in_slices(self.evaluation_steps(), SLICE_SECONDS)

    def evaluation_steps(self) -> Steps[list[Notification]]:
        """One evaluation as steps: every queue's view read a hundred queues at a time
        (:meth:`Monitor.queue_views_in_steps
        <callpulse.core.monitor.Monitor.queue_views_in_steps>`), then
        :meth:`Pipeline.evaluate_in_steps <callpulse.pipeline.Pipeline.evaluate_in_steps>`
        on them. What reads the queues right after (the status sample) reads the views it
        judged, rather than reading every queue again at once."""
        monitor = self.pipeline.monitor
        views = yield from monitor.queue_views_in_steps()
        steps = self.pipeline.evaluate_in_steps(self._evaluation_time(), views)
        notifications = yield from steps
        monitor.keep_queue_views(views)
        return notifications

    def _evaluation_time(self) -> float:
        """The wall clock, or on event time alone the newest event's time."""
        return self.clock() if self.source.clock.wall_bound else self.pipeline.monitor.now

    def tick(self) -> None:
        """Let time pass to the wall clock with no record (see :meth:`Pipeline.flush`)."""
        rejected = self.pipeline.flush(self.clock())
        if rejected:
            self._log_rejections(rejected)

    # --- ownership ---------------------------------------------------------------------------

    def on_revoke(self, partitions: Sequence[tuple[str, int]]) -> None:
        """The sites of revoked partitions now belong to another replica: exporting our
        stale view of them beside its live one would double every sum and freeze waiting
        calls. Their alerts go too, unresolved: the new owner pages for them, and a
        resolution from here would tell Alertmanager the opposite of its page."""
        pipeline = self.pipeline
        sites = pipeline.ingest.release_partitions(partitions)
        if sites:
            pipeline.monitor.forget_sites(sites)
            dropped = pipeline.alerting.release_sites(sites, "partitions revoked")
            log.info("sites_released", sites=sorted(sites), alerts_dropped=dropped)

    def holding(self) -> bool:
        """Whether the alerts wait for whole state: until the source has been ready once
        (partitions assigned, their state rebuilt), and while a new partition's is rebuilt."""
        rebuilding = self._partitions is not None and self._partitions.rebuilding()
        return not self._is_settled() or rebuilding

    def owned_sites(self) -> set[str] | None:
        """The sites of the partitions this replica owns; None until the source has been
        ready once, before which what it owns is not known yet."""
        if not self._is_settled():
            return None
        return set().union(*self.pipeline.ingest.sites_by_partition.values())

    def _is_settled(self) -> bool:
        if not self._settled and self.started and self._source_readiness()[0]:
            self._settled = True
        return self._settled

    def readiness(self) -> tuple[bool, str]:
        """Ready when the source delivers and no shutdown is under way."""
        if self.stopping.is_set():
            return False, "shutting down"
        if not self.started:
            return False, f"starting the {self.source.name} source"
        return self._source_readiness()

    def _source_readiness(self) -> tuple[bool, str]:
        """The started source's own verdict; one that gives none is delivering."""
        if self._readiness is None:
            return True, f"{self.source.name} started"
        return self._readiness.readiness()

    def site_partitions(self) -> dict[str, tuple[str, int]]:
        """The (topic, partition) each site this replica has read comes from."""
        return {
            site: partition
            for partition, sites in self.pipeline.ingest.sites_by_partition.items()
            for site in sites
        }

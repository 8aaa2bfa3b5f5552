"""Kafka source: a consumer group member with explicit, after-apply commits.

- Values are decoded by the daemon, not by a ``value_deserializer`` (a raising deserializer
  makes aiokafka fetch the same record forever).
- A batch's offsets (last + 1 per partition) are committed only after its events are applied
  and its rejected records are safely in the dead-letter topic
  (:mod:`callpulse.sources.kafka_dead_letter`): at-least-once, and the ``event_id``
  de-duplication makes a re-delivered event count once.
- On revoke, the offsets applied so far are committed before the partitions move; the sites
  of partitions that did not come back are handed to ``on_revoke`` so their state can go.
- A partition new to this replica is re-read over ``rebuild_seconds`` up to the group's
  committed offset (marked as replays) before it goes live, so its state is whole.
- With ``alert_state_topic``, each site's alert state is written there (keyed by site, with
  its partition) by its owner, and read on assignment for the partitions new to this
  replica, before their rebuild, so that their pages carry on (``on_alert_state``;
  :mod:`callpulse.sources.kafka_alert_state`).
- Every few seconds a metadata request checks the broker and each partition's position and
  high watermark are sampled for the consumer-health verdicts behind /readyz
  (:mod:`callpulse.sources.kafka_watch`).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import structlog
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.abc import ConsumerRebalanceListener
from aiokafka.errors import CommitFailedError, IllegalStateError, KafkaError

from callpulse.config import KafkaSettings
from callpulse.core.clock import WALL_TIME
from callpulse.core.consumer_health import Blindness
from callpulse.core.ingest import RawRecord, Rejection
from callpulse.core.raw_record import take_fetched
from callpulse.protocols import Batch, DeadLetterStats, RevokeHandler
from callpulse.sources.errors import SourceError
from callpulse.sources.kafka_alert_state import AlertStateTopic, SiteStates
from callpulse.sources.kafka_connect import check_credentials, connection_options, quietly
from callpulse.sources.kafka_dead_letter import DeadLetterWriter
from callpulse.sources.kafka_watch import HEALTH_EVERY, KafkaWatch, positions

log = structlog.get_logger("callpulse.kafka")

_FETCH_TIMEOUT_MS = 500


class _CommitOnRevoke(ConsumerRebalanceListener):  # type: ignore[misc]
    def __init__(self, source: KafkaSource) -> None:
        self._source = source

    async def on_partitions_revoked(self, revoked: list[TopicPartition]) -> None:
        await self._source.commit_revoked(revoked)

    async def on_partitions_assigned(self, assigned: list[TopicPartition]) -> None:
        await self._source.assigned(assigned)


class KafkaSource:
    """Consumes ``settings.topics`` in group ``settings.group_id``. A
    :class:`~callpulse.protocols.Source` with every capability but an end: it is
    :class:`~callpulse.protocols.DeadLettering`, :class:`~callpulse.protocols.Partitioned`
    (and so :class:`~callpulse.protocols.Lagging`), :class:`~callpulse.protocols.CanGoBlind`
    and has :class:`~callpulse.protocols.Readiness`."""

    name = "kafka"
    clock = WALL_TIME

    def __init__(self, settings: KafkaSettings, rebuild_seconds: float = 0.0) -> None:
        """``rebuild_seconds``: how much of a newly assigned partition to re-read (the
        longest window) so that its state is whole before going live; 0 re-reads nothing."""
        self._settings = settings
        self._consumer: AIOKafkaConsumer | None = None
        self._producer: AIOKafkaProducer | None = None
        self._applied: dict[TopicPartition, int] = {}
        self._fetched: dict[TopicPartition, int] = {}
        self._assignment: set[TopicPartition] = set()
        self._owned: set[TopicPartition] = set()  # as of the last assignment
        # Partitions being re-read to rebuild state: offset where the replay ends.
        self._rebuild_until: dict[TopicPartition, int] = {}
        self._rebuild_total = 0
        # Per partition, the next offset not yet handed out live, and during a rebuild the
        # next not yet re-read.
        self._handed: dict[TopicPartition, int] = {}
        self._replayed: dict[TopicPartition, int] = {}
        self.rebuild_seconds = rebuild_seconds
        self._watch = KafkaWatch(settings)
        self._watcher: asyncio.Task[None] | None = None
        self._joined = False
        self._assigning = False  # between an assignment and its rebuild plan
        self._max_request = max(1024 * 1024, 2 * settings.max_record_bytes)
        self.dead_letters = DeadLetterStats()
        self._dead_letter = DeadLetterWriter(
            settings, lambda: self._producer, self._max_request, self.dead_letters
        )
        self.on_revoke: RevokeHandler | None = None
        # Told the alert state of the sites of partitions new to this replica, before their
        # rebuild (only with alert_state_topic).
        self.on_alert_state: Callable[[SiteStates], None] | None = None
        self._alert_state = AlertStateTopic(settings)

    async def start(self) -> None:
        options = connection_options(self._settings)
        if self._settings.security_protocol != "PLAINTEXT":
            await check_credentials(self._settings, options)
        consumer = AIOKafkaConsumer(
            group_id=self._settings.group_id,
            enable_auto_commit=False,
            auto_offset_reset=self._settings.auto_offset_reset,
            # Room for a record at the size limit plus headroom, so an oversize record is
            # fetched and dead-lettered rather than blocking its partition.
            max_partition_fetch_bytes=max(1024 * 1024, 2 * self._settings.max_record_bytes),
            **options,
        )
        consumer.subscribe(self._settings.topics, listener=_CommitOnRevoke(self))
        producer = AIOKafkaProducer(
            acks="all",
            enable_idempotence=True,
            max_request_size=self._max_request,
            **options,
        )
        # Set before start(): the group's first assignment (and its rebuild) can complete
        # inside it.
        self._consumer, self._producer = consumer, producer
        try:
            await producer.start()
            await consumer.start()
        except KafkaError as exc:
            self._consumer = self._producer = None
            await quietly(consumer.stop())
            await quietly(producer.stop())
            raise SourceError(
                f"cannot reach Kafka at {self._settings.bootstrap_servers}: {exc}"
            ) from exc
        self._watch.started()
        self._watcher = asyncio.create_task(self._watching(), name="kafka-health")

    async def _watching(self) -> None:
        """Every few seconds: is the broker answering, and how is each partition doing?"""
        while self._consumer is not None:
            await asyncio.sleep(HEALTH_EVERY)
            consumer = self._consumer
            if consumer is None:
                return
            await self._watch.check(consumer, self._positions)

    def _positions(self) -> dict[TopicPartition, int]:
        """The next offset fetched of each partition assigned that has been fetched from."""
        return {tp: self._fetched[tp] for tp in self._assignment if tp in self._fetched}

    def health(self) -> Mapping[tuple[str, int], str]:
        """Per-partition verdicts: ok, slow, stalled or unknown (Burrow's rules, simplified)."""
        return self._watch.verdicts()

    async def fetch(self) -> Batch:
        consumer = self._require_consumer()
        try:
            data = await consumer.getmany(
                timeout_ms=_FETCH_TIMEOUT_MS, max_records=self._settings.max_batch_records
            )
        except KafkaError as exc:
            raise SourceError(f"fetch failed: {exc}") from exc
        self._watch.polled()
        if not data:
            return Batch(records=())
        records: list[RawRecord] = []
        next_offsets = {}
        for tp, messages in data.items():
            until = self._rebuild_until.get(tp, -1)
            # Never hand out an offset twice: the fetch that was under way when a
            # partition was assigned can overlap what its rebuild re-reads.
            taken = (self._handed.get(tp, -1), self._replayed.get(tp, -1))
            taken = take_fetched(messages, tp.topic, tp.partition, until, taken, records)
            self._handed[tp], self._replayed[tp] = taken
            last = messages[-1].offset + 1
            # Offsets below where the group already was are not committed again.
            if last > until:
                next_offsets[(tp.topic, tp.partition)] = last
            if until >= 0 and last >= until:
                del self._rebuild_until[tp]
                log.info("rebuild_complete", partition=f"{tp.topic}[{tp.partition}]")
            self._fetched[tp] = last
        return Batch(records=records, next_offsets=next_offsets)

    def rebuilding(self) -> bool:
        """Whether state is still being rebuilt from re-read records."""
        return self._assigning or bool(self._rebuild_until)

    async def commit(self, batch: Batch) -> None:
        if not batch.next_offsets:
            return
        consumer = self._require_consumer()
        for (topic, partition), offset in batch.next_offsets.items():
            tp = TopicPartition(topic, partition)
            # A partition revoked while its batch was applied belongs to another replica now:
            # remembering its offset could later commit it over the new owner's progress.
            if tp in self._assignment:
                self._applied[tp] = offset
        offsets = {tp: off for tp, off in self._applied.items() if tp in self._assignment}
        if not offsets:
            return
        try:
            await consumer.commit(offsets)
        except (CommitFailedError, IllegalStateError) as exc:
            # A rebalance took the partitions meanwhile; their new owner re-reads from the
            # last committed offset, and de-duplication absorbs what it sees twice.
            log.warning("commit_failed", error=str(exc), offsets=_describe(offsets))
        except KafkaError as exc:
            raise SourceError(f"commit failed: {exc}") from exc

    async def commit_revoked(self, revoked: list[TopicPartition]) -> None:
        """Commit what was applied of ``revoked`` before the group moves them, and let the
        alert state written so far land, for their next owner to read."""
        await self._alert_state.written()
        offsets = {tp: self._applied[tp] for tp in revoked if tp in self._applied}
        if offsets and self._consumer is not None:
            try:
                await self._consumer.commit(offsets)
                log.info("committed_on_revoke", offsets=_describe(offsets))
            except KafkaError as exc:
                log.warning("commit_on_revoke_failed", error=str(exc))
        for tp in revoked:
            self._applied.pop(tp, None)
            self._fetched.pop(tp, None)
        self._assignment.difference_update(revoked)

    async def assigned(self, assigned: list[TopicPartition]) -> None:
        """Remember the assignment and rebuild the state of partitions new to this replica.

        Called by the group coordinator after a rebalance and before fetching resumes.
        """
        # Alerts wait meanwhile: an evaluation before the rebuild is planned would judge the
        # new partitions' sites unseen.
        self._assigning = True
        try:
            await self._assign(assigned)
        finally:
            self._assigning = False
        # Only now: /readyz must not say ready between the assignment and its rebuild plan.
        self._joined = True

    async def _assign(self, assigned: list[TopicPartition]) -> None:
        # aiokafka rebalances eagerly: every partition is revoked first, most come straight
        # back. Only those that did not come back now belong to another replica.
        previous = self._owned
        moved = previous - set(assigned)
        gained = set(assigned) - previous
        self._owned = set(assigned)
        if moved and self.on_revoke is not None:
            self.on_revoke([(tp.topic, tp.partition) for tp in moved])
        self._assignment = set(assigned)
        self._applied = {tp: off for tp, off in self._applied.items() if tp in self._assignment}
        self._rebuild_until = {
            tp: off for tp, off in self._rebuild_until.items() if tp in self._assignment
        }
        self._handed = {tp: off for tp, off in self._handed.items() if tp in self._assignment}
        self._replayed = {}
        log.info("partitions_assigned", partitions=_describe(dict.fromkeys(assigned, 0)))
        if gained and self.on_alert_state is not None and self._settings.alert_state_topic:
            self.on_alert_state(await self._alert_state.read(gained))
        if gained and self.rebuild_seconds > 0:
            try:
                await self._seek_back(gained)
            except KafkaError as exc:
                log.warning("rebuild_skipped", error=str(exc))

    async def _seek_back(self, partitions: set[TopicPartition]) -> None:
        """Re-read the last ``rebuild_seconds`` of each partition, up to its committed offset.

        The previous owner (or this process before a restart) applied those records and
        committed them; re-reading them rebuilds windows and live state. They are marked as
        replays (no second count in the totals), no commit goes below where the group was,
        and /readyz stays false until they are read.
        """
        consumer = self._require_consumer()
        since_ms = int((time.time() - self.rebuild_seconds) * 1000)
        # Where the group was: what the replay re-reads up to (None: never committed).
        ends = {tp: await consumer.committed(tp) for tp in partitions}
        found = await consumer.offsets_for_times({tp: since_ms for tp in partitions})
        planned = {}
        for tp, start in found.items():
            end = ends[tp]
            if start is None or end is None or start.offset >= end:
                continue
            consumer.seek(tp, start.offset)
            self._rebuild_until[tp] = end
            planned[tp] = end - start.offset
        if planned:
            self._rebuild_total = sum(planned.values())
            log.info(
                "rebuilding_state",
                records=self._rebuild_total,
                seconds=self.rebuild_seconds,
                partitions=_describe(planned),
            )

    def write_alert_state(
        self, changes: Mapping[str, tuple[tuple[str, int], Sequence[Mapping[str, Any]] | None]]
    ) -> None:
        """Write each site's alert state (None: a tombstone, it has none) with the partition
        it lives in, to ``alert_state_topic``; in the background, logged if it fails."""
        if self._producer is not None:
            self._alert_state.write(self._producer, changes)

    async def dead_letter(self, rejections: Sequence[Rejection]) -> None:
        """Write ``rejections`` to the dead-letter topic before their offsets are committed
        (:class:`~callpulse.sources.kafka_dead_letter.DeadLetterWriter`)."""
        await self._dead_letter.write(rejections)

    async def stop(self) -> None:
        consumer, producer = self._consumer, self._producer
        self._consumer = self._producer = None
        if self._watcher is not None:
            self._watcher.cancel()
        if consumer is not None:
            offsets = {tp: off for tp, off in self._applied.items() if tp in self._assignment}
            if offsets:
                try:
                    await consumer.commit(offsets)
                except KafkaError as exc:
                    log.warning("final_commit_failed", error=str(exc))
            await quietly(consumer.stop())
        if producer is not None:
            await quietly(producer.stop())

    def readiness(self) -> tuple[bool, str]:
        if self._consumer is None:
            return False, "not connected to Kafka"
        if not self._joined:
            return False, "waiting for the consumer group to assign partitions"
        if self._rebuild_until:
            return False, (
                f"rebuilding state: re-reading {self._rebuild_total} records of "
                f"{len(self._rebuild_until)} partition(s)"
            )
        return self._watch.readiness(len(self._assignment))

    def blindness(self) -> Blindness | None:
        """Whether the consumer cannot see, or is catching up after it
        (:meth:`~callpulse.sources.kafka_watch.KafkaWatch.blindness`)."""
        return self._watch.blindness(self._consumer is not None and self._joined, self.lag())

    def lag(self) -> Mapping[tuple[str, int], int]:
        consumer = self._consumer
        if consumer is None:
            return {}
        found = positions(consumer, self._positions())
        return {key: max(0, high - position) for key, (position, high) in found.items()}

    def _require_consumer(self) -> AIOKafkaConsumer:
        if self._consumer is None:
            raise SourceError("the Kafka source is not started")
        return self._consumer


def _describe(offsets: Mapping[TopicPartition, int]) -> list[str]:
    return sorted(f"{tp.topic}[{tp.partition}]@{off}" for tp, off in offsets.items())

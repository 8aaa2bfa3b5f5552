"""Kafka source: a consumer group member with explicit, after-apply commits.

- Values are decoded by the daemon, not by a ``value_deserializer`` (a raising deserializer
  makes aiokafka fetch the same record forever).
- A batch's offsets (last + 1 per partition) are committed only after its events are applied
  and its rejected records are safely in the dead-letter topic: at-least-once, and the
  ``event_id`` de-duplication makes a re-delivered event count once.
- On revoke, the offsets applied so far are committed before the partitions move; the sites
  of partitions that did not come back are handed to ``on_revoke`` so their state can go.
- A partition new to this replica is re-read over ``rebuild_seconds`` up to the group's
  committed offset (marked as replays) before it goes live, so its state is whole.
- With ``alert_state_topic``, each site's alert state is written there (keyed by site, with
  its partition) by its owner, and read on assignment for the partitions new to this
  replica, before their rebuild, so that their pages carry on (``on_alert_state``).
- Every few seconds a metadata request checks the broker and each partition's position and
  high watermark are sampled for the consumer-health verdicts behind /readyz.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import structlog
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.abc import ConsumerRebalanceListener
from aiokafka.errors import (
    CommitFailedError,
    IllegalStateError,
    KafkaError,
    KafkaTimeoutError,
)

from callpulse.config import KafkaSettings
from callpulse.core.clock import WALL_TIME
from callpulse.core.consumer_health import Blindness, ConsumerHealth, Sight
from callpulse.core.ingest import RawRecord, Rejection
from callpulse.sources.base import (
    Batch,
    DeadLetterStats,
    RevokeHandler,
    SourceError,
)
from callpulse.sources.kafka_connect import check_credentials, connection_options

log = structlog.get_logger("callpulse.kafka")

_FETCH_TIMEOUT_MS = 500
_HEALTH_EVERY = 5.0
_HEALTH_SAMPLES = 10  # the window each partition's verdict judges, in samples
_DLQ_RETRY_MAX_SECONDS = 10.0
# Room a dead-letter record needs beside its value: headers and the record batch framing.
_DLQ_OVERHEAD = 64 * 1024
_STATE_READ_SECONDS = 10.0

SiteStates = Mapping[str, list[dict[str, Any]]]
"""Each site's alerts as plain rows (what the alert state topic carries)."""


class _CommitOnRevoke(ConsumerRebalanceListener):  # type: ignore[misc]
    def __init__(self, source: KafkaSource) -> None:
        self._source = source

    async def on_partitions_revoked(self, revoked: list[TopicPartition]) -> None:
        await self._source.commit_revoked(revoked)

    async def on_partitions_assigned(self, assigned: list[TopicPartition]) -> None:
        await self._source.assigned(assigned)


class KafkaSource:
    """Consumes ``settings.topics`` in group ``settings.group_id``."""

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
        self._health = ConsumerHealth(_HEALTH_SAMPLES)
        self._sight = Sight("kafka", settings.max_batch_records, settings.stall_timeout)
        self._last_contact = time.monotonic()
        self._unreachable_logged = False
        self._watcher: asyncio.Task[None] | None = None
        self._joined = False
        self._assigning = False  # between an assignment and its rebuild plan
        self._last_poll = 0.0
        self._max_request = max(1024 * 1024, 2 * settings.max_record_bytes)
        self.dead_letters = DeadLetterStats()
        self.on_revoke: RevokeHandler | None = None
        # Told the alert state of the sites of partitions new to this replica, before their
        # rebuild (only with alert_state_topic).
        self.on_alert_state: Callable[[SiteStates], None] | None = None
        self._state_writes: set[asyncio.Task[None]] = set()

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
            await _quietly(consumer.stop())
            await _quietly(producer.stop())
            raise SourceError(
                f"cannot reach Kafka at {self._settings.bootstrap_servers}: {exc}"
            ) from exc
        self._last_poll = self._last_contact = time.monotonic()
        self._watcher = asyncio.create_task(self._watch(), name="kafka-health")

    async def _watch(self) -> None:
        """Every few seconds: is the broker answering, and how is each partition doing?"""
        while self._consumer is not None:
            await asyncio.sleep(_HEALTH_EVERY)
            consumer = self._consumer
            if consumer is None:
                return
            try:
                await asyncio.wait_for(consumer.topics(), timeout=_HEALTH_EVERY)
            except (KafkaError, TimeoutError) as exc:
                silent = time.monotonic() - self._last_contact
                if not self._unreachable_logged and silent > self._settings.stall_timeout:
                    # Once per outage: the consumer retries on its own, quietly.
                    self._unreachable_logged = True
                    log.error("kafka_unreachable", seconds=round(silent), error=repr(exc))
            else:
                if self._unreachable_logged:
                    log.info("kafka_reachable_again")
                self._unreachable_logged = False
                self._last_contact = time.monotonic()
            observed = {}
            for tp in self._assignment:
                high, position = consumer.highwater(tp), self._fetched.get(tp)
                if high is not None and position is not None:
                    observed[(tp.topic, tp.partition)] = (position, high)
            self._health.sample(observed)

    def health(self) -> Mapping[tuple[str, int], str]:
        """Per-partition verdicts: ok, slow, stalled or unknown (Burrow's rules, simplified)."""
        return self._health.verdicts()

    async def fetch(self) -> Batch:
        consumer = self._require_consumer()
        try:
            data = await consumer.getmany(
                timeout_ms=_FETCH_TIMEOUT_MS, max_records=self._settings.max_batch_records
            )
        except KafkaError as exc:
            raise SourceError(f"fetch failed: {exc}") from exc
        self._last_poll = time.monotonic()
        if not data:
            return Batch(records=())
        records = []
        next_offsets = {}
        for tp, messages in data.items():
            until = self._rebuild_until.get(tp, -1)
            handed = self._handed.get(tp, -1)
            replayed = self._replayed.get(tp, -1)
            for m in messages:
                replay = m.offset < until
                # Never hand out an offset twice: the fetch that was under way when a
                # partition was assigned can overlap what its rebuild re-reads.
                if (replay and m.offset < replayed) or (not replay and m.offset < handed):
                    continue
                records.append(
                    RawRecord(
                        m.value, m.key, m.topic, m.partition, m.offset, m.timestamp, replay=replay
                    )
                )
                if replay:
                    replayed = m.offset + 1
                else:
                    handed = m.offset + 1
            self._handed[tp], self._replayed[tp] = handed, replayed
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
        await self._state_written()
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
            self.on_alert_state(await self._read_alert_state(gained))
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

    async def _read_alert_state(self, partitions: set[TopicPartition]) -> SiteStates:
        """The alert state the previous owners of ``partitions`` left, by site; nothing when
        the topic cannot be read (logged): the pages then start over after the rebuild."""
        topic = self._settings.alert_state_topic
        assert topic is not None
        wanted = {(tp.topic, tp.partition) for tp in partitions}
        try:
            latest = await asyncio.wait_for(
                _read_compacted(self._settings, topic), _STATE_READ_SECONDS
            )
        except (KafkaError, TimeoutError) as exc:
            log.warning("alert_state_unread", topic=topic, error=repr(exc))
            return {}
        states = {}
        for site, value in latest.items():
            try:
                record = json.loads(value)
                partition = (str(record["partition"][0]), int(record["partition"][1]))
                rows = list(record["alerts"])
            except (ValueError, KeyError, TypeError, IndexError) as exc:
                log.warning("alert_state_unreadable", topic=topic, site=site, error=str(exc))
                continue
            if partition in wanted:
                states[site] = rows
        log.info("alert_state_read", topic=topic, sites=len(latest), adopted=len(states))
        return states

    def write_alert_state(
        self, changes: Mapping[str, tuple[tuple[str, int], Sequence[Mapping[str, Any]] | None]]
    ) -> None:
        """Write each site's alert state (None: a tombstone, it has none) with the partition
        it lives in, to ``alert_state_topic``; in the background, logged if it fails."""
        topic, producer = self._settings.alert_state_topic, self._producer
        if topic is None or producer is None:
            return
        for site, (partition, rows) in changes.items():
            value = (
                None
                if rows is None
                else json.dumps({"partition": list(partition), "alerts": list(rows)}).encode()
            )
            task = asyncio.create_task(_send(producer, topic, site, value))
            self._state_writes.add(task)
            task.add_done_callback(self._state_writes.discard)

    async def _state_written(self) -> None:
        if self._state_writes:
            await asyncio.gather(*self._state_writes, return_exceptions=True)

    async def dead_letter(self, rejections: Sequence[Rejection]) -> None:
        """Write ``rejections`` to the dead-letter topic before their offsets are committed.

        Retriable failures (broker unavailable, leader moving) are retried with backoff for as
        long as it takes: nothing is committed past a record until it is stored. A record the
        topic refuses for good (not authorized, too large even truncated) is logged with its
        coordinates and counted in ``dead_letters.failed``, so one bad record cannot stop the
        stream.
        """
        if self._producer is None:
            return
        pending = list(rejections)
        delay = 0.2
        while pending:
            results = await asyncio.gather(
                *(self._send_dead_letter(r) for r in pending), return_exceptions=True
            )
            retry = []
            for rejection, result in zip(pending, results, strict=True):
                if result is None:
                    self.dead_letters.written += 1
                elif isinstance(result, KafkaError) and (
                    # aiokafka marks a send that timed out waiting for a leader as final; it
                    # is an outage, and the record must wait for the broker, not be lost.
                    result.retriable or isinstance(result, KafkaTimeoutError)
                ):
                    retry.append(rejection)
                else:
                    self.dead_letters.failed += 1
                    record = rejection.record
                    log.error(
                        "dead_letter_refused",
                        error=repr(result),
                        reason=rejection.reason,
                        topic=record.topic,
                        partition=record.partition,
                        offset=record.offset,
                    )
            pending = retry
            if pending:
                log.warning("dead_letter_retry", records=len(pending), retry_in=delay)
                await asyncio.sleep(delay)
                delay = min(delay * 2, _DLQ_RETRY_MAX_SECONDS)

    async def _send_dead_letter(self, rejection: Rejection) -> None:
        assert self._producer is not None
        headers = _dead_letter_headers(rejection)
        # A tombstone has no value; the dead-letter copy needs one (aiokafka insists).
        value = rejection.record.value if rejection.record.value is not None else b""
        # A broker takes ~1 MiB per record by default (message.max.bytes).
        room = min(self._max_request, 1024 * 1024) - _DLQ_OVERHEAD
        if len(value) > room:
            # Larger than a request may be: keep its head, and where to find all of it.
            headers.append(("callpulse.truncated_from", str(len(value)).encode()))
            value = value[:room]
        delivery = await self._producer.send(
            self._settings.dead_letter_topic, value=value, key=rejection.record.key, headers=headers
        )
        await delivery

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
            await _quietly(consumer.stop())
        if producer is not None:
            await _quietly(producer.stop())

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
        silent = time.monotonic() - self._last_poll
        if silent > self._settings.stall_timeout:
            return False, f"consumer stalled: no fetch completed for {silent:.0f} s"
        unreachable = time.monotonic() - self._last_contact
        if unreachable > self._settings.stall_timeout:
            return False, f"Kafka unreachable for {unreachable:.0f} s"
        stalled = sorted(
            f"{t}[{p}]" for (t, p), v in self._health.verdicts().items() if v == "stalled"
        )
        if stalled:
            return False, f"consumer stalled on {', '.join(stalled)}"
        return True, f"consuming {len(self._assignment)} partition(s)"

    def blindness(self) -> Blindness | None:
        """Whether the consumer cannot see (the broker unreachable, no fetch completing, a
        partition stalled or falling behind past a batch), or is catching up after it (for
        ``stall_timeout`` more once caught up: the producers cut off by the same outage
        deliver what they held)."""
        wall = time.time()
        fetched = wall - (time.monotonic() - self._last_poll)
        return self._sight.observe(wall, self._trouble(), self.lag(), fetched)

    def _trouble(self) -> tuple[str, float] | None:
        """What keeps the consumer from seeing, and since when (epoch seconds)."""
        if self._consumer is None or not self._joined:
            return None
        now, wall = time.monotonic(), time.time()
        timeout = self._settings.stall_timeout
        unreachable = now - self._last_contact
        if unreachable > timeout:
            brokers = self._settings.bootstrap_servers
            return f"Kafka at {brokers} unreachable for {unreachable:.0f} s", wall - unreachable
        silent = now - self._last_poll
        if silent > timeout:
            return f"consumer stalled: no fetch completed for {silent:.0f} s", wall - silent
        verdicts = self._health.verdicts()
        lag = self.lag()
        stuck = sorted(
            f"{t}[{p}]"
            for (t, p), v in verdicts.items()
            if v == "stalled" or (v == "slow" and lag.get((t, p), 0) > self._sight.caught_up)
        )
        if stuck:
            # A verdict judges the whole window of samples: the trouble began about as long ago.
            began = wall - _HEALTH_EVERY * _HEALTH_SAMPLES
            return f"consumer stalled or falling behind on {', '.join(stuck)}", began
        return None

    def exhausted(self) -> bool:
        return False

    def lag(self) -> Mapping[tuple[str, int], int]:
        consumer = self._consumer
        if consumer is None:
            return {}
        result = {}
        for tp in self._assignment:
            highwater = consumer.highwater(tp)
            position = self._fetched.get(tp)
            if highwater is not None and position is not None:
                result[(tp.topic, tp.partition)] = max(0, highwater - position)
        return result

    def _require_consumer(self) -> AIOKafkaConsumer:
        if self._consumer is None:
            raise SourceError("the Kafka source is not started")
        return self._consumer


async def _send(producer: AIOKafkaProducer, topic: str, site: str, value: bytes | None) -> None:
    try:
        delivery = await producer.send(topic, value=value, key=site.encode())
        await delivery
    except KafkaError as exc:
        log.warning("alert_state_not_written", topic=topic, site=site, error=repr(exc))


async def _read_compacted(settings: KafkaSettings, topic: str) -> dict[str, bytes]:
    """The newest value of each key of ``topic``, read from the start to its end now, with
    a consumer of no group; a key whose newest record is a tombstone is left out."""
    # Subscribed without a group: it assigns itself every partition of the topic.
    consumer = AIOKafkaConsumer(
        topic,
        enable_auto_commit=False,
        group_id=None,
        auto_offset_reset="earliest",
        **connection_options(settings),
    )
    try:
        await consumer.start()
        partitions = list(consumer.assignment())
        if not partitions:
            return {}
        await consumer.seek_to_beginning(*partitions)
        ends = await consumer.end_offsets(partitions)
        latest: dict[str, bytes | None] = {}
        while [tp for tp in partitions if await consumer.position(tp) < ends[tp]]:
            for messages in (await consumer.getmany(timeout_ms=_FETCH_TIMEOUT_MS)).values():
                for m in messages:
                    if m.key is not None:
                        latest[m.key.decode(errors="replace")] = m.value
        return {k: v for k, v in latest.items() if v is not None}
    finally:
        await _quietly(consumer.stop())


def _dead_letter_headers(rejection: Rejection) -> list[tuple[str, bytes]]:
    record = rejection.record
    headers = [
        ("callpulse.reason", rejection.reason.encode()),
        ("callpulse.error", rejection.detail.encode("utf-8", "replace")[:1024]),
        ("callpulse.source.topic", record.topic.encode()),
        ("callpulse.source.partition", str(record.partition).encode()),
        ("callpulse.source.offset", str(record.offset).encode()),
    ]
    if record.timestamp_ms is not None:
        headers.append(("callpulse.source.timestamp", str(record.timestamp_ms).encode()))
    return headers


def _describe(offsets: Mapping[TopicPartition, int]) -> list[str]:
    return sorted(f"{tp.topic}[{tp.partition}]@{off}" for tp, off in offsets.items())


async def _quietly(awaitable: Any) -> None:
    try:
        await awaitable
    except Exception as exc:  # closing a half-open client must not mask the real error
        log.debug("close_failed", error=str(exc))

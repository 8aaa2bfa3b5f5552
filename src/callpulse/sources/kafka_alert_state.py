"""The alert state topic: each site's alerts, written (keyed by site, with its partition) by
the replica that owns the site, and read back by the next owner of the partition, so that
its pages carry on across a rebalance or a restart.

The topic is compacted: a reader takes the newest value of each key, and a site with no
alerts left is a tombstone.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Mapping, Sequence
from typing import Any

import structlog
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.errors import KafkaError

from callpulse.config import KafkaSettings
from callpulse.sources.kafka_connect import connection_options, quietly

log = structlog.get_logger("callpulse.kafka")

_FETCH_TIMEOUT_MS = 500
_STATE_READ_SECONDS = 10.0

SiteStates = Mapping[str, list[dict[str, Any]]]
"""Each site's alerts as plain rows (what the alert state topic carries)."""


class AlertStateTopic:
    """Reads and writes ``settings.alert_state_topic``."""

    def __init__(self, settings: KafkaSettings) -> None:
        self._settings = settings
        self._writes: set[asyncio.Task[None]] = set()

    async def read(self, partitions: set[TopicPartition]) -> SiteStates:
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

    def write(
        self,
        producer: AIOKafkaProducer,
        changes: Mapping[str, tuple[tuple[str, int], Sequence[Mapping[str, Any]] | None]],
    ) -> None:
        """Write each site's alert state (None: a tombstone, it has none) with the partition
        it lives in, to ``alert_state_topic``; in the background, logged if it fails."""
        topic = self._settings.alert_state_topic
        if topic is None:
            return
        for site, (partition, rows) in changes.items():
            value = (
                None
                if rows is None
                else json.dumps({"partition": list(partition), "alerts": list(rows)}).encode()
            )
            task = asyncio.create_task(_send(producer, topic, site, value))
            self._writes.add(task)
            task.add_done_callback(self._writes.discard)

    async def written(self) -> None:
        """Once every write under way has landed (or failed)."""
        if self._writes:
            await asyncio.gather(*self._writes, return_exceptions=True)


async def _send(producer: AIOKafkaProducer, topic: str, site: str, value: bytes | None) -> None:
    """Write one site's state (None: a tombstone); a failure is logged, not raised."""
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
        await quietly(consumer.stop())

"""The Kafka source's dead-letter topic: each rejected record written with its reason and
its source coordinates in headers, cut to what a broker takes, and retried through an
outage until it is stored (its offset is committed only after)."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence

import structlog
from aiokafka import AIOKafkaProducer
from aiokafka.errors import KafkaError, KafkaTimeoutError

from callpulse.config import KafkaSettings
from callpulse.core.ingest import Rejection
from callpulse.protocols import DeadLetterStats

log = structlog.get_logger("callpulse.kafka")

_RETRY_MAX_SECONDS = 10.0
# Room a dead-letter record needs beside its value: headers and the record batch framing.
_OVERHEAD = 64 * 1024


class DeadLetterWriter:
    """Writes rejections to ``settings.dead_letter_topic`` through the producer
    ``producer()`` returns (None once the source has stopped), counting them in ``stats``."""

    def __init__(
        self,
        settings: KafkaSettings,
        producer: Callable[[], AIOKafkaProducer | None],
        max_request: int,
        stats: DeadLetterStats,
    ) -> None:
        self._settings = settings
        self._producer = producer
        self._max_request = max_request
        self.stats = stats

    async def write(self, rejections: Sequence[Rejection]) -> None:
        """Write ``rejections`` to the dead-letter topic before their offsets are committed.

        Retriable failures (broker unavailable, leader moving) are retried with backoff for as
        long as it takes: nothing is committed past a record until it is stored. A record the
        topic refuses for good (not authorized, too large even truncated) is logged with its
        coordinates and counted in ``dead_letters.failed``, so one bad record cannot stop the
        stream.
        """
        if self._producer() is None:
            return
        pending = list(rejections)
        delay = 0.2
        while pending:
            results = await asyncio.gather(
                *(self._send(r) for r in pending), return_exceptions=True
            )
            retry = []
            for rejection, result in zip(pending, results, strict=True):
                if result is None:
                    self.stats.written += 1
                elif isinstance(result, KafkaError) and (
                    # aiokafka marks a send that timed out waiting for a leader as final; it
                    # is an outage, and the record must wait for the broker, not be lost.
                    result.retriable or isinstance(result, KafkaTimeoutError)
                ):
                    retry.append(rejection)
                else:
                    self.stats.failed += 1
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
                delay = min(delay * 2, _RETRY_MAX_SECONDS)

    async def _send(self, rejection: Rejection) -> None:
        producer = self._producer()
        assert producer is not None
        headers = _headers(rejection)
        # A tombstone has no value; the dead-letter copy needs one (aiokafka insists).
        value = rejection.record.value if rejection.record.value is not None else b""
        # A broker takes ~1 MiB per record by default (message.max.bytes).
        room = min(self._max_request, 1024 * 1024) - _OVERHEAD
        if len(value) > room:
            # Larger than a request may be: keep its head, and where to find all of it.
            headers.append(("callpulse.truncated_from", str(len(value)).encode()))
            value = value[:room]
        delivery = await producer.send(
            self._settings.dead_letter_topic, value=value, key=rejection.record.key, headers=headers
        )
        await delivery


def _headers(rejection: Rejection) -> list[tuple[str, bytes]]:
    """Why ``rejection`` was rejected, and where its record came from."""
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

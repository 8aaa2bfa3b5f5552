"""Replay of a file of records (gzip read as it is found: :mod:`.files`): a JSON format's
top-level documents, one a line, pretty-printed or concatenated; any other's a line each.

Time follows the file's own ``occurred_at`` (the newest seen so far), so a replay gives the
same KPIs however fast it runs. ``speed`` 0 reads as fast as possible; ``speed`` X sleeps so
that X seconds of event time pass per wall-clock second. A platform's file is paced on the
times its adapter reads in it (``clock``).
"""

from __future__ import annotations

import asyncio
import io
import json
import time
from collections.abc import Callable, Iterator
from datetime import datetime

import structlog

from callpulse.config import ReplaySettings
from callpulse.core.clock import BOUNDED_EVENT_TIME
from callpulse.core.ingest import RawRecord, too_deep
from callpulse.protocols import Batch
from callpulse.sources.errors import SourceError
from callpulse.sources.files import ReadError, open_replay, read_records

log = structlog.get_logger("callpulse.replay")

_BATCH_LINES = 2000


class ReplaySource:
    """Reads ``settings.path``; rejected lines are logged with their line number. A
    :class:`~callpulse.protocols.Source` that is :class:`~callpulse.protocols.Finite` and has
    :class:`~callpulse.protocols.Readiness`."""

    name = "replay"
    clock = BOUNDED_EVENT_TIME

    def __init__(
        self,
        settings: ReplaySettings,
        clock: Callable[[bytes], float | None] | None = None,
        max_record_bytes: int = 256 * 1024,
    ) -> None:
        """``clock``: a line's event time, for pacing (default: an events-v1 line's);
        ``max_record_bytes``: the ingest's limit, past which a line is cut and refused."""
        self._settings = settings
        self._clock = clock or event_time
        self._max_record_bytes = max_record_bytes
        self._file: io.BufferedIOBase | None = None
        self._lines: Iterator[tuple[int, bytes]] = iter(())
        self._line = 0
        self._done = False
        self._first_event: float | None = None
        self._first_wall = 0.0

    async def start(self) -> None:
        try:
            self._file = open_replay(self._settings.path)
        except OSError as exc:
            raise SourceError(
                f"cannot open replay file {self._settings.path}: {exc.strerror}"
            ) from exc
        fmt = self._settings.format.format
        self._lines = read_records(self._file, fmt, self._max_record_bytes)
        log.info("replay_started", path=str(self._settings.path), speed=self._settings.speed)

    async def fetch(self) -> Batch:
        if self._file is None or self._done:
            await asyncio.sleep(0.5)
            return Batch(records=())
        records = []
        topic = str(self._settings.path)
        for _ in range(_BATCH_LINES):
            try:
                numbered = next(self._lines, None)
            except ReadError as exc:  # what was read before it is applied
                log.error("replay_unreadable", path=topic, error=str(exc))
                numbered = None
            if numbered is None:
                self._done = True
                log.info("replay_finished", path=topic, lines=self._line)
                break
            self._line, line = numbered
            records.append(RawRecord(line, None, topic, 0, self._line))
            if self._settings.speed > 0 and await self._pace(line):
                break
        return Batch(records=records)

    async def _pace(self, line: bytes) -> bool:
        """Sleep until ``line``'s event time is due; True when the batch should end here."""
        try:
            moment = self._clock(line)
        except Exception:  # pacing only: the ingest judges the line, and says why
            moment = None
        if moment is None:
            return False
        if self._first_event is None:
            self._first_event, self._first_wall = moment, time.monotonic()
            return False
        due = self._first_wall + (moment - self._first_event) / self._settings.speed
        delay = due - time.monotonic()
        if delay > 0:
            await asyncio.sleep(delay)
            return True
        return False

    async def commit(self, batch: Batch) -> None:
        """Nothing to commit: a file keeps no position anyone else reads."""

    async def stop(self) -> None:
        if self._file is not None:
            self._file.close()
            self._file = None

    def readiness(self) -> tuple[bool, str]:
        if self._file is None and not self._done:
            return False, "replay file not open"
        return True, "replay finished" if self._done else f"replaying line {self._line}"

    def exhausted(self) -> bool:
        return self._done


def event_time(line: bytes) -> float | None:
    """An events-v1 line's ``occurred_at`` in epoch seconds (None if it has none, or if the
    line is not one to read: the decoder says why)."""
    if too_deep(line):
        return None
    try:
        value = json.loads(line).get("occurred_at")
        return datetime.fromisoformat(value).timestamp() if isinstance(value, str) else None
    except (ValueError, AttributeError, ArithmeticError, RecursionError):
        return None

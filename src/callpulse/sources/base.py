"""What every source of records (Kafka, a replay file, the simulator) offers the daemon."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Protocol

from callpulse.core.clock import WALL_TIME, Clock
from callpulse.core.consumer_health import Blindness
from callpulse.core.ingest import RawRecord, Rejection


class SourceError(Exception):
    """A source cannot deliver right now (broker unreachable, file unreadable)."""


class SourceRefusedError(SourceError):
    """The source will not deliver with this configuration (credentials refused, certificate
    not trusted): retrying cannot help, so the daemon stops and says what to fix."""


@dataclass(frozen=True, slots=True)
class Batch:
    """Records fetched together, and for Kafka the offsets to commit once they are applied."""

    records: Sequence[RawRecord]
    # (topic, partition) -> offset of the next record to read (last applied + 1).
    next_offsets: Mapping[tuple[str, int], int] = field(default_factory=dict)


@dataclass
class DeadLetterStats:
    """Rejected records written to the dead-letter destination, and those that could not be."""

    written: int = 0
    failed: int = 0


RevokeHandler = Callable[[Sequence[tuple[str, int]]], None]
"""Told the (topic, partition)s this replica no longer owns, so their state can go."""


class Source(Protocol):
    """A stream of raw records that the daemon decodes, applies and then commits."""

    name: str
    """Shown in logs: ``kafka``, ``replay`` or ``simulator``."""

    clock: Clock
    """Whose time the pipeline runs on: the wall clock (Kafka), the records' own
    ``occurred_at`` bounded by the wall clock (a replay), or event time alone (a
    time-compressed simulation, whose events legitimately run ahead of the wall clock)."""

    dead_letters: DeadLetterStats
    """Counts of :meth:`dead_letter`'s work."""

    on_revoke: RevokeHandler | None
    """Called when partitions move to another replica (Kafka only)."""

    async def start(self) -> None:
        """Connect or open; raise :class:`SourceError` if not possible now."""

    async def fetch(self) -> Batch:
        """Wait briefly for records; an empty batch means none arrived in time."""

    async def commit(self, batch: Batch) -> None:
        """Record that ``batch`` has been applied (at-least-once: only after applying it)."""

    async def dead_letter(self, rejections: Sequence[Rejection]) -> None:
        """Keep the rejected records somewhere a person can find them, with the reason."""

    async def stop(self) -> None:
        """Release connections; commits what was applied."""

    def readiness(self) -> tuple[bool, str]:
        """Whether the source is delivering, and a short reason either way."""

    def health(self) -> Mapping[tuple[str, int], str]:
        """Per-partition consumer verdicts (ok, slow, stalled, unknown), where it applies."""

    def rebuilding(self) -> bool:
        """True while re-read records are rebuilding state (alerts are held back)."""

    def blindness(self) -> Blindness | None:
        """Why the source cannot see its records now (or is still catching up on what it
        missed while it could not); None while it sees. Silence means nothing meanwhile."""

    def exhausted(self) -> bool:
        """True when no more records will ever come (the end of a replay file)."""

    def lag(self) -> Mapping[tuple[str, int], int]:
        """Records not yet fetched per (topic, partition), where the source knows."""


class BaseSource:
    """What a source that is not Kafka has by default: no partitions, no lag, nothing to
    rebuild, nothing to commit, rejects counted. A source overrides what it has more of and
    provides :meth:`start`, :meth:`fetch`, :meth:`stop` and :meth:`readiness`."""

    name = "source"
    clock = WALL_TIME

    def __init__(self) -> None:
        self.dead_letters = DeadLetterStats()
        self.on_revoke: RevokeHandler | None = None

    async def commit(self, batch: Batch) -> None:
        """Nothing to commit: the source keeps no position anyone else reads."""

    async def dead_letter(self, rejections: Sequence[Rejection]) -> None:
        """Count the rejects (the daemon has logged each with its coordinates)."""
        self.dead_letters.written += len(rejections)

    def health(self) -> Mapping[tuple[str, int], str]:
        """No partitions to judge."""
        return {}

    def rebuilding(self) -> bool:
        """Nothing is ever re-read."""
        return False

    def blindness(self) -> Blindness | None:
        """Nothing stands between the source and its records."""
        return None

    def exhausted(self) -> bool:
        """Records keep coming."""
        return False

    def lag(self) -> Mapping[tuple[str, int], int]:
        """No broker to be behind."""
        return {}

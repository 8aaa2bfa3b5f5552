"""A record as a source delivers it: what the ingest takes in, and an adapter gives out."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Protocol

from callpulse.core.events import Event


# Not frozen (and compared by identity), though nothing changes a record once made: a frozen
# dataclass sets each field through object.__setattr__, 1 us a record against 0.3 us, on the
# path of every record.
@dataclass(slots=True, eq=False)
class RawRecord:
    """A record as a source delivers it, with the coordinates to find it again; or, with
    ``event``, an event an adapter made from one (with that record's coordinates), applied
    as it is: it was checked as it was made, and is not written out to be decoded again."""

    value: bytes | None
    key: bytes | None = None
    topic: str = ""
    partition: int = 0
    offset: int = -1
    timestamp_ms: int | None = None
    replay: bool = False  # re-read to rebuild state (see Monitor.apply)
    event: Event | None = None


class Fetched(Protocol):
    """A record as a Kafka client hands it over (aiokafka's ``ConsumerRecord``)."""

    @property
    def offset(self) -> int:
        """Its position in its partition."""

    @property
    def key(self) -> bytes | None:
        """Its key."""

    @property
    def value(self) -> bytes | None:
        """Its value."""

    @property
    def timestamp(self) -> int:
        """Its timestamp, in epoch milliseconds."""


def take_fetched(
    fetched: Iterable[Fetched],
    topic: str,
    partition: int,
    until: int,
    taken: tuple[int, int],
    out: list[RawRecord],
) -> tuple[int, int]:
    """Append to ``out`` a record for each of ``fetched`` (one partition's, in offset order)
    not taken before; return what is taken now. ``taken``: the offsets (new, re-read) from
    which records are new to the reader: those below ``until`` are re-read to rebuild
    state (``replay``), the rest are new. Compiled, on the path of every record a broker
    hands over (as an interpreted loop, a tenth of a record's cost to the daemon)."""
    handed, replayed = taken
    for record in fetched:
        offset = record.offset
        replay = offset < until
        if replay:
            if offset < replayed:
                continue
            replayed = offset + 1
        else:
            if offset < handed:
                continue
            handed = offset + 1
        out.append(
            RawRecord(record.value, record.key, topic, partition, offset, record.timestamp, replay)
        )
    return handed, replayed

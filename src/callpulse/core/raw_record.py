"""A record as a source delivers it: what the ingest takes in, and an adapter gives out."""

from __future__ import annotations

from dataclasses import dataclass

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

"""What every adapter shares: its error, and how it writes an events-v1 record."""

from __future__ import annotations

import hashlib
from collections import Counter
from typing import Any, Protocol

from callpulse.core.ingest import DecodeError
from callpulse.core.timefmt import rfc3339

V1 = dict[str, Any]


class AdapterError(DecodeError):
    """A record the adapter cannot read. It goes to the dead-letter topic with the reason
    ``invalid_<format>`` and this message."""

    def __init__(self, fmt: str, message: str) -> None:
        super().__init__(f"invalid_{fmt}", message)


class Adapter(Protocol):
    """Turns one platform record into zero or more events-v1 bodies."""

    format: str
    ignored: Counter[str]  # well-formed records of a kind v1 has no use for, by kind

    def translate(self, record: bytes) -> list[V1]:
        """The events-v1 bodies ``record`` stands for; raises AdapterError if unreadable."""
        ...

    def flush(self, now: float) -> list[V1]:
        """Events that are due by ``now`` without a record saying so (an assumed wrap-up
        ending on a quiet stream); the daemon's clock tick calls it. Most return []."""
        ...


def v1(record: bytes, index: int, event_type: str, when: float, site: str, **fields: Any) -> V1:
    """An events-v1 body. Its ``event_id`` is a hash of the platform record and the event's
    place among those it yields, so a record read twice (a restarted tail, a replayed topic)
    is de-duplicated like any other event."""
    digest = hashlib.blake2b(record, digest_size=12).hexdigest()
    return {
        "schema_version": 1,
        "event_id": f"{digest}-{index}",
        "type": event_type,
        "occurred_at": rfc3339(when),
        "site": site,
        **fields,
    }

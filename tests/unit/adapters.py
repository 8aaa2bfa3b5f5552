"""What the adapter tests share: reading records through an adapter, every body it yields
checked to be valid events v1."""

from __future__ import annotations

import json
from typing import Any

from callpulse.adapters.base import Adapter
from callpulse.core.ingest import decode


def translated(adapter: Adapter, *records: bytes) -> list[dict[str, Any]]:
    """The v1 bodies ``records`` yield, in order; a body that is not valid v1 raises."""
    events: list[dict[str, Any]] = []
    for record in records:
        for body in adapter.translate(record):
            decode(json.dumps(body).encode(), max_bytes=1 << 20)
            events.append(body)
    return events


def only(events: list[dict[str, Any]], event_type: str) -> dict[str, Any]:
    """The one event of ``event_type`` among ``events``."""
    [event] = [e for e in events if e["type"] == event_type]
    return event

"""Building events for tests the way a producer would: as JSON, through the real decoder."""

from __future__ import annotations

import itertools
import json
from datetime import UTC, datetime
from typing import Any

from callpulse.core.events import Event
from callpulse.core.ingest import decode

_ids = itertools.count(1)


def at(timestamp: float) -> str:
    return datetime.fromtimestamp(timestamp, UTC).isoformat().replace("+00:00", "Z")


def raw(event_type: str, when: float, site: str = "lon1", **fields: Any) -> bytes:
    body = {
        "schema_version": 1,
        "event_id": fields.pop("event_id", f"t-{next(_ids)}"),
        "type": event_type,
        "occurred_at": at(when),
        "site": site,
        **fields,
    }
    return json.dumps(body).encode()


def event(event_type: str, when: float, site: str = "lon1", **fields: Any) -> Event:
    return decode(raw(event_type, when, site, **fields), max_bytes=1 << 20)

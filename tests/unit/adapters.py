"""What the adapter tests share: reading records through an adapter, every event it yields
checked to be what the events-v1 decoder makes of the same event written as JSON, and seen
as the body a producer would write."""

from __future__ import annotations

from typing import Any

import msgspec

from callpulse.core.events import Event
from callpulse.core.ingest import decode
from callpulse.core.timefmt import written
from callpulse.protocols import Adapter


def body(event: Event) -> dict[str, Any]:
    """``event`` as the JSON object a producer writes (``occurred_at`` to the millisecond,
    as the adapters keep it); raises if the decoder would not make the same event of it."""
    assert decode(msgspec.json.encode(event), max_bytes=1 << 20) == event
    built: dict[str, Any] = msgspec.to_builtins(event)
    built["occurred_at"] = written(event.occurred_at)
    return built


def translated(adapter: Adapter, *records: bytes) -> list[dict[str, Any]]:
    """The v1 bodies ``records`` yield, in order; an event that is not valid v1 raises."""
    return [body(event) for record in records for event in adapter.translate(record)]


def only(events: list[dict[str, Any]], event_type: str) -> dict[str, Any]:
    """The one event of ``event_type`` among ``events``."""
    [event] = [e for e in events if e["type"] == event_type]
    return event


def statuses(events: list[dict[str, Any]]) -> list[tuple[str, int]]:
    """(trunk, channels in use) of each ``trunk.status`` among ``events``, each checked to
    say nothing else: a count from call records has no state and no total."""
    out = []
    for e in events:
        if e["type"] == "trunk.status":
            assert e.get("state") is None
            assert e.get("channels_total") is None
            out.append((e["trunk_id"], e["channels_in_use"]))
    return out


def through(
    emitter: Any, reference: Any, adapter: Adapter, events: list[dict[str, Any]]
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """A day's v1 ``events`` written by a trunk ``emitter`` and read back by ``adapter``,
    and the same day as ``reference`` (another emitter of the format) says the format keeps
    it: the two a round trip is checked with."""
    watched = emitter.carries | emitter.watches
    back = [
        got for e in events if e["type"] in watched
        for record in emitter.emit(e) for got in translated(adapter, record)
    ]  # fmt: skip
    kept = [k for e in events for k in reference.as_kept(e) if k["type"] in emitter.carries]
    return back, kept

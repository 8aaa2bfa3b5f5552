"""The log events a CloudWatch Logs subscription delivers.

A subscription filter sends a log group's events to Kinesis Data Streams, Kinesis Data
Firehose or a Lambda function as a gzipped JSON document (CloudWatch Logs User Guide,
"Real-time processing of log data with subscriptions", "Examples"): ``messageType``
(``DATA_MESSAGE``, or ``CONTROL_MESSAGE`` when CloudWatch checks the destination is
reachable), ``owner``, ``logGroup``, ``logStream``, ``subscriptionFilters`` and
``logEvents``, a list of ``{"id", "timestamp", "message"}`` where ``message`` is the logged
line as text and ``timestamp`` epoch milliseconds. A bridge or connector that gunzips it
puts that document on Kafka whole; one that splits it puts each ``message`` on its own.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from callpulse.adapters.base import LAST_INSTANT, AdapterError, Unreadable
from callpulse.adapters.bounds import shown

# PutLogEvents takes at most 10,000 events in a batch, and a subscription delivers no
# more: a document claiming more is refused whole rather than read in part.
MAX_LOG_EVENTS = 10_000
DATA = "DATA_MESSAGE"
CONTROL = "CONTROL_MESSAGE"


@dataclass(frozen=True, slots=True)
class LogEvent:
    """One log event of a subscription: where it is (for a message), its logged line, and
    CloudWatch's time of it (epoch seconds; None if it has none that is valid)."""

    where: str
    message: str
    timestamp: float | None


def is_envelope(doc: dict[str, Any]) -> bool:
    """Whether ``doc`` is a subscription's document rather than one logged line."""
    return "messageType" in doc and "logEvents" in doc


def log_events(fmt: str, doc: dict[str, Any]) -> list[LogEvent | Unreadable]:
    """The log events of a ``DATA_MESSAGE`` (none for a ``CONTROL_MESSAGE``), each, or why
    it cannot be read, in order. Raises AdapterError for a document that
    is not a subscription's at all, or that holds more than :data:`MAX_LOG_EVENTS`."""
    kind = doc.get("messageType")
    if kind == CONTROL:
        return []
    if kind != DATA:
        raise AdapterError(fmt, f"messageType must be {DATA} or {CONTROL}: {shown(kind)}")
    items = doc.get("logEvents")
    if not isinstance(items, list):
        raise AdapterError(fmt, f"logEvents must be a list, got {shown(items)}")
    if len(items) > MAX_LOG_EVENTS:
        raise AdapterError(
            fmt, f"{len(items):,} log events in one document; a subscription sends at most "
            f"{MAX_LOG_EVENTS:,}",
        )  # fmt: skip
    return [_event(fmt, f"logEvents[{i}]", item) for i, item in enumerate(items)]


def _event(fmt: str, where: str, item: Any) -> LogEvent | Unreadable:
    if not isinstance(item, dict):
        return Unreadable(f"{where} must be an object, got {shown(item)}")
    message = item.get("message")
    if not isinstance(message, str) or not message:
        return Unreadable(f"{where}.message must be text, got {shown(message)}")
    stamp = item.get("timestamp")
    if isinstance(stamp, bool) or not isinstance(stamp, int | float):
        return LogEvent(where, message, None)
    fine = math.isfinite(stamp) and 0 <= stamp / 1000 <= LAST_INSTANT
    return LogEvent(where, message, stamp / 1000 if fine else None)

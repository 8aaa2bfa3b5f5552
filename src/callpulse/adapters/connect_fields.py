"""Reading the fields of Amazon Connect's documents.

The contact-event samples in AWS's own pages disagree on key case (``agentInfo`` /
``AgentInfo``, ``agentArn`` / ``AgentArn``, ``VOICE`` / ``Voice``) and the data model writes
``EventType`` where the samples write ``eventType``: every key is read case-insensitively
(:func:`get`), and each reader raises AdapterError saying which field is wrong and how.
"""

from __future__ import annotations

import math
from datetime import UTC, datetime
from typing import Any

from callpulse.adapters.base import LAST_INSTANT, AdapterError
from callpulse.adapters.bounds import checked_name, shown

FORMAT = "amazon-connect"


def get(obj: dict[str, Any], name: str) -> Any:
    """``obj[name]`` whatever the key's case: AWS's samples write both ``agentInfo`` and
    ``AgentInfo``."""
    if name in obj:
        return obj[name]
    lower = name.lower()
    for key, value in obj.items():
        if key.lower() == lower:
            return value
    return None


def as_object(value: Any, what: str) -> dict[str, Any]:
    """``value``, which must be a JSON object."""
    if not isinstance(value, dict):
        raise AdapterError(FORMAT, f"{what} must be an object, got {shown(value)}")
    return value


def optional_object(value: Any, what: str) -> dict[str, Any]:
    """``value``, a JSON object if given; absent or null, an empty one."""
    return as_object(value, what) if value is not None else {}


def as_text(value: Any, what: str) -> str:
    """``value``, which must be a non-empty string of text."""
    if not isinstance(value, str) or not value:
        raise AdapterError(FORMAT, f"{what} must be a non-empty string, got {shown(value)}")
    if not value.isascii():
        try:
            value.encode()
        except UnicodeEncodeError:  # a lone surrogate (JSON's "\ud800"): no text at all
            raise AdapterError(FORMAT, f"{what} is not text: {shown(value)}") from None
    return value


def contact_id(value: Any, what: str) -> str:
    """A contact's id, which events v1 carry as the call's."""
    return checked_name(FORMAT, as_text(value, what), what)


def as_time(value: Any, what: str) -> float:
    """An ISO 8601 instant (``2019-08-13T20:58:44.031Z``, or without the fraction as the
    contact records write it) as epoch seconds; one without an offset is UTC."""
    text = as_text(value, what)
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise AdapterError(FORMAT, f"{what} is not an ISO 8601 time: {shown(text)}") from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    try:
        seconds = moment.timestamp()
    except (OverflowError, ValueError):  # an offset that takes the year past 1..9999
        seconds = -1.0
    if not 0 <= seconds <= LAST_INSTANT:
        raise AdapterError(FORMAT, f"{what} is out of range (1970 to 9999): {shown(text)}")
    return seconds


def as_seconds(value: Any, what: str) -> float:
    """A duration in (whole) seconds; absent or null is 0 (no hold, no ACW)."""
    if value is None:
        return 0.0
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise AdapterError(FORMAT, f"{what} must be a number of seconds, got {shown(value)}")
    if not math.isfinite(value) or value < 0:
        raise AdapterError(FORMAT, f"{what} must be a finite number >= 0, got {value!r}")
    return float(value)


def id_of(arn: str, what: str) -> str:
    """An ARN's last segment: the one id every stream can derive, checked as a name (the
    ARN itself is not kept)."""
    last = arn.rstrip("/").rsplit("/", 1)[-1]
    return checked_name(FORMAT, last or arn, f"{what}'s id")


def is_agent_queue(arn: str) -> bool:
    """Whether ``arn`` is an agent's own queue (how a call is transferred to one agent)."""
    return "/queue/agent/" in arn

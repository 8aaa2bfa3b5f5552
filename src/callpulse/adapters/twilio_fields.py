"""What a TaskRouter event's fields mean: a task's wait and priority, a worker's activity,
and the names of workers and queues (an event may give a SID, a friendly name, or both)."""

from __future__ import annotations

import contextlib
import math
import re

from callpulse.adapters.base import AdapterError
from callpulse.adapters.bounds import shown
from callpulse.adapters.twilio_records import FORMAT, TaskRouterEvent, instant

_PRIORITY = re.compile(r"-?[0-9]{1,18}")  # an integer a 64-bit field holds

# Twilio's default activities (a new Workspace's, and Flex's) and what they mean.
_ACTIVITIES = {
    "available": "available",
    "idle": "available",
    "unavailable": "not_ready",
    "break": "not_ready",
    "busy": "not_ready",
    "reserved": "not_ready",
    "offline": "offline",
}


def named(
    sid: str | None, name: str | None, configured: dict[str, str], learned: dict[str, str], cap: int
) -> str | None:
    """The name to report for what an event names by ``sid`` and friendly ``name``:
    ``configured`` of its SID or name, else its friendly name (learned for the SID, at most
    ``cap`` of them), else the name an earlier event gave its SID, else the SID."""
    if sid is not None and sid in configured:
        return configured[sid]
    if name is not None:
        if sid is not None:
            _remember(learned, sid, name, cap)
        return configured.get(name, name)
    if sid is not None:
        return learned.get(sid, sid)
    return None


def activity_state(event: TaskRouterEvent, states: dict[str, str]) -> str | None:
    """The agent state a worker's activity means: ``states`` by activity name or SID, else
    Twilio's default activities, else the availability flag; None when the event names no
    activity."""
    activity, sid = event.text("workeractivityname"), event.text("workeractivitysid")
    if activity is None and sid is None:
        return None
    if activity is not None and activity in states:
        return states[activity]
    if sid is not None and sid in states:
        return states[sid]
    if activity is not None and activity.lower() in _ACTIVITIES:
        return _ACTIVITIES[activity.lower()]
    available = _flag(event, "workeravailable", "workeractivityavailable", "available")
    return "available" if available else "not_ready"


def age(event: TaskRouterEvent) -> float:
    """A task's wait when its queue entry was not seen: TaskAge (seconds), else the time since
    TaskDateCreated, else 0."""
    age = event.fields.get("taskage")
    seconds = None
    if isinstance(age, int | float) and not isinstance(age, bool):
        seconds = float(age)
    elif isinstance(age, str):
        with contextlib.suppress(ValueError):  # not a number: TaskDateCreated may say
            seconds = float(age)
    if seconds is not None:
        if not math.isfinite(seconds):
            raise AdapterError(FORMAT, f"{event.kind}: TaskAge is not finite: {shown(age)}")
        return seconds
    created = event.fields.get("taskdatecreated")
    if created not in (None, ""):
        return event.when - instant(created, event.kind)
    return 0.0


def priority(event: TaskRouterEvent) -> int:
    """TaskPriority, a whole number (0 when absent or not a number); one out of a 64-bit
    range is refused, as the events-v1 decoder would refuse it."""
    value = event.fields.get("taskpriority")
    if isinstance(value, str) and _PRIORITY.fullmatch(value.strip()):
        value = int(value)
    elif isinstance(value, str) and value.strip().lstrip("-").isdigit():
        message = f"TaskPriority is not a whole number of at most 18 digits: {shown(value)}"
        raise AdapterError(FORMAT, message)
    if not isinstance(value, int) or isinstance(value, bool):
        return 0
    if not -(2**63) <= value < 2**63:
        raise AdapterError(FORMAT, f"TaskPriority is out of range: {shown(value)}")
    return value


def _flag(event: TaskRouterEvent, *keys: str) -> bool:
    """The first of ``keys`` that holds a boolean (or "true" / "false"); else False."""
    for key in keys:
        value = event.fields.get(key)
        if isinstance(value, bool):
            return value
        if isinstance(value, str) and value.lower() in {"true", "false"}:
            return value.lower() == "true"
    return False


def _remember(names: dict[str, str], sid: str, name: str, cap: int) -> None:
    """``names[sid] = name`` (a name that changed is the newest); the oldest is forgotten
    past ``cap``."""
    if names.get(sid) != name:
        names.pop(sid, None)
        if len(names) >= cap:
            del names[next(iter(names))]
        names[sid] = name

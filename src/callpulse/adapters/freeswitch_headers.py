"""Reading the headers of a FreeSWITCH ``callcenter::info`` event: every value a string, as
``switch_event_serialize_json`` writes it; names checked as events-v1 names, numbers finite
and not negative, and the event's time and a caller's wait to the microsecond where the
event says it."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from callpulse.adapters.base import LAST_INSTANT, AdapterError
from callpulse.adapters.bounds import checked_name, non_negative, shown

FORMAT = "freeswitch-callcenter"
# The action's own epoch-seconds time, for a record that lacks Event-Date-Timestamp (the
# documentation's examples show none; every event FreeSWITCH fires has it).
_OWN_TIME = {
    "bridge-agent-start": "CC-Agent-Answered-Time",
    "bridge-agent-end": "CC-Bridge-Terminated-Time",
    "bridge-agent-fail": "CC-Agent-Aborted-Time",
    "member-queue-end": "CC-Member-Leaving-Time",
}


def unknown(header: str, value: str, known: Iterable[str]) -> AdapterError:
    """A status or state this adapter does not know (a modified mod_callcenter's
    ``LoggedOn``), with the option that names what it means."""
    return AdapterError(
        FORMAT,
        f"{header} {shown(value)} is none of {', '.join(known)}: say which agent state it "
        f"means in the format's activity_states (e.g. {{{shown(value)}: available}})",
    )


def text(event: dict[str, Any], name: str) -> str:
    """Header ``name``, which must be there, a non-empty string."""
    value = event.get(name)
    if value is None or value == "":
        raise AdapterError(FORMAT, f"{name} is missing")
    if not isinstance(value, str):
        raise AdapterError(FORMAT, f"{name} must be a string, as FreeSWITCH writes headers")
    return value


def name(event: dict[str, Any], header: str) -> str:
    """A header that names an agent, a queue or a call."""
    return checked_name(FORMAT, text(event, header), header)


def number(event: dict[str, Any], name: str) -> float:
    """Header ``name`` as a finite number >= 0."""
    return non_negative(FORMAT, text(event, name), name)


def wait(event: dict[str, Any], started: int | None, until: str) -> float:
    """How long the caller waited, to the event's ``until`` header (epoch seconds).

    The CC-*-Time headers are whole seconds (``local_epoch_time_now``): their difference
    can be a second off either way, enough to make a 4.6 s abandon 5 s, past a short-
    abandon threshold. Each event's Event-Date-Timestamp is in microseconds: from the
    member-queue-start this caller's join was read at (``started``), the wait is exact.
    Only when that join is the one the header names (the same second, give or take the
    time the event took to fire): a resumed member's Joined-Time is its first join's."""
    joined = number(event, "CC-Member-Joined-Time")
    waited = number(event, until) - joined
    now = micros(event)
    if started is not None and now is not None and abs(started / 1e6 - joined) <= 2:
        waited = (now - started) / 1e6  # integer microseconds: no float rounding
    return max(0.0, waited)


def micros(event: dict[str, Any]) -> int | None:
    """Event-Date-Timestamp (microseconds), if the record has it."""
    if "Event-Date-Timestamp" not in event:
        return None
    return round(number(event, "Event-Date-Timestamp"))


def when(event: dict[str, Any], action: str) -> float:
    """The event's time (epoch seconds): Event-Date-Timestamp, else the action's own."""
    if "Event-Date-Timestamp" in event:
        at = number(event, "Event-Date-Timestamp") / 1e6  # microseconds
    else:
        own = _OWN_TIME.get(action)
        if own is None:
            raise AdapterError(
                FORMAT, f"{shown(action)} needs Event-Date-Timestamp (its only time)"
            )
        at = number(event, own)
    if at > LAST_INSTANT:
        raise AdapterError(FORMAT, f"the event's time ({at:.0f} s) is after the year 9999")
    return at

"""One Asterisk Manager Interface (AMI) event, in either form it reaches Kafka in, read into
one view of its headers.

- Raw: the event as ``manager.c`` writes it on the socket, ``Key: Value`` lines
  (``Event: Hangup``, ``Uniqueid: 1514295827.372``...). A header may be empty
  (``AccountCode:``); a ``ChanVariable(<channel>)`` header (``manager.conf``
  ``channelvars``; ``append_channel_vars`` in ``main/manager.c``) holds ``NAME=value``, kept
  by name.
- JSON: one object of header -> value, as AMI-to-Kafka bridges publish an event (each
  header a key; bridges differ in case, ``Event`` or ``event``, so names are read case
  aside). A number is taken as its text; ``ChanVariable`` may be an object of name -> value.

Names are compared in lower case: AMI's own are mixed case (``Uniqueid``, ``DestUniqueid``)
and a bridge may change that. The event's time is its ``Timestamp`` header, which
``manager.c`` adds when ``manager.conf`` says ``timestampevents = yes``: an AMI event
carries no other time of its own.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from callpulse.adapters.base import LAST_INSTANT, AdapterError, line_text, parse_json
from callpulse.adapters.bounds import checked_name, non_negative, shown

FORMAT = "asterisk-ami"
MAX_HEADERS = 512  # an AMI event has a few dozen; a channel's variables add some
_CHANVAR = "chanvariable"


@dataclass(frozen=True, slots=True)
class AmiEvent:
    """One AMI event: its headers by lower-case name, and its channel variables."""

    headers: dict[str, str]
    chanvars: dict[str, str] = field(default_factory=dict)

    @property
    def name(self) -> str:
        """The event's name (``Event``), as Asterisk spells it."""
        value = self.get("Event")
        if value is None:
            raise AdapterError(FORMAT, "no Event header: not an AMI event")
        return value

    def get(self, name: str) -> str | None:
        """Header ``name`` (case aside), stripped; None if absent or empty."""
        value = self.headers.get(name.lower(), "").strip()
        return value or None

    def channel_id(self, prefix: str = "") -> str:
        """The ``<prefix>Uniqueid`` of the channel the event is about, checked as a name."""
        value = self.get(f"{prefix}Uniqueid")
        if value is None:
            raise AdapterError(FORMAT, f"{self.name} has no {prefix}Uniqueid: which channel?")
        return checked_name(FORMAT, value, f"{prefix}Uniqueid")

    def when(self) -> float:
        """The event's time, epoch seconds, from ``Timestamp``."""
        text = self.get("Timestamp")
        if text is None:
            raise AdapterError(
                FORMAT,
                "no Timestamp header: set timestampevents = yes in manager.conf (an AMI event "
                "carries no other time)",
            )
        at = non_negative(FORMAT, text, "Timestamp")
        if at > LAST_INSTANT:
            raise AdapterError(FORMAT, f"Timestamp {shown(text)} is after the year 9999")
        return at


def read(record: bytes) -> AmiEvent:
    """``record`` as an AMI event, raw or JSON; AdapterError if it is neither."""
    if record.lstrip()[:1] != b"{":
        return _raw(record)
    doc = parse_json(FORMAT, record, "an AMI event as a JSON object")
    # A JSON array or a huge object is no event a bridge publishes.
    if not isinstance(doc, dict) or len(doc) > MAX_HEADERS:
        raise AdapterError(
            FORMAT, f"expected an AMI event as an object of at most {MAX_HEADERS} keys"
        )
    return _json(doc)


def _json(doc: dict[str, Any]) -> AmiEvent:
    headers: dict[str, str] = {}
    chanvars: dict[str, str] = {}
    for key, value in doc.items():
        name = key.lower()
        if name.startswith(_CHANVAR) and isinstance(value, dict):
            chanvars |= {str(k): _text(k, v) for k, v in value.items()}
        elif name.startswith(_CHANVAR):
            chanvars |= _chanvar(_text(key, value))
        else:
            headers[name] = _text(key, value)
    return _event(headers, chanvars)


def _raw(record: bytes) -> AmiEvent:
    headers: dict[str, str] = {}
    chanvars: dict[str, str] = {}
    for line in line_text(FORMAT, record).splitlines():
        if not line.strip():
            continue
        key, colon, value = line.partition(":")
        if not colon or not key or " " in key.strip():
            raise AdapterError(
                FORMAT, f"expected `Key: Value` lines of an AMI event: {shown(line)}"
            )
        name, value = key.strip().lower(), value.strip()
        if name.startswith(_CHANVAR):
            chanvars |= _chanvar(value)
        elif name not in headers:  # the first wins: a later copy cannot change what was read
            headers[name] = value
        if len(headers) + len(chanvars) > MAX_HEADERS:
            raise AdapterError(FORMAT, f"more than {MAX_HEADERS} headers: not an AMI event")
    return _event(headers, chanvars)


def _event(headers: dict[str, str], chanvars: dict[str, str]) -> AmiEvent:
    event = AmiEvent(headers, chanvars)
    _ = event.name  # no Event header: not an AMI event
    return event


def _chanvar(value: str) -> dict[str, str]:
    name, equals, rest = value.partition("=")
    return {name.strip(): rest.strip()} if equals and name.strip() else {}


def _text(key: Any, value: Any) -> str:
    """A JSON value as the header text AMI would have written."""
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    if isinstance(value, int | float) and not isinstance(value, bool):
        return str(value)
    raise AdapterError(FORMAT, f"{shown(key)} is not a string or a number: {shown(value)}")

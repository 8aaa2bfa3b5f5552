"""SIP proxies' transaction accounting to events v1: a ``call.setup`` per INVITE's final
response. What ``kamailio-acc`` and ``opensips-acc`` share (docs/adapters-sip-acc.md).

Both proxies' ``acc`` modules account a transaction when its final response is sent, with
the same core attributes, all of them strings: ``method``, ``from_tag``, ``to_tag``,
``callid``, ``sip_code`` (``"486"``), ``sip_reason``; then ``time`` and the extra attributes
the script configures (Kamailio's ``acc_extra``, OpenSIPS' ``evi_extra``), by their names.
A record of each format is read into that one mapping by its own module; here, the mapping
becomes the event:

- only an INVITE is a call setup: any other method (BYE, REGISTER, OPTIONS...) is counted
  in ``ignored`` by its name, and a provisional code (Kamailio's ``early_media`` accounts a
  183 with a body) as ``provisional``: v1 takes final responses only;
- the trunk is the extra attribute ``trunk_attribute`` names, else ``default_trunk``: the
  proxy names no trunk of its own;
- post-dial delay is never filled: no record carries the first provisional response's time
  (OpenSIPS' ``setuptime`` runs from the INVITE to the final response, ringing included).

One final response may be accounted twice (a missed call and a failed transaction, both
flags set): the event's id is hashed from the fact (Call-ID, From tag, trunk, code), not the
record, so the second counts once.

Channels in use per trunk (:mod:`.trunk_channels`), where the proxy accounts the answered
INVITE and the BYE separately (transaction accounting): an INVITE's 2xx opens a channel of
its Call-ID on its trunk, a BYE of the Call-ID closes every channel it holds (the BYE's own
record names no trunk unless the script sets the attribute in-dialog too). A ringing call is
not counted: no record says when an INVITE arrived. A record of the call's end (OpenSIPS'
``E_ACC_CDR``, raised in place of the INVITE's ``E_ACC_EVENT``) opens nothing: at the end of
a call it cannot say what is up, so CDR accounting gives no channel counts.
"""

from __future__ import annotations

import math
import re
from collections.abc import Collection, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from callpulse.adapters.base import LAST_INSTANT, V1, AdapterError, Writer
from callpulse.adapters.bounds import Ignored, checked_name, digest, shown, sip_status
from callpulse.adapters.trunk_channels import TrunkChannels

# RFC 3261 and its extensions' methods: every one but INVITE is counted by name.
SIP_METHODS = frozenset({
    "ACK", "BYE", "CANCEL", "INFO", "MESSAGE", "NOTIFY", "OPTIONS", "PRACK", "PUBLISH",
    "REFER", "REGISTER", "SUBSCRIBE", "UPDATE",
})  # fmt: skip
PROVISIONAL = "provisional"
BYE = "BYE"
_NUMBER = re.compile(r"[0-9]{1,12}(\.[0-9]{1,9})?")  # seconds since the epoch, as text
_MAX_TIME_TEXT = 64  # longer than any time a proxy writes: refused before it is parsed


@dataclass(frozen=True, slots=True)
class SipAccOptions:
    """How to read one proxy's accounting records.

    ``trunk_attribute``: the extra attribute that names the trunk or gateway a call was
    sent to (``gw`` for ``acc_extra "gw=$avp(gw)"``); empty, or absent from a record, and
    the setup is on ``default_trunk``. ``timezone``: the IANA zone of a time written as a
    date without an offset (Kamailio's ``acc_time_mode`` 3 writes local time).
    ``gateway_trunks``: OpenSIPS only, a gateway as its status event names it (a drouting
    ``gwid``, a dispatcher destination's ``address``) -> the trunk it is
    (:mod:`.opensips_gateways`)."""

    site: str
    trunk_attribute: str = ""
    default_trunk: str = "proxy"
    timezone: str = "UTC"
    gateway_trunks: Mapping[str, str] = field(default_factory=dict)


def text(fmt: str, fields: Mapping[str, Any], key: str) -> str | None:
    """``fields[key]`` as text; None when it is absent, null or empty. Raises AdapterError
    when it is something else than a string (the proxies write every core attribute as
    one)."""
    value = fields.get(key)
    if value is None or value == "":
        return None
    if not isinstance(value, str):
        raise AdapterError(fmt, f"{key} must be a string, not {type(value).__name__}: "
                           f"{shown(value)}")  # fmt: skip
    return value


def moment(fmt: str, value: object, zone: ZoneInfo) -> float:
    """A record's ``time`` in seconds since the epoch: a number (Kamailio's
    ``acc_time_mode`` 0 to 2, OpenSIPS), the same as text, or a date and time
    (``2025-11-24 16:00:00``, ``acc_time_mode`` 3 or 4; in ``zone`` unless it has an
    offset). Raises AdapterError for anything else, or a time RFC 3339 cannot write."""
    when: float
    if isinstance(value, int | float) and not isinstance(value, bool):
        when = float(value)
    elif isinstance(value, str) and len(value) <= _MAX_TIME_TEXT:
        if _NUMBER.fullmatch(value):
            when = float(value)
        else:
            try:
                parsed = datetime.fromisoformat(value)
            except ValueError:
                raise AdapterError(
                    fmt, f"time is neither seconds nor a date and time: {shown(value)}"
                ) from None
            if parsed.tzinfo is None:
                parsed = parsed.replace(tzinfo=zone)
            when = parsed.timestamp()
    elif value is None:
        raise AdapterError(fmt, "the record has no time")
    else:
        raise AdapterError(fmt, f"time is neither seconds nor a date and time: {shown(value)}")
    if not (math.isfinite(when) and 0 <= when <= LAST_INSTANT):
        raise AdapterError(fmt, f"time is out of range: {shown(value)}")
    return when


class SipAccounting:
    """What both proxies' adapters share: one accounting record (already read into its
    attributes by the format's module) into a ``call.setup``, or into ``ignored``."""

    format: str

    def __init__(self, options: SipAccOptions, kinds: Collection[str]) -> None:
        self.options = options
        self.ignored = Ignored({*SIP_METHODS, PROVISIONAL, *kinds})
        self._zone = ZoneInfo(options.timezone)
        checked_name(self.format, options.default_trunk, "default_trunk")
        self.channels = TrunkChannels()

    def flush(self, now: float) -> list[V1]:
        """A ``trunk.status`` for each trunk whose count fell as calls open for longer than
        a call lasts expired (their BYE was lost)."""
        site = self.options.site
        out = Writer(f"{self.format}|expired|{site}|{now!r}".encode(), site, now)
        self.channels.expire(now, out)
        return out.events

    def fill(self) -> Mapping[str, float]:
        """How full the table of calls counted as channels in use is."""
        return {"trunk_legs": self.channels.fill()}

    def setup(self, record: bytes, fields: Mapping[str, Any], ended: bool = False) -> list[V1]:
        """The ``call.setup`` an accounted transaction stands for, and the ``trunk.status``
        of a channel it opens or closes: none for a method other than INVITE or BYE, or a
        provisional response (counted in ``ignored``). ``ended``: the record comes at the
        call's end (a CDR), so it opens no channel. Raises AdapterError for a record it
        cannot read."""
        fmt = self.format
        method = text(fmt, fields, "method")
        if method is None:
            raise AdapterError(fmt, "the record has no method")
        if method.upper() == BYE:
            return self._bye(record, fields)
        if method.upper() != "INVITE":
            self.ignored.add(method.upper())
            return []
        code = sip_status(fmt, fields.get("sip_code"), "sip_code")
        when = moment(fmt, fields.get("time"), self._zone)
        trunk = self._trunk(fields)
        callid = text(fmt, fields, "callid")
        call = checked_name(fmt, callid, "callid") if callid is not None else None
        if code < 200:
            self.ignored.add(PROVISIONAL)  # not a seizure's outcome: the final one follows
            return []
        out = Writer(record, self.options.site, when)
        if call is None:
            out.add("call.setup", trunk_id=trunk, sip_code=code)
            return out.events
        # The same final response accounted twice (missed and failed) is one fact.
        tag = text(fmt, fields, "from_tag") or ""
        fact = digest(fmt, self.options.site, call, tag, trunk, str(code)).hex()
        with out.revealed(fact, when):
            out.add("call.setup", trunk_id=trunk, call_id=call, sip_code=code)
        if 200 <= code < 300 and not ended:
            self.channels.open(call, trunk, when, out)
        return out.events

    def _bye(self, record: bytes, fields: Mapping[str, Any]) -> list[V1]:
        """A BYE's transaction: it closes the channels its Call-ID holds, if any (else it is
        counted in ``ignored``, as before channels were counted)."""
        callid = text(self.format, fields, "callid")
        if callid is None or not self.channels.holds(callid):
            self.ignored.add(BYE)
            return []
        out = Writer(record, self.options.site, moment(self.format, fields.get("time"), self._zone))
        self.channels.close(callid, out)
        return out.events

    def _trunk(self, fields: Mapping[str, Any]) -> str:
        """The trunk ``trunk_attribute`` names in the record, else ``default_trunk``."""
        attribute = self.options.trunk_attribute
        found = text(self.format, fields, attribute) if attribute else None
        if found is None:
            return self.options.default_trunk
        return checked_name(self.format, found, attribute)

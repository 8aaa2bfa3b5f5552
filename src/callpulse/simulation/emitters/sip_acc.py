"""The simulator's call setups written as SIP proxies account them: Kamailio's ``acc_json``
records and OpenSIPS' ``event_kafka`` notifications. The inverse of
``callpulse.adapters.kamailio_acc`` and ``opensips_acc`` (docs/adapters-sip-acc.md).

The proxy stands in front of the contact center as its SBC: each INVITE a carrier sends
passes through it, and ``acc`` accounts the transaction when its final response is sent,
so a record is written at the setup's own time. The core attributes are strings
(``sip_code`` ``"503"``), ``time`` whole seconds (Kamailio's ``acc_time_mode`` 0,
OpenSIPS' ``time``); the trunk goes in the extra attribute :data:`TRUNK_ATTRIBUTE`
(``acc_extra "gw=$avp(gw)"``, ``evi_extra``), where the adapter is told to read it.

What the records cannot carry: post-dial delay (no record has the first provisional
response's time), and media. The SIP code is carried as it is.

OpenSIPS also says when a carrier gateway goes down or comes back: each change of a
simulated ``trunk.status`` state is an ``E_DROUTING_STATUS`` of the gateway named after the
trunk (``gwid``), ``probing`` after a negative probing reply, ``active`` after a 200 one,
as drouting raises it when it probes its gateways. Kamailio's dispatcher raises no event
record (only ``event_route[dispatcher:dst-down]`` in the script): its trunks' states stay
events v1.
"""

from __future__ import annotations

import abc
import hashlib
import json
from collections.abc import Mapping
from datetime import datetime
from types import MappingProxyType
from typing import Any

from callpulse.adapters.kamailio_acc import FORMAT as KAMAILIO
from callpulse.adapters.opensips_acc import FORMAT as OPENSIPS
from callpulse.simulation.emitters.trunk_setups import STATUS, TrunkStates, reason

TRUNK_ATTRIBUTE = "gw"


class _SipAccEmitter(abc.ABC):
    """What both proxies' emitters share: one accounting record per setup."""

    format: str
    carries = frozenset({"call.setup"})
    merges: Mapping[str, str] = MappingProxyType({})
    acw_carried = True  # the queues stay events v1: nothing of theirs is lost
    whole_seconds = True  # acc's time is seconds
    adapter_options: Mapping[str, Any] = MappingProxyType({"trunk_attribute": TRUNK_ATTRIBUTE})
    watches: frozenset[str] = frozenset()

    def __init__(self, proxy: str = "sbc1") -> None:
        self.proxy = proxy

    def emit(self, event: Mapping[str, Any]) -> list[bytes]:
        """The accounting record of the setup ``event``: its INVITE's final response."""
        code = int(event["sip_code"])
        call = event.get("call_id") or event["event_id"]
        tag = hashlib.sha256(f"{self.proxy}|{call}".encode()).hexdigest()
        attributes = {
            "method": "INVITE",
            "from_tag": tag[:8],
            "to_tag": tag[8:18],
            "callid": f"{call}@{self.proxy}",
            "sip_code": str(code),
            "sip_reason": reason(code),
            "time": int(datetime.fromisoformat(event["occurred_at"]).timestamp()),
            TRUNK_ATTRIBUTE: event["trunk_id"],
        }
        return [json.dumps(self._record(code, attributes), separators=(",", ":")).encode()]

    def as_kept(self, event: dict[str, Any]) -> list[dict[str, Any]]:
        """A setup without its post-dial delay, which no accounting record holds."""
        if event.get("type") != "call.setup":
            return [event]
        return [{k: v for k, v in event.items() if k != "post_dial_delay_ms"}]

    @abc.abstractmethod
    def _record(self, code: int, attributes: dict[str, Any]) -> dict[str, Any]:
        """The record the proxy publishes for a final response ``code`` with ``attributes``."""


class KamailioAccEmitter(_SipAccEmitter):
    """An Emitter writing Kamailio ``acc_json`` records, as ``kafka_send`` publishes them."""

    format = KAMAILIO

    def _record(self, code: int, attributes: dict[str, Any]) -> dict[str, Any]:
        return attributes


class OpenSipsAccEmitter(_SipAccEmitter):
    """An Emitter writing OpenSIPS' accounting events as ``event_kafka`` publishes them:
    ``E_ACC_EVENT`` for a positive final response, ``E_ACC_MISSED_EVENT`` for a negative
    one (``acc.c``), as a JSON-RPC notification."""

    format = OPENSIPS
    watches: frozenset[str] = frozenset({STATUS})

    def __init__(self, proxy: str = "sbc1") -> None:
        super().__init__(proxy)
        self._states = TrunkStates()  # what emit writes
        self._kept = TrunkStates()  # what as_kept gives back

    def emit(self, event: Mapping[str, Any]) -> list[bytes]:
        """A setup's accounting record, or the ``E_DROUTING_STATUS`` of a trunk whose state
        ``event`` changes."""
        if event.get("type") != STATUS:
            return super().emit(event)
        if not self._states.changed(event):
            return []
        down = event["state"] == "down"
        params = {
            "partition": "Default",
            "gwid": event["trunk_id"],
            "address": f"{event['trunk_id']}.carrier.invalid:5060",
            "status": "probing" if down else "active",
            "reason": "negative probing reply" if down else "200 OK probing reply",
        }
        notification = {"jsonrpc": "2.0", "method": "E_DROUTING_STATUS", "params": params}
        return [json.dumps(notification, separators=(",", ":")).encode()]

    def as_kept(self, event: dict[str, Any]) -> list[dict[str, Any]]:
        """A setup without its post-dial delay; a status without its state, and each change
        of state as the gateway's own status."""
        if event.get("type") == STATUS:
            return self._kept.as_kept(event)
        return super().as_kept(event)

    def _record(self, code: int, attributes: dict[str, Any]) -> dict[str, Any]:
        name = "E_ACC_EVENT" if code < 300 else "E_ACC_MISSED_EVENT"
        return {"jsonrpc": "2.0", "method": name, "params": attributes}

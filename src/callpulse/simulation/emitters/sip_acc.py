"""The simulator's call setups and hang-ups written as SIP proxies account them: Kamailio's
``acc_json`` records and OpenSIPS' ``event_kafka`` notifications. The inverse of
``callpulse.adapters.kamailio_acc`` and ``opensips_acc`` (docs/adapters-sip-acc.md).

The proxy stands in front of the contact center as its SBC: each INVITE a carrier sends
passes through it, and ``acc`` accounts the transaction when its final response is sent,
so a record is written at the setup's own time. The core attributes are strings
(``sip_code`` ``"503"``), ``time`` whole seconds (Kamailio's ``acc_time_mode`` 0,
OpenSIPS' ``time``); the trunk goes in the extra attribute :data:`TRUNK_ATTRIBUTE`
(``acc_extra "gw=$avp(gw)"``, ``evi_extra``), where the adapter is told to read it.

The BYE that ends an answered call is accounted too (transaction accounting: the script
accounts the in-dialog BYE in its ``loose_route`` branch, Kamailio's by setting the
accounting flag, OpenSIPS' by ``do_accounting``, as their default scripts do; its 200 is a
positive reply, so OpenSIPS raises an ``E_ACC_EVENT``): written when
the leg ends (:mod:`.freeswitch_legs` says when), with the INVITE's Call-ID and tags, its
200 OK, and no trunk (the script's ``$avp(gw)`` is the INVITE's, unset in-dialog). The
adapter counts a channel on the trunk from the INVITE's 2xx to that BYE.

What the records cannot carry: post-dial delay (no record has the first provisional
response's time), media, a ringing call's channel (no record says when an INVITE came),
and the BYEs of calls still up when the day ends. The SIP code is carried as it is.

OpenSIPS also says when a carrier gateway goes down or comes back: each change of a
simulated ``trunk.status`` state is an ``E_DROUTING_STATUS`` of the gateway named after the
trunk (``gwid``), ``probing`` after a negative probing reply, ``active`` after a 200 one,
as drouting raises it when it probes its gateways; the simulated heartbeat is not written
(OpenSIPS counts its channels from its own records). Kamailio's dispatcher raises no event
record (only ``event_route[dispatcher:dst-down]`` in the script): its trunks' statuses stay
events v1, as a producer watching the dispatcher would send them, their counts among the
ones the adapter derives (the reference keeps both, in the same order).
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
from callpulse.simulation.emitters.freeswitch_legs import WATCHED, Legs
from callpulse.simulation.emitters.trunk_counts import KeptChannels
from callpulse.simulation.emitters.trunk_setups import STATUS, TrunkStates, reason

TRUNK_ATTRIBUTE = "gw"


class _SipAccEmitter(abc.ABC):
    """What both proxies' emitters share: one accounting record per setup, and one per
    answered call's BYE."""

    format: str
    carries = frozenset({"call.setup"})
    merges: Mapping[str, str] = MappingProxyType({})
    acw_carried = True  # the queues stay events v1: nothing of theirs is lost
    whole_seconds = True  # acc's time is seconds
    adapter_options: Mapping[str, Any] = MappingProxyType({"trunk_attribute": TRUNK_ATTRIBUTE})
    # Where a caller's leg ends, for its BYE: media.quality (the simulator measures it at a
    # talk's hang-up) stays events v1, as the proxy relays no media.
    watches: frozenset[str] = WATCHED | {"media.quality"}

    def __init__(self, proxy: str = "sbc1") -> None:
        self.proxy = proxy
        self._legs = Legs()  # what emit writes
        self._kept = Legs()  # what as_kept gives back
        self._channels = KeptChannels()

    def emit(self, event: Mapping[str, Any]) -> list[bytes]:
        """The accounting record of the setup ``event`` (its INVITE's final response), or
        of the BYE of the answered call ``event`` ends."""
        if event.get("type") == "call.setup":
            code = int(event["sip_code"])
            if 200 <= code < 300:
                self._legs.answered(dict(event))
            attributes = self._core("INVITE", event, code, event["occurred_at"])
            attributes[TRUNK_ATTRIBUTE] = event["trunk_id"]
            return [self._written(code, attributes)]
        ended = self._legs.ended(dict(event))
        if ended is None:
            return []
        attributes = self._core("BYE", ended.leg.setup, 200, ended.occurred_at)
        return [self._written(200, attributes)]

    def as_kept(self, event: dict[str, Any]) -> list[dict[str, Any]]:
        """A setup without its post-dial delay, which no accounting record holds, and a
        channel opened on its trunk if it was answered; the channel closed where the call
        ends."""
        if event.get("type") == "call.setup":
            setup = {k: v for k, v in event.items() if k != "post_dial_delay_ms"}
            if not 200 <= event["sip_code"] < 300:
                return [setup]
            self._kept.answered(event)
            return [setup, self._channels.opened(event)]
        ended = self._kept.ended(event)
        if ended is None:
            return [event]
        closing = ended.leg.setup | {"occurred_at": ended.occurred_at}
        return [event, self._channels.closed(closing)]

    def _core(
        self, method: str, setup: Mapping[str, Any], code: int, occurred_at: str
    ) -> dict[str, Any]:
        """The core attributes of the transaction ``method`` of ``setup``'s call: the same
        Call-ID and tags for its INVITE and its BYE (the caller hangs up)."""
        call = setup.get("call_id") or setup["event_id"]
        tag = hashlib.sha256(f"{self.proxy}|{call}".encode()).hexdigest()
        return {
            "method": method,
            "from_tag": tag[:8],
            "to_tag": tag[8:18],
            "callid": f"{call}@{self.proxy}",
            "sip_code": str(code),
            "sip_reason": reason(code),
            "time": int(datetime.fromisoformat(occurred_at).timestamp()),
        }

    def _written(self, code: int, attributes: dict[str, Any]) -> bytes:
        return json.dumps(self._record(code, attributes), separators=(",", ":")).encode()

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
    carries = frozenset({"call.setup", STATUS})

    def __init__(self, proxy: str = "sbc1") -> None:
        super().__init__(proxy)
        self._states = TrunkStates()  # what emit writes
        self._kept_states = TrunkStates()  # what as_kept gives back

    def emit(self, event: Mapping[str, Any]) -> list[bytes]:
        """A setup's or a BYE's accounting record, or the ``E_DROUTING_STATUS`` of a trunk
        whose state ``event`` changes."""
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
        """A setup and its channel as :class:`_SipAccEmitter` keeps them; no heartbeat, and
        each change of state as the gateway's own status, the state alone."""
        if event.get("type") == STATUS:
            return self._kept_states.change(event)
        return super().as_kept(event)

    def _record(self, code: int, attributes: dict[str, Any]) -> dict[str, Any]:
        name = "E_ACC_EVENT" if code < 300 else "E_ACC_MISSED_EVENT"
        return {"jsonrpc": "2.0", "method": name, "params": attributes}

"""What a FreeSWITCH ``sofia::gateway_state`` event says of a gateway's reachability, read as
``sofia_reg.c`` writes it (``sofia_reg_fire_custom_gateway_state_event``,
github.com/signalwire/freeswitch).

The event is ``Event-Name: CUSTOM`` with ``Event-Subclass: sofia::gateway_state``, fired
whenever a gateway's registration state changes (``sofia_reg_check_gateway``, and on each
REGISTER response in ``sofia_reg_handle_sofia_r_register``), and on every OPTIONS ping
result when ``ping-monitoring`` is on, or when a ping changes the gateway's status
(``sofia.c``). Its headers:

- ``Gateway``: the gateway's name, the name a leg sent through it carries as
  ``sip_gateway_name``: the trunk.
- ``Ping-Status``: ``UP`` or ``DOWN``, the gateway's ``status`` (``sofia_gateway_status_name``;
  ``INVALID`` past the enum). It is what mod_sofia refuses an outbound call on
  (``GATEWAY_DOWN`` when it is not UP, ``mod_sofia.c``), whatever set it: failed pings, a
  failed registration (``FAILED`` sets it DOWN), an unregistration (``UNREGISTER``). So it
  is the trunk's state whenever it is there, with one exception: a gateway's status starts
  DOWN, so while a gateway registers for the first time (FreeSWITCH starting, a profile
  rescanned) its UNREGED, TRYING and REGISTER events say DOWN for the second before REGED
  says UP. Read as down, every restart would page. A DOWN during those states is counted
  instead: after a failure the gateway is already down (FAIL_WAIT said so), and a carrier
  that cannot be reached fails its registration too (TIMEOUT, FAILED, then FAIL_WAIT DOWN).
- ``State``: the registration state (``sofia_state_names``: UNREGED, TRYING, REGISTER, REGED,
  UNREGISTER, FAILED, FAIL_WAIT, EXPIRED, NOREG, DOWN, TIMEOUT). Read only when
  ``Ping-Status`` is absent (a FreeSWITCH older than 1.6 wrote none): REGED and NOREG (a
  gateway that does not register is usable) are up; FAILED, FAIL_WAIT, DOWN and UNREGISTER
  are down; the others are steps of a registration (TRYING, REGISTER...) that say nothing
  of reachability by themselves, and are counted, not guessed.
- ``Status`` and ``Phrase``: the SIP response that made the change (``408``, ``Request
  Timeout``); shown, not read.
"""

from __future__ import annotations

from typing import Literal

from callpulse.adapters.bounds import checked_name
from callpulse.adapters.freeswitch_channel_records import FORMAT, ChannelRecord

SUBCLASS = "sofia::gateway_state"
State = Literal["up", "down"]

# Ping-Status as sofia_gateway_status_name writes it.
PING_STATES: dict[str, State] = {"UP": "up", "DOWN": "down"}
# Registration states, read without a Ping-Status: those that say the gateway is usable or
# not. The rest (UNREGED, TRYING, REGISTER, EXPIRED, TIMEOUT) are a registration under way.
REG_STATES: dict[str, State] = {
    "REGED": "up", "NOREG": "up",
    "FAILED": "down", "FAIL_WAIT": "down", "DOWN": "down", "UNREGISTER": "down",
}  # fmt: skip
TRANSITIONAL = frozenset({"UNREGED", "TRYING", "REGISTER", "EXPIRED", "TIMEOUT"})
# The steps of a registration under way, where a DOWN may be the status a gateway starts with.
_FIRST_REGISTRATION = frozenset({"UNREGED", "TRYING", "REGISTER"})

# Kinds counted in ``ignored`` for an event that names no state.
UNKNOWN_STATE = f"{SUBCLASS}:unknown_state"  # a Ping-Status or State FreeSWITCH never writes
REGISTERING = f"{SUBCLASS}:registering"  # a registration under way that says nothing new


def is_gateway_state(rec: ChannelRecord) -> bool:
    """Whether ``rec`` is a ``sofia::gateway_state`` event (another CUSTOM, such as
    ``sofia::sip_user_state`` whose Ping-Status is a user's, is not)."""
    return rec.header("Event-Name") == "CUSTOM" and rec.header("Event-Subclass") == SUBCLASS


def gateway(rec: ChannelRecord) -> str:
    """The gateway the event is about: its trunk."""
    name = rec.header("Gateway")
    return checked_name(FORMAT, name or "", "Gateway")


def state(rec: ChannelRecord) -> str:
    """``up`` or ``down`` as the event says it (see the module's docstring), else the kind
    it is counted as in ``ignored`` (:data:`UNKNOWN_STATE`, :data:`REGISTERING`)."""
    ping = rec.header("Ping-Status")
    reg = (rec.header("State") or "").upper()
    if ping is not None:
        state = PING_STATES.get(ping.upper(), UNKNOWN_STATE)
        return REGISTERING if state == "down" and reg in _FIRST_REGISTRATION else state
    if reg in REG_STATES:
        return REG_STATES[reg]
    return REGISTERING if reg in TRANSITIONAL else UNKNOWN_STATE

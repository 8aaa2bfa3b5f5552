"""What OpenSIPS' gateway status events say of a carrier trunk's reachability, read as the
modules raise them (github.com/OpenSIPS/opensips) and ``event_kafka`` publishes them (a
JSON-RPC notification whose ``params`` are the event's parameters by name).

- ``E_DROUTING_STATUS`` (``modules/drouting/drouting.c``, ``dr_raise_event``): raised when
  dynamic routing changes a gateway's state, by probing, MI or the script. ``gwid`` is the
  gateway's id in ``dr_gateways``, the carrier trunk the rules route to (and the name a
  script puts in the accounting's trunk attribute, ``$acc_extra(gw)``); ``address`` its
  host; ``status`` ``active`` (in use), or ``inactive`` (disabled from the script),
  ``probing`` (disabled, failed its pings) or ``disabled MI`` (disabled by an operator):
  the last three all mean no call is routed to it, so the trunk is down. ``partition``
  names the gateway's drouting partition (``use_partitions``), and a ``gwid`` is unique
  only within its partition: a gateway outside the default one (``Default``, the name
  drouting gives its only partition without ``use_partitions``) is the trunk
  ``<partition>/<gwid>``, so two partitions' gateways of one id do not merge into one.
- ``E_DISPATCHER_STATUS`` (``modules/dispatcher/dispatch.c``): raised when a destination
  of a set changes state. It names a destination (``group``, the set's number, and
  ``address``, its SIP URI), not a trunk: a set balances over several destinations, and one
  of them down leaves the others. So a destination is a trunk only where
  ``gateway_trunks`` says so (its address -> the trunk); any other is counted, not guessed.
  ``status`` is ``active`` or ``inactive`` (probing included).

Neither event carries a time (``event_kafka`` adds none): the adapter holds each change and
writes it at its next clock tick (``flush``), stamped then.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Literal

from callpulse.adapters.base import AdapterError
from callpulse.adapters.bounds import checked_name, shown

FORMAT = "opensips-acc"
DROUTING = "E_DROUTING_STATUS"
DISPATCHER = "E_DISPATCHER_STATUS"
EVENTS = frozenset({DROUTING, DISPATCHER})
State = Literal["up", "down"]

# The status each module writes, and what it means for the trunk.
STATUSES: dict[str, dict[str, State]] = {
    DROUTING: {"active": "up", "inactive": "down", "probing": "down", "disabled MI": "down"},
    DISPATCHER: {"active": "up", "inactive": "down"},
}
UNMAPPED = f"{DISPATCHER}:unmapped"  # a destination gateway_trunks names no trunk for
UNKNOWN_STATUS = "gateway_status:unknown"  # a status neither module writes
# The partition drouting names when it is not told to use partitions (drouting.c's dr_init
# sets head_start->partition to "Default"): its gateways are named by gwid alone, as before
# partitions, and as a script without them writes the gwid into the accounting.
DEFAULT_PARTITION = "Default"


def gateway_trunk(name: str, params: Mapping[str, Any], trunks: Mapping[str, str]) -> str | None:
    """The trunk event ``name`` is about: a drouting gateway's ``gwid``, as
    ``<partition>/<gwid>`` outside the default partition (renamed by ``trunks`` if it lists
    that key), a dispatcher destination's ``address`` only if ``trunks`` lists it (else
    None). Raises AdapterError for a parameter that is missing or no name."""
    key = "gwid" if name == DROUTING else "address"
    value = params.get(key)
    if not isinstance(value, str) or not value:
        raise AdapterError(FORMAT, f"{name} has no {key} string: {shown(value)}")
    if name == DROUTING:
        value = _in_partition(params, value)
    found = trunks.get(value)
    if found is None and name == DISPATCHER:
        return None
    return checked_name(FORMAT, found or value, key)


def _in_partition(params: Mapping[str, Any], gwid: str) -> str:
    """``gwid`` qualified by its partition, unless that is the default one (or the event is
    from a drouting too old to name it)."""
    if "partition" not in params:
        return gwid
    partition = params["partition"]
    if not isinstance(partition, str) or not partition:
        raise AdapterError(FORMAT, f"{DROUTING} has no partition string: {shown(partition)}")
    if partition == DEFAULT_PARTITION:
        return gwid
    return f"{checked_name(FORMAT, partition, 'partition')}/{gwid}"


def status(name: str, params: Mapping[str, Any]) -> State | None:
    """``up`` or ``down`` as event ``name``'s ``status`` says; None for one it never writes.
    Raises AdapterError when it is no string."""
    value = params.get("status")
    if not isinstance(value, str):
        raise AdapterError(FORMAT, f"{name} has no status string: {shown(value)}")
    return STATUSES[name].get(value)

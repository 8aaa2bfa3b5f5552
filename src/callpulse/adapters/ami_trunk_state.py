"""Whether a trunk is reachable, from the AMI events Asterisk raises when it qualifies a peer
(SIP OPTIONS): ``PeerStatus`` and ``ContactStatus`` (``main/stasis_endpoints.c`` writes
both; docs/adapters-asterisk-ami.md, "Trunk state").

- ``PeerStatus`` (``Peer: <Tech>/<name>``) is a whole endpoint's state. chan_sip
  (``channels/chan_sip.c``) writes ``Reachable``, ``Lagged`` (it answered, slower than
  ``qualifymaxms``), ``Unreachable``, ``Registered``, ``Unregistered`` and ``Rejected`` (a
  REGISTER refused); res_pjsip (``persistent_endpoint_update_state`` in
  ``res/res_pjsip/pjsip_configuration.c``) writes ``Reachable`` or ``Unreachable`` when the
  endpoint's last reachable contact goes or its first comes back.
- ``ContactStatus`` (res_pjsip only) is one contact's state (``URI``, ``AOR``,
  ``EndpointName``): ``Reachable``, ``Unreachable``, ``Unknown``, ``NonQualified``,
  ``Removed`` (``status_map`` in ``res/res_pjsip/pjsip_options.c``; ``Unqualified`` and
  ``Updated`` in the event's documentation). A trunk with two contacts (a carrier's two
  SBCs) is down only when none is reachable, so contacts are kept per endpoint, and a
  contact's ``Unreachable`` says "down" only when no other contact of it is ``Reachable``.

Only the peers listed in the ``trunks`` option are trunks here: the same events come for
every phone (a softphone's registration expiring is ``PeerStatus: Unregistered``), and the
rule that reads a setup's trunk (a peer not named by digits alone) would read that as a
trunk down and page for it. With ``trunks`` empty, no qualify result gives a state (the
adapter counts them as ``qualify:trunks_not_listed``).

A status that says nothing of reachability (``Unknown``, ``NonQualified``...) gives no
state. Bounded: at most :data:`MAX_ENDPOINTS` endpoints (the oldest goes) of at most
:data:`MAX_CONTACTS` contacts each, kept by digest.
"""

from __future__ import annotations

from typing import Literal

from callpulse.adapters.ami_records import FORMAT, AmiEvent
from callpulse.adapters.bounds import checked_name, digest

MAX_ENDPOINTS = 1_000
MAX_CONTACTS = 32  # a trunk's contacts: a carrier's SBCs, not a phone's registrations
State = Literal["up", "down"]
PEER_STATES: dict[str, State] = {
    "Reachable": "up", "Lagged": "up", "Registered": "up",
    "Unreachable": "down", "Unregistered": "down", "Rejected": "down",
}  # fmt: skip
REACHABLE, UNREACHABLE, REMOVED = "Reachable", "Unreachable", "Removed"


class TrunkReachability:
    """The reachable state each trunk's qualify events give, endpoint by endpoint."""

    def __init__(self, trunks: frozenset[str]) -> None:
        """``trunks``: the peers that are trunks; empty, none is (see the module's doc)."""
        self._trunks = trunks
        # Endpoint -> contact URI digest -> whether it is reachable, oldest endpoint first.
        self._contacts: dict[str, dict[bytes, bool]] = {}

    @property
    def listed(self) -> bool:
        """Whether any trunk is listed: without, no qualify result names a trunk."""
        return bool(self._trunks)

    def peer(self, event: AmiEvent) -> tuple[str, State | None] | None:
        """(trunk, state) of a ``PeerStatus``; None if its peer is no trunk; the state None
        for a status that says nothing of reachability."""
        tech, slash, name = (event.get("Peer") or "").partition("/")
        if not slash or not tech or not name:
            return None
        trunk = self._listed(name, "Peer")
        if trunk is None:
            return None
        return trunk, PEER_STATES.get(event.get("PeerStatus") or "")

    def contact(self, event: AmiEvent) -> tuple[str, State | None] | None:
        """(trunk, state) after a ``ContactStatus``; None if its endpoint is no trunk; the
        state None when the contact's status changes nothing of the trunk's."""
        endpoint = event.get("EndpointName")
        if endpoint is None:
            return None
        trunk = self._listed(endpoint, "EndpointName")
        if trunk is None:
            return None
        status = event.get("ContactStatus")
        uri = digest(event.get("URI") or "")
        contacts = self._endpoint(trunk)
        if status == REMOVED:
            # No state from here even when it was the last reachable one: res_pjsip then
            # raises the endpoint's PeerStatus Unreachable itself (pjsip_options.c,
            # sip_options_remove_contact_status: a qualified contact that was available
            # drops the AOR's available count, and at 0 the endpoint's state compositor
            # marks it offline), which :meth:`peer` reads as down.
            contacts.pop(uri, None)
            return trunk, None
        if status not in (REACHABLE, UNREACHABLE):
            return trunk, None
        if uri not in contacts and len(contacts) >= MAX_CONTACTS:
            return trunk, None  # past the cap a contact is not followed: nothing is guessed
        contacts[uri] = status == REACHABLE
        if status == REACHABLE:
            return trunk, "up"
        return trunk, None if any(contacts.values()) else "down"

    def _listed(self, name: str, what: str) -> str | None:
        checked_name(FORMAT, name, what)
        return name if name in self._trunks else None

    def _endpoint(self, trunk: str) -> dict[bytes, bool]:
        found = self._contacts.get(trunk)
        if found is None:
            if len(self._contacts) >= MAX_ENDPOINTS:
                del self._contacts[next(iter(self._contacts))]
            found = self._contacts[trunk] = {}
        return found

    def fill(self) -> float:
        """How full the table of endpoints is, 0 to 1."""
        return len(self._contacts) / MAX_ENDPOINTS

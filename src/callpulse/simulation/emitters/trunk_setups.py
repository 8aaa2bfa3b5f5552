"""What the emitters of trunk records share: the reason phrase of each final code, and the
hooks a comparison needs (:class:`TrunkEmitter`).

An ACD format carries the call and agent events; a trunk format carries ``call.setup`` (and
FreeSWITCH ``media.quality``), and the queues' events stay events v1, as they would on a
topic of their own. What a trunk record holds of a setup differs per platform (a CDR has
no SIP code; no proxy record has a post-dial delay), so each emitter says what its format
keeps of a v1 event (``as_kept``): ``scenario check --format`` compares the platform's
trunk KPIs with those of the same day written that way.

A platform that reports its trunks' reachability (FreeSWITCH's gateway states, OpenSIPS'
drouting gateway states) writes each change of a simulated ``trunk.status`` state as its
own record. One that also says when each leg starts and ends counts its own channels
(FreeSWITCH, OpenSIPS, Asterisk's AMI): its emitter ``carries`` ``trunk.status``, and the
simulated heartbeat's counts are gone, as a platform's own stream has no such heartbeat
(:mod:`.trunk_counts` keeps the counts its adapter derives instead). One that counts no
channels ``watches`` it, and the simulated status stays events v1 for its channel counts,
without its state (``callpulse.simulation.platform``). :class:`TrunkStates` says when a
state changed, for the emitter and its reference alike.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from typing import Any, Protocol

STATUS = "trunk.status"
_NAMESPACE = uuid.UUID("5f0c2b1e-7d43-4c8a-9e26-3b1f8a6d4c70")

# RFC 3261 §21 reason phrases of the final codes the simulator writes, and a few others.
REASONS = {
    200: "OK", 404: "Not Found", 408: "Request Timeout", 480: "Temporarily Unavailable",
    486: "Busy Here", 487: "Request Terminated", 500: "Server Internal Error",
    503: "Service Unavailable", 603: "Decline",
}  # fmt: skip


def reason(code: int) -> str:
    """The reason phrase a proxy writes with ``code`` (its class's, for one not listed)."""
    return REASONS.get(code, {2: "OK", 3: "Redirect", 4: "Client Error", 5: "Server Error"}
                       .get(code // 100, "Global Failure"))  # fmt: skip


class TrunkEmitter(Protocol):
    """What an emitter of trunk records offers besides :class:`callpulse.protocols.Emitter`."""

    # FormatSettings fields its adapter needs to read the records back (a trunk attribute).
    adapter_options: Mapping[str, Any]
    # v1 types it is shown but that stay events v1: where a caller's leg ends (an abandon,
    # an IVR session's end), for a platform that writes a leg's record at its hang-up; and
    # trunk.status, for a platform that reports its gateways' states (the status then stays
    # without its state: the platform's records say it).
    watches: frozenset[str]

    def as_kept(self, event: dict[str, Any]) -> list[dict[str, Any]]:
        """What stands for ``event`` (any v1 event of the day, in order) in events v1 as the
        format keeps them: what its adapter can give back at best, when it can. Nothing
        for what the format cannot carry; later, for what the platform writes later."""
        ...


class TrunkStates:
    """Each trunk's last state, to tell a ``trunk.status`` that changes it (a platform writes
    a change, not a heartbeat)."""

    def __init__(self) -> None:
        self._states: dict[tuple[str, str], str] = {}

    def changed(self, status: Mapping[str, Any]) -> bool:
        """Whether ``status`` (a v1 ``trunk.status``) gives its trunk a state it did not
        have (the first state of a trunk is a change)."""
        state = status.get("state")
        if state is None:
            return False
        key = (status["site"], status["trunk_id"])
        if self._states.get(key) == state:
            return False
        self._states[key] = state
        return True

    def as_kept(self, status: dict[str, Any]) -> list[dict[str, Any]]:
        """``status`` as a platform that reports its trunks' states keeps it while the
        simulated status stays events v1 for its counts: the heartbeat without its state,
        then, if the state changed, the change (:meth:`change`)."""
        out = [{k: v for k, v in status.items() if k != "state"}]
        return out + self.change(status)

    def change(self, status: dict[str, Any]) -> list[dict[str, Any]]:
        """If ``status`` changes its trunk's state, the change as the adapter gives it back:
        its own event, with the state alone (a gateway's status says no count and no
        total; the trunk's count stands as the counts said it)."""
        if not self.changed(status):
            return []
        kept = {k: v for k, v in status.items() if k not in ("channels_in_use", "channels_total")}
        return [kept | {"event_id": str(uuid.uuid5(_NAMESPACE, status["event_id"]))}]

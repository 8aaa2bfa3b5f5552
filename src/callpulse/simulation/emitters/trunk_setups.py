"""What the emitters of trunk records share: the reason phrase of each final code, and the
hooks a comparison needs (:class:`TrunkEmitter`).

An ACD format carries the call and agent events; a trunk format carries ``call.setup`` (and
FreeSWITCH ``media.quality``), and the queues' events stay events v1, as they would on a
topic of their own. What a trunk record holds of a setup differs per platform (a CDR has
no SIP code; no proxy record has a post-dial delay), so each emitter says what its format
keeps of a v1 event (``as_kept``): ``scenario check --format`` compares the platform's
trunk KPIs with those of the same day written that way.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Protocol

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
    # an IVR session's end), for a platform that writes a leg's record at its hang-up.
    watches: frozenset[str]

    def as_kept(self, event: dict[str, Any]) -> list[dict[str, Any]]:
        """What stands for ``event`` (any v1 event of the day, in order) in events v1 as the
        format keeps them: what its adapter can give back at best, when it can. Nothing
        for what the format cannot carry; later, for what the platform writes later."""
        ...

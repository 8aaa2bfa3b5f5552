"""What every emitter shares."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Protocol

# The call and agent events of an ACD, which every platform's stream has room for.
ACD_TYPES = frozenset(
    {
        "call.queued",
        "call.answered",
        "call.abandoned",
        "call.callback_requested",
        "call.completed",
        "agent.state",
    }
)


class Emitter(Protocol):
    """Writes events-v1 bodies, in time order, as one platform's records.

    ``carries`` is the v1 types the platform's stream has room for; the others (trunks, IVR,
    components...) stay events v1, as they would on a topic of their own. An emitter is
    stateful where the platform is (a call's queue, an agent's open contacts)."""

    format: str
    carries: frozenset[str]
    # v1 types the platform writes as another v1 type comes back (a callback request is a
    # key press queue_log calls an exit): a comparison rewrites the reference the same way.
    merges: Mapping[str, str]
    # Whether the stream says when after-call work ends. When it does not, the adapter
    # assumes wrapup_seconds, and a comparison plays a day whose wrap-ups all last that long.
    acw_carried: bool
    # Whether the platform writes times in whole seconds; a comparison then plays a day
    # whose times are whole seconds, on both sides.
    whole_seconds: bool

    def emit(self, event: Mapping[str, Any]) -> list[bytes]:
        """The platform records ``event`` (one of ``carries``) becomes: zero or more."""
        ...

"""What every emitter shares (what an emitter must offer, the ``Emitter`` Protocol, is in
:mod:`callpulse.protocols`)."""

from __future__ import annotations

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

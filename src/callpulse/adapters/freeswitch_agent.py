"""A FreeSWITCH ``mod_callcenter`` agent's state: its status (``Logged Out``, ``Available``,
``Available (On Demand)``, ``On Break``) and state (``Waiting``, ``Receiving``,
``In a queue call``, ``Idle``, ``Reserved``), its queues and its wrap-up, and the events-v1
state they make together."""

from __future__ import annotations

from dataclasses import dataclass, field

from callpulse.core.events import AgentStateName

IN_A_QUEUE_CALL = "In a queue call"
STATUSES: dict[str, AgentStateName | None] = {  # None: it depends on the agent's state
    "Logged Out": "offline",
    "On Break": "not_ready",
    "Available": None,
    "Available (On Demand)": None,
}
STATES = {"Waiting", "Receiving", IN_A_QUEUE_CALL, "Idle", "Reserved"}


Derived = tuple[str, tuple[str, ...]]  # (v1 state, queues)


@dataclass(slots=True)
class Agent:
    """One agent as the stream has described it."""

    status: str | None = None  # None until a status change is read: taken as available
    state: str | None = None
    queues: dict[str, None] = field(default_factory=dict)  # insertion-ordered set
    wrapup_until: float = 0.0
    reported: Derived | None = None

    def derive(self, now: float, overrides: dict[str, AgentStateName]) -> Derived:
        """The v1 state and queues at ``now``, ``overrides`` (``activity_states``) first."""
        queues = tuple(sorted(self.queues))
        # A call outlasts a status change (On Break, even Logged Out, mid-call): on_call first.
        if self.state == IN_A_QUEUE_CALL:
            return "on_call", queues
        status = self.status or "Available"
        mapped = overrides.get(status, STATUSES.get(status))
        if mapped is None:
            state = self.state or "Waiting"
            # Idle: logged in but given no calls (an on-demand agent after a call).
            mapped = overrides.get(state, "not_ready" if state == "Idle" else "available")
        if mapped == "available" and now < self.wrapup_until:
            return "acw", queues
        return mapped, queues

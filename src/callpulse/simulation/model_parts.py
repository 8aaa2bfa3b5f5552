"""The simulated contact center's parts: agents, trunks and queues, the periods of its
reports, the office-hours profile, and how an event is written."""

from __future__ import annotations

import json
from collections import deque
from dataclasses import dataclass, field
from typing import Any

from callpulse.simulation.scenario import QueueSpec

SNAPSHOT_EVERY = 30.0
HEARTBEAT_EVERY = 15.0
# Share of calls by hour of day for an office-hours contact center (peak 1.0 at 10-11, 14-15).
OFFICE = (
    0.05,
    0.03,
    0.02,
    0.02,
    0.03,
    0.08,
    0.2,
    0.45,
    0.75,
    0.95,
    1.0,
    0.95,
    0.85,
    0.9,
    1.0,
    0.95,
    0.85,
    0.7,
    0.5,
    0.35,
    0.25,
    0.18,
    0.12,
    0.08,
)


@dataclass
class Agent:
    """One simulated agent and what keeps it from working."""

    agent_id: str
    busy: bool = False
    offline: bool = False  # logged off by an incident
    off_shift: bool = False  # outside its shift (office-hours staffing)
    on_break: bool = False

    @property
    def can_work(self) -> bool:
        return not (self.offline or self.off_shift or self.on_break)

    @property
    def idle_state(self) -> str:
        """The state to report when not on a call."""
        if self.can_work:
            return "available"
        return "not_ready" if self.on_break and not (self.offline or self.off_shift) else "offline"


@dataclass
class Trunk:
    """One simulated trunk and its channels in use."""

    site: str
    trunk_id: str
    channels: int
    in_use: int = 0


@dataclass
class SimQueue:
    """One simulated queue: its spec, its agents and its callers waiting."""

    site: str
    spec: QueueSpec
    agents: list[Agent]
    waiting: deque[tuple[str, float, Trunk | None]] = field(default_factory=deque)


def encode(event: dict[str, Any]) -> bytes:
    """One event as the compact JSON a producer would put in a Kafka record."""
    return json.dumps(event, separators=(",", ":")).encode()

"""The agents of an adapter that derives their states from its own records (Asterisk's
``queue_log``, FreeSWITCH's ``mod_callcenter``): kept by name and bounded, their queues
under one cap over all agents, their wrap-ups ended on the clock, and an ``agent.state``
written whenever what is derived changes.

An adapter takes this as its base and says how an agent's state is derived
(:meth:`DerivedAgents._derive`); the caps are its own, read where they are used, so that
each format keeps its limits beside its records.
"""

from __future__ import annotations

import abc
from collections.abc import Callable
from typing import Any, Generic, Protocol, TypeVar

from callpulse.adapters.base import V1, WrapupClock, Writer, entry
from callpulse.adapters.bounds import Budget

Derived = tuple[str, tuple[str, ...]]  # (v1 state, queues)


class Agent(Protocol):
    """An agent as a deriving adapter keeps it."""

    queues: dict[str, Any]  # the queues it serves, in the order it joined them
    wrapup_until: float
    reported: Any  # what was last written of it (a Derived), None before


A = TypeVar("A", bound=Agent)


def report(out: Writer, name: str, agent: Any, state: Derived) -> None:
    """Write ``agent.state`` for ``name`` into ``out`` if ``state`` is not what was last
    written of ``agent`` (its ``reported``), and remember it."""
    if state != agent.reported:
        agent.reported = state
        out.add("agent.state", agent_id=name, state=state[0], queues=list(state[1]))


class DerivedAgents(abc.ABC, Generic[A]):
    """The agents of ``site``; wrap-ups are timed for ``max_agents`` agents, and
    ``max_memberships`` (agent, queue) pairs are kept over all of them."""

    def __init__(self, site: str, max_agents: int, max_memberships: int) -> None:
        self.agents_dropped = 0
        self._site = site
        self._agents: dict[str, A] = {}
        self._memberships = Budget(max_memberships)
        self._wrapups = WrapupClock(self._agents, 2 * max_agents)

    @abc.abstractmethod
    def _derive(self, agent: A, now: float) -> Derived:
        """``agent``'s v1 state and queues at ``now``."""

    def flush(self, now: float) -> list[V1]:
        """``agent.state`` for wrap-ups that ended by ``now``, for a quiet stream's tick."""
        out = Writer(b"", self._site, now)  # what it reveals has keys of its own
        self._wrapups.end(now, self._reporter(out), out)
        return out.events

    def _kept(self, name: str, make: Callable[[], A], limit: int) -> A:
        """Agent ``name``, made by ``make`` if new; past ``limit`` agents the oldest is
        forgotten and its queues are given back to the cap."""
        member, forgotten = entry(self._agents, name, make, limit)
        if forgotten is not None:
            self.agents_dropped += 1
            self._memberships.give(len(forgotten.queues))
            forgotten.queues.clear()
        return member

    def _caps(self, max_agents: int) -> dict[str, float]:
        """How full the agents, their queues and the wrap-ups waiting to end are."""
        return {
            "agents": len(self._agents) / max_agents,
            "memberships": self._memberships.fill(),
            "wrapups": self._wrapups.fill(),
        }

    def _report(self, name: str, when: float, out: Writer) -> None:
        agent = self._agents[name]
        report(out, name, agent, self._derive(agent, when))

    def _reporter(self, out: Writer) -> Callable[[str, float], None]:
        return lambda name, at: self._report(name, at, out)

"""Whose time the pipeline runs on: one policy, chosen when the pipeline is built.

Three are possible, and each caller of the pipeline picks one rather than combining switches:

- :data:`WALL_TIME`: windows end at the caller's ``now`` (the wall clock of a daemon, the
  simulated clock of a rule test or a scenario); an event more than ``max_clock_skew`` ahead
  of it is rejected;
- :data:`EVENT_TIME`: windows end at the newest event applied (a simulation faster than real
  time, a report on a file); nothing is "future", and ``now`` given to an evaluation moves the
  windows on where no event did (a quiet minute between two events of a file);
- :data:`BOUNDED_EVENT_TIME`: windows end at the newest event, but ``now`` is still the wall
  clock and bounds how far ahead an event may be (a daemon replaying a file).
"""

from __future__ import annotations

from dataclasses import dataclass

from callpulse.core.monitor import Monitor


@dataclass(frozen=True, slots=True)
class Clock:
    """A time policy: what ``now`` means to :meth:`feed` and :meth:`evaluate`."""

    name: str
    event_time: bool
    """Windows end at the newest event applied, not at ``now``."""
    wall_bound: bool
    """``now`` is a wall clock: events beyond ``max_clock_skew`` of it are rejected."""

    def feed(self, monitor: Monitor, now: float) -> None:
        """Before records are applied at ``now``."""
        if self.wall_bound:
            monitor.tick(now)

    def evaluate(self, monitor: Monitor, now: float) -> None:
        """Before the rules are evaluated at ``now``."""
        if self.wall_bound:
            monitor.tick(now)
        else:
            monitor.advance(now)


WALL_TIME = Clock("wall time", event_time=False, wall_bound=True)
EVENT_TIME = Clock("event time", event_time=True, wall_bound=False)
BOUNDED_EVENT_TIME = Clock("event time bounded by the wall clock", event_time=True, wall_bound=True)

"""Infrastructure components: their reported status, heartbeat age, and silence as failure.

A component that stops reporting is not "no data": after ``stale_after`` seconds without a
``component.health`` event its effective status is ``down`` and ``stale`` is set. So a silent
component is kept (ComponentDown keeps paging for it) until its cap is full and a new
component needs the place (:meth:`ComponentTracker.release_idlest`).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from callpulse.core import events as ev
from callpulse.core.cardinality import LabelGuard, SiteNames
from callpulse.core.timegrid import TimeGrid

STATUSES = ("up", "degraded", "down")


@dataclass(frozen=True, slots=True)
class ComponentView:
    """One component at one instant."""

    site: str
    component: str
    kind: str
    reported: str
    status: str  # what to act on: the reported status, or down when stale
    heartbeat_age_seconds: float
    stale: bool


@dataclass(slots=True)
class _Component:
    kind: str
    status: str
    last_seen: float


class ComponentTracker:
    """The last word of every (site, component), aged by the clock."""

    event_types = ("component.health",)

    def __init__(
        self, grid: TimeGrid, guard: LabelGuard, stale_after: float, idle_after: float
    ) -> None:
        self._grid = grid
        self._stale_after = stale_after
        self._names = SiteNames[_Component](
            "component", guard, idle_after, grid.bucket, lambda c: c.last_seen
        )
        self._components = self._names.entries

    def apply(
        self, event: ev.Event, ts: float, bucket: int, late: bool, replay: bool = False
    ) -> None:
        """Record a heartbeat; an older one than already seen changes nothing."""
        if not isinstance(event, ev.ComponentHealth):
            return
        key = self._names.admit(event.site, event.component)
        seen = self._components.get(key)
        if seen is None or ts >= seen.last_seen:
            self._components[key] = _Component(event.kind, event.status, ts)

    def release_idlest(self) -> bool:
        """Forget the component silent the longest, if silent for longer than ``idle_after``,
        giving its name back to the cap; whether one was."""
        return self._names.release_idlest(self._grid.now)

    def forget_sites(self, sites: Iterable[str]) -> None:
        """Drop every component of ``sites``."""
        self._names.forget_sites(sites)

    def views(self) -> list[ComponentView]:
        """Every component's effective status at the grid's *now*."""
        now = self._grid.now
        out = []
        for (site, name), c in self._components.items():
            age = max(0.0, now - c.last_seen)
            stale = age > self._stale_after
            out.append(
                ComponentView(
                    site, name, c.kind, c.status, "down" if stale else c.status, age, stale
                )
            )
        return out

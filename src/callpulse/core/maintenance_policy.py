"""What the maintenance alerts are told: when a backlog pages and a forecast warns
(:class:`BacklogLimits`), how its page is sent (:class:`BacklogPaging`), and what
maintenance events may open (:class:`EventPolicy`)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal


@dataclass(frozen=True)
class BacklogLimits:
    """When an affected queue's backlog pages (MaintenanceBacklog), and when a planned
    window's forecast warns (MaintenanceImpactForecast). Seconds and calls."""

    grace: float = 1800.0
    baseline: float = 1800.0
    min_calls_waiting: int = 5  # a backlog smaller than this (or the ratio) never pages
    max_calls_waiting: int = 20
    max_backlog_ratio: float = 3.0
    max_drain_eta: float = 900.0
    drained_calls_waiting: int = 2  # drained (and resolved) at or below this, or the baseline
    patience: float = 600.0  # callers' mean patience until their own give-ups say otherwise
    forecast_lead: float = 1800.0
    overrun_after: float = 60.0  # a component may take this long to report back after a window
    return_spread: float = 120.0  # the agents a window took log back in over this after its end
    # How sure the drain must be to end after max_drain_eta for a page: the quantile
    # 1 - this of the drain (between the P10 and the median) is what is compared.
    page_confidence: float = 0.75

    def fire_level(self, baseline: float | None) -> float:
        """The smallest backlog that is material: the minimum, or the baseline ratio."""
        if baseline is None:
            return float(self.min_calls_waiting)
        return max(float(self.min_calls_waiting), self.max_backlog_ratio * max(baseline, 1.0))

    def drained_level(self, baseline: float | None) -> float:
        """At or below this many waiting, a backlog has drained (back to normal)."""
        return max(float(self.drained_calls_waiting), baseline or 0.0)


@dataclass(frozen=True)
class BacklogPaging:
    """How MaintenanceBacklog is sent: its ``severity``, how long its backlog must stay
    material before it fires (``for_seconds``), and how long it keeps firing once drained
    (``keep_firing_for``, which MaintenanceOverrun shares). Seconds."""

    severity: str = "critical"
    for_seconds: float = 60.0
    keep_firing_for: float = 120.0


EventMode = Literal["accept", "calendar_only", "off"]


@dataclass(frozen=True)
class EventPolicy:
    """What ``maintenance.started`` / ``ended`` events may do. Anyone who can write to the
    topic can send them, so a window they open is bounded.

    - ``mode``: ``accept`` (events open and close windows), ``calendar_only`` (only for a
      window of the calendar, by name: a planned window started early or running late), or
      ``off`` (ignored);
    - ``sites`` / ``components``: when not empty, events for other sites, or naming other
      components, open nothing;
    - ``max_duration``: a window with no end event closes by itself this long after it
      opened (listed in :attr:`MaintenanceTracker.expired`, for the shell to say so);
    - ``max_open_per_site``: further starts at a site with this many open are refused;
    - ``max_names``: a start naming more components and queues than this is refused (what a
      window keeps is its names: a start cannot make it keep more than this many);
    - ``max_bytes``: the budget of windows (open and closed) and ends kept
      (:class:`~callpulse.core.event_windows.EventWindows`).
    """

    mode: EventMode = "accept"
    sites: tuple[str, ...] = ()
    components: tuple[str, ...] = ()
    max_duration: float = 4 * 3600.0
    max_open_per_site: int = 20
    max_names: int = 64
    max_bytes: int = 8 * 1024 * 1024


@dataclass(frozen=True)
class MaintenancePolicy:
    """Everything ``maintenance.backlog`` says, as one value that a reload swaps whole: when
    a backlog is material and a forecast warns (``limits``, which the tracker reads), and
    how MaintenanceBacklog is sent (``paging``, which the built-in rules read). Its defaults
    are the settings' defaults."""

    limits: BacklogLimits = BacklogLimits()
    paging: BacklogPaging = BacklogPaging()

"""What the monitor is told, what it tells and what it asks: its configuration, the outcome
of applying an event, its counts, and the Protocol its trackers keep
(:mod:`callpulse.core.monitor` re-exports all but :data:`ERLANG_WINDOW`)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from enum import Enum
from typing import Protocol

from callpulse.core import events as ev
from callpulse.core.calendar import WindowSpec
from callpulse.core.maintenance_policy import BacklogLimits, EventPolicy
from callpulse.core.queues import ServiceLevelPolicy
from callpulse.core.silence import SilencePolicy
from callpulse.core.timegrid import check_windows

__all__ = [
    "ERLANG_WINDOW",
    "MonitorConfig",
    "MonitorStats",
    "Outcome",
    "ServiceLevelPolicy",
    "Tracker",
]


class Tracker(Protocol):
    """One domain's state (queues, IVR, trunks, components, maintenance), kept from its own
    event types. The monitor has already de-duplicated the event and decided whether it is
    *late* (older than every window: it then counts only in cumulative totals)."""

    @property
    def event_types(self) -> tuple[str, ...]:
        """The ``type`` values this tracker applies; the monitor routes by them."""

    def apply(
        self, event: ev.Event, ts: float, bucket: int, late: bool, replay: bool = False
    ) -> None:
        """Apply ``event`` (at ``ts``, counted in ``bucket``); ``replay``: re-read to rebuild
        state after a restart, so cumulative totals must not count it again."""

    def forget_sites(self, sites: Iterable[str]) -> None:
        """Drop all state of ``sites`` (their partitions moved to another replica)."""


class Outcome(Enum):
    """What :meth:`callpulse.core.monitor.Monitor.apply` did with an event."""

    APPLIED = "applied"
    DUPLICATE = "duplicate"
    LATE = "late"
    FUTURE = "future"


ERLANG_WINDOW = 300.0
"""Seconds of arrivals and handle times the Erlang estimates read, unless configured."""


@dataclass(frozen=True)
class MonitorConfig:
    """What the monitor needs to know; built from validated settings by the shell."""

    windows: tuple[float, ...] = (60.0, 300.0, 900.0)
    bucket: float = 5.0
    max_clock_skew: float = 30.0
    service_level: ServiceLevelPolicy = field(default_factory=ServiceLevelPolicy)
    service_level_overrides: Mapping[str, ServiceLevelPolicy] = field(default_factory=dict)
    event_time_clock: bool = False
    dedup_capacity: int = 2_000_000
    erlang_window: float = ERLANG_WINDOW
    component_stale_after: float = 60.0
    label_limits: Mapping[str, int] = field(default_factory=dict)
    maintenance_windows: tuple[WindowSpec, ...] = ()
    maintenance_timezone: str = "UTC"
    backlog: BacklogLimits = field(default_factory=BacklogLimits)
    maintenance_events: EventPolicy = field(default_factory=EventPolicy)
    silence: SilencePolicy = field(default_factory=SilencePolicy)
    # Channels per trunk name (any site): the capacity of a trunk whose trunk.status does not
    # say it, as one counted from call records does not.
    trunk_channels: Mapping[str, int] = field(default_factory=dict)

    def __post_init__(self) -> None:
        check_windows(self.windows, self.bucket)


@dataclass(slots=True)
class MonitorStats:
    """Counts of what the monitor was given, for the daemon's own metrics."""

    events_by_type: dict[str, int] = field(default_factory=dict)
    duplicates: int = 0
    late: int = 0
    future: int = 0
    replayed: int = 0  # applied again to rebuild state; not in events_by_type
    released: int = 0  # names given back to their caps: aged out, or idle and needed

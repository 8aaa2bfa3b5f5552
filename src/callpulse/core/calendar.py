"""The maintenance calendar: windows planned in config, and their concrete occurrences.

Calendar windows start at a local time in the configured IANA zone and last ``duration``
of elapsed time; ``rrule`` (RFC 5545) repeats them. Around clock changes:

- a start that does not exist (skipped by spring-forward, e.g. 01:30 in London on the last
  Sunday of March) begins when the local clock would have shown it had it not jumped: the
  time is shifted forward by the gap (01:30 -> 02:30 BST);
- a start that exists twice (fall-back, e.g. 01:30 in London on the last Sunday of October)
  begins at the first of the two;
- the duration is elapsed time, so a 30-minute window is 30 real minutes either way.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from dateutil.rrule import rrulestr

BUILTIN_ALERTS = ("MaintenanceBacklog", "MaintenanceImpactForecast", "MaintenanceOverrun")


@dataclass(frozen=True)
class AgentImpact:
    """The agents a planned window takes off the phones of each queue it covers.

    ``counts`` names a number per queue; other queues lose ``share`` of their agents.
    """

    share: float = 0.0
    counts: tuple[tuple[str, int], ...] = ()

    def lost(self, queue: str, serving: int) -> int:
        """Agents of ``queue`` (``serving`` now) that the window takes away."""
        for name, count in self.counts:
            if name == queue:
                return min(serving, count)
        return min(serving, round(serving * self.share))


@dataclass(frozen=True)
class WindowSpec:
    """A configured window: local ``start`` (naive), ``duration`` seconds, optional rrule."""

    name: str
    sites: tuple[str, ...]
    start: datetime
    duration: float
    components: tuple[str, ...] = ()
    queues: tuple[str, ...] = ()  # empty: every queue of its sites
    trunks: tuple[str, ...] = ()
    applications: tuple[str, ...] = ()
    rrule: str | None = None
    agents_affected: AgentImpact | None = None


@dataclass(frozen=True)
class Occurrence:
    """One concrete window, in epoch seconds; ``end`` is inf while an event window is open."""

    name: str
    start: float
    end: float
    sites: tuple[str, ...]
    components: tuple[str, ...] = ()
    queues: tuple[str, ...] = ()
    trunks: tuple[str, ...] = ()
    applications: tuple[str, ...] = ()
    source: str = "calendar"
    agents_affected: AgentImpact | None = None

    @property
    def key(self) -> tuple[str, float]:
        """Identifies this occurrence among all (a recurring window has many)."""
        return (self.name, self.start)

    def active(self, t: float) -> bool:
        """Whether the window is open at ``t``."""
        return self.start <= t < self.end

    def covers_queue(self, site: str, queue: str) -> bool:
        """Whether ``queue`` at ``site`` is one this window is expected to affect."""
        return site in self.sites and (not self.queues or queue in self.queues)

    def explains(self, labels: Mapping[str, str]) -> bool:
        """Whether an alert with ``labels`` is one this window expects (and so suppresses)."""
        if labels.get("alertname") in BUILTIN_ALERTS or labels.get("site") not in self.sites:
            return False
        if "component" in labels:
            return labels["component"] in self.components
        if "queue" in labels:
            return not self.queues or labels["queue"] in self.queues
        if "trunk" in labels:
            return labels["trunk"] in self.trunks
        if "application" in labels:
            return labels["application"] in self.applications
        return True  # a site-wide alert (a silent site) during its site's maintenance


class Calendar:
    """Configured windows in ``timezone``."""

    def __init__(self, windows: Sequence[WindowSpec], timezone: str) -> None:
        self.zone = ZoneInfo(timezone)
        self.windows = list(windows)

    def occurrences(self, start: float, end: float) -> list[Occurrence]:
        """Every occurrence overlapping ``[start, end)``, in start order."""
        out = []
        for spec in self.windows:
            for local in self._local_starts(spec, start, end):
                begins = local.replace(tzinfo=self.zone).timestamp()
                if begins < end and begins + spec.duration > start:
                    out.append(
                        Occurrence(
                            spec.name,
                            begins,
                            begins + spec.duration,
                            spec.sites,
                            spec.components,
                            spec.queues,
                            spec.trunks,
                            spec.applications,
                            agents_affected=spec.agents_affected,
                        )
                    )
        return sorted(out, key=lambda o: o.start)

    def _local_starts(self, spec: WindowSpec, start: float, end: float) -> list[datetime]:
        if spec.rrule is None:
            return [spec.start]
        # Local wall times a day either side cover any offset and the window's own length.
        margin = timedelta(days=1, seconds=spec.duration)
        lo = datetime.fromtimestamp(start, self.zone).replace(tzinfo=None) - margin
        hi = datetime.fromtimestamp(end, self.zone).replace(tzinfo=None) + timedelta(days=1)
        rule = rrulestr(spec.rrule, dtstart=spec.start)
        return list(rule.between(lo, hi, inc=True))

    def local(self, t: float) -> datetime:
        """``t`` as a local, zone-aware datetime."""
        return datetime.fromtimestamp(t, self.zone)

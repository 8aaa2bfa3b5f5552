"""Maintenance windows: the calendar, windows opened by events, what they explain, and the
backlog they leave behind.

Calendar windows start at a local time in the configured IANA zone and last ``duration``
of elapsed time; ``rrule`` (RFC 5545) repeats them. Around clock changes:

- a start that does not exist (skipped by spring-forward, e.g. 01:30 in London on the last
  Sunday of March) begins when the local clock would have shown it had it not jumped: the
  time is shifted forward by the gap (01:30 -> 02:30 BST);
- a start that exists twice (fall-back, e.g. 01:30 in London on the last Sunday of October)
  begins at the first of the two;
- the duration is elapsed time, so a 30-minute window is 30 real minutes either way.

``maintenance.started`` / ``maintenance.ended`` events open and close windows too (ad-hoc or
overrunning work), for the event's site.
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from dateutil.rrule import rrulestr

BUILTIN_ALERTS = ("MaintenanceBacklog", "MaintenanceOverrun")


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


@dataclass(frozen=True)
class BacklogLimits:
    """When an affected queue's backlog pages (MaintenanceBacklog)."""

    grace: float = 1800.0
    baseline: float = 1800.0
    max_calls_waiting: int = 20
    max_backlog_ratio: float = 3.0
    max_drain_eta: float = 900.0
    overrun_after: float = 60.0  # a component may take this long to report back after a window


@dataclass
class BacklogState:
    """One affected queue during (or just after) one window."""

    site: str
    queue: str
    maintenance: str
    waiting: int
    baseline: float | None  # None: nothing was sampled before the window
    drain_eta: float | None
    agents_available: int
    agents_working: int
    arrivals_per_second: float
    aht: float | None
    over: bool


class MaintenanceTracker:
    """Open windows from the calendar and from events, and the backlog baselines."""

    event_types = ("maintenance.started", "maintenance.ended")

    def __init__(self, calendar: Calendar | None, limits: BacklogLimits) -> None:
        self.calendar = calendar
        self.limits = limits
        # Event windows by (site, maintenance_id): one change ticket may span sites.
        self._events: dict[tuple[str, str], Occurrence] = {}
        # Ends seen, kept through the grace period: a start delivered after its own end (late
        # or re-delivered) must not open a window that nothing will ever close.
        self._ended: dict[tuple[str, str], float] = {}
        # Calls waiting per queue, sampled at each evaluation, for the pre-window baseline.
        self._samples: dict[tuple[str, str], deque[tuple[float, int]]] = {}
        self._baselines: dict[tuple[tuple[str, float], str, str], float] = {}
        # Windows past their grace whose backlog is still over its limits: watched until drained.
        self._held: dict[tuple[str, float], Occurrence] = {}

    def replace(self, calendar: Calendar | None, limits: BacklogLimits) -> None:
        """Swap in a new calendar and limits (a config reload); event windows stay."""
        self.calendar = calendar
        self.limits = limits

    # --- events ------------------------------------------------------------------------

    def apply(self, event: Any, ts: float, bucket: int, late: bool, replay: bool = False) -> None:
        """Open or close an event window."""
        key = (event.site, event.maintenance_id)
        current = self._events.get(key)
        if event.type == "maintenance.started":
            ended = self._ended.get(key)
            if ended is not None and ts <= ended:
                return  # its end has already been seen
            if current is None or current.end != math.inf:
                self._events[key] = Occurrence(
                    event.maintenance_id,
                    ts,
                    math.inf,
                    (event.site,),
                    tuple(event.components),
                    tuple(event.queues or ()),
                    source="event",
                )
            return
        self._ended[key] = max(ts, self._ended.get(key, ts))
        if current is not None and current.end == math.inf and ts >= current.start:
            self._events[key] = Occurrence(
                current.name,
                current.start,
                ts,
                current.sites,
                current.components,
                current.queues,
                source="event",
            )

    def forget_sites(self, sites: Iterable[str]) -> None:
        """Drop event windows and samples of ``sites``."""
        gone = set(sites)
        self._events = {k: o for k, o in self._events.items() if k[0] not in gone}
        self._ended = {k: t for k, t in self._ended.items() if k[0] not in gone}
        self._samples = {k: v for k, v in self._samples.items() if k[0] not in gone}

    # --- windows -----------------------------------------------------------------------

    def windows(self, now: float, grace: float = 0.0) -> list[Occurrence]:
        """Windows open at ``now``, or (with ``grace``) ended no more than ``grace`` ago."""
        found = [o for o in self._events.values() if o.start <= now < o.end + grace]
        if self.calendar is not None:
            found += [
                o
                for o in self.calendar.occurrences(now - grace, now + 1e-6)
                if o.start <= now < o.end + grace
            ]
        return found

    def explaining(self, labels: Mapping[str, str], now: float) -> Occurrence | None:
        """An open window that explains an alert with ``labels``, if any."""
        for occurrence in self.windows(now):
            if occurrence.explains(labels):
                return occurrence
        return None

    def prune(self, now: float) -> None:
        """Forget what ended more than the grace period ago (unless its backlog is held)."""
        horizon = now - self.limits.grace
        held = {o.key for o in self._held.values()}
        self._events = {k: o for k, o in self._events.items() if o.end >= horizon or o.key in held}
        self._ended = {k: t for k, t in self._ended.items() if t >= horizon}
        live = {o.key for o in self._events.values()} | held
        if self.calendar is not None:
            live |= {o.key for o in self.calendar.occurrences(horizon, now + 1e-6)}
        self._baselines = {k: v for k, v in self._baselines.items() if k[0] in live}

    # --- the backlog -------------------------------------------------------------------

    def sample(self, now: float, waiting: Mapping[tuple[str, str], int]) -> None:
        """Record each queue's calls waiting at ``now`` (for baselines)."""
        oldest = now - self.limits.baseline
        for key, count in waiting.items():
            series = self._samples.setdefault(key, deque())
            series.append((now, count))
            while series and series[0][0] < oldest:
                series.popleft()
        for key in [k for k in self._samples if k not in waiting]:
            del self._samples[key]

    def baseline(self, occurrence: Occurrence, site: str, queue: str) -> float | None:
        """Mean calls waiting in the ``baseline`` period before the window, frozen at its start.

        None when nothing was sampled before the window (callpulse started during it): the
        baseline is unknown rather than zero, and only the absolute limits apply.
        """
        key = (occurrence.key, site, queue)
        if key not in self._baselines:
            start = occurrence.start
            series = self._samples.get((site, queue), ())
            before = [n for t, n in series if start - self.limits.baseline <= t <= start]
            if not before:
                return None
            self._baselines[key] = sum(before) / len(before)
        return self._baselines[key]

    def backlogs(self, now: float, queues: Iterable[Any]) -> list[BacklogState]:
        """Every affected queue of every window open now or within ``grace`` after it, and of
        windows past their grace whose backlog has not drained yet."""
        limits = self.limits
        windows = self.windows(now, grace=limits.grace)
        keys = {o.key for o in windows}
        windows += [o for k, o in self._held.items() if k not in keys]
        within = {o.key for o in self.windows(now, grace=limits.grace)}
        out = []
        held: dict[tuple[str, float], Occurrence] = {}
        for view in queues:
            for occurrence in windows:
                if not occurrence.covers_queue(view.site, view.queue):
                    continue
                base = self.baseline(occurrence, view.site, view.queue)
                waiting = view.calls_waiting
                eta = view.drain_eta_seconds
                over = (
                    waiting > limits.max_calls_waiting
                    or (base is not None and waiting > limits.max_backlog_ratio * max(base, 1.0))
                    or (waiting > 0 and eta is not None and eta > limits.max_drain_eta)
                )
                if occurrence.key not in within and not over:
                    continue  # past its grace and drained: done with this queue
                if over:
                    held[occurrence.key] = occurrence  # watched past its grace until drained
                out.append(
                    BacklogState(
                        site=view.site,
                        queue=view.queue,
                        maintenance=occurrence.name,
                        waiting=waiting,
                        baseline=base,
                        drain_eta=eta,
                        agents_available=view.agents["available"],
                        agents_working=view.agents["available"] + view.agents["on_call"],
                        arrivals_per_second=view.arrivals_per_second,
                        aht=view.aht_seconds,
                        over=over,
                    )
                )
        self._held = held
        return out


def backlog_summary(b: BacklogState, target_eta: float) -> dict[str, str]:
    """Annotations of a MaintenanceBacklog alert, with the plain-words summary."""
    if b.baseline is None:
        normal = "normal unknown"
    elif b.baseline >= 1:
        normal = f"{b.waiting / b.baseline:.0f}x normal"
    else:
        normal = "normal is ~0"
    if b.drain_eta is None:
        drains = "drain time unknown (no handle time yet)"
    elif math.isinf(b.drain_eta):
        drains = "will not drain at current staffing"
    else:
        drains = f"drains in {_minutes(b.drain_eta)} at current staffing"
    advice = ""
    if b.aht and b.waiting and (b.drain_eta is None or b.drain_eta > target_eta):
        needed = math.ceil(b.aht * (b.waiting / target_eta + b.arrivals_per_second))
        more = needed - b.agents_working
        if more > 0:
            advice = f"; {more} more agents would drain it in {_minutes(target_eta)}"
    return {
        "summary": f"{b.queue} at {b.site}: {b.waiting} waiting ({normal}), {drains}{advice}",
        "backlog": str(b.waiting),
        "baseline": "unknown" if b.baseline is None else f"{b.baseline:.1f}",
        "drain_eta": "inf"
        if b.drain_eta is not None and math.isinf(b.drain_eta)
        else ("" if b.drain_eta is None else f"{b.drain_eta:.0f}s"),
        "agents_available": str(b.agents_available),
        "arrival_rate": f"{b.arrivals_per_second * 60:.2f}/min",
    }


def _minutes(seconds: float) -> str:
    return f"{max(1, round(seconds / 60))} min"

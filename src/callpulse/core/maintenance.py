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
from typing import Any, NamedTuple
from zoneinfo import ZoneInfo

from dateutil.rrule import rrulestr

from callpulse.core.backlog import drain_time, patience, queue_after

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

    def fire_level(self, baseline: float | None) -> float:
        """The smallest backlog that is material: the minimum, or the baseline ratio."""
        if baseline is None:
            return float(self.min_calls_waiting)
        return max(float(self.min_calls_waiting), self.max_backlog_ratio * max(baseline, 1.0))

    def drained_level(self, baseline: float | None) -> float:
        """At or below this many waiting, a backlog has drained (back to normal)."""
        return max(float(self.drained_calls_waiting), baseline or 0.0)


class _Sample(NamedTuple):
    at: float
    waiting: int
    serving: int
    arrivals: float
    aht: float | None
    settled: bool


@dataclass(frozen=True)
class Baseline:
    """A queue's normal before a window: calls waiting, agents serving, arrivals and AHT.

    The backlog model takes its arrival rate and handle time from here rather than from the
    window's own traffic. Neither changes because a window takes phones away, but their
    live estimates swing: arrivals with chance (a mean of every sample over the baseline
    period is steadier than one 15-minute window), and AHT because the calls completed just
    after staff leave are the long ones (a call in progress at a random moment is likely a
    long one), so AHT measured during a window reads high.
    """

    waiting: float
    serving: float
    arrivals: float | None  # None: no sample saw a whole window of traffic
    aht: float | None

    @classmethod
    def of(cls, rows: Sequence[_Sample]) -> Baseline:
        """The baseline of ``rows`` (not empty): means, and the newest AHT."""
        settled = [r for r in rows if r.settled]
        ahts = [r.aht for r in rows if r.aht is not None]
        return cls(
            waiting=sum(r.waiting for r in rows) / len(rows),
            serving=sum(r.serving for r in rows) / len(rows),
            arrivals=sum(r.arrivals for r in settled) / len(settled) if settled else None,
            aht=ahts[-1] if ahts else None,
        )


@dataclass
class BacklogState:
    """One affected queue during (or after) one window, as the last evaluation judged it.

    ``drain_eta``: seconds from now until the backlog is back at ``drained_level``: staffing
    as now until the window ends (``window_left`` seconds; ``math.inf`` for an event window
    with no end yet), then as before the window. ``overhang``: how much of that lies after
    the window's end, the part the window leaves behind. Both ``None`` when unknown (no
    handle time seen yet and agents serving), ``math.inf`` when it will not drain.
    """

    site: str
    queue: str
    maintenance: str
    waiting: int
    baseline: float | None  # None: nothing was sampled before the window
    drain_eta: float | None
    overhang: float | None
    window_left: float
    agents_available: int
    agents_serving: int
    agents_after: int
    arrivals_per_second: float
    aht: float | None
    patience: float
    fire_level: float
    drained_level: float
    agents_needed: int | None  # serving after the window to drain within max_drain_eta
    active: bool

    @property
    def over(self) -> bool:
        """Whether MaintenanceBacklog is active on this queue."""
        return self.active


@dataclass
class ForecastState:
    """What a planned window, not yet open, is expected to do to one queue's backlog."""

    site: str
    queue: str
    maintenance: str
    starts_in: float
    duration: float
    agents_serving: int
    agents_lost: int
    peak: float
    drain_after: float  # seconds after the window until drained
    agents_to_keep: int | None  # the fewest agents on the queue during it within the limits
    active: bool


@dataclass
class OverrunState:
    """A component a window named, checked after the window ended."""

    site: str
    component: str
    maintenance: str
    status: str | None
    active: bool


class MaintenanceTracker:
    """Open windows from the calendar and from events, the backlog baselines, and the state of
    the built-in maintenance alerts (MaintenanceBacklog, MaintenanceImpactForecast,
    MaintenanceOverrun), judged once per evaluation by :meth:`assess`."""

    event_types = ("maintenance.started", "maintenance.ended")

    def __init__(self, calendar: Calendar | None, limits: BacklogLimits) -> None:
        self.calendar = calendar
        self.limits = limits
        # Event windows by (site, maintenance_id): one change ticket may span sites.
        self._events: dict[tuple[str, str], Occurrence] = {}
        # Ends seen, kept through the grace period: a start delivered after its own end (late
        # or re-delivered) must not open a window that nothing will ever close.
        self._ended: dict[tuple[str, str], float] = {}
        # Calls waiting, agents serving and AHT per queue, sampled at each evaluation.
        self._samples: dict[tuple[str, str], deque[_Sample]] = {}
        self._baselines: dict[tuple[tuple[str, float], str, str], Baseline] = {}
        # Series whose alert condition holds (hysteresis: they stay until they clear), with
        # the window they belong to, watched past its grace period until they do.
        self._paging: dict[tuple[tuple[str, float], str, str], Occurrence] = {}
        self._warning: set[tuple[tuple[str, float], str, str]] = set()
        self._overrunning: dict[tuple[tuple[str, float], str, str], Occurrence] = {}
        # What the last assessment found: read by the scrape and the status page.
        self.backlogs: list[BacklogState] = []
        self.forecasts: list[ForecastState] = []
        self.overruns: list[OverrunState] = []

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
        """Windows open at ``now``, or (with ``grace``) ended no more than ``grace`` ago.

        A calendar window and the events a change system sends for it (same name, same
        site) are one window: the calendar's, which knows its planned end.
        """
        found: list[Occurrence] = []
        if self.calendar is not None:
            found += [
                o
                for o in self.calendar.occurrences(now - grace, now + 1e-6)
                if o.start <= now < o.end + grace
            ]
        planned = {(o.name, site) for o in found for site in o.sites}
        found += [
            o
            for o in self._events.values()
            if o.start <= now < o.end + grace and (o.name, o.sites[0]) not in planned
        ]
        return found

    def explaining(self, labels: Mapping[str, str], now: float) -> Occurrence | None:
        """An open window that explains an alert with ``labels``, if any.

        After a window closes, the queue alerts its backlog causes (callers waiting with no
        agent free, a service level collapsing) are explained by that backlog for as long as
        MaintenanceBacklog pages for it: one incident, one page, as an Alertmanager
        inhibition of the queue's alerts by the backlog alert would do.
        """
        for occurrence in self.windows(now):
            if occurrence.explains(labels):
                return occurrence
        if labels.get("alertname") in BUILTIN_ALERTS or "queue" not in labels:
            return None
        for (_, site, queue), occurrence in self._paging.items():
            if labels.get("site") == site and labels["queue"] == queue:
                return occurrence
        return None

    def prune(self, now: float) -> None:
        """Forget what ended more than the grace period ago (unless an alert still holds it)."""
        horizon = now - self.limits.grace
        held = {k[0] for k in self._paging} | {k[0] for k in self._overrunning}
        self._events = {k: o for k, o in self._events.items() if o.end >= horizon or o.key in held}
        self._ended = {k: t for k, t in self._ended.items() if t >= horizon}
        live = {o.key for o in self._events.values()} | held
        if self.calendar is not None:
            live |= {o.key for o in self.calendar.occurrences(horizon, now + 1e-6)}
        self._baselines = {k: v for k, v in self._baselines.items() if k[0] in live}

    # --- the backlog -------------------------------------------------------------------

    def sample(self, now: float, queues: Iterable[Any]) -> None:
        """Record each queue's calls waiting and agents serving at ``now`` (for baselines)."""
        oldest = now - self.limits.baseline
        present = set()
        for view in queues:
            key = (view.site, view.queue)
            present.add(key)
            series = self._samples.setdefault(key, deque())
            flow = view.flow
            series.append(
                _Sample(
                    now,
                    view.calls_waiting,
                    view.agents_serving,
                    flow.arrivals_per_second,
                    flow.aht_seconds,
                    flow.settled,
                )
            )
            while series and series[0][0] < oldest:
                series.popleft()
        for key in [k for k in self._samples if k not in present]:
            del self._samples[key]

    def baseline(self, occurrence: Occurrence, site: str, queue: str) -> Baseline | None:
        """Mean calls waiting and agents serving in the ``baseline`` period before the window,
        frozen at its start.

        None when nothing was sampled before the window (callpulse started during it): the
        baseline is unknown rather than zero, and only the absolute limits apply.
        """
        key = (occurrence.key, site, queue)
        if key not in self._baselines:
            start = occurrence.start
            series = self._samples.get((site, queue), ())
            before = [row for row in series if start - self.limits.baseline <= row.at <= start]
            if not before:
                return None
            self._baselines[key] = Baseline.of(before)
        return self._baselines[key]

    def _recent(self, site: str, queue: str) -> Baseline | None:
        """The baseline of the period up to now (for a window still to come)."""
        series = self._samples.get((site, queue))
        return Baseline.of(series) if series else None

    def assess(
        self, now: float, queues: Sequence[Any], status: Mapping[tuple[str, str], str]
    ) -> None:
        """Judge every built-in maintenance alert at ``now`` from the queues' views and the
        components' statuses; the results are in :attr:`backlogs`, :attr:`forecasts` and
        :attr:`overruns` until the next call."""
        self.backlogs = self._assess_backlogs(now, queues)
        self.forecasts = self._assess_forecasts(now, queues)
        self.overruns = self._assess_overruns(now, status)

    def _assess_backlogs(self, now: float, queues: Sequence[Any]) -> list[BacklogState]:
        limits = self.limits
        recent = self.windows(now, grace=limits.grace)
        within = {o.key for o in recent}
        windows = recent + list(
            {o.key: o for k, o in self._paging.items() if k[0] not in within}.values()
        )
        out = []
        paging: dict[tuple[tuple[str, float], str, str], Occurrence] = {}
        for view in queues:
            for occurrence in windows:
                if not occurrence.covers_queue(view.site, view.queue):
                    continue
                key = (occurrence.key, view.site, view.queue)
                was_paging = key in self._paging
                state = self._backlog(now, occurrence, view, was_paging)
                if occurrence.key not in within and not state.active and not was_paging:
                    continue  # past its grace and drained (and said so): done with this queue
                if state.active:
                    paging[key] = occurrence
                out.append(state)
        self._paging = paging
        return out

    def _backlog(self, now: float, occurrence: Occurrence, view: Any, paging: bool) -> BacklogState:
        limits = self.limits
        base = self.baseline(occurrence, view.site, view.queue)
        waiting = view.calls_waiting
        serving = view.agents_serving
        after = max(serving, round(base.serving)) if base is not None else serving
        flow = view.flow
        aht = base.aht if base is not None and base.aht else flow.aht_seconds
        arrivals = flow.arrivals_per_second
        if base is not None and base.arrivals is not None:
            arrivals = base.arrivals
        calm = patience(flow.reneged, flow.exposure_seconds, limits.patience)
        left = max(0.0, occurrence.end - now)
        fire = limits.fire_level(base.waiting if base else None)
        drained = limits.drained_level(base.waiting if base else None)
        eta, overhang = _eta(waiting, drained, left, serving, after, arrivals, aht, calm)
        if paging:  # hysteresis: a page holds until the backlog has drained
            active = waiting > drained
        else:
            active = waiting >= fire and (
                waiting > limits.max_calls_waiting
                or (overhang is not None and overhang > limits.max_drain_eta)
            )
        needed = None
        if aht and waiting > drained:
            needed = _agents_to_drain(
                waiting,
                drained,
                left,
                serving,
                arrivals,
                aht,
                calm,
                limits.max_drain_eta,
            )
        return BacklogState(
            site=view.site,
            queue=view.queue,
            maintenance=occurrence.name,
            waiting=waiting,
            baseline=base.waiting if base else None,
            drain_eta=eta,
            overhang=overhang,
            window_left=left,
            agents_available=view.agents["available"],
            agents_serving=serving,
            agents_after=after,
            arrivals_per_second=arrivals,
            aht=aht,
            patience=calm,
            fire_level=fire,
            drained_level=drained,
            agents_needed=needed,
            active=active,
        )

    # --- the forecast ------------------------------------------------------------------

    def _assess_forecasts(self, now: float, queues: Sequence[Any]) -> list[ForecastState]:
        limits = self.limits
        if self.calendar is None or limits.forecast_lead <= 0:
            self._warning = set()
            return []
        upcoming = [
            o
            for o in self.calendar.occurrences(now, now + limits.forecast_lead)
            if o.start > now and o.agents_affected is not None
        ]
        out = []
        warning = set()
        for view in queues:
            for occurrence in upcoming:
                if not occurrence.covers_queue(view.site, view.queue):
                    continue
                key = (occurrence.key, view.site, view.queue)
                state = self._forecast(now, occurrence, view, key in self._warning)
                if state is None:
                    continue
                if state.active:
                    warning.add(key)
                out.append(state)
        self._warning = warning
        return out

    def _forecast(
        self, now: float, occurrence: Occurrence, view: Any, warned: bool
    ) -> ForecastState | None:
        limits = self.limits
        impact = occurrence.agents_affected
        recent = self._recent(view.site, view.queue)
        if impact is None or recent is None or not recent.aht or recent.arrivals is None:
            return None  # no forecast on less than a whole window of traffic
        aht = recent.aht
        serving = view.agents_serving
        lost = impact.lost(view.queue, serving)
        arrivals = recent.arrivals
        calm = patience(view.flow.reneged, view.flow.exposure_seconds, limits.patience)
        duration = occurrence.end - occurrence.start
        # Agents on a call when the window opens finish it first: the staff loss lands about
        # half a handle time into the window.
        short = max(0.0, duration - aht / 2)
        drained = limits.drained_level(recent.waiting)
        fire = limits.fire_level(recent.waiting)

        def outcome(kept: int) -> tuple[float, float, bool]:
            peak = queue_after(view.calls_waiting, short, kept / aht, arrivals, calm)
            drain = _drain_after_return(peak, drained, kept, serving, arrivals, aht, calm)
            over = peak >= fire and (
                peak > limits.max_calls_waiting or drain > limits.max_drain_eta
            )
            return peak, drain, over

        peak, drain, over = outcome(serving - lost)
        keep = next((k for k in range(serving - lost, serving + 1) if not outcome(k)[2]), None)
        return ForecastState(
            site=view.site,
            queue=view.queue,
            maintenance=occurrence.name,
            starts_in=occurrence.start - now,
            duration=duration,
            agents_serving=serving,
            agents_lost=lost,
            peak=peak,
            drain_after=drain,
            agents_to_keep=keep,
            active=over or warned,  # once warned, the warning stands until the window opens
        )

    # --- overrun -----------------------------------------------------------------------

    def _assess_overruns(
        self, now: float, status: Mapping[tuple[str, str], str]
    ) -> list[OverrunState]:
        limits = self.limits
        # A component gets overrun_after to report back before the window counts as overrun.
        ended = {
            w.key: w
            for w in self.windows(now, grace=limits.grace)
            if now >= w.end + limits.overrun_after
        }
        for key, window in self._overrunning.items():
            ended.setdefault(key[0], window)
        out = []
        overrunning = {}
        for window in ended.values():
            for site in window.sites:
                for component in window.components:
                    state = status.get((site, component))
                    key = (window.key, site, component)
                    active = state in ("down", "degraded")
                    if not active and key not in self._overrunning:
                        continue
                    if active:
                        overrunning[key] = window
                    out.append(OverrunState(site, component, window.name, state, active))
        self._overrunning = overrunning
        return out


def _eta(
    waiting: int,
    drained: float,
    left: float,
    serving: int,
    after: int,
    arrivals: float,
    aht: float | None,
    calm: float,
) -> tuple[float | None, float | None]:
    """(seconds until drained, of which after the window's end); see BacklogState."""
    if waiting <= drained:
        return 0.0, 0.0
    if not aht or serving == 0:
        # With nobody to answer the backlog never drains (callers giving up is not draining),
        # whatever the handle time; with agents but no handle time yet, it is unknown.
        if serving == 0 and (math.isinf(left) or left <= 0 or after == 0):
            return math.inf, math.inf
        if not aht:
            return None, None
    assert aht is not None
    now_rate = serving / aht
    if math.isinf(left) or left <= 0:  # an event window with no end yet, or the window is over
        eta = drain_time(waiting, drained, now_rate, arrivals, calm)
        return eta, eta
    before_end = drain_time(waiting, drained, now_rate, arrivals, calm) if serving else math.inf
    if before_end <= left:
        return before_end, 0.0
    at_end = queue_after(waiting, left, now_rate, arrivals, calm)
    overhang = _drain_after_return(at_end, drained, serving, after, arrivals, aht, calm)
    return left + overhang, overhang


def _drain_after_return(
    waiting: float,
    drained: float,
    stayed: int,
    after: int,
    arrivals: float,
    aht: float,
    calm: float,
) -> float:
    """Seconds until ``waiting`` callers are down to ``drained`` once staff goes from
    ``stayed`` agents to ``after`` (the window ends, or more agents are sent).

    The agents coming back are idle: each takes a caller at once. Their first calls all start
    together, so for about half a handle time only the agents who stayed finish calls; after
    that all of them work the rest off at their handle rate.
    """
    if after <= 0:
        return math.inf
    rest = max(0.0, waiting - max(0, after - stayed))
    lag = aht / 2
    early = drain_time(rest, drained, stayed / aht, arrivals, calm) if stayed else math.inf
    if early <= lag:
        return early
    later = queue_after(rest, lag, stayed / aht, arrivals, calm)
    return lag + drain_time(later, drained, after / aht, arrivals, calm)


def _agents_to_drain(
    waiting: int,
    drained: float,
    left: float,
    serving: int,
    arrivals: float,
    aht: float,
    calm: float,
    target: float,
) -> int | None:
    """Agents serving the queue (from the window's end) that drain it within ``target``."""
    at_end = (
        waiting if math.isinf(left) else queue_after(waiting, left, serving / aht, arrivals, calm)
    )
    for agents in range(max(1, serving), serving + 1000):
        if _drain_after_return(at_end, drained, serving, agents, arrivals, aht, calm) <= target:
            return agents
    return None


def backlog_summary(b: BacklogState, target_eta: float) -> dict[str, str]:
    """Annotations of a MaintenanceBacklog alert, with the plain-words summary.

    While the alert is active it says how big the backlog is, when it will have drained and
    what staffing would drain it within ``target_eta``; once the backlog has drained (the
    values the alert resolves with) it says so.
    """
    if b.baseline is None:
        normal = "normal unknown"
    elif b.baseline >= 1:
        normal = f"{b.waiting / b.baseline:.0f}x normal"
    else:
        normal = "normal is ~0"
    notes = {
        "backlog": str(b.waiting),
        "baseline": "unknown" if b.baseline is None else f"{b.baseline:.1f}",
        "drain_eta": _seconds(b.drain_eta),
        "drain_overhang": _seconds(b.overhang),
        "drained_at": f"{b.drained_level:g}",
        "agents_serving": str(b.agents_serving),
        "agents_available": str(b.agents_available),
        "arrival_rate": f"{b.arrivals_per_second * 60:.2f}/min",
        "aht": "unknown" if b.aht is None else f"{b.aht:.0f}s",
        "patience": f"{b.patience:.0f}s",
    }
    if not b.active:
        notes["summary"] = (
            f"{b.queue} at {b.site}: backlog drained, {b.waiting} waiting "
            f"(drained at {b.drained_level:g} or fewer)"
        )
        return notes
    if b.drain_eta is None:
        drains = "drain time unknown (no handle time yet)"
    elif math.isinf(b.drain_eta):
        drains = (
            "will not drain while the window lasts"
            if math.isinf(b.window_left) and b.window_left > 0
            else "will not drain at current staffing"
        )
    else:
        drains = f"drains in {_minutes(b.drain_eta)}"
        if 0 < b.window_left < math.inf and b.overhang:
            drains += f", {_minutes(b.overhang)} after the window ends"
    advice = ""
    if b.agents_needed is not None and b.overhang is not None and b.overhang > target_eta:
        more = b.agents_needed - b.agents_after
        if more > 0:
            advice = f"; {more} more agents would drain it in {_minutes(target_eta)}"
    notes["summary"] = f"{b.queue} at {b.site}: {b.waiting} waiting ({normal}), {drains}{advice}"
    return notes


def forecast_summary(f: ForecastState) -> dict[str, str]:
    """Annotations of a MaintenanceImpactForecast alert."""
    drain = (
        "and will not drain afterwards"
        if math.isinf(f.drain_after)
        else f"draining {_minutes(f.drain_after)} after it ends"
    )
    keep = ""
    if f.agents_to_keep is not None and f.agents_to_keep > f.agents_serving - f.agents_lost:
        keep = (
            f"; keep {f.agents_to_keep} of {f.agents_serving} agents on {f.queue} during it "
            "to stay within the limits"
        )
    elif f.agents_to_keep is None:
        keep = "; even full staffing would not stay within the limits"
    return {
        "summary": (
            f"{f.maintenance} in {_minutes(f.starts_in)} takes {f.agents_lost} of "
            f"{f.agents_serving} agents from {f.queue} at {f.site}: expect ~{f.peak:.0f} "
            f"waiting by its end, {drain}{keep}"
        ),
        "forecast_peak": f"{f.peak:.0f}",
        "forecast_drain": _seconds(f.drain_after),
        "starts_in": f"{f.starts_in:.0f}s",
        "agents_lost": str(f.agents_lost),
        "agents_to_keep": "" if f.agents_to_keep is None else str(f.agents_to_keep),
    }


def overrun_summary(o: OverrunState) -> dict[str, str]:
    """Annotations of a MaintenanceOverrun alert (or of its resolution)."""
    if o.active:
        text = (
            f"{o.component} at {o.site} is still {o.status} after maintenance {o.maintenance} ended"
        )
    else:
        text = f"{o.component} at {o.site} is {o.status or 'no longer reported down'} again"
    return {"summary": text, "status": o.status or "unknown"}


def _seconds(value: float | None) -> str:
    if value is None:
        return ""
    return "inf" if math.isinf(value) else f"{value:.0f}s"


def _minutes(seconds: float) -> str:
    return f"{max(1, round(seconds / 60))} min"

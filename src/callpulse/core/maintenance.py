"""The maintenance tracker: windows open now (calendar and events), what they explain,
the backlog baselines, and the state of the built-in maintenance alerts.

``maintenance.started`` / ``maintenance.ended`` events open and close windows (ad-hoc or
overrunning work) for the event's site; the calendar (:mod:`callpulse.core.calendar`) gives
the planned ones. Once per alert evaluation :meth:`MaintenanceTracker.assess` judges
MaintenanceBacklog, MaintenanceImpactForecast and MaintenanceOverrun on the queue model of
:mod:`callpulse.core.backlog`; scrapes and the status page read what it found.
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Callable, Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Literal, NamedTuple, Protocol

from callpulse.core import events as ev
from callpulse.core.backlog import (
    agents_to_drain,
    staff_back_in,
)
from callpulse.core.calendar import BUILTIN_ALERTS, Calendar, Occurrence
from callpulse.core.drain import build_up, widened, window_outlook
from callpulse.core.event_windows import EventWindows
from callpulse.core.flow_history import SPAN as FLOW_SPAN
from callpulse.core.flow_history import Estimate, FlowHistory, Reading
from callpulse.core.patience import estimate_patience
from callpulse.core.queues import QueueFlow


class QueueReading(Protocol):
    """What the maintenance alerts read of a queue (a :class:`QueueView` has it)."""

    @property
    def site(self) -> str: ...
    @property
    def queue(self) -> str: ...
    @property
    def calls_waiting(self) -> int: ...
    @property
    def agents(self) -> Mapping[str, int]: ...
    @property
    def agents_serving(self) -> int: ...
    @property
    def agents_known(self) -> bool: ...
    @property
    def flow(self) -> QueueFlow: ...


BacklogKey = tuple[str, str, str]
"""A MaintenanceBacklog series: (site, queue, maintenance)."""


Z90 = 1.2815515655446004
"""The standard normal's 0.9 quantile: P10 and P90 of a normal are its mean -+ this many
deviations."""

DRAINED_HOLD = 120.0
"""Seconds a queue must stay at its drained level after a window before it is done with
that window: a backlog that builds up again later is not the window's."""

DRAINED_SLACK = 2
"""Calls over the drained level that do not count as building up again meanwhile."""

FORECAST_EVERY = 60.0
"""Seconds a window's forecast stands before it is made again. It is a model run per queue
and window, on inputs that move little from one evaluation to the next."""

SAMPLE_EVERY = 60.0
"""Seconds of event time between two baseline samples when no alert evaluation takes them
(see :meth:`MaintenanceTracker.sample_due`)."""

MAX_RESTORED = 100_000
"""Queues whose flow history a state file may bring back (a few kB each)."""

MIN_LIVE_ARRIVALS = 10
"""Below this many arrivals the live rate says too little: older readings are added until
it has them, and where even those fall short the backlog model takes the baseline's rate."""


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
    aht_calls: int = 0  # the completed calls aht rests on (0: unknown)

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

    ``drain_eta``: seconds from now until the backlog is back at ``drained_level``, the
    median of the queue model (:mod:`callpulse.core.drain`), with ``drain_eta_low`` and
    ``drain_eta_high`` its P10 and P90: staffing as now until the window ends
    (``window_left`` seconds; ``math.inf`` for an event window with no end yet), then the
    staff it took coming back over ``return_spread`` to where it was before the window.
    Arrivals at the live rate, reaching back through older readings while the rate holds
    steady (the baseline's while all of them rest on too few calls),
    callers giving up at the rate their own waits and abandons say. ``overhang``: how much of
    the median lies after the window's end (counted from that end once it has passed), the
    part the window leaves behind; ``overhang_low`` the same of the drain's quick end, the
    quantile ``1 - page_confidence`` (a normal's, between the P10 and the median: the P25
    by default), what the alert pages on: it pages when it is that sure the drain is too
    late. All ``None`` when unknown (no handle time seen yet and agents serving),
    ``math.inf`` when it will not drain.
    """

    site: str
    queue: str
    maintenance: str
    waiting: int
    baseline: float | None  # None: nothing was sampled before the window
    drain_eta: float | None
    overhang: float | None
    window_left: float
    drain_eta_low: float | None
    drain_eta_high: float | None
    overhang_low: float | None
    agents_available: int
    agents_serving: int
    agents_after: int
    arrivals_per_second: float
    arrivals_over: str  # what the rate is measured over: "last 15m", or "before the window"
    aht: float | None
    patience: float  # the callers' mean patience, seconds (math.inf: nobody gives up)
    fire_level: float
    drained_level: float
    agents_needed: int | None  # serving after the window to drain within max_drain_eta
    active: bool  # MaintenanceBacklog is active on this queue


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
    peak: float  # expected calls waiting as the window ends
    drain_after: float  # seconds after the window until drained (median)
    agents_to_keep: int | None  # the fewest agents on the queue during it within the limits
    active: bool
    peak_low: float = 0.0  # P10 and P90 of the calls waiting as it ends
    peak_high: float = 0.0
    patience: float = math.inf  # the callers' mean patience assumed, seconds
    patience_from: str = ""  # what that rests on, in words


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

    def __init__(
        self,
        calendar: Calendar | None,
        limits: BacklogLimits,
        policy: EventPolicy | None = None,
    ) -> None:
        self.calendar = calendar
        self.limits = limits
        self.policy = policy or EventPolicy()
        # Maintenance events the policy did not let open a window, and windows that closed by
        # themselves (max_duration) since the shell last took them.
        self.refused = 0
        self.expired: list[Occurrence] = []
        # Event windows by (site, maintenance_id) (one change ticket may span sites), and the
        # ends seen, kept through the grace period: a start delivered after its own end (late
        # or re-delivered) must not open a window that nothing will ever close.
        self.event_windows = EventWindows(self.policy.max_bytes)
        # Calls waiting, agents serving and AHT per queue, sampled at each evaluation.
        self._samples: dict[tuple[str, str], deque[_Sample]] = {}
        self._history: dict[tuple[str, str], FlowHistory] = {}
        # Histories read back from the state file are kept this long for queues not seen yet
        # (their events may not have come since the restart), then released with the rest.
        self._restored_until = -math.inf
        self._sampled_at = -math.inf
        self._baselines: dict[tuple[tuple[str, float], str, str], Baseline] = {}
        # Series whose alert condition holds (held, for a firing alert, until drained), with
        # the window they belong to, watched past its grace period until they do.
        self._paging: dict[tuple[tuple[str, float], str, str], Occurrence] = {}
        # The MaintenanceBacklog alerts that fire, as the last assessment was told.
        self._firing: frozenset[BacklogKey] = frozenset()
        self._warning: set[tuple[tuple[str, float], str, str]] = set()
        # Queues back to normal after a window (see _after_drain), and since when on the way.
        self._drained: set[tuple[tuple[str, float], str, str]] = set()
        self._drained_since: dict[tuple[tuple[str, float], str, str], float] = {}
        # Each window's forecast per queue, with when it was made (see FORECAST_EVERY).
        self._forecasts: dict[tuple[tuple[str, float], str, str], tuple[float, ForecastState]] = {}
        self._overrunning: dict[tuple[tuple[str, float], str, str], Occurrence] = {}
        # What the last assessment found: read by the scrape and the status page.
        self.backlogs: list[BacklogState] = []
        self.forecasts: list[ForecastState] = []
        self.overruns: list[OverrunState] = []

    def replace(
        self, calendar: Calendar | None, limits: BacklogLimits, policy: EventPolicy | None = None
    ) -> None:
        """Swap in a new calendar, limits and event policy (a config reload); event windows
        stay."""
        self.calendar = calendar
        self.limits = limits
        self.policy = policy or EventPolicy()
        self.event_windows.resize(self.policy.max_bytes)

    # --- events ------------------------------------------------------------------------

    def apply(
        self, event: ev.Event, ts: float, bucket: int, late: bool, replay: bool = False
    ) -> None:
        """Open or close an event window."""
        if not isinstance(event, ev.MaintenanceStarted | ev.MaintenanceEnded):
            return
        store = self.event_windows
        key = (event.site, event.maintenance_id)
        if isinstance(event, ev.MaintenanceStarted):
            ended = store.ended(key)
            if ended is not None and ts <= ended:
                return  # its end has already been seen
            current = store.window(key)
            if current is not None and current.end == math.inf:
                return  # already open
            window = Occurrence(
                event.maintenance_id,
                ts,
                math.inf,
                (event.site,),
                tuple(event.components),
                tuple(event.queues or ()),
                source="event",
            )
            if not (self._admits(event) and store.open(key, window)):
                self.refused += 1
            return
        # An end matters to a window open now (under this policy or an earlier one) and to a
        # start this policy could admit later; any other is not remembered at all.
        if store.window(key) is not None or self._may_open(event.site, event.maintenance_id):
            store.close(key, ts)

    def _may_open(self, site: str, maintenance_id: str) -> bool:
        """Whether the policy lets some start for ``maintenance_id`` at ``site`` open."""
        policy = self.policy
        if policy.mode == "off" or (policy.sites and site not in policy.sites):
            return False
        return policy.mode != "calendar_only" or (
            self.calendar is not None
            and any(w.name == maintenance_id and site in w.sites for w in self.calendar.windows)
        )

    def _admits(self, event: ev.MaintenanceStarted) -> bool:
        policy = self.policy
        if not self._may_open(event.site, event.maintenance_id):
            return False
        if policy.components and not set(event.components) <= set(policy.components):
            return False
        if len(event.components) + len(event.queues or ()) > policy.max_names:
            return False
        return self.event_windows.open_at(event.site) < policy.max_open_per_site

    def forget_sites(self, sites: Iterable[str]) -> None:
        """Drop event windows and samples of ``sites``."""
        gone = set(sites)
        self.event_windows.forget_sites(gone)
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
            for o in self.event_windows.windows()
            if o.start <= now < o.end + grace and (o.name, o.sites[0]) not in planned
        ]
        return found

    def explaining(self, labels: Mapping[str, str], now: float) -> Occurrence | None:
        """An open window that explains an alert with ``labels``, if any.

        After a window closes, the queue alerts its backlog causes (callers waiting with no
        agent free, a service level collapsing) are explained by that backlog for as long as
        MaintenanceBacklog pages for it: one incident, one page, as an Alertmanager
        inhibition of the queue's alerts by the backlog alert would do. A backlog whose alert
        is only pending explains nothing: it may never page.
        """
        for occurrence in self.windows(now):
            if occurrence.explains(labels):
                return occurrence
        if labels.get("alertname") in BUILTIN_ALERTS or "queue" not in labels:
            return None
        for (_, site, queue), occurrence in self._paging.items():
            fires = (site, queue, occurrence.name) in self._firing
            if fires and labels.get("site") == site and labels["queue"] == queue:
                return occurrence
        return None

    def prune(self, now: float) -> None:
        """Close event windows open longer than the policy's ``max_duration``; forget what
        ended more than the grace period ago (unless an alert still holds it)."""
        store = self.event_windows
        self.expired += store.expire(now, self.policy.max_duration)
        horizon = now - self.limits.grace
        held = {k[0] for k in self._paging} | {k[0] for k in self._overrunning}
        store.prune(horizon, held)
        live = {o.key for o in store.windows()} | held
        if self.calendar is not None:
            live |= {o.key for o in self.calendar.occurrences(horizon, now + 1e-6)}
        self._baselines = {k: v for k, v in self._baselines.items() if k[0] in live}
        self._drained = {k for k in self._drained if k[0] in live}
        self._drained_since = {k: v for k, v in self._drained_since.items() if k[0] in live}

    # --- the backlog -------------------------------------------------------------------

    def sample(self, now: float, queues: Iterable[QueueReading]) -> None:
        """Record each queue's calls waiting and agents serving at ``now`` (for baselines)."""
        # A window's baseline is frozen before the samples it needs age out: on a replay's
        # fast clock the first assessment may come long after the window opened.
        for occurrence in self.windows(now, grace=self.limits.grace):
            for site, queue in self._samples:
                if occurrence.covers_queue(site, queue):
                    self.baseline(occurrence, site, queue)
        self._sampled_at = now
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
            self._history.setdefault(key, FlowHistory()).add(_reading(now, flow))
        for key in [k for k in self._samples if k not in present]:
            del self._samples[key]
            self._history.pop(key, None)
        if now >= self._restored_until and len(self._history) > len(present):
            for key in [k for k in self._history if k not in present]:
                del self._history[key]

    def export_history(self) -> list[list[object]]:
        """Each queue's flow history as plain data, ``[site, queue, history]`` (for the
        state file: the callers' patience by hour of the day takes days to learn)."""
        return [[site, queue, h.export()] for (site, queue), h in self._history.items()]

    def restore_history(self, rows: object, now: float) -> int:
        """Take back :meth:`export_history`'s rows, at most :data:`MAX_RESTORED` queues;
        return how many. Raises ValueError (nothing taken) when they are not such rows."""
        if not isinstance(rows, list) or len(rows) > MAX_RESTORED:
            raise ValueError(f"flow history: a list of at most {MAX_RESTORED} queues")
        restored: dict[tuple[str, str], FlowHistory] = {}
        for row in rows:
            if not (
                isinstance(row, list)
                and len(row) == 3
                and isinstance(row[0], str)
                and isinstance(row[1], str)
            ):
                raise ValueError("flow history: each queue is [site, queue, history]")
            history = FlowHistory.restore(row[2])
            history.forget_before(now - FLOW_SPAN)
            restored[(row[0], row[1])] = history
        self._history.update(restored)
        self._restored_until = now + FLOW_SPAN
        return len(restored)

    def sample_due(self, now: float) -> bool:
        """Whether :data:`SAMPLE_EVERY` has passed since the last sample.

        Alert evaluations sample on the wall clock. On an event-time clock that runs faster
        (a replay at full speed reads hours a second) they land minutes or hours of event
        time apart, and the half hour before a window may hold none: the clock then samples
        as it goes."""
        return now >= self._sampled_at + SAMPLE_EVERY

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
            base = Baseline.of(before)
            # Handle time from enough calls: a small queue's one window holds a handful.
            history = self._history.get((site, queue))
            handle = history.handle_time(start) if history is not None else None
            if handle is not None:
                base = replace(base, aht=handle.value, aht_calls=handle.count)
            self._baselines[key] = base
        return self._baselines[key]

    def _recent(self, site: str, queue: str) -> Baseline | None:
        """The baseline of the period up to now (for a window still to come)."""
        series = self._samples.get((site, queue))
        return Baseline.of(series) if series else None

    def assess(
        self,
        now: float,
        queues: Sequence[QueueReading],
        status: Mapping[tuple[str, str], str],
        firing: Collection[BacklogKey] = (),
    ) -> None:
        """Judge every built-in maintenance alert at ``now`` from the queues' views and the
        components' statuses; the results are in :attr:`backlogs`, :attr:`forecasts` and
        :attr:`overruns` until the next call.

        ``firing``: the MaintenanceBacklog alerts that fire and are active, as (site, queue,
        maintenance). Only these are held until their backlog has drained; any other
        backlog is active only while it is material, so a pending alert whose backlog falls
        back starts its ``for`` over (a short spike must not page).
        """
        self._firing = frozenset(firing)
        self.backlogs = self._assess_backlogs(now, queues, firing)
        self.forecasts = self._assess_forecasts(now, queues)
        self.overruns = self._assess_overruns(now, status)

    def _assess_backlogs(
        self, now: float, queues: Sequence[QueueReading], firing: Collection[BacklogKey]
    ) -> list[BacklogState]:
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
                held = (view.site, view.queue, occurrence.name) in firing
                state = self._backlog(now, occurrence, view, held)
                if occurrence.key not in within and not state.active and not was_paging:
                    continue  # past its grace and drained (and said so): done with this queue
                if state.active:
                    paging[key] = occurrence
                out.append(state)
        self._paging = paging
        return out

    def _backlog(
        self, now: float, occurrence: Occurrence, view: QueueReading, firing: bool
    ) -> BacklogState:
        limits = self.limits
        base = self.baseline(occurrence, view.site, view.queue)
        waiting = view.calls_waiting
        serving = view.agents_serving
        after = max(serving, round(base.serving)) if base is not None else serving
        flow = view.flow
        aht, aht_calls = flow.aht_seconds, flow.completed
        if base is not None and base.aht:
            aht, aht_calls = base.aht, base.aht_calls or flow.completed
        history = self._history.get((view.site, view.queue))
        arrivals, arrived, over = _arrivals(now, flow, base, history, occurrence.end)
        patience = estimate_patience(flow.reneged, flow.exposure_seconds, limits.patience)
        calm = patience.mean_patience
        left = max(0.0, occurrence.end - now)
        # Agents still logging back in are staff: reading their absence as staffing from now
        # on would make the ETA infinite just as the queue starts to drain.
        back = staff_back_in(now, occurrence.end, limits.return_spread)
        fire = limits.fire_level(base.waiting if base else None)
        drained = limits.drained_level(base.waiting if base else None)
        back = max(back, left)
        forecast = window_outlook(
            waiting, drained, serving, after, back, arrivals, aht, patience.rate
        )
        if forecast is not None and aht:
            counts = ((arrivals, arrived), (aht, aht_calls))
            forecast = widened(
                forecast, waiting, drained, serving, after, back, *counts, patience.rate
            )
        if not view.agents_known:  # no agent stream: how fast it drains is unknown
            forecast = None
        eta = low = high = overhang = overhang_low = None
        if forecast is not None:
            eta, low, high = forecast.p50, forecast.p10, forecast.p90
            # After the window's end: from it, not from now (a drain that ends 20 minutes
            # after the window is as late 10 minutes in as at its end). A window with no
            # planned end leaves all of it behind, as far as is known.
            ahead = 0.0 if math.isinf(occurrence.end) else occurrence.end - now
            sure = eta - (eta - low) * _z(limits.page_confidence) / Z90 if low < eta else eta
            overhang, overhang_low = max(0.0, eta - ahead), max(0.0, sure - ahead)
        key = (occurrence.key, view.site, view.queue)
        if firing:  # hysteresis: a page holds until the backlog has drained
            active = waiting > drained
        elif self._after_drain(key, now, occurrence.end, waiting, drained):
            # Drained after the window: what builds up later is the queue's own load, not
            # the window's doing (the queue's own alerts are there for it).
            active = False
        else:
            # Page on the quick end of the range: sure that it will not drain in time.
            active = waiting >= fire and (
                waiting > limits.max_calls_waiting
                or (overhang_low is not None and overhang_low > limits.max_drain_eta)
            )
        needed = None
        if aht and waiting > drained and view.agents_known:
            needed = agents_to_drain(
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
            drain_eta_low=low,
            drain_eta_high=high,
            overhang_low=overhang_low,
            agents_available=view.agents["available"],
            agents_serving=serving,
            agents_after=after,
            arrivals_per_second=arrivals,
            arrivals_over=over,
            aht=aht,
            patience=calm,
            fire_level=fire,
            drained_level=drained,
            agents_needed=needed,
            active=active,
        )

    def _after_drain(
        self,
        key: tuple[tuple[str, float], str, str],
        now: float,
        end: float,
        waiting: int,
        drained: float,
    ) -> bool:
        """Whether the queue has drained since the window ended: at or below ``drained`` for
        :data:`DRAINED_HOLD`, never more than :data:`DRAINED_SLACK` above it meanwhile."""
        if key in self._drained:
            return True
        if now < end or waiting > drained + DRAINED_SLACK:
            self._drained_since.pop(key, None)
            return False
        if waiting <= drained:
            since = self._drained_since.setdefault(key, now)
            if now - since >= DRAINED_HOLD:
                self._drained.add(key)
                del self._drained_since[key]
                return True
        return False

    # --- the forecast ------------------------------------------------------------------

    def _assess_forecasts(self, now: float, queues: Sequence[QueueReading]) -> list[ForecastState]:
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
        fresh: dict[tuple[tuple[str, float], str, str], tuple[float, ForecastState]] = {}
        for view in queues:
            for occurrence in upcoming:
                if not occurrence.covers_queue(view.site, view.queue):
                    continue
                key = (occurrence.key, view.site, view.queue)
                made = self._forecasts.get(key)
                if made is not None and now < made[0] + FORECAST_EVERY:
                    state: ForecastState | None = replace(
                        made[1],
                        starts_in=occurrence.start - now,
                        active=made[1].active or key in self._warning,
                    )
                else:
                    state = self._forecast(now, occurrence, view, key in self._warning)
                    if state is not None:
                        made = (now, state)
                if state is None or made is None:
                    continue
                fresh[key] = made
                if state.active:
                    warning.add(key)
                out.append(state)
        self._warning = warning
        self._forecasts = fresh
        return out

    def _forecast(
        self, now: float, occurrence: Occurrence, view: QueueReading, warned: bool
    ) -> ForecastState | None:
        limits = self.limits
        impact = occurrence.agents_affected
        recent = self._recent(view.site, view.queue)
        if impact is None or recent is None or not recent.aht or recent.arrivals is None:
            return None  # no forecast on less than a whole window of traffic
        if not view.agents_known:
            return None  # nor on agents no stream describes
        history = self._history.get((view.site, view.queue), FlowHistory())
        # Rates from enough calls where the last hours have them (see flow_history).
        handle = history.handle_time(now)
        aht = handle.value if handle is not None else recent.aht
        serving = view.agents_serving
        lost = impact.lost(view.queue, serving)
        found = history.arrivals(_reading(now, view.flow))  # before any window: stationary
        arrivals = found.value if found.count >= MIN_LIVE_ARRIVALS else recent.arrivals
        patience, patience_from = history.patience(limits.patience, occurrence.start)
        duration = occurrence.end - occurrence.start
        # Agents on a call when the window opens finish it first: the staff loss lands about
        # half a handle time into the window.
        short = max(0.0, duration - aht / 2)
        drained = limits.drained_level(recent.waiting)
        fire = limits.fire_level(recent.waiting)
        back = max(1.0, limits.return_spread / 2)

        def outcome(kept: int, rate: float = patience.rate) -> tuple[float, float, float, bool]:
            peak, var = build_up(view.calls_waiting, short, kept, arrivals, aht, rate)
            drain = window_outlook(round(peak), drained, kept, serving, back, arrivals, aht, rate)
            after = math.inf if drain is None else max(0.0, drain.p50)
            limit = limits.max_drain_eta
            over = peak >= fire and (peak > limits.max_calls_waiting or after > limit)
            return peak, var, after, over

        peak, _, drain, over = outcome(serving - lost)
        # The range: chance (the normal spread around the path) and how patient the callers
        # may be (the estimate's own P10-P90; the patient end leaves the larger backlog).
        slow, slow_var, _, _ = outcome(serving - lost, patience.low)
        quick, quick_var, _, _ = outcome(serving - lost, patience.high)
        keep = _fewest(serving - lost, serving, lambda k: not outcome(k)[3])
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
            peak_low=max(0.0, quick - Z90 * math.sqrt(quick_var)),
            peak_high=slow + Z90 * math.sqrt(slow_var),
            patience=patience.mean_patience,
            patience_from=patience_from,
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


def _z(share: float) -> float:
    """The standard normal's ``share`` quantile, for shares from 0.5 to 0.9 (by bisection
    on ``math.erf``: a few microseconds, well within 1e-9)."""
    share = min(max(share, 0.5), 0.9)
    low, high = 0.0, Z90
    while high - low > 1e-9:
        middle = (low + high) / 2
        if 0.5 * (1 + math.erf(middle / math.sqrt(2))) < share:
            low = middle
        else:
            high = middle
    return (low + high) / 2


def _fewest(low: int, high: int, enough: Callable[[int], bool]) -> int | None:
    """The smallest ``k`` in ``low..high`` for which ``enough(k)`` holds (it holds for every
    larger ``k`` too), or None: a bisection, as each try is a drain forecast."""
    if low > high or not enough(high):
        return None
    while low < high:
        middle = (low + high) // 2
        if enough(middle):
            high = middle
        else:
            low = middle + 1
    return low


def _reading(now: float, flow: QueueFlow) -> Reading:
    """What a :class:`FlowHistory` keeps of the longest window at ``now``: the waits of
    callers still waiting are left out, as they are counted whole once they are over."""
    return Reading(
        at=now,
        span=flow.span,
        arrivals=flow.arrivals,
        completed=flow.completed,
        handle_seconds=(flow.aht_seconds or 0.0) * flow.completed,
        reneged=flow.reneged,
        exposure_seconds=max(0.0, flow.exposure_seconds - flow.still_waiting_seconds),
    )


def _arrivals(
    now: float,
    live: QueueFlow,
    base: Baseline | None,
    history: FlowHistory | None,
    end: float = math.inf,
) -> tuple[float, int, str]:
    """The arrival rate the drain ETA assumes, the calls it rests on, and what it is
    measured over.

    The live rate over the longest window: arrivals change through the day (and around a
    window: callers retry, or stay away while the IVR is down), and a window's backlog
    drains at the rate callers come now, not the one before it. The longest window, not a
    shorter one holding enough calls, because the net drain is the small difference of
    capacity and arrivals: a few percent of noise in the rate is tens of percent in the ETA.
    For the same reason the readings before it are added, newest first: while it holds
    fewer than :data:`MIN_LIVE_ARRIVALS` (a small queue), then as long as the rate in them
    holds steady (:meth:`FlowHistory.arrivals`), and every reading since the window's
    ``end`` whatever it holds. The baseline's only while all of that holds too few
    (callpulse started during the window).
    """
    found = (history or FlowHistory()).arrivals(_reading(now, live), MIN_LIVE_ARRIVALS, end)
    if found.count >= MIN_LIVE_ARRIVALS or base is None or base.arrivals is None:
        return found.value, found.count, _over(found, live)
    return base.arrivals, MIN_LIVE_ARRIVALS, "before the window"


def _over(found: Estimate, live: QueueFlow) -> str:
    """What an arrival rate is measured over, in words: "last 15m", "last 47m"."""
    if found.span == live.span or not live.window:
        return f"last {live.window}" if live.window else "live"
    return f"last {round(found.span / 60)}m"

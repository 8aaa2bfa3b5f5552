"""The maintenance tracker: windows open now (calendar and events), what they explain,
the backlog baselines, and the state of the built-in maintenance alerts.

``maintenance.started`` / ``maintenance.ended`` events open and close windows (ad-hoc or
overrunning work) for the event's site; the calendar (:mod:`callpulse.core.calendar`) gives
the planned ones. Once per alert evaluation :meth:`MaintenanceTracker.assess` judges
MaintenanceBacklog, MaintenanceImpactForecast and MaintenanceOverrun on the queue model of
:mod:`callpulse.core.drain` (:mod:`callpulse.core.maintenance_judge`); scrapes and the status
page read what it found.
"""

from __future__ import annotations

import math
from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import replace

from callpulse.core import events as ev
from callpulse.core.calendar import BUILTIN_ALERTS, Calendar, Occurrence
from callpulse.core.event_windows import EventWindows
from callpulse.core.flow_history import FlowHistory
from callpulse.core.maintenance_baselines import Baselines
from callpulse.core.maintenance_judge import forecast_queue, judge_backlog
from callpulse.core.maintenance_policy import BacklogLimits, EventPolicy
from callpulse.core.maintenance_state import (
    BacklogKey,
    BacklogState,
    ForecastState,
    OverrunState,
    QueueReading,
)
from callpulse.core.steps import Steps, finish

DRAINED_HOLD = 120.0
"""Seconds a queue must stay at its drained level after a window before it is done with
that window: a backlog that builds up again later is not the window's."""

DRAINED_SLACK = 2
"""Calls over the drained level that do not count as building up again meanwhile."""

FORECAST_EVERY = 60.0
"""Seconds a window's forecast stands before it is made again. It is a model run per queue
and window, on inputs that move little from one evaluation to the next."""


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
        self.baselines = Baselines(limits.baseline)
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
        self.baselines.span = limits.baseline
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
        self.baselines.forget_sites(gone)

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
        self.baselines.keep_windows(live)
        self._drained = {k for k in self._drained if k[0] in live}
        self._drained_since = {k: v for k, v in self._drained_since.items() if k[0] in live}

    # --- the backlog -------------------------------------------------------------------

    def sample(self, now: float, queues: Iterable[QueueReading]) -> None:
        """Freeze the baselines of the windows open or in their grace, and record each
        queue's calls waiting and agents serving at ``now`` if a minute has passed since the
        last sample (``Baselines.sample``)."""
        finish(self.sample_in_steps(now, queues))

    def sample_in_steps(self, now: float, queues: Iterable[QueueReading]) -> Steps[None]:
        """:meth:`sample`, yielding every few thousand queues."""
        windows = self.windows(now, grace=self.limits.grace)
        yield from self.baselines.sample_in_steps(now, queues, windows)

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
        key = (occurrence.key, view.site, view.queue)
        base = self.baselines.baseline(occurrence, view.site, view.queue)
        drained = self.limits.drained_level(base.waiting if base else None)
        return judge_backlog(
            now,
            occurrence,
            view,
            firing,
            self.limits,
            base,
            self.baselines.history(view.site, view.queue),
            lambda: self._after_drain(key, now, occurrence.end, view.calls_waiting, drained),
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
        return forecast_queue(
            now,
            occurrence,
            view,
            warned,
            self.limits,
            self.baselines.recent(view.site, view.queue),
            self.baselines.history(view.site, view.queue) or FlowHistory(),
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

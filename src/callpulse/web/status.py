"""The status view: a small JSON document for ``/``, ``/api/v1/status`` and ``callpulse
status``. For a glance, not a Grafana: sites, queues with short histories, trunks, IVR,
components, open maintenance windows and those coming with their forecast, alerts (firing,
pending, and those a window suppresses), how fresh each site's data is, Alertmanager's
silences, the header's links, and whether the data is simulated (:mod:`.page_context`).

Times of the monitor (``now``, alerts, windows) are on its clock, event time in a replay or a
sped-up simulation; Alertmanager's silences are on the wall clock, so their section carries
its own ``now``. The page shows every time relative to the ``now`` of its clock.

A queue's drain ETA is :func:`callpulse.core.drain_eta.queue_eta`'s, the value of the
``callpulse_queue_drain_eta_seconds`` gauge and of MaintenanceBacklog's annotations."""

from __future__ import annotations

import math
import time
from array import array
from collections.abc import Iterable
from typing import TYPE_CHECKING, Protocol

from callpulse.core.drain_eta import assessed, queue_eta
from callpulse.core.freshness import SiteLag, site_lag, stale
from callpulse.core.maintenance_state import ForecastState
from callpulse.core.monitor import Monitor
from callpulse.core.queues import QueueView
from callpulse.core.silence_view import silenced_by
from callpulse.core.steps import Steps, finish
from callpulse.core.timefmt import rfc3339
from callpulse.web.page_context import PageContext
from callpulse.web.status_document import (
    ComponentStatus,
    ForecastStatus,
    IvrStatus,
    PageAlert,
    QueueStatus,
    SilencesStatus,
    SilenceStatus,
    SiteStatus,
    StatusDocument,
    TrunkStatus,
    UpcomingStatus,
    Windows,
    WindowStatus,
)

if TYPE_CHECKING:
    from callpulse.alerting import Alerting
    from callpulse.sinks.silence_reader import SilencesView

HISTORY = 60  # samples kept per queue for the sparklines
_SAMPLED_A_STEP = 1000  # queues whose sample is recorded a step


class QueueHistory:
    """A queue's last :data:`HISTORY` samples of calls waiting and service level, in one
    array of doubles (NaN for a level not known): 1 KB a queue, where two deques of float
    objects took 4 KB once full (40 MB at 10k queues)."""

    __slots__ = ("_next", "_samples", "_values")

    def __init__(self) -> None:
        self._values = array("d", bytes(16 * HISTORY))  # waiting, level; waiting, level; ...
        self._samples = 0
        self._next = 0

    def add(self, waiting: float, level: float | None) -> None:
        """One more sample, the oldest dropped past :data:`HISTORY`."""
        at = 2 * self._next
        self._values[at] = waiting
        self._values[at + 1] = math.nan if level is None else level
        self._next = (self._next + 1) % HISTORY
        self._samples = min(self._samples + 1, HISTORY)

    def series(self) -> tuple[list[float | None], list[float | None]]:
        """Calls waiting (never None) and service levels, oldest first."""
        first = (self._next - self._samples) % HISTORY
        order = [(first + i) % HISTORY for i in range(self._samples)]
        values = self._values
        waiting: list[float | None] = [values[2 * i] for i in order]
        levels = [values[2 * i + 1] for i in order]
        return waiting, [None if math.isnan(v) else v for v in levels]


class StatusBoard:
    """Builds the status document; :meth:`sample` keeps the queues' recent history."""

    def __init__(self, monitor: Monitor, alerting: Alerting, page: PageContext) -> None:
        self._monitor = monitor
        self._alerting = alerting
        self._page = page
        self._history: dict[tuple[str, str], QueueHistory] = {}
        labels, windows = monitor.window_labels, monitor.config.windows
        self._windows = Windows(
            short=labels[windows.index(_erlang_window(monitor))],
            long=labels[windows.index(max(windows))],
        )

    def sample(self) -> None:
        """Record each queue's calls waiting and short-window service level now."""
        finish(self.sample_in_steps())

    def sample_in_steps(self, views: list[QueueView] | None = None) -> Steps[None]:
        """:meth:`sample` in steps, of ``views`` (an alert evaluation's, taken as it ends)
        or of the queues read now: a hundred a step when no evaluation's views are kept (at
        10k queues a read at once holds the event loop for half a second), and then a
        thousand queues recorded a step (at 50k, 0.2-0.3 s at once)."""
        if views is None:
            views = yield from self._monitor.queue_views_in_steps()
        seen = set()
        short = self._windows["short"]
        for n, view in enumerate(views, 1):
            if n % _SAMPLED_A_STEP == 0:
                yield
            key = (view.site, view.queue)
            seen.add(key)
            history = self._history.get(key)
            if history is None:
                history = self._history[key] = QueueHistory()
            history.add(float(view.calls_waiting), _window(view.windows, short, "service_level"))
        for key in [k for k in self._history if k not in seen]:
            del self._history[key]

    def kept_views(self) -> list[QueueView]:
        """Every queue's view as the monitor keeps it now (right after an alert evaluation,
        the views it judged: nothing is read)."""
        return self._monitor.queue_views()

    def document(self) -> StatusDocument:
        """The whole status, JSON-ready (no infinities: a drain that never ends is null with
        ``drains: false``)."""
        monitor = self._monitor
        now = monitor.now
        short, long = self._windows["short"], self._windows["long"]
        queues: list[QueueStatus] = []
        backlogs = assessed(monitor.maintenance.backlogs)
        for v in sorted(monitor.queue_views(), key=lambda v: (v.site, v.queue)):
            history = self._history.get((v.site, v.queue))
            waiting, level = history.series() if history is not None else ([], [])
            eta = queue_eta(v, backlogs)
            queues.append(
                QueueStatus(
                    site=v.site,
                    queue=v.queue,
                    calls_waiting=v.calls_waiting,
                    oldest_wait_seconds=round(v.oldest_wait_seconds, 1),
                    service_level=_window(v.windows, short, "service_level"),
                    abandon_ratio=_window(v.windows, short, "abandon_ratio"),
                    asa_seconds=_window(v.windows, short, "asa_seconds"),
                    agents=dict(v.agents),
                    drain_eta_seconds=_finite(eta.seconds),
                    drains=eta.drains,
                    drain_eta_low_seconds=_finite(eta.low),
                    drain_eta_high_seconds=_finite(eta.high),
                    drain_eta_maintenance=eta.maintenance,
                    history={"calls_waiting": waiting, "service_level": level},
                )
            )
        components = [
            ComponentStatus(
                site=c.site,
                component=c.component,
                kind=c.kind,
                status=c.status,
                heartbeat_age_seconds=round(c.heartbeat_age_seconds, 1),
                stale=c.stale,
            )
            for c in sorted(monitor.component_views(), key=lambda c: (c.site, c.component))
        ]
        trunks = [
            TrunkStatus(
                site=t.site,
                trunk=t.trunk,
                up=t.up,
                utilization=t.utilization,
                asr=_window(t.windows, short, "asr"),
            )
            for t in sorted(monitor.trunk_views(), key=lambda t: (t.site, t.trunk))
        ]
        ivr = [
            IvrStatus(
                site=i.site,
                application=i.application,
                containment=_window(i.windows, long, "containment"),
                backend_errors_per_session=_window(i.windows, short, "backend_errors_per_session"),
            )
            for i in sorted(monitor.ivr_views(), key=lambda i: (i.site, i.application))
        ]
        windows = [
            WindowStatus(
                name=w.name,
                sites=list(w.sites),
                components=list(w.components),
                start=rfc3339(w.start),
                end=None if math.isinf(w.end) else rfc3339(w.end),
                source=w.source,
            )
            for w in monitor.maintenance.windows(now)
        ]
        upcoming = self._upcoming(now)
        page = self._page
        view = page.silences.view if page.silences is not None else None
        muted = view.silenced if view is not None else {}
        alerts: dict[str, list[PageAlert]] = {"firing": [], "pending": [], "suppressed": []}
        for a in self._alerting.describe():
            if a["state"] == "inactive":
                continue
            bucket = "suppressed" if a["suppressedBy"] and a["state"] == "firing" else a["state"]
            alerts[bucket].append({**a, "silencedBy": silenced_by(muted, a["labels"].items())})
        seen = monitor.site_last_event
        sites: list[str] = sorted({q["site"] for q in queues} | set(seen))
        lags = site_lag(page.partitions(), page.lag()) if page.lag is not None else {}
        return StatusDocument(
            now=rfc3339(now) if now else None,
            source=page.source,
            links=page.links,
            windows=self._windows,
            sites=[self._site(s, now - seen[s] if s in seen else None, lags) for s in sites],
            queues=queues,
            trunks=trunks,
            ivr=ivr,
            components=components,
            maintenance=windows,
            upcoming=upcoming,
            alerts=alerts,
            silences=None if view is None else _silences(view),
        )

    def _site(self, site: str, age: float | None, lags: dict[str, SiteLag]) -> SiteStatus:
        lag = lags.get(site)
        return SiteStatus(
            site=site,
            last_event_age_seconds=None if age is None else round(age, 1),
            stale=stale(age, self._page.stale_after),
            lag=None if lag is None else lag.lag,
            partitions=[] if lag is None else list(lag.partitions),
        )

    def _upcoming(self, now: float) -> list[UpcomingStatus]:
        """The planned windows the forecast looks at, each with what it expects per queue."""
        tracker = self._monitor.maintenance
        lead = tracker.limits.forecast_lead
        if tracker.calendar is None or lead <= 0:
            return []
        by_window: dict[str, list[ForecastState]] = {}
        for f in tracker.forecasts:
            by_window.setdefault(f.maintenance, []).append(f)
        return [
            UpcomingStatus(
                name=o.name,
                sites=list(o.sites),
                components=list(o.components),
                start=rfc3339(o.start),
                end=rfc3339(o.end),
                starts_in_seconds=round(o.start - now),
                forecasts=[
                    _forecast(f)
                    for f in sorted(by_window.get(o.name, ()), key=lambda f: (f.site, f.queue))
                    if f.site in o.sites
                ],
                forecast_expected=o.agents_affected is not None,
            )
            for o in tracker.calendar.occurrences(now, now + lead)
            if o.start > now
        ]


def _silences(view: SilencesView) -> SilencesStatus:
    return SilencesStatus(
        alertmanager=view.alertmanager,
        now=rfc3339(time.time()),
        fetchedAt=None if view.fetched_at is None else rfc3339(view.fetched_at),
        error=view.error,
        items=[
            SilenceStatus(
                id=r.id,
                state=r.state,
                matchers=list(r.matchers),
                createdBy=r.created_by,
                comment=r.comment,
                startsAt=rfc3339(r.starts_at),
                endsAt=rfc3339(r.ends_at),
                window=r.window,
            )
            for r in view.rows
        ],
        more=view.more,
    )


def _forecast(f: ForecastState) -> ForecastStatus:
    return ForecastStatus(
        site=f.site,
        queue=f.queue,
        agents_serving=f.agents_serving,
        agents_lost=f.agents_lost,
        agents_to_keep=f.agents_to_keep,
        peak=round(f.peak, 1),
        peak_low=round(f.peak_low, 1),
        peak_high=round(f.peak_high, 1),
        drain_after_seconds=_finite(f.drain_after),
        warning=f.active,
    )


def _finite(seconds: float | None) -> float | None:
    """Whole seconds for JSON, which has no infinity: null for unknown and for never."""
    return None if seconds is None or math.isinf(seconds) else round(seconds)


def _erlang_window(monitor: Monitor) -> float:
    windows = monitor.config.windows
    wanted = monitor.config.erlang_window
    return wanted if wanted in windows else max(windows)


class _Windowed(Protocol):
    @property
    def window(self) -> str: ...


def _window(windows: Iterable[_Windowed], label: str, attr: str) -> float | None:
    for w in windows:
        if w.window == label:
            value = getattr(w, attr)
            return None if value is None else round(float(value), 4)
    return None

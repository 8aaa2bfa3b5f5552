"""The KPI families' samples at the monitor's *now*: what a scrape renders and what alert rules
read. A value of ``None`` (a zero denominator) is no sample at all."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import TypeVar

from callpulse.core.catalog import (
    DOMAINS,
    FAMILIES,
    IVR_INSTANT,
    IVR_WINDOWED,
    QUEUE_DRAIN_ETA,
    QUEUE_INSTANT,
    QUEUE_LABELS,
    QUEUE_TOTALS,
    QUEUE_WINDOWED,
    TRUNK_INSTANT,
    TRUNK_WINDOWED,
    Domain,
    Reader,
    Samples,
)
from callpulse.core.components import STATUSES
from callpulse.core.drain_eta import DrainEta, assessed, queue_eta
from callpulse.core.events import AGENT_STATES
from callpulse.core.ivr import OUTCOMES
from callpulse.core.monitor import Monitor
from callpulse.core.queues import QueueView
from callpulse.core.row_text import Value
from callpulse.core.sample_sinks import LineSink, Row, Rows, Sink, family_places
from callpulse.core.steps import Steps, finish
from callpulse.core.trunks import CODE_CLASSES

V = TypeVar("V")

SERIES_A_STEP = 500
"""Queues (or IVR applications, or trunks) read between two yields of
:func:`collect_in_steps`: about 10 ms of Python at 50 samples each."""


def collect(
    monitor: Monitor,
    domains: Iterable[Domain] | None = None,
    families: Iterable[str] | None = None,
    lines: bool = False,
) -> list[Samples]:
    """Samples of every family at the monitor's *now*, or only of those of ``domains`` and
    named in ``families`` (what alert rules read: at 10k queues, every family is 400k
    samples).

    ``lines``: each family's sample lines instead (:attr:`Samples.lines`), written as the
    Prometheus text formats (0.0.4 and OpenMetrics, whose sample lines are the same for
    these names) write them, for a scrape's writer: a line written as its value is read,
    its labels' part once per view, costs less than a value kept (a float and a tuple per
    sample: 400k at 10k queues) and read again to write it."""
    # At once, nothing changes the state meanwhile: each queue's view can be read as its
    # turn comes and dropped after it.
    return finish(collect_in_steps(monitor, domains, families, lines, monitor.each_queue_view()))


def collect_in_steps(
    monitor: Monitor,
    domains: Iterable[Domain] | None = None,
    families: Iterable[str] | None = None,
    lines: bool = False,
    views: Iterable[QueueView] | None = None,
) -> Steps[list[Samples]]:
    """:func:`collect`, yielding after every :data:`SERIES_A_STEP` queues, IVR applications
    or trunks. The queues are the monitor's views when it began (they are read once), or
    ``views``; the other domains are read as their turn comes."""
    wanted = set(domains) if domains is not None else set(DOMAINS)
    named = set(families) if families is not None else set(FAMILIES)
    out: dict[str, Samples] = {
        name: Samples(f) for name, f in FAMILIES.items() if f.domain in wanted and name in named
    }
    # A native method call per sample where the class is compiled (a closure is a Python call).
    sink = LineSink(out) if lines else Sink(out)

    places = family_places(out)

    def kept(rows: tuple[Reader[V], ...]) -> Rows[V]:
        # Each family asked for with its list of samples: the rows are most of the samples
        # (at 10k queues, 300k of a scrape's 400k), appended without looking the name up.
        return Rows([Row(out[name], read, places[name]) for name, _, read in rows if name in out])

    if "queue" in wanted:
        queue_instant, queue_windowed = kept(QUEUE_INSTANT), kept(QUEUE_WINDOWED)
        etas, totals = kept(_QUEUE_ETAS), kept(_QUEUE_TOTALS)
        # As the last alert evaluation judged them, so the gauge is the alert's ETA.
        backlogs = assessed(monitor.maintenance.backlogs)
        # What alert rules read is a few families of the 40: per queue, whatever none of
        # them is made of is not computed (the ETA), nor offered to the sink to be dropped.
        agents = "callpulse_queue_agents" in out
        for n, v in enumerate(monitor.queue_views() if views is None else views, 1):
            if n % SERIES_A_STEP == 0:
                sink.pack()
                yield
            # Every sample of a queue is under its (site, queue), some with one label more.
            sink.key(QUEUE_LABELS, (v.site, v.queue))
            sink.key_rows(queue_instant, v)
            if etas.rows:
                sink.key_rows(etas, queue_eta(v, backlogs))
            if agents and v.agents_known:  # a queue no agent stream describes has none
                counts = v.agents
                sink.key_each(
                    "callpulse_queue_agents", AGENT_STATES, [counts[s] for s in AGENT_STATES]
                )
            sink.key_rows(totals, v)
            if queue_windowed.rows:
                for w in v.windows:
                    sink.key_rows(queue_windowed, w, w.window)
    if "ivr" in wanted:
        # Each domain's views are read at once, after a yield: the trunks' and the IVR's of
        # 200 sites are a few milliseconds each, and their windows' catching up on idle
        # buckets had made one step of both and the queues' last rows (35 ms at 10k queues).
        yield
        ivr_instant, ivr_windowed = kept(IVR_INSTANT), kept(IVR_WINDOWED)
        for n, iv in enumerate(monitor.ivr_views(), 1):
            if n % SERIES_A_STEP == 0:
                yield
            key = (iv.site, iv.application)
            sink.rows(ivr_instant, key, iv)
            for outcome in OUTCOMES:
                sink.add("callpulse_ivr_sessions", (*key, outcome), iv.outcomes_total[outcome])
            for iw in iv.windows:
                sink.rows(ivr_windowed, (*key, iw.window), iw)
                for backend, count in iw.backend_errors.items():
                    sink.add("callpulse_ivr_backend_errors", (*key, backend, iw.window), count)
    if "trunk" in wanted:
        yield
        trunk_instant, trunk_windowed = kept(TRUNK_INSTANT), kept(TRUNK_WINDOWED)
        for n, tv in enumerate(monitor.trunk_views(), 1):
            if n % SERIES_A_STEP == 0:
                yield
            key = (tv.site, tv.trunk)
            sink.rows(trunk_instant, key, tv)
            for code_class in CODE_CLASSES:
                sink.add(
                    "callpulse_trunk_setup_responses",
                    (*key, code_class),
                    tv.setups_total[code_class],
                )
            for tw in tv.windows:
                sink.rows(trunk_windowed, (*key, tw.window), tw)
                for kind, score in tw.score_means.items():
                    sink.add("callpulse_trunk_media_score_mean", (*key, kind, tw.window), score)
    if "component" in wanted:
        yield
        for cv in monitor.component_views():
            ckey = (cv.site, cv.component, cv.kind)
            for status in STATUSES:
                sink.add(
                    "callpulse_component_status",
                    (*ckey, status),
                    1.0 if cv.status == status else 0.0,
                )
            sink.add("callpulse_component_heartbeat_age_seconds", ckey, cv.heartbeat_age_seconds)
            sink.add("callpulse_component_stale", ckey, 1.0 if cv.stale else 0.0)
    if "maintenance" in wanted:
        tracker, now = monitor.maintenance, monitor.now
        for window in tracker.windows(now):
            for site in window.sites:
                sink.add("callpulse_maintenance_active", (site, window.name), 1.0)
        # As the last alert evaluation judged them: reading must not move alert state.
        for b in tracker.backlogs:
            bkey = (b.site, b.queue, b.maintenance)
            sink.add("callpulse_maintenance_backlog_calls", bkey, b.waiting)
            sink.add("callpulse_maintenance_baseline_calls", bkey, b.baseline)
            # Deprecated aliases of the queue's drain ETA family, for one release.
            sink.add("callpulse_maintenance_backlog_drain_eta_seconds", bkey, b.drain_eta)
            sink.add("callpulse_maintenance_backlog_drain_eta_low_seconds", bkey, b.drain_eta_low)
            sink.add("callpulse_maintenance_backlog_drain_eta_high_seconds", bkey, b.drain_eta_high)
        for f in tracker.forecasts:
            fkey = (f.site, f.queue, f.maintenance)
            sink.add("callpulse_maintenance_forecast_peak_calls", fkey, f.peak)
            sink.add("callpulse_maintenance_forecast_peak_low_calls", fkey, f.peak_low)
            sink.add("callpulse_maintenance_forecast_peak_high_calls", fkey, f.peak_high)
            sink.add("callpulse_maintenance_forecast_drain_seconds", fkey, f.drain_after)
            sink.add("callpulse_maintenance_forecast_agents_lost", fkey, f.agents_lost)
    sink.pack()  # the writer takes a family's pieces in turn: few of them, not a line's parts
    return list(out.values())


def _total(key: str) -> Callable[[QueueView], Value]:
    """What the family of a queue's total ``key`` reads of its view."""
    return lambda view: view.totals[key]


_QUEUE_TOTALS: tuple[Reader[QueueView], ...] = tuple(
    (name, h, _total(key)) for name, h, key in QUEUE_TOTALS
)
_ETA_READS: dict[str, Callable[[DrainEta], Value]] = {
    "callpulse_queue_drain_eta_seconds": lambda eta: eta.seconds,
    "callpulse_queue_drain_eta_low_seconds": lambda eta: eta.low,
    "callpulse_queue_drain_eta_high_seconds": lambda eta: eta.high,
}
_QUEUE_ETAS: tuple[Reader[DrainEta], ...] = tuple(
    (name, h, _ETA_READS[name]) for name, h in QUEUE_DRAIN_ETA
)
"""A queue's drain ETA families (:data:`QUEUE_DRAIN_ETA`), read of its :class:`DrainEta`."""

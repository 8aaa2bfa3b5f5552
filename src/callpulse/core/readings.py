"""The KPI families' samples at the monitor's *now*: what a scrape renders and what alert rules
read. A value of ``None`` (a zero denominator) is no sample at all."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Generic, TypeVar, final

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
    Family,
    LabelValues,
    Reader,
    Samples,
)
from callpulse.core.components import STATUSES
from callpulse.core.drain_eta import DrainEta, assessed, queue_eta
from callpulse.core.events import AGENT_STATES
from callpulse.core.ivr import OUTCOMES
from callpulse.core.monitor import Monitor
from callpulse.core.queues import QueueView
from callpulse.core.row_text import Lines, Value, escape_value, label_pairs, line_buffers
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
    sink = _LineSink(out) if lines else _Sink(out)

    places = _places(out)

    def kept(rows: tuple[Reader[V], ...]) -> _Rows[V]:
        # Each family asked for with its list of samples: the rows are most of the samples
        # (at 10k queues, 300k of a scrape's 400k), appended without looking the name up.
        return _Rows([_Row(out[name], read, places[name]) for name, _, read in rows if name in out])

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


def _places(out: dict[str, Samples]) -> dict[str, int]:
    """Each family's place among those asked for: its index in the line sink's buffers."""
    return {name: n for n, name in enumerate(out)}


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


@final
class _Row(Generic[V]):
    """A family asked for, and what reads its value of a view; ``index``: the family's
    place among those asked for."""

    def __init__(self, samples: Samples, read: Callable[[V], Value], index: int) -> None:
        self.samples = samples.samples
        self.read = read
        self.labels = samples.family.labels
        self.index = index


def _head(family: Family) -> str:
    """What a line of ``family`` starts with, up to its labels."""
    return f"{family.sample_name}{{" if family.labels else family.sample_name


@final
class _Rows(Generic[V]):
    """Rows read of the same views under the same label values: their label names must be
    the same, so that a view's labels are written once for all."""

    def __init__(self, rows: list[_Row[V]]) -> None:
        if any(row.labels != rows[0].labels for row in rows):
            raise ValueError(f"families read together with different labels: {rows[0].labels}")
        self.rows = tuple(rows)
        self.labels = rows[0].labels if rows else ()
        self.indices = tuple(row.index for row in rows)
        self.reads = tuple(row.read for row in rows)


class _Sink:
    """Appends a sample to its family, if the family was asked for and has a value.

    Samples are added under label values given whole (:meth:`add`, :meth:`rows`), or
    under the values set by :meth:`key` and, for some families, one value after them
    (:meth:`key_add`, :meth:`key_rows`): a queue's samples are under its site and queue."""

    def __init__(self, out: dict[str, Samples]) -> None:
        self._out = out
        self._key: LabelValues = ()

    def key(self, names: tuple[str, ...], labels: LabelValues) -> None:
        """Label values ``labels`` (of label names ``names``) for the ``key_`` methods."""
        self._key = labels

    def key_add(self, name: str, value: Value, extra: str | None = None) -> None:
        """:meth:`add` under the key's labels, and ``extra`` after them if given."""
        self.add(name, self._key if extra is None else (*self._key, extra), value)

    def key_rows(self, rows: _Rows[V], view: V, extra: str | None = None) -> None:
        """:meth:`rows` under the key's labels, and ``extra`` after them if given."""
        self.rows(rows, self._key if extra is None else (*self._key, extra), view)

    def key_each(self, name: str, extras: tuple[str, ...], values: list[Value]) -> None:
        """:meth:`key_add` of each of ``values`` with the extra label value at the same
        place in ``extras``."""
        for extra, value in zip(extras, values, strict=True):
            self.key_add(name, value, extra)

    def add(self, name: str, labels: LabelValues, value: Value) -> None:
        samples = self._out.get(name)  # None: a family not asked for
        if samples is not None and value is not None:
            samples.samples.append((labels, float(value)))

    def pack(self) -> None:
        """The samples so far are all there: a line sink joins its lines into a piece of
        text (:class:`_LineSink`); values have nothing to do."""

    def rows(self, rows: _Rows[V], labels: LabelValues, view: V) -> None:
        """Each of ``rows``' value of ``view``, under ``labels``."""
        for row in rows.rows:
            value = row.read(view)
            if value is not None:
                row.samples.append((labels, float(value)))


class _LineSink(_Sink):
    """Writes a sample's line to its family, if the family was asked for and has a value.

    A line's labels (``queue="billing",site="lon"} ``: by name, quoted, escaped) are written
    once per set of label values and label names: a queue's are those of every family
    read of its view, and of its totals and agents after. The lines go to a buffer per
    family (:func:`~callpulse.core.row_text.line_buffers`), joined into a piece of text by
    :meth:`pack`."""

    def __init__(
        self,
        out: dict[str, Samples],
        buffers: Callable[[list[str], list[list[str]]], Lines] = line_buffers,
    ) -> None:
        super().__init__(out)
        self._places = _places(out)
        self._lines = buffers(
            [_head(samples.family) for samples in out.values()],
            [samples.lines for samples in out.values()],
        )
        self._texts: dict[tuple[str, ...], dict[LabelValues, str]] = {}
        self._key_names: tuple[str, ...] = ()
        # By label names, then by the extra value: what follows the key's labels on a line.
        self._tails: dict[tuple[str, ...], dict[str | None, str]] = {}

    def pack(self) -> None:
        # Every family's lines since the last pack joined into one piece of text, and the
        # buffers reused. In a render child, memory on a new page is a page fault (~4 us
        # here); the 400k lines of a scrape at 10k queues, each a string kept to the end,
        # were 54 MB of them.
        self._lines.pack()

    def key(self, names: tuple[str, ...], labels: LabelValues) -> None:
        # A queue's labels are written once for all its samples (40 at 10k queues), with a
        # tail per family's extra label value written once a scrape: kept in a dict by
        # label values, they had cost a lookup of a new tuple per sample.
        self._key = labels
        if names != self._key_names:
            self._key_names, self._tails = names, {}
        self._lines.key(label_pairs(names, labels))

    def key_add(self, name: str, value: Value, extra: str | None = None) -> None:
        samples = self._out.get(name)
        if samples is None or value is None:
            return
        tail = self._tail(samples.family.labels, extra)
        if tail:
            self._lines.key_line(self._places[name], tail, value)
        else:
            super().key_add(name, value, extra)

    def key_rows(self, rows: _Rows[V], view: V, extra: str | None = None) -> None:
        if not rows.rows:
            return
        tail = self._tail(rows.labels, extra)
        if tail:
            self._lines.key_lines(rows.indices, tail, [read(view) for read in rows.reads])
        else:
            super().key_rows(rows, view, extra)

    def key_each(self, name: str, extras: tuple[str, ...], values: list[Value]) -> None:
        samples = self._out.get(name)
        if samples is None:
            return
        tails = [self._tail(samples.family.labels, extra) for extra in extras]
        if all(tails):
            self._lines.key_each(self._places[name], tails, values)
        else:
            super().key_each(name, extras, values)

    def _tail(self, names: tuple[str, ...], extra: str | None) -> str:
        """What follows the key's labels on a line of a family labelled ``names``, up to
        its value; empty where the family's labels are not the key's (and ``extra``'s
        label, which must sort after them: labels are written by name)."""
        tails = self._tails.get(names)
        if tails is None:
            tails = self._tails[names] = {}
        tail = tails.get(extra)
        if tail is None:
            key = self._key_names
            if not key:
                tail = ""
            elif extra is None:
                tail = "} " if names == key else ""
            elif names[:-1] == key and names[-1] > max(key):
                tail = f',{names[-1]}="{escape_value(extra)}"}} '
            else:
                tail = ""
            tails[extra] = tail
        return tail

    def add(self, name: str, labels: LabelValues, value: Value) -> None:
        samples = self._out.get(name)
        if samples is not None and value is not None:
            text = self._labels(samples.family.labels, labels)
            self._lines.line(self._places[name], text, value)

    def rows(self, rows: _Rows[V], labels: LabelValues, view: V) -> None:
        if not rows.rows:
            return
        text = self._labels(rows.labels, labels)
        for row in rows.rows:
            value = row.read(view)
            if value is not None:
                self._lines.line(row.index, text, value)

    def _labels(self, names: tuple[str, ...], labels: LabelValues) -> str:
        """What follows the name on a line, up to the value."""
        known = self._texts.get(names)
        if known is None:
            known = self._texts[names] = {}
        text = known.get(labels)
        if text is None:
            text = known[labels] = f"{label_pairs(names, labels)}}} " if names else " "
        return text

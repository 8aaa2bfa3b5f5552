"""Trunks: status and channels, SIP call setup ratios, post-dial delay and media quality.

SIP ratios from the INVITE's final response code (``call.setup``), after RFC 6076:

- ASR = 2xx / setups (every final response is a seizure);
- SER = 2xx / (setups - 3xx) (RFC 6076 §4.6, Session Establishment Ratio);
- NER = (2xx + 480 + 486 + 600 + 603) / (setups - 3xx): RFC 6076 §4.7's Session
  Establishment Effectiveness Ratio, the SIP form of ITU-T E.411's Network Effectiveness
  Ratio: the callee being busy, unavailable or declining is the network working.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from enum import IntEnum

from callpulse.core import events as ev
from callpulse.core.cardinality import LabelGuard, SiteNames
from callpulse.core.events import SCORE_KINDS, ScoreKind
from callpulse.core.histogram import LinearBins, LogBins, RollingHistogram
from callpulse.core.timegrid import TimeGrid
from callpulse.core.trunk_run import ChannelRun, TrunkRun
from callpulse.core.trunk_views import TrunkView, TrunkWindow
from callpulse.core.windows import Counters

USER_REJECTIONS = frozenset({480, 486, 600, 603})
NO_TRUNK = "_none"  # media.quality without a trunk_id
CODE_CLASSES = ("1xx", "2xx", "3xx", "4xx", "5xx", "6xx")

PDD_BINS = LogBins(0.001)  # seconds
JITTER_BINS = LogBins(0.0001)  # seconds
LOSS_BINS = LogBins(0.00001)  # ratio
MOS_BINS = LinearBins(0.01)


class TrunkField(IntEnum):
    """Integer fields a trunk keeps per bucket (sums scaled to integers)."""

    SETUPS = 0
    ANSWERED = 1
    REDIRECTED = 2
    USER_REJECTED = 3
    MOS_SAMPLES = 4
    MOS_MILLI = 5
    JITTER_SAMPLES = 6
    JITTER_MICROS = 7
    LOSS_SAMPLES = 8
    LOSS_PPM = 9
    # Then, per platform score kind (SCORE_KINDS, in order): its samples and its sum.


def _score_fields(kind: ScoreKind) -> tuple[int, int]:
    """The counter fields of ``kind``'s samples and of its sum (in thousandths)."""
    at = len(TrunkField) + 2 * SCORE_KINDS.index(kind)
    return at, at + 1


_FIELDS = len(TrunkField) + 2 * len(SCORE_KINDS)
# The fields as plain ints, read once: an enum member is a class attribute looked up at each
# use (as in the queue tracker), on the path of every media report.
_SETUPS = int(TrunkField.SETUPS)
_ANSWERED = int(TrunkField.ANSWERED)
_REDIRECTED = int(TrunkField.REDIRECTED)
_USER_REJECTED = int(TrunkField.USER_REJECTED)
_MOS_SAMPLES = int(TrunkField.MOS_SAMPLES)
_MOS_MILLI = int(TrunkField.MOS_MILLI)
_JITTER_SAMPLES = int(TrunkField.JITTER_SAMPLES)
_JITTER_MICROS = int(TrunkField.JITTER_MICROS)
_LOSS_SAMPLES = int(TrunkField.LOSS_SAMPLES)
_LOSS_PPM = int(TrunkField.LOSS_PPM)
_TRUNK_EVENTS = (ev.CallSetup, ev.MediaQuality, ev.TrunkStatus)
# A whole run (keep_run) also sums the post-dial delays: their count and total (microseconds).
_RUN_PDD_COUNT, _RUN_PDD_MICROS = _FIELDS, _FIELDS + 1


@dataclass(slots=True)
class _Trunk:
    counters: Counters
    pdd: RollingHistogram
    mos: RollingHistogram
    jitter: RollingHistogram
    loss: RollingHistogram
    # (at, up, in use, total) of the trunk's statuses, ``at`` the newest count's time; each
    # None where unknown (in use and total before any status that gave a count)
    status: tuple[float, bool | None, int | None, int | None] | None = None
    # When the state in ``status`` was said: a platform sends its counts and its state
    # apart (AMI: a count at each channel's start and end, qualify results on their own),
    # so a state must not be dropped for arriving after a newer count, nor a count for
    # arriving after a newer state.
    state_at: float = -math.inf
    setups_total: dict[str, int] = field(default_factory=lambda: dict.fromkeys(CODE_CLASSES, 0))
    touched: float = 0.0  # the clock's now when an event last named it
    run: list[int] | None = None  # every counter field summed since the start (keep_run)
    channels: ChannelRun | None = None  # its channel counts since the start (keep_run)

    def count(self, bucket: int, values: tuple[tuple[int, int], ...], late: bool = False) -> None:
        # A late event is in no window, but a whole run's figures count it, as they count
        # it in setups_total: one row of a report is over one set of setups.
        if not late:
            self.counters.add(bucket, values)
        if self.run is not None:
            for index, amount in values:
                self.run[index] += amount

    def advance(self, head: int) -> None:
        if head == self.counters.head:
            return  # all five move together: where the counters are, the histograms are
        for series in (self.counters, self.pdd, self.mos, self.jitter, self.loss):
            series.advance(head)


class TrunkTracker:
    """State and KPIs of every (site, trunk).

    A trunk is not released when its windows age out, as a queue is: its last ``trunk.status``
    stands (a trunk that said it is down is down until it says otherwise, and TrunkDown
    pages for it), so it is kept until its cap is full and a new trunk needs the place
    (:meth:`release_idlest`).

    ``capacities``: channels per trunk name (any site), for a ``trunk.status`` that says how
    many channels are in use but not how many there are (a count made from call records).
    """

    event_types = ("trunk.status", "call.setup", "media.quality")

    def __init__(
        self,
        grid: TimeGrid,
        guard: LabelGuard,
        idle_after: float,
        capacities: Mapping[str, int] | None = None,
    ) -> None:
        self._capacities = dict(capacities or {})
        self._names = SiteNames[_Trunk](
            "trunk", guard, idle_after, grid.bucket, lambda t: t.touched
        )
        self._trunks = self._names.entries
        self._grid = grid
        self._keep_run = False

    def keep_run(self) -> None:
        """Also sum every trunk's figures since the start, for :meth:`run_kpis` (a report
        over a whole file); its trunks are then never released. Call it before the first
        event."""
        self._keep_run = True

    def apply(
        self, event: ev.Event, ts: float, bucket: int, late: bool, replay: bool = False
    ) -> None:
        """Apply one trunk or media event; a late one only counts in the cumulative totals."""
        if not isinstance(event, _TRUNK_EVENTS):
            return
        trunk = self._trunk(event.site, event.trunk_id or NO_TRUNK)
        if isinstance(event, ev.CallSetup):
            code = event.sip_code
            if not replay:
                trunk.setups_total[f"{code // 100}xx"] += 1
            trunk.count(
                bucket,
                (
                    (_SETUPS, 1),
                    (_ANSWERED, int(200 <= code < 300)),
                    (_REDIRECTED, int(300 <= code < 400)),
                    (_USER_REJECTED, int(code in USER_REJECTIONS)),
                ),
                late,
            )
            if event.post_dial_delay_ms is not None:
                if not late:
                    trunk.pdd.add(bucket, PDD_BINS.bin(event.post_dial_delay_ms / 1000))
                if trunk.run is not None:
                    trunk.run[_RUN_PDD_COUNT] += 1
                    trunk.run[_RUN_PDD_MICROS] += round(event.post_dial_delay_ms * 1000)
        elif isinstance(event, ev.MediaQuality):
            if late:
                return
            self._media(trunk, event, bucket)
        else:
            self._status(trunk, event, ts)
            if trunk.channels is not None and event.channels_in_use is not None:
                trunk.channels.said(ts, event.channels_in_use)

    @staticmethod
    def _status(trunk: _Trunk, event: ev.TrunkStatus, ts: float) -> None:
        # The newest state and the newest count stand, each by its own time. A status
        # without a state (counted from call records) leaves the last one: it must never
        # read as down, nor hide a trunk another producer said is down. A status without a
        # count (a gateway's state event) leaves the last count and its total: the producer
        # that said the state may not see the trunk's calls at all, and its time (a state
        # stamped when it was read) must not make the counts stamped before it stale.
        at, up, in_use, total = trunk.status or (-math.inf, None, None, None)
        if event.state is not None and ts >= trunk.state_at:
            up, trunk.state_at = event.state == "up", ts
        if event.channels_in_use is not None and ts >= at:
            at, in_use, total = ts, event.channels_in_use, event.channels_total
        trunk.status = (at, up, in_use, total)

    @staticmethod
    def _media(trunk: _Trunk, event: ev.MediaQuality, bucket: int) -> None:
        # Each measure counts its own samples: a report without jitter (a platform that
        # cannot measure it) must not pull the jitter mean towards zero.
        added: list[tuple[int, int]] = []
        mos, jitter_ms, loss = event.mos, event.jitter_ms, event.packet_loss_ratio
        jitter = None if jitter_ms is None else jitter_ms / 1000
        if mos is not None:
            added += ((_MOS_SAMPLES, 1), (_MOS_MILLI, round(mos * 1000)))
        if jitter is not None:
            added += ((_JITTER_SAMPLES, 1), (_JITTER_MICROS, round(jitter * 1_000_000)))
        if loss is not None:
            added += ((_LOSS_SAMPLES, 1), (_LOSS_PPM, round(loss * 1_000_000)))
        if event.score is not None and event.score_kind is not None:
            samples, total = _score_fields(event.score_kind)
            added += ((samples, 1), (total, round(event.score * 1000)))
        # The counters before the histograms: a value they refuse (a jitter of 1e308 ms,
        # which no field can hold) raises before any series has counted the report. A
        # tuple: the counters take one as it is, and any other sequence by copying it.
        trunk.count(bucket, tuple(added))
        if mos is not None:
            trunk.mos.add(bucket, MOS_BINS.bin(mos))
        if jitter is not None:
            trunk.jitter.add(bucket, JITTER_BINS.bin(jitter))
        if loss is not None:
            trunk.loss.add(bucket, LOSS_BINS.bin(loss))

    def _trunk(self, site: str, name: str) -> _Trunk:
        # A trunk that is here was admitted when it was made, and leaves the guard and this
        # table together: only a name not here needs the guard (as the queue tracker's).
        trunk = self._trunks.get((site, name))
        if trunk is None:
            key = self._names.admit(site, name)
            trunk = self._trunks.get(key)
        if trunk is None:
            g = self._grid
            trunk = _Trunk(
                g.counters(_FIELDS),
                g.histogram(),
                g.histogram(),
                g.histogram(),
                g.histogram(),
            )
            if self._keep_run:
                trunk.run = [0] * (_FIELDS + 2)
                trunk.channels = ChannelRun()
            self._trunks[key] = trunk
        else:
            trunk.advance(self._grid.head)
        trunk.touched = self._grid.now
        return trunk

    def release_idlest(self) -> bool:
        """Forget the trunk no event has named for the longest, if for longer than
        ``idle_after``, giving its name back to the cap; whether one was."""
        if self._keep_run:  # a whole run's report needs every trunk to its end
            return False
        return self._names.release_idlest(self._grid.now)

    def forget_sites(self, sites: Iterable[str]) -> None:
        """Drop every trunk of ``sites``."""
        self._names.forget_sites(sites)

    def settle(self) -> None:
        """Move every trunk's windows to the grid's head, as reading them would (see
        :meth:`callpulse.core.monitor.Monitor.settle`)."""
        head = self._grid.head
        for trunk in self._trunks.values():
            trunk.advance(head)

    def views(self) -> list[TrunkView]:
        """Every trunk's KPIs at the grid's *now*."""
        self.settle()
        out = []
        for (site, name), trunk in self._trunks.items():
            windows = tuple(
                self._window(trunk, i, label) for i, label in enumerate(self._grid.labels)
            )
            status = trunk.status
            total = None if status is None else status[3]
            out.append(
                TrunkView(
                    site=site,
                    trunk=name,
                    up=None if status is None else status[1],
                    channels_in_use=None if status is None else status[2],
                    channels_total=self._capacities.get(name) if total is None else total,
                    setups_total=dict(trunk.setups_total),
                    windows=windows,
                )
            )
        return out

    @staticmethod
    def _window(trunk: _Trunk, i: int, label: str) -> TrunkWindow:
        s = trunk.counters.window(i)
        setups = s[TrunkField.SETUPS]
        established = setups - s[TrunkField.REDIRECTED]

        def mean(samples: int, total: int, scale: float) -> float | None:
            return s[total] / s[samples] / scale if s[samples] else None

        scores: dict[ScoreKind, float] = {}
        for kind in SCORE_KINDS:
            samples, total = _score_fields(kind)
            if s[samples]:
                scores[kind] = s[total] / s[samples] / 1000

        def quantile(hist: RollingHistogram, bins: LogBins | LinearBins, q: float) -> float | None:
            index = hist.quantile(i, q)
            return None if index is None else bins.value(index)

        return TrunkWindow(
            window=label,
            setups=setups,
            asr=s[TrunkField.ANSWERED] / setups if setups else None,
            ser=s[TrunkField.ANSWERED] / established if established > 0 else None,
            ner=(s[TrunkField.ANSWERED] + s[TrunkField.USER_REJECTED]) / established
            if established > 0
            else None,
            post_dial_delay_p50=quantile(trunk.pdd, PDD_BINS, 0.5),
            post_dial_delay_p95=quantile(trunk.pdd, PDD_BINS, 0.95),
            mos_mean=mean(TrunkField.MOS_SAMPLES, TrunkField.MOS_MILLI, 1000),
            mos_p5=quantile(trunk.mos, MOS_BINS, 0.05),
            jitter_mean=mean(TrunkField.JITTER_SAMPLES, TrunkField.JITTER_MICROS, 1e6),
            jitter_p95=quantile(trunk.jitter, JITTER_BINS, 0.95),
            packet_loss_mean=mean(TrunkField.LOSS_SAMPLES, TrunkField.LOSS_PPM, 1e6),
            packet_loss_p95=quantile(trunk.loss, LOSS_BINS, 0.95),
            score_means=scores,
        )

    def run_kpis(self) -> dict[tuple[str, str], TrunkRun]:
        """Per (site, trunk), the figures over everything since the start (``keep_run``),
        the channel-seconds up to the grid's *now* (the end of the run)."""
        return {
            key: _run_kpis(t.run, t.setups_total, t.channels or ChannelRun(), self._grid.now)
            for key, t in self._trunks.items()
            if t.run is not None
        }


def _run_kpis(
    run: list[int], by_class: dict[str, int], channels: ChannelRun, now: float
) -> TrunkRun:
    setups, answered = run[TrunkField.SETUPS], run[TrunkField.ANSWERED]
    established = setups - run[TrunkField.REDIRECTED]

    def mean(samples: int, total: int, scale: float) -> float | None:
        return run[total] / run[samples] / scale if run[samples] else None

    scores: dict[ScoreKind, tuple[int, float]] = {}
    for kind in SCORE_KINDS:
        samples, total = _score_fields(kind)
        if run[samples]:
            scores[kind] = (run[samples], run[total] / run[samples] / 1000)
    return TrunkRun(
        setups_by_class=dict(by_class),
        asr=answered / setups if setups else None,
        ner=(answered + run[TrunkField.USER_REJECTED]) / established if established > 0 else None,
        post_dial_delays=run[_RUN_PDD_COUNT],
        post_dial_delay_mean_ms=mean(_RUN_PDD_COUNT, _RUN_PDD_MICROS, 1000),
        loss_samples=run[TrunkField.LOSS_SAMPLES],
        packet_loss_mean=mean(TrunkField.LOSS_SAMPLES, TrunkField.LOSS_PPM, 1e6),
        jitter_samples=run[TrunkField.JITTER_SAMPLES],
        jitter_mean_ms=mean(TrunkField.JITTER_SAMPLES, TrunkField.JITTER_MICROS, 1000),
        mos_samples=run[TrunkField.MOS_SAMPLES],
        mos_mean=mean(TrunkField.MOS_SAMPLES, TrunkField.MOS_MILLI, 1000),
        scores=scores,
        channels_peak=channels.peak,
        channel_seconds=channels.until(now),
    )

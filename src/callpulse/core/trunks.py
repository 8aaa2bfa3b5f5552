"""Trunks: status and channels, SIP call setup ratios, post-dial delay and media quality.

SIP ratios from the INVITE's final response code (``call.setup``), after RFC 6076:

- ASR = 2xx / setups (every final response is a seizure);
- SER = 2xx / (setups - 3xx) (RFC 6076 §4.6, Session Establishment Ratio);
- NER = (2xx + 480 + 486 + 600 + 603) / (setups - 3xx): RFC 6076 §4.7's Session
  Establishment Effectiveness Ratio, the SIP form of ITU-T E.411's Network Effectiveness
  Ratio: the callee being busy, unavailable or declining is the network working.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from enum import IntEnum

from callpulse.core import events as ev
from callpulse.core.cardinality import LabelGuard, SiteNames
from callpulse.core.histogram import LinearBins, LogBins, RollingHistogram
from callpulse.core.kpi import in_use
from callpulse.core.timegrid import TimeGrid
from callpulse.core.windows import RollingCounters

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
    MEDIA_SAMPLES = 4
    MOS_MILLI = 5
    JITTER_MICROS = 6
    LOSS_PPM = 7


@dataclass(frozen=True, slots=True)
class TrunkWindow:
    """A trunk's KPIs over one window; ``None`` where nothing was measured."""

    window: str
    setups: int
    asr: float | None
    ser: float | None
    ner: float | None
    post_dial_delay_p50: float | None
    post_dial_delay_p95: float | None
    mos_mean: float | None
    mos_p5: float | None
    jitter_mean: float | None
    jitter_p95: float | None
    packet_loss_mean: float | None
    packet_loss_p95: float | None


@dataclass(frozen=True, slots=True)
class TrunkView:
    """Everything exposed about one trunk."""

    site: str
    trunk: str
    up: bool | None
    channels_in_use: int | None
    channels_total: int | None
    setups_total: dict[str, int]
    windows: tuple[TrunkWindow, ...]
    user_rejected_total: int = 0  # setups ended 480, 486, 600 or 603, since the start

    @property
    def asr_total(self) -> float | None:
        """ASR over every setup since the start (a replayed file's whole run)."""
        setups = sum(self.setups_total.values())
        return self.setups_total["2xx"] / setups if setups else None

    @property
    def ner_total(self) -> float | None:
        """NER over every setup since the start, as :class:`TrunkWindow`'s ``ner``."""
        established = sum(self.setups_total.values()) - self.setups_total["3xx"]
        effective = self.setups_total["2xx"] + self.user_rejected_total
        return effective / established if established > 0 else None

    @property
    def up_value(self) -> float | None:
        """1 up, 0 down, None before any ``trunk.status``."""
        return None if self.up is None else float(self.up)

    @property
    def utilization(self) -> float | None:
        """Channels in use / channels, once ``trunk.status`` has said both."""
        return in_use(self.channels_in_use, self.channels_total)


@dataclass(slots=True)
class _Trunk:
    counters: RollingCounters
    pdd: RollingHistogram
    mos: RollingHistogram
    jitter: RollingHistogram
    loss: RollingHistogram
    status: tuple[float, bool, int, int] | None = None  # (at, up, in use, total)
    setups_total: dict[str, int] = field(default_factory=lambda: dict.fromkeys(CODE_CLASSES, 0))
    user_rejected_total: int = 0
    touched: float = 0.0  # the clock's now when an event last named it

    def advance(self, head: int) -> None:
        for series in (self.counters, self.pdd, self.mos, self.jitter, self.loss):
            series.advance(head)


class TrunkTracker:
    """State and KPIs of every (site, trunk).

    A trunk is not released when its windows age out, as a queue is: its last ``trunk.status``
    stands (a trunk that said it is down is down until it says otherwise, and TrunkDown
    pages for it), so it is kept until its cap is full and a new trunk needs the place
    (:meth:`release_idlest`).
    """

    event_types = ("trunk.status", "call.setup", "media.quality")

    def __init__(self, grid: TimeGrid, guard: LabelGuard, idle_after: float) -> None:
        self._names = SiteNames[_Trunk](
            "trunk", guard, idle_after, grid.bucket, lambda t: t.touched
        )
        self._trunks = self._names.entries
        self._grid = grid

    def apply(
        self, event: ev.Event, ts: float, bucket: int, late: bool, replay: bool = False
    ) -> None:
        """Apply one trunk or media event; a late one only counts in the cumulative totals."""
        if not isinstance(event, ev.CallSetup | ev.MediaQuality | ev.TrunkStatus):
            return
        trunk = self._trunk(event.site, event.trunk_id or NO_TRUNK)
        if isinstance(event, ev.CallSetup):
            code = event.sip_code
            if not replay:
                trunk.setups_total[f"{code // 100}xx"] += 1
                trunk.user_rejected_total += int(code in USER_REJECTIONS)
            if late:
                return
            trunk.counters.add(
                bucket,
                (
                    (TrunkField.SETUPS, 1),
                    (TrunkField.ANSWERED, int(200 <= code < 300)),
                    (TrunkField.REDIRECTED, int(300 <= code < 400)),
                    (TrunkField.USER_REJECTED, int(code in USER_REJECTIONS)),
                ),
            )
            if event.post_dial_delay_ms is not None:
                trunk.pdd.add(bucket, PDD_BINS.bin(event.post_dial_delay_ms / 1000))
        elif isinstance(event, ev.MediaQuality):
            if late:
                return
            jitter = event.jitter_ms / 1000
            trunk.counters.add(
                bucket,
                (
                    (TrunkField.MEDIA_SAMPLES, 1),
                    (TrunkField.MOS_MILLI, round(event.mos * 1000)),
                    (TrunkField.JITTER_MICROS, round(jitter * 1_000_000)),
                    (TrunkField.LOSS_PPM, round(event.packet_loss_ratio * 1_000_000)),
                ),
            )
            trunk.mos.add(bucket, MOS_BINS.bin(event.mos))
            trunk.jitter.add(bucket, JITTER_BINS.bin(jitter))
            trunk.loss.add(bucket, LOSS_BINS.bin(event.packet_loss_ratio))
        elif trunk.status is None or ts >= trunk.status[0]:
            up = event.state == "up"
            trunk.status = (ts, up, event.channels_in_use, event.channels_total)

    def _trunk(self, site: str, name: str) -> _Trunk:
        key = self._names.admit(site, name)
        trunk = self._trunks.get(key)
        if trunk is None:
            g = self._grid
            trunk = _Trunk(
                g.counters(len(TrunkField)),
                g.histogram(),
                g.histogram(),
                g.histogram(),
                g.histogram(),
            )
            self._trunks[key] = trunk
        else:
            trunk.advance(self._grid.head)
        trunk.touched = self._grid.now
        return trunk

    def release_idlest(self) -> bool:
        """Forget the trunk no event has named for the longest, if for longer than
        ``idle_after``, giving its name back to the cap; whether one was."""
        return self._names.release_idlest(self._grid.now)

    def forget_sites(self, sites: Iterable[str]) -> None:
        """Drop every trunk of ``sites``."""
        self._names.forget_sites(sites)

    def views(self) -> list[TrunkView]:
        """Every trunk's KPIs at the grid's *now*."""
        out = []
        for (site, name), trunk in self._trunks.items():
            trunk.advance(self._grid.head)
            windows = tuple(
                self._window(trunk, i, label) for i, label in enumerate(self._grid.labels)
            )
            status = trunk.status
            out.append(
                TrunkView(
                    site=site,
                    trunk=name,
                    up=None if status is None else status[1],
                    channels_in_use=None if status is None else status[2],
                    channels_total=None if status is None else status[3],
                    setups_total=dict(trunk.setups_total),
                    windows=windows,
                    user_rejected_total=trunk.user_rejected_total,
                )
            )
        return out

    @staticmethod
    def _window(trunk: _Trunk, i: int, label: str) -> TrunkWindow:
        s = trunk.counters.window(i)
        setups = s[TrunkField.SETUPS]
        established = setups - s[TrunkField.REDIRECTED]
        samples = s[TrunkField.MEDIA_SAMPLES]

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
            mos_mean=s[TrunkField.MOS_MILLI] / samples / 1000 if samples else None,
            mos_p5=quantile(trunk.mos, MOS_BINS, 0.05),
            jitter_mean=s[TrunkField.JITTER_MICROS] / samples / 1e6 if samples else None,
            jitter_p95=quantile(trunk.jitter, JITTER_BINS, 0.95),
            packet_loss_mean=s[TrunkField.LOSS_PPM] / samples / 1e6 if samples else None,
            packet_loss_p95=quantile(trunk.loss, LOSS_BINS, 0.95),
        )

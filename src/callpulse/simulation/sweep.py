"""Playing one case of the sweep through the real pipeline and recording what the
maintenance alerts said against the truth (:mod:`callpulse.simulation.truth`).

The run is :func:`callpulse.simulation.runner.run`'s, watched by an observer that samples
the simulated queue every :data:`~callpulse.simulation.truth.EVERY` seconds and reads each
evaluation's notifications: MaintenanceBacklog's drain ETA at its first notification and
every :data:`CHECK_EVERY` while it fires (each checkpoint scored on futures forked from the
center there), and MaintenanceImpactForecast's last forecast before the window opens.

Annotations read, each optional (a missing one is a missing figure, never an error):
``drain_eta``, ``drain_eta_low``, ``drain_eta_high``, ``drained_at`` (MaintenanceBacklog);
``forecast_peak``, ``forecast_peak_low``, ``forecast_peak_high``, ``patience_from``
(MaintenanceImpactForecast).
"""

from __future__ import annotations

import math
import time
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC

from callpulse.config import Settings
from callpulse.core.alert_state import Notification
from callpulse.simulation import truth
from callpulse.simulation.model import ContactCenter
from callpulse.simulation.runner import PEAK_SECONDS, run
from callpulse.simulation.sweep_grid import QUEUE, SITE, Case, seed_of

BACKLOG = "MaintenanceBacklog"
FORECAST = "MaintenanceImpactForecast"
CHECK_EVERY = 300.0
YESTERDAY_SEED = 7_000_003  # added to a run's seed for its yesterday's


@dataclass
class Checkpoint:
    """A drain ETA as announced at one evaluation, and its truth (seconds; inf: never)."""

    at: float  # seconds into the scenario
    waiting: int
    eta: float | None  # P50
    low: float | None  # P10
    high: float | None  # P90
    drained_at: str
    truth: float = math.nan  # median over the futures
    futures: list[float | None] = field(default_factory=list)  # None: not needed for the median

    @property
    def error(self) -> float | None:
        """|announced - truth| / truth (inf when the alert said never of a queue that
        drained); None when there is no announced ETA or the truth never drained."""
        if self.eta is None or not math.isfinite(self.truth) or self.truth <= 0:
            return None
        return abs(self.eta - self.truth) / self.truth

    @property
    def signed(self) -> float | None:
        """(announced - truth) / truth, as :attr:`error`."""
        if self.eta is None or not math.isfinite(self.truth) or self.truth <= 0:
            return None
        return (self.eta - self.truth) / self.truth

    @property
    def inside(self) -> bool | None:
        """The truth within [low, high]; None when no range was announced."""
        return _within(self.truth, self.low, self.high)


def _within(value: float | None, low: float | None, high: float | None) -> bool | None:
    """``value`` in [low, high]; None when a range or the value is missing."""
    if value is None or low is None or high is None:
        return None
    return low <= value <= high


@dataclass
class Forecast:
    """The last MaintenanceImpactForecast before the window opened, and its truth."""

    at: float
    peak: float | None
    low: float | None
    high: float | None
    patience_from: str
    # The expected backlog as the window ends: the mean, over futures forked as it opened,
    # of the waiting over its last PEAK_SECONDS (truth.forecast_truth).
    truth: float | None = None
    path: float | None = None  # the same over the one path played

    @property
    def signed(self) -> float | None:
        """(forecast - truth) / truth; None when either is missing or the truth is 0."""
        if self.peak is None or self.truth is None or self.truth <= 0:
            return None
        return (self.peak - self.truth) / self.truth

    @property
    def inside(self) -> bool | None:
        """The path played within [low, high] (the range is of where one path ends); None
        when no range was forecast."""
        return _within(self.path, self.low, self.high)


@dataclass
class Page:
    """One MaintenanceBacklog episode (seconds into the scenario)."""

    fired_at: float
    resolved_at: float | None
    flap: bool


@dataclass
class Played:
    """One case played with one seed: the truth, the pages, the ETAs and the forecast."""

    case: Case
    seed: int
    seconds: float  # wall time
    truth: truth.WindowTruth | None  # None: a normal day
    pages: list[Page]
    checkpoints: list[Checkpoint]
    forecast: Forecast | None
    fired: dict[str, int]  # every alert's episodes, by name


class _Watch:
    """The observer: samples the queue, takes checkpoints, keeps the last forecast."""

    sample_every = truth.EVERY

    def __init__(self, case: Case, start: float, seed: int, step: float) -> None:
        self.case = case
        self.every = step  # between evaluations: the forecast's futures fork at the last
        self.start = start
        self.seed = seed
        self.path: list[tuple[float, int]] = []
        self.checkpoints: list[Checkpoint] = []
        self.forecast: Forecast | None = None
        self.futures: list[float] = []  # the forecast's truth (truth.forecast_truth)
        self._firing = False
        self._last_check = -math.inf

    def sample(self, t: float, center: ContactCenter) -> None:
        self.path.append((t - self.start, center.waiting(SITE, QUEUE)))

    def step(self, t: float, center: ContactCenter, notifications: list[Notification]) -> None:
        at = t - self.start
        case = self.case
        if case.kind != "normal" and not self.futures and at + self.every >= case.window_start:
            self.futures = truth.forecast_truth(
                center,
                SITE,
                QUEUE,
                case.window_end,
                PEAK_SECONDS,
                self.start,
                self.seed * 100_003 + 7,
            )
        for n in notifications:
            name = n.labels.get("alertname")
            if name == BACKLOG and n.ends_at <= t:
                self._firing = False  # resolved
            elif name == BACKLOG:
                # Notifications are re-sent on an interval, not at every evaluation: the
                # episode lasts until one resolves it.
                if not self._firing or at - self._last_check >= CHECK_EVERY:
                    self._check(at, center, n.annotations)
                self._firing = True
            elif name == FORECAST and n.ends_at > t and at < self.case.window_start:
                notes = n.annotations
                self.forecast = Forecast(
                    at=at,
                    peak=_number(notes.get("forecast_peak", "")),
                    low=_number(notes.get("forecast_peak_low", "")),
                    high=_number(notes.get("forecast_peak_high", "")),
                    patience_from=notes.get("patience_from", ""),
                )

    def _check(self, at: float, center: ContactCenter, notes: Mapping[str, str]) -> None:
        self._last_check = at
        case = self.case
        level = truth.drained_level(truth.baseline(self.path, case.window_start))
        after = max(at, case.window_end)
        median, futures = truth.eta_truth(
            center, SITE, QUEUE, level, after, self.start, self.seed * 100_003 + int(at)
        )
        self.checkpoints.append(
            Checkpoint(
                at=at,
                waiting=center.waiting(SITE, QUEUE),
                eta=_seconds(notes.get("drain_eta", "")),
                low=_seconds(notes.get("drain_eta_low", "")),
                high=_seconds(notes.get("drain_eta_high", "")),
                drained_at=notes.get("drained_at", ""),
                truth=median,
                futures=futures,
            )
        )


def play(case: Case, k: int, settings: Settings, *, history: bool = True) -> Played:
    """Play ``case`` with its ``k``-th seed through the pipeline with ``settings``; with
    ``history``, after the same center's yesterday (:meth:`Case.yesterday`)."""
    began = time.perf_counter()
    seed = seed_of(case, k)
    scenario = case.scenario(seed)
    start = scenario.start.replace(tzinfo=UTC).timestamp()
    # Evaluated as often as the daemon evaluates, so that time to detect is the daemon's.
    step = settings.alerting.evaluation_interval
    watch = _Watch(case, start, seed, step)
    learnt = None
    if history:
        # Its own chance: yesterday's callers are not today's.
        learnt = run(case.yesterday(seed + YESTERDAY_SEED), settings, step).history
    report = run(scenario, settings, step, observe=watch, history=learnt)
    path = watch.path
    window = None
    forecast = watch.forecast
    if case.kind != "normal":
        window = truth.window_truth(path, case.window_start, case.window_end)
        if forecast is not None:
            last = [w for t, w in path if case.window_end - PEAK_SECONDS < t <= case.window_end]
            forecast.path = sum(last) / len(last) if last else None
            futures = watch.futures
            forecast.truth = sum(futures) / len(futures) if futures else None
    flapped = {id(e) for e in report.flaps}
    pages = [
        Page(e.fired_at, e.resolved_at, id(e) in flapped)
        for e in report.episodes
        if e.alert == BACKLOG
    ]
    return Played(
        case=case,
        seed=seed,
        seconds=time.perf_counter() - began,
        truth=window,
        pages=pages,
        checkpoints=watch.checkpoints,
        forecast=forecast,
        fired=dict(Counter(e.alert for e in report.episodes)),
    )


def _seconds(text: str) -> float | None:
    """An annotation's seconds ("1001s", "inf"); None when absent or unreadable."""
    text = text.strip()
    if text == "inf":
        return math.inf
    return _number(text.removesuffix("s"))


def _number(text: str) -> float | None:
    try:
        value = float(text)
    except ValueError:
        return None
    return value if not math.isnan(value) else None

"""Playing a scenario through the real pipeline, fast, and scoring the alerts it raised.

The simulated events go through the same decoder, monitor and alert evaluation as Kafka's
(with the rules and settings given), on a clock that jumps from one evaluation to the next,
so an hour of contact center takes seconds. The scenario's planned maintenance is put in
the maintenance calendar, as a change-managed window would be.

Alert quality is measured on what reached the sinks (suppressed alerts never page):

- an *episode* is one firing alert from its first notification to its resolution;
- a *flap* is an episode of the same alert (same labels) starting within
  :data:`FLAP_SECONDS` of the previous one's resolution;
- *time to detect* is from the start of the incident under way to the first notification;
- MaintenanceBacklog's drain ETA, as announced at first firing, is scored against the time
  the simulated queue really took to get back to the announced ``drained_at`` level;
- MaintenanceImpactForecast's forecast peak, the last one sent before the window opened
  (it is recomputed at every evaluation and re-sent with the alert), is scored against the
  backlog the simulated window really left: the queue's mean over the window's last
  :data:`PEAK_SECONDS`. The forecast is of the expected queue, which peaks as the window
  ends; one path's largest excursion above it is chance, not something to forecast.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC
from typing import Protocol

from callpulse import pipeline
from callpulse.config import FormatSettings, Settings
from callpulse.core.alert_state import Notification
from callpulse.core.clock import WALL_TIME
from callpulse.core.ingest import RawRecord
from callpulse.core.ivr import IvrRun
from callpulse.core.trunk_run import TrunkRun
from callpulse.simulation.model import ContactCenter
from callpulse.simulation.platform import Kept, PlatformFeed, kept, merged
from callpulse.simulation.scenario import Incident, Scenario, maintenance_id, with_planned_windows

FLAP_SECONDS = 600.0
PEAK_SECONDS = 300.0  # the simulated peak is the mean over the window's last this long
Labels = tuple[tuple[str, str], ...]


class Observer(Protocol):
    """Watches a run as it goes (``run(observe=)``): the simulated center between
    evaluations, and each evaluation's notifications."""

    @property
    def sample_every(self) -> float:
        """Simulated seconds between samples (at most the run's step; each step's end is
        always sampled)."""
        ...

    def sample(self, t: float, center: ContactCenter) -> None:
        """The center at ``t`` (epoch seconds), every ``sample_every``."""

    def step(self, t: float, center: ContactCenter, notifications: list[Notification]) -> None:
        """The evaluation at ``t``, after its ``sample``."""


@dataclass
class Episode:
    """One firing alert, in seconds into the scenario."""

    alert: str
    labels: Labels
    fired_at: float
    annotations: dict[str, str]
    resolved_at: float | None = None

    def label(self, name: str) -> str:
        """One label's value ('' when absent)."""
        return dict(self.labels).get(name, "")


@dataclass
class Score:
    """A forecast (or ETA) against what the simulation really did."""

    alert: str
    labels: Labels
    announced: float
    actual: float | None  # None: the truth was not reached by the scenario's end

    @property
    def error(self) -> float | None:
        """|announced - actual| / actual."""
        if self.actual is None or self.actual <= 0:
            return None
        return abs(self.announced - self.actual) / self.actual


@dataclass
class Report:
    """What a scenario did to the pipeline, and how good its alerts were."""

    events: int = 0
    rejected: int = 0
    duplicates: int = 0
    late: int = 0
    episodes: list[Episode] = field(default_factory=list)
    flaps: list[Episode] = field(default_factory=list)  # the episodes that re-fired too soon
    suppressed: Counter[str] = field(default_factory=Counter)
    detect: dict[str, float] = field(default_factory=dict)  # alert -> s from incident start
    eta: list[Score] = field(default_factory=list)
    forecasts: list[Score] = field(default_factory=list)
    forecast_lead: dict[Labels, float] = field(default_factory=dict)  # s before the window
    queues: dict[tuple[str, str], dict[str, int]] = field(default_factory=dict)  # totals
    trunks: dict[tuple[str, str], TrunkRun] = field(default_factory=dict)  # the whole run
    ivr: dict[tuple[str, str], IvrRun] = field(default_factory=dict)  # the whole run
    platform_records: int = 0  # records written by a platform's emitter (run(platform=))
    ignored: dict[str, int] = field(default_factory=dict)  # kinds its adapters skipped
    # The queues' flow histories as the state file keeps them, when the run ended (run(
    # history=) takes them back: a later day of the same center).
    history: list[list[object]] = field(default_factory=list)

    @property
    def fired(self) -> Counter[str]:
        """Episodes by alert name."""
        return Counter(e.alert for e in self.episodes)

    @property
    def first_fired(self) -> dict[str, float]:
        """Each alert's first notification, in seconds into the scenario."""
        out: dict[str, float] = {}
        for e in self.episodes:
            out.setdefault(e.alert, e.fired_at)
        return out

    def verdict(self, scenario: Scenario) -> list[str]:
        """What is wrong against ``scenario.expect`` (nothing: it passed)."""
        expect = scenario.expect
        fired = self.fired
        problems = [
            f"expected {name} to fire; it did not" for name in expect.alerts if name not in fired
        ]
        allowed = set(expect.alerts) | set(expect.allow)
        problems += [
            f"{name} fired ({fired[name]} episodes, first at "
            f"{self.first_fired[name] / 60:.1f} min) and was not expected"
            for name in sorted(fired)
            if name not in allowed
        ]
        per_series = Counter((e.alert, e.labels) for e in self.episodes)
        problems += [
            f"{alert} {_show(labels)}: {count} episodes (at most {expect.max_episodes})"
            for (alert, labels), count in sorted(per_series.items())
            if count > expect.max_episodes
        ]
        if len(self.flaps) > expect.flaps:
            problems += [
                f"{e.alert} {_show(e.labels)} flapped: fired again at {e.fired_at / 60:.1f} min"
                for e in self.flaps
            ]
        if expect.eta_error is not None:
            for s in self.eta:
                if s.error is None:
                    problems.append(f"{s.alert} {_show(s.labels)}: the backlog never drained")
                elif s.error > expect.eta_error.worst:
                    problems.append(
                        f"{s.alert} {_show(s.labels)}: drain ETA {s.announced / 60:.1f} min, "
                        f"drained in {(s.actual or 0) / 60:.1f} min: error {s.error:.0%} "
                        f"> {expect.eta_error.worst:.0%}"
                    )
            if "MaintenanceBacklog" in expect.alerts and not self.eta:
                problems.append("no MaintenanceBacklog drain ETA to score")
        if expect.forecast_error is not None:
            if not self.forecasts:
                problems.append("MaintenanceImpactForecast was not raised before the window")
            for s in self.forecasts:
                if self.forecast_lead.get(s.labels, 0.0) <= 0:
                    problems.append(f"{s.alert} {_show(s.labels)}: raised after the window opened")
                if s.error is None or s.error > expect.forecast_error.worst:
                    problems.append(
                        f"{s.alert} {_show(s.labels)}: forecast peak {s.announced:.0f}, "
                        f"simulated {s.actual or 0:.0f}: error "
                        f"{'n/a' if s.error is None else f'{s.error:.0%}'} "
                        f"> {expect.forecast_error.worst:.0%}"
                    )
        return problems


def run(
    scenario: Scenario,
    settings: Settings,
    step: float = 15.0,
    *,
    platform: FormatSettings | None = None,
    merges: Mapping[str, str] | None = None,
    keep: Kept | None = None,
    in_order: bool = False,
    wrapup: float | None = None,
    whole_seconds: bool = False,
    observe: Observer | None = None,
    history: object | None = None,
) -> Report:
    """Play ``scenario`` from its ``start``, evaluating rules every ``step`` seconds.

    ``platform``: what the format carries goes through its emitter and adapter (see
    :mod:`callpulse.simulation.platform`), each event once and in order, as a platform
    writes its own stream. ``merges``: v1 types rewritten as another, the reference a
    platform run is compared with (``Emitter.merges``); ``keep``: each event as a format
    keeps it (``TrunkEmitter.as_kept``), for the same. ``in_order``: no late or duplicate
    delivery; ``wrapup``: every wrap-up this long; ``whole_seconds``: times truncated to
    seconds (see :class:`ContactCenter`). ``observe``: shown the center and the alerts as
    the run goes (what the sweep learns its truths from); the run is the same without it.
    ``history``: the flow histories an earlier run ended with (``Report.history``), taken
    back as the daemon takes its state file's at start-up: what it learnt of the callers.
    """
    start = scenario.start.replace(tzinfo=UTC).timestamp()
    settings = with_planned_windows(settings, scenario, start)
    center = ContactCenter(
        scenario,
        start,
        in_order=in_order or platform is not None,
        wrapup=wrapup,
        whole_seconds=whole_seconds,
    )
    # The simulated clock is this run's wall clock: it jumps from one evaluation to the next.
    parts = pipeline.build(settings, now=start, clock=WALL_TIME, deliver=False)
    monitor, alerting = parts.monitor, parts.alerting
    monitor.trunks.keep_run()
    monitor.ivr.keep_run()
    if history is not None:
        monitor.maintenance.baselines.restore_history(history, start)
    feed = (
        PlatformFeed(
            platform,
            [s.name for s in scenario.sites],
            parts,
            {s.name: s.ivr.application for s in scenario.sites if s.ivr is not None},
            {s.name: [t.id for t in s.trunks] for s in scenario.sites},
        )
        if platform is not None
        else None
    )
    score = _Scorer(scenario, center, start, step)
    report = score.report
    t = start
    while t < start + scenario.duration:
        t += step
        records = _records(center, t, step, observe)
        if feed is not None:
            applied, rejected = feed.feed(records, t)
            report.platform_records += applied
            report.rejected += rejected
        else:
            given = merged(records, merges) if merges else records
            given = kept(given, keep) if keep else given
            report.rejected += len(parts.feed(given, t))
        report.events += len(records)
        notifications = parts.evaluate(t)
        score.step(t, notifications)
        if observe is not None:
            observe.step(t, center, notifications)
    for name, _ in alerting.suppressed:
        report.suppressed[name] += 1
    report.duplicates = monitor.stats.duplicates
    report.late = monitor.stats.late
    report.queues = {(view.site, view.queue): dict(view.totals) for view in monitor.queue_views()}
    report.trunks = monitor.trunks.run_kpis()
    report.ivr = monitor.ivr.run_kpis()
    report.history = monitor.maintenance.baselines.export_history()
    if feed is not None:
        report.ignored = feed.ignored()
    score.finish()
    return report


def _records(
    center: ContactCenter, t: float, step: float, observe: Observer | None
) -> list[RawRecord]:
    """The records delivered by ``t``; with ``observe``, the center is sampled on the way.

    Advancing in parts hands out the same records in the same order: an event is never
    delivered before it happens, so none due by one part is made in the next."""
    if observe is None:
        return center.records(t)
    parts = max(1, math.ceil(step / max(observe.sample_every, 1e-3) - 1e-9))
    out: list[RawRecord] = []
    for k in range(parts, 0, -1):
        at = t - step * (k - 1) / parts
        out += center.records(at)
        observe.sample(at, center)
    return out


class _Scorer:
    """Turns each evaluation's notifications into episodes and scores them on the truth."""

    def __init__(
        self, scenario: Scenario, center: ContactCenter, start: float, step: float
    ) -> None:
        self.report = Report()
        self._scenario = scenario
        self._center = center
        self._start = start
        self._open: dict[Labels, Episode] = {}
        self._last: dict[Labels, Episode] = {}
        self._draining: dict[Labels, tuple[Episode, float, float]] = {}  # fired t, drained level
        self._peaks: dict[Labels, tuple[Episode, Incident, list[int]]] = {}
        self._windows = {
            maintenance_id(i): i for i in scenario.incidents if i.kind == "maintenance"
        }

    def step(self, t: float, notifications: list[Notification]) -> None:
        at = t - self._start
        for n in notifications:
            labels: Labels = tuple(sorted(n.labels.items()))
            if n.ends_at > t:
                if labels not in self._open:
                    self._fire(labels, at, dict(n.annotations))
                elif labels in self._peaks and at < self._peaks[labels][1].at:
                    self._peaks[labels][0].annotations = dict(n.annotations)  # the latest
            elif labels in self._open:
                self._open.pop(labels).resolved_at = at
        self._truth(t, at)

    def _fire(self, labels: Labels, at: float, annotations: dict[str, str]) -> None:
        name = dict(labels)["alertname"]
        episode = Episode(name, labels, at, annotations)
        report = self.report
        previous = self._last.get(labels)
        if (
            previous is not None
            and previous.resolved_at is not None
            and at - previous.resolved_at < FLAP_SECONDS
        ):
            report.flaps.append(episode)
        report.episodes.append(episode)
        self._open[labels] = self._last[labels] = episode
        if name not in report.detect:
            started = [i.at for i in self._scenario.incidents if i.at <= at]
            if started:
                report.detect[name] = at - max(started)
        window = self._windows.get(episode.label("maintenance"))
        if name == "MaintenanceBacklog" and previous is None:
            drained = float(annotations.get("drained_at") or 0)
            self._draining[labels] = (episode, at, drained)
        if name == "MaintenanceImpactForecast" and previous is None and window is not None:
            self._peaks[labels] = (episode, window, [])
            report.forecast_lead[labels] = window.at - at

    def _truth(self, t: float, at: float) -> None:
        center = self._center
        for labels, (episode, fired, drained) in list(self._draining.items()):
            if center.waiting(episode.label("site"), episode.label("queue")) <= drained:
                del self._draining[labels]
                self._score_eta(episode, at - fired)
        for labels, (episode, window, path) in list(self._peaks.items()):
            end = window.at + window.duration
            if end - PEAK_SECONDS < at <= end:
                path.append(center.waiting(episode.label("site"), episode.label("queue")))
            elif at > end:
                del self._peaks[labels]
                self._score_peak(episode, path)

    def _score_eta(self, episode: Episode, actual: float | None) -> None:
        announced = _seconds(episode.annotations.get("drain_eta", ""))
        if announced is not None:
            self.report.eta.append(Score(episode.alert, episode.labels, announced, actual))

    def _score_peak(self, episode: Episode, path: list[int]) -> None:
        announced = float(episode.annotations.get("forecast_peak") or 0)
        actual = sum(path) / len(path) if path else None
        self.report.forecasts.append(Score(episode.alert, episode.labels, announced, actual))

    def finish(self) -> None:
        for episode, _, _ in self._draining.values():
            self._score_eta(episode, None)
        for episode, _, path in self._peaks.values():
            self._score_peak(episode, path)


def _seconds(text: str) -> float | None:
    if text == "inf":
        return float("inf")
    return float(text.removesuffix("s")) if text else None


def _show(labels: Labels) -> str:
    shown = {k: v for k, v in labels if k not in ("alertname", "severity")}
    return "{" + ", ".join(f"{k}={v}" for k, v in shown.items()) + "}"

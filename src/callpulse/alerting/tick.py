"""The alerting shell: evaluates rules on a wall-clock tick and hands notifications to sinks.

Evaluation reads the monitor (only the KPI families the rules name) every
``evaluation_interval``, so quiet queues still fire and resolve. Sinks (every Alertmanager
listed, webhooks, the log) each have their own bounded queue and worker: a slow or dead
Alertmanager never blocks event processing. With ``state_file`` set, pending and firing
state is written after each evaluation and read back at start-up, so a restart neither
re-pages nor restarts ``for`` timers. With ``silence_windows`` on, each evaluation also tells
the silence keeper (:mod:`callpulse.sinks.silences`) which Alertmanager silences the
maintenance calendar wants now.

With several replicas, each owns the sites of its partitions: what it loses goes without a
resolution (:meth:`Alerting.release_sites`), and what it does not own is never sent.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Collection, Iterable, Mapping
from contextlib import suppress
from typing import TypedDict

import structlog

from callpulse.alerting.statefile import StateFile
from callpulse.config import AlertingSettings, BacklogSettings
from callpulse.config.convert import http_config, silence_window_policy
from callpulse.core import readings
from callpulse.core.alert_changelog import AlertChangelog, Rows
from callpulse.core.alert_state import Alert, Labels, Notification, owned_only, site_of
from callpulse.core.alerting import AlertEvaluator, AlertingConfig, EvaluationInput
from callpulse.core.consumer_health import Blindness
from callpulse.core.durations import format_duration
from callpulse.core.maintenance import MaintenanceTracker
from callpulse.core.maintenance_notes import backlog_summary, forecast_summary, overrun_summary
from callpulse.core.monitor import Monitor
from callpulse.core.planned_silences import plan as plan_silences
from callpulse.core.rules import Rule, Series, builtin_rule
from callpulse.core.timefmt import rfc3339
from callpulse.sinks.alertmanager import AlertmanagerSink
from callpulse.sinks.delivery import Sink
from callpulse.sinks.log import LogSink
from callpulse.sinks.silences import SilenceKeeper, SilenceTarget
from callpulse.sinks.webhook import WebhookSink

log = structlog.get_logger("callpulse.alerts")


class AlertRow(TypedDict):
    """One alert of ``/api/v1/alerts`` (Prometheus' shape, camelCase as its API has it)."""

    labels: dict[str, str]
    annotations: dict[str, str]
    state: str  # pending, firing, or inactive (resolved), as Prometheus names them
    activeAt: str
    firedAt: str | None
    resolvedAt: str | None
    value: str
    suppressedBy: str | None  # the maintenance window withholding it from the sinks
    # A pending alert's: when it fires if it stays active (activeAt + the rule's ``for``), and
    # in how many seconds from callpulse's now. Not in Prometheus' shape: added for the page.
    firesAt: str | None
    firesInSeconds: float | None


class Alerting:
    """Rules, their evaluator, the sinks, and the state file."""

    def __init__(
        self,
        settings: AlertingSettings,
        rules: list[Rule],
        monitor: Monitor,
        backlog: BacklogSettings | None = None,
        hold: Callable[[], bool] = lambda: False,
        blind: Callable[[], Blindness | None] = lambda: None,
    ) -> None:
        """``backlog``: how the built-in maintenance alerts are sent (severity, ``for``,
        ``keep_firing_for``). ``hold``: while it answers True (state being rebuilt), rules
        are not evaluated: alerts keep their state and nothing is sent.
        ``blind``: why the source cannot see, if it cannot: the rules reading silence and
        waits are held meanwhile, and CallpulseSourceDown pages instead."""
        self._hold = hold
        self._blind = blind
        self._blindness: Blindness | None = None
        self._settings = settings
        self._monitor = monitor
        builtins = self._builtins(backlog or BacklogSettings())
        self.evaluator = AlertEvaluator(
            [*rules, *builtins],
            AlertingConfig(
                evaluation_interval=settings.evaluation_interval,
                resend_delay=settings.resend_delay,
                external_url=settings.external_url or AlertingConfig.external_url,
            ),
        )
        self._domains = {r.family.domain for r in rules if r.family is not None}
        self._families = {r.family.name for r in rules if r.family is not None}
        max_age = max(settings.resend_delay, settings.evaluation_interval)
        capacity = settings.queue_capacity
        self.sinks: list[Sink] = [
            AlertmanagerSink(am.url, am.timeout, capacity, max_age, label, http_config(am))
            for label, am in settings.labelled("alertmanager")
        ]
        self.sinks += [
            WebhookSink(
                w.url,
                w.timeout,
                capacity,
                max_age,
                settings.external_url or AlertingConfig.external_url,
                self._now,
                label,
                http_config(w),
            )
            for label, w in settings.labelled("webhook")
        ]
        if settings.log:
            self.sinks.append(LogSink(self._now))
        self.silences = self._silence_keeper(settings)
        self._silence_policy = silence_window_policy(settings.silence_windows)
        self._state = StateFile(settings.state_file)
        # The sites this replica owns, once it knows (None: not known, or every site): only
        # their alerts are kept and sent. The composition root sets it.
        self.owned_sites: Callable[[], Collection[str] | None] = lambda: None
        # Where each owned site's alert state is written when it changes, for the replica
        # that owns it next (the alert state topic); None: nowhere. The composition root
        # sets it.
        self.write_state: Callable[[Mapping[str, Rows | None]], None] | None = None
        self._changelog = AlertChangelog()
        self._refused_reported = 0
        # Alerts a maintenance window explains: withheld from the sinks, counted once each.
        self.suppressed: dict[tuple[str, str], int] = {}
        # (labels, active since) of each alert withheld, and the window that explained it: it
        # stays withheld for the rest of its episode, even once the window has closed.
        self._suppressed_seen: dict[tuple[Labels, float], str] = {}
        self._state.restore(self.evaluator, monitor.maintenance, monitor.now)

    def _silence_keeper(self, settings: AlertingSettings) -> SilenceKeeper | None:
        """The keeper of the calendar's silences in Alertmanager, when they are wanted."""
        wanted = settings.silence_windows
        if not wanted.enabled or not settings.alertmanagers:
            return None
        if self._monitor.config.event_time_clock:
            # A replay's or a sped-up simulation's clock is not the one silences run on.
            log.warning("silence_windows_off", reason="the clock is event time, not wall time")
            return None
        targets = [
            SilenceTarget(label, am.url, am.timeout, http_config(am))
            for label, am in settings.labelled("alertmanager")
        ]
        return SilenceKeeper(targets, wanted.cluster, wanted.max_answer_bytes)

    def suppressed_by(self, alert: Alert) -> str | None:
        """The maintenance window withholding ``alert`` from the sinks, if any."""
        withheld = self._suppressed_seen.get((alert.labels, alert.active_at))
        if withheld is not None:
            return withheld
        window = self._monitor.maintenance.explaining(alert.label_dict(), self._monitor.now)
        return window.name if window is not None and alert.active_at >= window.start else None

    def _builtins(self, b: BacklogSettings) -> list[Rule]:
        """The built-in rules, sent as ``maintenance.backlog`` says (severity, ``for``,
        ``keep_firing_for``)."""
        self._backlog_rule = builtin_rule(
            "MaintenanceBacklog", b.severity, self._backlog, b.keep_firing_for, b.for_
        )
        return [
            self._backlog_rule,
            builtin_rule("MaintenanceImpactForecast", "warning", self._forecast),
            builtin_rule("MaintenanceOverrun", "warning", self._overrun, b.keep_firing_for),
            builtin_rule("CallpulseSourceDown", "critical", self._source_down),
        ]

    def replace_rules(self, rules: list[Rule], backlog: BacklogSettings | None = None) -> None:
        """Swap in new configured rules and, with ``backlog``, the built-in rules as it
        says; alerts of rules that did not change keep their state."""
        builtins = (
            self._builtins(backlog)
            if backlog is not None
            else [r for r in self.evaluator.rules if r.builtin is not None]
        )
        self.evaluator.replace_rules([*rules, *builtins])
        self._domains = {r.family.domain for r in rules if r.family is not None}
        self._families = {r.family.name for r in rules if r.family is not None}

    def _now(self) -> float:
        return self._monitor.now

    @property
    def external_url(self) -> str:
        """The base URL alerts link back to (``generatorURL``)."""
        return self.evaluator.config.external_url

    def alerts(self) -> list[Alert]:
        """Every pending, firing or recently resolved alert."""
        return self.evaluator.alerts()

    def delivery_stats(self) -> dict[str, dict[str, int]]:
        """Notifications by sink and result."""
        return {sink.name: sink.stats.as_dict() for sink in self.sinks}

    def describe(self) -> list[AlertRow]:
        """Current alerts as ``/api/v1/alerts`` shows them (Prometheus' shape)."""
        now = self._monitor.now
        waits = {
            rid: rule.spec.for_seconds
            for rule, rid in zip(self.evaluator.rules, self.evaluator.rule_ids, strict=True)
        }

        def fires_at(a: Alert) -> float | None:
            wait = waits.get(a.rule_id)
            return a.active_at + wait if a.state == "pending" and wait is not None else None

        return [
            AlertRow(
                labels=a.label_dict(),
                annotations=dict(a.annotations),
                state="inactive" if a.state == "resolved" else a.state,
                activeAt=rfc3339(a.active_at),
                firedAt=rfc3339(a.fired_at) if a.fired_at is not None else None,
                resolvedAt=rfc3339(a.resolved_at) if a.resolved_at is not None else None,
                value=f"{a.value:g}",
                suppressedBy=self.suppressed_by(a),
                firesAt=None if (due := fires_at(a)) is None else rfc3339(due),
                firesInSeconds=None if due is None else round(max(0.0, due - now)),
            )
            for a in self.evaluator.alerts()
        ]

    def evaluate(self) -> list[Notification]:
        """Evaluate every rule now and queue what is due; return what was queued."""
        monitor = self._monitor
        now = monitor.now
        maintenance = monitor.maintenance
        maintenance.prune(now)
        self._report_event_windows(maintenance)
        # One read of the queues per evaluation, shared by the baselines and the built-in rules.
        queues = monitor.queue_views()
        maintenance.sample(now, queues)
        status = {(c.site, c.component): c.status for c in monitor.component_views()}
        # Only a firing MaintenanceBacklog is held until its backlog drains (as the last
        # evaluation left it); a pending one starts over once the backlog is not material.
        firing = {
            (labels["site"], labels["queue"], labels["maintenance"])
            for labels in (a.label_dict() for a in self.evaluator.held(self._backlog_rule))
        }
        maintenance.assess(now, queues, status, firing)
        if self._hold():
            # The state is partial (being rebuilt, or the partitions not assigned yet): judged
            # on it, a page that still holds would resolve. Alerts keep their state, and their
            # timers run on, until it is whole.
            return []
        samples = readings.collect(monitor, self._domains, self._families) if self._domains else []
        self._blindness = self._blind()
        if self.silences is not None and not self._hold():
            # Not while state is rebuilt: a component's status may not be known yet. Nor is it
            # while the source is out of sight (every component would read stale, so down):
            # the windows' silences then end as planned, none outlasts them.
            seen = status if self._blindness is None else {}
            self._plan_silences(self.silences, now, seen)
        data = EvaluationInput.of(
            now,
            samples,
            monitor.site_last_event,
            monitor.site_activity,
            blind=self._blindness is not None,
        )
        owned = self.owned_sites()
        if owned is not None:
            # Restored from the state file, or seen just before a revoke: another replica owns
            # these sites and speaks for them.
            self._release_unowned(owned)
        due = self.evaluator.evaluate(data)
        if owned is not None:
            due, _ = owned_only(due, owned)
            if self.write_state is not None:
                changes = self._changelog.due(self.evaluator.export_sites(), owned)
                if changes:
                    self.write_state(changes)
        alerts = self.evaluator.alerts()
        self._explain(alerts, now)
        withheld = {labels for labels, _ in self._suppressed_seen}
        notifications = [n for n in due if tuple(sorted(n.labels.items())) not in withheld]
        for sink in self.sinks:
            sink.submit(notifications)
        self._state.save(self.evaluator, self._monitor.maintenance, self._monitor.now)
        return notifications

    def _plan_silences(
        self, keeper: SilenceKeeper, now: float, status: dict[tuple[str, str], str]
    ) -> None:
        calendar = self._monitor.maintenance.calendar
        own = {rule.name for rule in self.evaluator.rules}
        wanted = plan_silences(now, calendar, status, self._silence_policy, own)
        keeper.submit(wanted, {w.name for w in calendar.windows} if calendar else ())

    def release_sites(self, sites: Collection[str], reason: str) -> int:
        """Drop the alerts of ``sites`` without resolving them, from the evaluator, the
        exported ``callpulse_alerts`` and the state file: another replica owns them now and
        pages for them. Return how many were dropped."""
        dropped = self.evaluator.forget_sites(set(sites))
        if dropped:
            log.info(
                "alerts_released",
                alerts=len(dropped),
                firing=sum(a.state == "firing" for a in dropped),
                sites=sorted({site_of(a.labels) or "" for a in dropped}),
                reason=reason,
            )
            self._state.save(self.evaluator, self._monitor.maintenance, self._monitor.now)
        return len(dropped)

    def adopt_sites(self, states: Mapping[str, Rows]) -> None:
        """Carry on the pages of sites taken over from another replica: their alerts become
        ``states`` (what it last wrote), with their ``for`` timers, ``startsAt`` and resend
        cadence."""
        adopted = 0
        for site, rows in states.items():
            adopted += self.evaluator.adopt_site(site, rows)
            self._changelog.adopted(site, rows)
        if states:
            log.info("alert_state_adopted", sites=sorted(states), alerts=adopted)

    def _release_unowned(self, owned: Collection[str]) -> None:
        sites = {site_of(a.labels) for a in self.evaluator.alerts()}
        unowned = {s for s in sites if s is not None and s not in owned}
        if unowned:
            self.release_sites(unowned, "site not owned by this replica")

    def _report_event_windows(self, maintenance: MaintenanceTracker) -> None:
        """Say which event windows closed by themselves, and how many starts were refused."""
        for window in maintenance.expired:
            log.warning(
                "maintenance_window_expired",
                maintenance=window.name,
                site=window.sites[0],
                opened=rfc3339(window.start),
                closed=rfc3339(window.end),
                reason="no maintenance.ended within maintenance.event_windows.max_duration",
            )
        maintenance.expired.clear()
        if maintenance.refused > self._refused_reported:
            log.warning(
                "maintenance_events_refused",
                since_last=maintenance.refused - self._refused_reported,
                total=maintenance.refused,
                mode=maintenance.policy.mode,
            )
            self._refused_reported = maintenance.refused

    def _explain(self, alerts: list[Alert], now: float) -> None:
        """Mark the alerts a maintenance window (or the backlog it left) explains.

        An alert is explained when, at some evaluation since it became active, an open window
        (or an active MaintenanceBacklog on its queue) explains it and it became active after
        the window opened. It is then withheld from the sinks for its whole episode, resolution
        included, even after the window has closed: the slow answers a window caused are part
        of its incident. An alert active before the window opened is not the window's doing
        and keeps being sent.
        """
        current = {(a.labels, a.active_at) for a in alerts}
        self._suppressed_seen = {k: v for k, v in self._suppressed_seen.items() if k in current}
        maintenance = self._monitor.maintenance
        for alert in alerts:
            key = (alert.labels, alert.active_at)
            if alert.state == "resolved" or key in self._suppressed_seen:
                continue
            window = maintenance.explaining(alert.label_dict(), now)
            if window is None or alert.active_at < window.start:
                continue
            self._suppressed_seen[key] = window.name
            counted = (alert.rule, window.name)
            self.suppressed[counted] = self.suppressed.get(counted, 0) + 1
            log.info("alert_suppressed", labels=alert.label_dict(), maintenance=window.name)

    def _backlog(self, data: EvaluationInput) -> Iterable[Series]:
        maintenance = self._monitor.maintenance
        target = maintenance.limits.max_drain_eta
        for b in maintenance.backlogs:
            labels = {"site": b.site, "queue": b.queue, "maintenance": b.maintenance}
            yield Series(labels, float(b.waiting), backlog_summary(b, target), b.active)

    def _forecast(self, data: EvaluationInput) -> Iterable[Series]:
        for f in self._monitor.maintenance.forecasts:
            labels = {"site": f.site, "queue": f.queue, "maintenance": f.maintenance}
            yield Series(labels, round(f.peak, 1), forecast_summary(f), f.active)

    def _overrun(self, data: EvaluationInput) -> Iterable[Series]:
        for o in self._monitor.maintenance.overruns:
            labels = {"site": o.site, "component": o.component, "maintenance": o.maintenance}
            yield Series(labels, 1.0 if o.active else 0.0, overrun_summary(o), o.active)

    def _source_down(self, data: EvaluationInput) -> Iterable[Series]:
        blindness = self._blindness
        if blindness is None:
            return
        blind_for = max(0.0, data.now - blindness.since)
        summary = (
            f"callpulse cannot see its {blindness.source} source: {blindness.reason} "
            f"(blind {format_duration(round(blind_for))}). Site silence and waits are held "
            "until it has caught up."
        )
        labels = {"source": blindness.source}
        yield Series(
            labels, round(blind_for), {"summary": summary, "since": rfc3339(blindness.since)}
        )

    async def run(self, after: Callable[[], None] | None = None) -> None:
        """Start the sinks' workers and evaluate every ``evaluation_interval``; ``after`` is
        called right after each evaluation, before any other task runs, so that it reads
        the monitor as the evaluation did (its queue views are computed once)."""
        workers = [asyncio.create_task(sink.run(), name=f"sink {sink.name}") for sink in self.sinks]
        if self.silences is not None:
            workers.append(asyncio.create_task(self.silences.run(), name="silences"))
        try:
            while True:
                await asyncio.sleep(self._settings.evaluation_interval)
                started = time.perf_counter()
                try:
                    self.evaluate()
                except Exception:
                    log.exception("evaluation_failed")
                if after is not None:
                    try:
                        after()
                    except Exception:
                        log.exception("after_evaluation_failed")
                took = time.perf_counter() - started
                if took > self._settings.evaluation_interval / 2:
                    log.warning("evaluation_slow", seconds=round(took, 3))
        finally:
            for worker in workers:
                worker.cancel()
            for worker in workers:
                with suppress(asyncio.CancelledError):
                    await worker

    async def stop(self, task: asyncio.Task[None], grace: float) -> None:
        """Give queued notifications ``grace`` seconds to go out, then stop; save state."""
        await asyncio.gather(*(sink.flush(grace) for sink in self.sinks))
        task.cancel()
        with suppress(asyncio.CancelledError):
            await task
        await asyncio.gather(*(sink.close() for sink in self.sinks))
        if self.silences is not None:
            await self.silences.close()
        self._state.save(self.evaluator, self._monitor.maintenance, self._monitor.now, final=True)

"""The alerting shell: evaluates rules on a wall-clock tick and hands notifications to sinks.

Evaluation reads the monitor (only the KPI families the rules name) every
``evaluation_interval``, so quiet queues still fire and resolve; what the rules decide is
core's (:mod:`callpulse.core.alerting`, the built-in rules of
:mod:`callpulse.core.builtin_rules`, the maintenance step of
:mod:`callpulse.core.maintenance_assessment`, the withholding of
:mod:`callpulse.core.suppression`). The sinks it is handed (:mod:`callpulse.alerting.sinks`:
every Alertmanager listed, webhooks, the log) each have their own bounded queue and worker: a
slow or dead Alertmanager never blocks event processing. With ``state_file`` set, pending and
firing state is written after each evaluation and read back at start-up, so a restart
neither re-pages nor restarts ``for`` timers. With ``silence_windows`` on, each evaluation
also tells the silence keeper (:mod:`callpulse.sinks.silences`) which Alertmanager silences
the maintenance calendar wants now.

With several replicas, each owns the sites of its partitions: what it loses goes without a
resolution (:meth:`Alerting.release_sites`), and what it does not own is never sent.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Collection, Mapping
from contextlib import suppress
from typing import TypedDict

import structlog

from callpulse.alerting.sinks import Sinks, build_sinks
from callpulse.alerting.statefile import StateFile
from callpulse.config import AlertingSettings
from callpulse.config.convert import silence_window_policy
from callpulse.core import readings
from callpulse.core.alert_changelog import AlertChangelog, Rows
from callpulse.core.alert_state import Alert, Notification, owned_only, site_of
from callpulse.core.alerting import DEFAULT_EXTERNAL_URL, AlertEvaluator, AlertingConfig
from callpulse.core.builtin_rules import builtin_rules, held_backlogs
from callpulse.core.consumer_health import Blindness
from callpulse.core.evaluation_input import EvaluationInput
from callpulse.core.maintenance import MaintenanceTracker
from callpulse.core.maintenance_assessment import assess_maintenance_in_steps
from callpulse.core.maintenance_policy import BacklogPaging
from callpulse.core.monitor import Monitor
from callpulse.core.planned_silences import plan as plan_silences
from callpulse.core.rules import Rule
from callpulse.core.steps import Steps, finish
from callpulse.core.suppression import Suppressor
from callpulse.core.timefmt import rfc3339
from callpulse.sinks.delivery import Sink
from callpulse.sinks.silences import SilenceKeeper

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


DEFAULT_PAGING = BacklogPaging()


class Alerting:
    """Rules, their evaluator, the sinks it is handed, and the state file."""

    def __init__(
        self,
        settings: AlertingSettings,
        rules: list[Rule],
        monitor: Monitor,
        paging: BacklogPaging = DEFAULT_PAGING,
        hold: Callable[[], bool] = lambda: False,
        blind: Callable[[], Blindness | None] = lambda: None,
        sinks: Sinks | None = None,
    ) -> None:
        """``paging``: how the built-in maintenance alerts are sent (severity, ``for``,
        ``keep_firing_for``: ``maintenance.backlog``'s, converted). ``hold``: while it
        answers True (state being rebuilt), rules are not evaluated: alerts keep their
        state and nothing is sent.
        ``blind``: why the source cannot see, if it cannot: the rules reading silence and
        waits are held meanwhile, and CallpulseSourceDown pages instead. ``sinks``: where
        notifications and silences go (:func:`~callpulse.alerting.sinks.build_sinks`, as
        the pipeline hands them); by default those ``settings`` list."""
        self._hold = hold
        self._blind = blind
        self._settings = settings
        self._monitor = monitor
        builtins = builtin_rules(paging)
        self.evaluator = AlertEvaluator(
            [*rules, *builtins],
            AlertingConfig(
                evaluation_interval=settings.evaluation_interval,
                resend_delay=settings.resend_delay,
                external_url=settings.external_url or DEFAULT_EXTERNAL_URL,
            ),
        )
        self._domains = {r.family.domain for r in rules if r.family is not None}
        self._families = {r.family.name for r in rules if r.family is not None}
        if sinks is None:
            sinks = build_sinks(
                settings, lambda: monitor.now, event_time=monitor.config.event_time_clock
            )
        self.sinks: list[Sink] = sinks.notifications
        self.silences: SilenceKeeper | None = sinks.silences
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
        # Alerts a maintenance window explains: withheld from the sinks for their episode.
        self._suppressor = Suppressor(monitor.maintenance)
        self._state.restore(self.evaluator, monitor.maintenance, monitor.now)

    @property
    def suppressed(self) -> dict[tuple[str, str], int]:
        """How many alerts maintenance windows withheld, by (alertname, window)."""
        return self._suppressor.counts

    def suppressed_by(self, alert: Alert) -> str | None:
        """The maintenance window withholding ``alert`` from the sinks, if any."""
        return self._suppressor.suppressed_by(alert, self._monitor.now)

    def replace_rules(self, rules: list[Rule], paging: BacklogPaging | None = None) -> None:
        """Swap in new configured rules and, with ``paging``, the built-in rules as it
        says they are sent (a reload: both from one new config); alerts of rules that did not
        change keep their state."""
        builtins = (
            builtin_rules(paging)
            if paging is not None
            else [r for r in self.evaluator.rules if r.builtin is not None]
        )
        self.evaluator.replace_rules([*rules, *builtins])
        self._domains = {r.family.domain for r in rules if r.family is not None}
        self._families = {r.family.name for r in rules if r.family is not None}

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
        """Evaluate every rule at the monitor's time and queue what is due; return what was
        queued. Callers go through :meth:`Pipeline.evaluate
        <callpulse.pipeline.Pipeline.evaluate>`, whose clock has moved the monitor to now."""
        return finish(self.evaluate_in_steps())

    def evaluate_in_steps(self) -> Steps[list[Notification]]:
        """:meth:`evaluate`, yielding while it reads the rules' samples and their series
        (:func:`~callpulse.core.readings.collect_in_steps`,
        :meth:`~callpulse.core.alerting.AlertEvaluator.evaluate_in_steps`): the daemon lets
        batches in between, so that at 10k queues an evaluation never holds ingest for long.
        What it judges is the monitor as each piece was read, and the maintenance windows
        and the components as they were when it began."""
        monitor = self._monitor
        now = monitor.now
        # One read of the queues per evaluation, shared by the baselines and the built-in rules.
        queues = monitor.queue_views()
        status = {(c.site, c.component): c.status for c in monitor.component_views()}
        # Judged even while held, so that baselines and windows keep up with the queues.
        found = yield from assess_maintenance_in_steps(
            monitor.maintenance, now, queues, status, held_backlogs(self.evaluator)
        )
        self._report_event_windows(monitor.maintenance)
        if self._hold():
            # The state is partial (being rebuilt, or the partitions not assigned yet): judged
            # on it, a page that still holds would resolve. Alerts keep their state, and their
            # timers run on, until it is whole.
            return []
        owned = self.owned_sites()
        if owned is not None:
            # Restored from the state file, or seen just before a revoke: another replica owns
            # these sites and speaks for them.
            self._release_unowned(owned)
        # What moves the alerts from outside (a reload, a revoke, sites adopted) from here on
        # voids this evaluation: its samples were read for the rules and sites of before.
        version = self.evaluator.version
        samples = []
        if self._domains:
            samples = yield from readings.collect_in_steps(monitor, self._domains, self._families)
            if self._hold() or self.evaluator.version != version:
                return []
        blindness = self._blind()
        if self.silences is not None and not self._hold():
            # Not while state is rebuilt: a component's status may not be known yet. Nor is it
            # while the source is out of sight (every component would read stale, so down):
            # the windows' silences then end as planned, none outlasts them.
            seen = status if blindness is None else {}
            self._plan_silences(self.silences, now, seen)
        data = EvaluationInput.of(
            now,
            samples,
            monitor.site_last_event,
            monitor.site_activity,
            blindness=blindness,
            maintenance=found,
        )
        due = yield from self.evaluator.evaluate_in_steps(data, since=version)
        owned = self.owned_sites()  # as it is now, after the last step
        if owned is not None:
            due, _ = owned_only(due, owned)
            if self.write_state is not None:
                changes = self._changelog.due(self.evaluator.export_sites(), owned)
                if changes:
                    self.write_state(changes)
        for alert, window in self._suppressor.explain(self.evaluator.alerts(), now):
            log.info("alert_suppressed", labels=alert.label_dict(), maintenance=window)
        notifications = self._suppressor.withhold(due)
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

    async def run(
        self,
        evaluate: Callable[[], Awaitable[object]],
        after: Callable[[], None] | None = None,
    ) -> None:
        """Start the sinks' workers and await ``evaluate`` every ``evaluation_interval``: one
        evaluation as the pipeline runs it (:meth:`Consumer.evaluate_in_slices
        <callpulse.consumer.Consumer.evaluate_in_slices>`: the queues read in slices, its
        clock moving the monitor to now, then :meth:`evaluate` here). ``after`` is called
        right after each evaluation, before any other task runs, so that it reads the
        monitor as the evaluation did (its queue views are computed once)."""
        workers = [asyncio.create_task(sink.run(), name=f"sink {sink.name}") for sink in self.sinks]
        if self.silences is not None:
            workers.append(asyncio.create_task(self.silences.run(), name="silences"))
        try:
            took = 0.0
            while True:
                interval = self._settings.evaluation_interval
                # Every interval from one start to the next, as Prometheus evaluates: an
                # evaluation that lets batches in between its steps takes a while, and
                # sleeping a whole interval after it would stretch the cadence by as much.
                await asyncio.sleep(max(interval - took, interval / 10))
                started = time.perf_counter()
                try:
                    await evaluate()
                except Exception:
                    log.exception("evaluation_failed")
                if after is not None:
                    try:
                        after()
                    except Exception:
                        log.exception("after_evaluation_failed")
                took = time.perf_counter() - started
                if took > interval / 2:
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

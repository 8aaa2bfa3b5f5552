"""Alert evaluation with Prometheus' semantics, and what to send to Alertmanager when.

Every evaluation (a wall-clock tick, so quiet queues still fire and resolve) each rule looks
at the samples of its KPI; a sample that meets the condition makes an alert *active*:

- inactive -> pending when it becomes active; pending -> firing once it has been active for
  ``for`` (at once when ``for`` is 0); pending -> gone when it stops being active at one
  evaluation, so ``for`` starts over: a spike shorter than ``for`` never pages;
- firing -> resolved when it has stopped being active for ``keep_firing_for``; with ``clear``
  set, a firing alert stays active until the value is past ``clear`` (hysteresis holds only
  what fires: a pending alert back under the threshold starts over, as in Prometheus);
- a sample that disappears (no data) is not active: no series, no alert, except for absent
  rules, which fire on silence.

Alerts are keyed by rule, as Prometheus keys them, not by alert name: a warning and a critical
rule sharing an ``alertname`` are two alerts, each with its own ``for`` and
``keep_firing_for``. A built-in rule may also report series that are no longer active, with
their current values: an alert resolving on such a series carries the values it stopped
being active at (a drained backlog says so, with the count it drained at), not the last ones
it fired with, nor those of the moment ``keep_firing_for`` ran out.

Delivery follows Prometheus' contract with Alertmanager: a firing alert is (re)sent when it
starts firing and then every ``resend_delay``, with ``endsAt`` = now + 4 x max(evaluation
interval, resend delay), so Alertmanager resolves it by itself if callpulse goes away; a
resolved alert is sent with ``endsAt`` = the time it resolved, and re-sent on the same
cadence for 15 minutes.

Sites belong to one replica at a time (their Kafka partitions do). A replica that loses a
site drops its alerts without resolving them (:meth:`AlertEvaluator.forget_sites`): the new
owner rebuilds the site and pages for it, and a resolution from the old one would contradict
that page. Only the owner of a site sends anything for it (:func:`owned_only`).
"""

from __future__ import annotations

from collections.abc import Container, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final
from urllib.parse import quote

from callpulse.core.alert_state import (
    RESOLVED_RETENTION,
    Alert,
    Labels,
    Notification,
    alert_row,
    row_labels,
    site_of,
)
from callpulse.core.evaluation_input import EvaluationInput, held_while_blind
from callpulse.core.rules import Rule
from callpulse.core.silence import SiteActivity, improbable_after
from callpulse.core.steps import Steps, finish

Series = tuple[Labels, float, Mapping[str, str] | None, bool]
"""One series a rule found: labels, value, a built-in rule's annotations, whether active."""

SAMPLES_A_STEP = 2000
"""Samples a rule reads between two steps of :meth:`AlertEvaluator.evaluate_in_steps`."""

DEFAULT_EXTERNAL_URL: Final = "http://localhost:9464"
"""Our own base URL when the settings give none (a compiled class's defaults are not
readable as class attributes)."""


@dataclass
class AlertingConfig:
    """Timing of evaluation and delivery, in seconds; ``external_url`` is our own base URL."""

    evaluation_interval: float = 5.0
    resend_delay: float = 60.0
    external_url: str = DEFAULT_EXTERNAL_URL


class AlertEvaluator:
    """Holds every alert instance and decides what to notify."""

    def __init__(self, rules: Sequence[Rule], config: AlertingConfig) -> None:
        self.rules = list(rules)
        self.rule_ids = rule_ids(self.rules)
        self.config = config
        self._alerts: dict[tuple[str, Labels], Alert] = {}
        # Moved by every change from outside an evaluation (rules replaced, alerts dropped
        # or restored): an evaluation in steps that sees it move is void.
        self._version = 0

    @property
    def kpis(self) -> set[str]:
        """The KPI families the rules read."""
        return {r.family.kpi for r in self.rules if r.family is not None}

    def alerts(self) -> list[Alert]:
        """Every pending, firing or recently resolved alert."""
        return list(self._alerts.values())

    def held(self, rule: Rule) -> list[Alert]:
        """The alerts of ``rule`` that fire and were active at the last evaluation (not
        riding out ``keep_firing_for``): those its hysteresis may hold."""
        rid = next(i for r, i in zip(self.rules, self.rule_ids, strict=True) if r is rule)
        return [
            a
            for a in self._alerts.values()
            if a.rule_id == rid and a.state == "firing" and a.keep_firing_since is None
        ]

    def evaluate(self, data: EvaluationInput) -> list[Notification]:
        """Evaluate every rule at ``data.now``; return the notifications due."""
        return finish(self.evaluate_in_steps(data))

    @property
    def version(self) -> int:
        """Moves with every change from outside an evaluation: rules replaced, alerts
        dropped or restored."""
        return self._version

    def evaluate_in_steps(
        self, data: EvaluationInput, since: int | None = None
    ) -> Steps[list[Notification]]:
        """:meth:`evaluate`, yielding after each rule's series are read (a read: nothing
        changes until the last step, which moves every alert's state at once).

        Rules replaced or alerts dropped or adopted between the steps (a reload, a
        rebalance), or since :attr:`version` was ``since`` (when ``data`` was read), void
        the evaluation: no state moves and nothing is due, until the next one judges the new
        rules and alerts."""
        version = self._version if since is None else since
        found: list[tuple[str, Rule, list[Series] | None]] = []
        for rule, rid in zip(self.rules, self.rule_ids, strict=True):
            if data.blind and held_while_blind(rule):
                found.append((rid, rule, None))
                continue
            series: list[Series] = []
            for each in self._active(rule, rid, data):
                if each is None:
                    yield
                else:
                    series.append(each)
            found.append((rid, rule, series))
            yield
        if version != self._version:
            return []
        return self._judge(found, data.now)

    def _judge(
        self, found: list[tuple[str, Rule, list[Series] | None]], now: float
    ) -> list[Notification]:
        """Move every alert's state on what the rules found at ``now``; the notifications due."""
        seen: set[tuple[str, Labels]] = set()
        # Series a built-in rule still reports but no longer finds active: their values now,
        # which a firing alert takes when it stops being active, and keeps.
        settled: dict[tuple[str, Labels], tuple[float, Mapping[str, str]]] = {}
        for rid, rule, series in found:
            if series is None:
                # Held as they were: none starts and none resolves until the source sees again.
                seen.update(k for k, a in self._alerts.items() if a.rule_id == rid)
                continue
            for labels, value, given, active in series:
                key = (rid, labels)
                if not active:
                    if given is not None:
                        settled[key] = (value, given)
                    continue
                seen.add(key)
                self._activate(rule, rid, key, labels, value, now, given)
        for key, alert in list(self._alerts.items()):
            if key not in seen:
                # The values it stopped at, not the last ones before it resolves: a backlog
                # that drained to 2 and refilled to 6 during keep_firing_for was drained at 2.
                if key in settled and alert.state == "firing" and alert.keep_firing_since is None:
                    alert.value, given = settled[key]
                    alert.annotations = dict(given)
                self._deactivate(key, alert, now)
        return self._due(now)

    def _active(self, rule: Rule, rid: str, data: EvaluationInput) -> Iterable[Series | None]:
        """The series ``rule`` finds in ``data``, with a None every :data:`SAMPLES_A_STEP`
        samples read (where an evaluation in steps may pause)."""
        extra = (
            *rule.spec.labels.items(),
            ("alertname", rule.name),
            ("severity", rule.spec.severity),
        )
        if rule.builtin is not None:
            for series in rule.builtin(data):
                yield (
                    _labels((*series.labels.items(), *extra)),
                    series.value,
                    series.annotations,
                    series.active,
                )
            return
        if rule.family is None:  # absent: a known site silent for longer than absent_for
            for site, last in data.site_last_event.items():
                silent = data.now - last
                if _too_silent(rule, silent, data.now, data.site_activity.get(site)):
                    yield _labels((("site", site), *extra)), silent, None, True
            return
        samples = data.samples.get(rule.family.kpi)
        if samples is None:
            return
        names = rule.family.labels
        for n, (values, value) in enumerate(samples.samples, 1):
            if n % SAMPLES_A_STEP == 0:
                yield None
            if not rule.matches(values):
                continue
            if not (rule.firing_condition(value, False) or rule.firing_condition(value, True)):
                continue  # inactive whatever its state: most series, whose labels are not made
            labels = _labels((*zip(names, values, strict=True), *extra))
            current = self._alerts.get((rid, labels))
            firing = current is not None and current.state == "firing"
            if rule.firing_condition(value, firing):
                yield labels, value, None, True

    def _activate(
        self,
        rule: Rule,
        rid: str,
        key: tuple[str, Labels],
        labels: Labels,
        value: float,
        now: float,
        given: Mapping[str, str] | None,
    ) -> None:
        alert = self._alerts.get(key)
        annotations = dict(given) if given is not None else self._render(rule, value, labels)
        if alert is None or alert.state == "resolved":
            alert = Alert(rule.name, labels, "pending", now, value, annotations, rule_id=rid)
            self._alerts[key] = alert
        alert.value = value
        alert.annotations = annotations
        alert.keep_firing_since = None
        if alert.state == "pending" and now - alert.active_at >= rule.spec.for_seconds:
            alert.state = "firing"
            alert.fired_at = now

    def _deactivate(self, key: tuple[str, Labels], alert: Alert, now: float) -> None:
        if alert.state == "pending":
            del self._alerts[key]
        elif alert.state == "firing":
            rule = self._rule(alert.rule_id)
            keep = rule.spec.keep_firing_for if rule is not None else 0.0
            if alert.keep_firing_since is None:
                alert.keep_firing_since = now
            if rule is None or now - alert.keep_firing_since >= keep:
                alert.state = "resolved"
                alert.resolved_at = now
        elif alert.resolved_at is not None and now - alert.resolved_at >= RESOLVED_RETENTION:
            del self._alerts[key]

    def _due(self, now: float) -> list[Notification]:
        config = self.config
        valid_for = 4 * max(config.evaluation_interval, config.resend_delay)
        out = []
        for alert in self._alerts.values():
            if alert.state == "pending":
                continue
            last = alert.last_sent_at
            resolved_unsent = alert.resolved_at is not None and (
                last is None or last < alert.resolved_at
            )
            if not resolved_unsent and last is not None and now - last < config.resend_delay:
                continue
            alert.last_sent_at = now
            ends = alert.resolved_at if alert.resolved_at is not None else now + valid_for
            out.append(
                Notification(
                    labels=alert.label_dict(),
                    annotations=alert.annotations,
                    starts_at=alert.fired_at if alert.fired_at is not None else alert.active_at,
                    ends_at=ends,
                    generator_url=(
                        f"{config.external_url.rstrip('/')}/api/v1/alerts?alertname="
                        f"{quote(alert.rule)}"
                    ),
                    made_at=now,
                )
            )
        return out

    def replace_rules(self, rules: Sequence[Rule]) -> None:
        """Swap in ``rules`` at once; alerts of rules that did not change keep their state."""
        old = dict(zip(self.rule_ids, (r.spec for r in self.rules), strict=True))
        ids = rule_ids(rules)
        unchanged = {i for i, r in zip(ids, rules, strict=True) if old.get(i) == r.spec}
        self.rules = list(rules)
        self.rule_ids = ids
        self._alerts = {k: a for k, a in self._alerts.items() if a.rule_id in unchanged}
        self._version += 1

    def forget_sites(self, sites: Container[str]) -> list[Alert]:
        """Drop the alerts whose ``site`` label names one of ``sites``, whatever their state,
        without resolving them (no notification is due for them); return them.

        For sites another replica owns now: it rebuilds them and pages for them itself. Alerts
        without a ``site`` label (CallpulseSourceDown) are this replica's own and stay.
        """
        gone = [key for key, alert in self._alerts.items() if site_of(alert.labels) in sites]
        self._version += 1
        return [self._alerts.pop(key) for key in gone]

    def _rule(self, rid: str) -> Rule | None:
        return next((r for r, i in zip(self.rules, self.rule_ids, strict=True) if i == rid), None)

    @staticmethod
    def _render(rule: Rule, value: float, labels: Labels) -> dict[str, str]:
        label_map = dict(labels)
        return {
            k: t.render(value, rule.spec.threshold, label_map) for k, t in rule.annotations.items()
        }

    # --- persistence: pending and firing state survive a restart ----------------------

    def export_state(self) -> list[dict[str, Any]]:
        """Alert instances as plain data (for a JSON state file)."""
        return [alert_row(a) for a in self._alerts.values()]

    def export_sites(self) -> dict[str, list[dict[str, Any]]]:
        """Each site's alerts as :meth:`export_state` rows; alerts without a site are left
        out (they are this replica's own)."""
        out: dict[str, list[dict[str, Any]]] = {}
        for alert in self._alerts.values():
            site = site_of(alert.labels)
            if site is not None:
                out.setdefault(site, []).append(alert_row(alert))
        return out

    def adopt_site(self, site: str, rows: Iterable[Mapping[str, Any]]) -> int:
        """Take ``site`` over from its previous owner: its alerts become ``rows`` (theirs,
        as :meth:`export_sites` gave them), so that a pending alert keeps its ``for`` timer
        and a firing one its ``startsAt`` and resend cadence. Return how many."""
        self.forget_sites({site})
        return self.import_state(r for r in rows if site_of(row_labels(r)) == site)

    def import_state(self, rows: Iterable[Mapping[str, Any]]) -> int:
        """Restore alert instances of rules that still exist; return how many."""
        ids = set(self.rule_ids)
        restored = 0
        for row in rows:
            rid = row.get("rule_id") or row.get("rule")
            if rid not in ids:
                continue
            labels = row_labels(row)
            self._alerts[(rid, labels)] = Alert(
                rule=row["rule"],
                labels=labels,
                state=row["state"],
                active_at=float(row["active_at"]),
                value=float(row["value"]),
                annotations=dict(row.get("annotations") or {}),
                fired_at=row.get("fired_at"),
                resolved_at=row.get("resolved_at"),
                keep_firing_since=row.get("keep_firing_since"),
                last_sent_at=row.get("last_sent_at"),
                rule_id=rid,
            )
            restored += 1
        self._version += 1
        return restored


def rule_ids(rules: Sequence[Rule]) -> list[str]:
    """Each rule's identity: its alert name, with ``#2``, ``#3``... for later rules that share
    it (Prometheus tells such rules apart by their place in the group)."""
    seen: dict[str, int] = {}
    out = []
    for rule in rules:
        count = seen[rule.name] = seen.get(rule.name, 0) + 1
        out.append(rule.name if count == 1 else f"{rule.name}#{count}")
    return out


def _too_silent(rule: Rule, silent: float, now: float, activity: SiteActivity | None) -> bool:
    """Whether a site ``silent`` seconds pages: past ``for``; and for a site without
    heartbeats, with an improbability set, past ``max`` or improbably long at its rate."""
    spec = rule.spec
    assert spec.absent_for is not None
    if silent <= spec.absent_for:
        return False
    p, longest = spec.absent_improbability, spec.absent_max
    if p is None or longest is None or activity is None or not activity.without_heartbeat:
        return True
    if silent >= longest:
        return True
    enough = improbable_after(p)
    return activity.expected(now, enough) > enough


def _labels(pairs: Iterable[tuple[str, str]]) -> Labels:
    return tuple(sorted(dict(pairs).items()))

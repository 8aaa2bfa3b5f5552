"""Alert rules and their state machine, with Prometheus' semantics, on hand-made samples."""

from __future__ import annotations

import itertools
from typing import Any

import pytest

from callpulse.core.alerting import AlertEvaluator, AlertingConfig
from callpulse.core.catalog import KPIS, Samples
from callpulse.core.evaluation_input import EvaluationInput
from callpulse.core.rules import RuleError, RuleSpec, compile_rule

WINDOWS = (60.0, 300.0, 900.0)
SL = "queue_service_level_ratio"


def rule(**overrides: Any) -> Any:
    spec = {
        "alert": "SlLow",
        "kpi": SL,
        "window": 300.0,
        "op": "<",
        "threshold": 0.8,
        "severity": "critical",
    } | overrides
    return compile_rule(RuleSpec(**spec), WINDOWS)


def data(now: float, value: float | None, queue: str = "billing") -> EvaluationInput:
    samples = Samples(KPIS[SL])
    if value is not None:
        samples.samples.append((("lon1", queue, "5m"), value))
        samples.samples.append((("lon1", queue, "1m"), 0.0))  # another window: never matches
    return EvaluationInput(now, {SL: samples})


def run(evaluator: AlertEvaluator, series: list[tuple[float, float | None]]) -> list[str]:
    """Feed (time, value) pairs; return the state after each ('-' when there is no alert)."""
    states = []
    for now, value in series:
        evaluator.evaluate(data(now, value))
        alerts = evaluator.alerts()
        states.append(alerts[0].state if alerts else "-")
    return states


def evaluator(*rules: Any, resend: float = 60.0) -> AlertEvaluator:
    return AlertEvaluator(
        list(rules),
        AlertingConfig(evaluation_interval=5, resend_delay=resend, external_url="http://cp:9464"),
    )


def test_for_boundary_is_inclusive() -> None:
    e = evaluator(rule(for_seconds=60.0))
    assert run(e, [(0, 0.5), (55, 0.5), (60, 0.5)]) == ["pending", "pending", "firing"]


def test_for_zero_fires_on_the_first_evaluation() -> None:
    assert run(evaluator(rule()), [(0, 0.5)]) == ["firing"]


def test_pending_that_recovers_is_forgotten_without_notifying() -> None:
    e = evaluator(rule(for_seconds=60.0))
    assert run(e, [(0, 0.5), (30, 0.9), (35, 0.5)]) == ["pending", "-", "pending"]
    assert e.alerts()[0].active_at == 35  # the for timer restarted


def test_flapping_without_clear_resolves_and_refires() -> None:
    e = evaluator(rule())
    assert run(e, [(0, 0.79), (5, 0.81), (10, 0.79)]) == ["firing", "resolved", "firing"]


def test_clear_threshold_holds_the_alert_through_flapping() -> None:
    e = evaluator(rule(clear=0.85))
    states = run(e, [(0, 0.79), (5, 0.81), (10, 0.84), (15, 0.79), (20, 0.85)])
    assert states == ["firing", "firing", "firing", "firing", "resolved"]


def test_clear_needs_crossing_the_threshold_to_start() -> None:
    assert run(evaluator(rule(clear=0.85)), [(0, 0.82)]) == ["-"]


def waiting_rule(**overrides: Any) -> Any:
    spec = {
        "alert": "QueueBacklog",
        "kpi": "queue_calls_waiting",
        "op": ">",
        "threshold": 20.0,
        "for_seconds": 60.0,
    } | overrides
    return compile_rule(RuleSpec(**spec), WINDOWS)


def play_waiting(
    e: AlertEvaluator, steps: list[tuple[float, float]], until: float
) -> tuple[list[str], list[float]]:
    """Calls waiting as (from, value) steps, evaluated every 5 s up to ``until``; return the
    alert's states as they changed ('-' when there is none) and when each page that went out
    started firing."""
    family = KPIS["queue_calls_waiting"]
    states = ["-"]
    pages: list[float] = []
    for now in range(0, int(until) + 1, 5):
        value = next(v for start, v in reversed(steps) if now >= start)
        samples = Samples(family)
        samples.samples.append((("lon1", "billing"), value))
        for n in e.evaluate(EvaluationInput(float(now), {family.kpi: samples})):
            if n.ends_at > now and n.starts_at not in pages:
                pages.append(n.starts_at)
        alerts = e.alerts()
        state = alerts[0].state if alerts else "-"
        if state != states[-1]:
            states.append(state)
    return states[1:], pages


def test_a_spike_shorter_than_for_never_fires() -> None:
    # 22 waiting for 40 s, then 3: pending for 40 s, then gone, never firing.
    e = evaluator(waiting_rule())
    assert play_waiting(e, [(0, 3), (100, 22), (140, 3)], until=600) == (["pending", "-"], [])


def test_a_spike_lasting_past_for_fires_once() -> None:
    e = evaluator(waiting_rule())
    states, pages = play_waiting(e, [(0, 3), (100, 22), (170, 3)], until=600)
    assert (states, pages) == (["pending", "firing", "resolved"], [160.0])


def test_spikes_each_shorter_than_for_do_not_add_up() -> None:
    # Pending resets at the first evaluation under the threshold: for starts over each time.
    e = evaluator(waiting_rule())
    steps = [(0, 22), (40, 3), (45, 22), (85, 3), (90, 22), (130, 3)]
    states, pages = play_waiting(e, steps, until=300)
    assert (states, pages) == (["pending", "-", "pending", "-", "pending", "-"], [])


def test_clear_does_not_hold_a_pending_alert() -> None:
    # Between clear (10) and threshold (20): a pending alert starts over, as in Prometheus.
    e = evaluator(waiting_rule(clear=10.0))
    assert play_waiting(e, [(0, 3), (100, 22), (140, 15)], until=600) == (["pending", "-"], [])


def test_clear_holds_a_firing_alert_until_the_value_is_past_it() -> None:
    e = evaluator(waiting_rule(clear=10.0))
    steps = [(0, 3), (100, 22), (170, 15), (400, 22), (420, 15), (500, 9)]
    states, pages = play_waiting(e, steps, until=510)
    assert (states, pages) == (["pending", "firing", "resolved"], [160.0])
    assert e.alerts()[0].resolved_at == 500.0


def test_keep_firing_for_rides_out_short_recoveries() -> None:
    e = evaluator(rule(keep_firing_for=30.0))
    states = run(e, [(0, 0.5), (5, 0.9), (20, 0.9), (25, 0.5), (30, 0.9), (59, 0.9), (60, 0.9)])
    assert states == ["firing", "firing", "firing", "firing", "firing", "firing", "resolved"]


def test_series_that_disappears_is_not_active() -> None:
    e = evaluator(rule())
    assert run(e, [(0, 0.5), (5, None)]) == ["firing", "resolved"]


def test_notifications_follow_prometheus_timing() -> None:
    e = evaluator(
        rule(annotations={"summary": "SL {{ value | percent }} on {{ labels.queue }}"}), resend=30.0
    )
    first = e.evaluate(data(0, 0.5))
    assert len(first) == 1
    [n] = first
    assert n.labels == {
        "alertname": "SlLow",
        "severity": "critical",
        "site": "lon1",
        "queue": "billing",
        "window": "5m",
    }
    assert n.annotations == {"summary": "SL 50.0% on billing"}
    assert (n.starts_at, n.ends_at) == (0, 4 * 30)
    assert n.generator_url == "http://cp:9464/api/v1/alerts?alertname=SlLow"
    assert e.evaluate(data(25, 0.5)) == []  # within resend_delay
    [again] = e.evaluate(data(30, 0.6))
    assert again.ends_at == 30 + 120
    assert again.annotations["summary"] == "SL 60.0% on billing"
    [resolved] = e.evaluate(data(35, 0.9))  # resolved: sent at once, endsAt = resolve time
    assert resolved.ends_at == 35
    assert e.evaluate(data(40, 0.9)) == []
    assert len(e.evaluate(data(65, 0.9))) == 1  # re-sent for 15 minutes
    e.evaluate(data(35 + 15 * 60, 0.9))
    assert e.alerts() == []


def test_restart_in_the_middle_of_for_keeps_the_timer() -> None:
    before = evaluator(rule(for_seconds=60.0))
    before.evaluate(data(0, 0.5))
    saved = before.export_state()
    after = evaluator(rule(for_seconds=60.0))
    assert after.import_state(saved) == 1
    assert run(after, [(40, 0.5), (60, 0.5)]) == ["pending", "firing"]


def test_restart_of_a_firing_alert_does_not_page_again_before_resend() -> None:
    before = evaluator(rule(), resend=60.0)
    before.evaluate(data(0, 0.5))
    after = evaluator(rule(), resend=60.0)
    after.import_state(before.export_state())
    assert after.evaluate(data(10, 0.5)) == []
    assert len(after.evaluate(data(60, 0.5))) == 1


def test_state_of_removed_rules_is_not_restored() -> None:
    before = evaluator(rule())
    before.evaluate(data(0, 0.5))
    assert evaluator(rule(alert="Other")).import_state(before.export_state()) == 0


def test_absent_rule_fires_for_a_silent_known_site() -> None:
    absent = compile_rule(
        RuleSpec(
            alert="SiteSilent",
            absent_scope="site",
            absent_for=120.0,
            annotations={"summary": "{{ labels.site }} silent"},
        ),
        WINDOWS,
    )
    e = evaluator(absent)
    quiet = {"lon1": 1000.0, "nyc1": 1100.0}
    e.evaluate(EvaluationInput(1120.0, {}, quiet))
    assert e.alerts() == []
    e.evaluate(EvaluationInput(1121.0, {}, quiet))
    [alert] = e.alerts()
    assert (alert.state, alert.label_dict()["site"], alert.value) == ("firing", "lon1", 121.0)
    assert alert.annotations == {"summary": "lon1 silent"}
    e.evaluate(EvaluationInput(1130.0, {}, {"lon1": 1129.0, "nyc1": 1100.0}))
    assert e.alerts()[0].state == "resolved"


def test_matchers_are_anchored_regexes() -> None:
    e = evaluator(rule(match={"queue": "bill|sales", "site": "lon.*"}))
    e.evaluate(data(0, 0.5, queue="billing"))  # "bill" does not match all of "billing"
    assert e.alerts() == []
    e.evaluate(data(5, 0.5, queue="sales"))
    assert len(e.alerts()) == 1


@pytest.mark.parametrize(
    ("overrides", "field", "message"),
    [
        ({"kpi": "queue_service_levle_ratio"}, "kpi", "unknown KPI"),
        ({"window": None}, "window", "is windowed"),
        ({"window": 120.0}, "window", "not one of the windows"),
        ({"kpi": "queue_calls_waiting"}, "window", "has no window"),
        ({"op": "=<"}, "op", "must be one of"),
        ({"clear": 0.7}, "clear", "at or above"),
        ({"match": {"agent": "x"}}, "match.agent", "has labels site, queue"),
        ({"match": {"queue": "("}}, "match.queue", "not a regular expression"),
        (
            {"annotations": {"summary": "{{ labels.trunk }}"}},
            "annotations.summary",
            "unknown template variable",
        ),
        (
            {"annotations": {"summary": "{{ value | shout }}"}},
            "annotations.summary",
            "unknown filter",
        ),
        ({"annotations": {"summary": "{{ value "}}, "annotations.summary", "unbalanced"),
        ({"labels": {"alertname": "x"}}, "labels.alertname", "may set"),
        ({"labels": {"queue": "x"}}, "labels.queue", "may not overwrite"),
    ],
)
def test_rule_errors_name_the_rule_and_field(
    overrides: dict[str, Any], field: str, message: str
) -> None:
    with pytest.raises(RuleError) as info:
        rule(**overrides)
    assert info.value.rule == "SlLow"
    assert info.value.field == field
    assert message in str(info.value)


def test_an_absent_rule_takes_no_threshold_fields() -> None:
    with pytest.raises(RuleError, match="an absent rule takes no match"):
        compile_rule(
            RuleSpec(alert="S", absent_scope="site", absent_for=60.0, match={"site": "lon.*"}),
            WINDOWS,
        )


def test_replacing_rules_keeps_the_state_of_unchanged_ones() -> None:
    e = evaluator(rule(for_seconds=60.0), rule(alert="Other", for_seconds=60.0))
    e.evaluate(data(0, 0.5))
    assert sorted(a.rule for a in e.alerts()) == ["Other", "SlLow"]
    e.replace_rules([rule(for_seconds=60.0), rule(alert="Other", for_seconds=120.0)])
    assert [(a.rule, a.active_at) for a in e.alerts()] == [("SlLow", 0)]  # Other changed
    assert run(e, [(60, 0.5)]) == ["firing"]


def test_rules_sharing_an_alertname_are_separate_alerts() -> None:
    # A warning and a critical rule named the same: the critical one's keep_firing_for of
    # 300 s holds it after the value recovers, while the warning resolves at once.
    warning = rule(threshold=0.8, severity="warning")
    critical = rule(threshold=0.6, severity="critical", keep_firing_for=300.0)
    e = evaluator(warning, critical)
    e.evaluate(data(0, 0.5))
    assert sorted((a.label_dict()["severity"], a.state) for a in e.alerts()) == [
        ("critical", "firing"),
        ("warning", "firing"),
    ]
    e.evaluate(data(5, 0.9))
    states = {a.label_dict()["severity"]: a.state for a in e.alerts()}
    assert states == {"critical": "firing", "warning": "resolved"}
    e.evaluate(data(304, 0.9))
    assert {a.label_dict()["severity"]: a.state for a in e.alerts()}["critical"] == "firing"
    e.evaluate(data(305, 0.9))
    assert {a.label_dict()["severity"]: a.state for a in e.alerts()}["critical"] == "resolved"


def test_state_of_rules_sharing_a_name_survives_a_restart_each_its_own() -> None:
    first = evaluator(rule(severity="warning"), rule(severity="critical", for_seconds=60.0))
    first.evaluate(data(0, 0.5))
    second = evaluator(rule(severity="warning"), rule(severity="critical", for_seconds=60.0))
    assert second.import_state(first.export_state()) == 2
    assert sorted(a.rule_id for a in second.alerts()) == ["SlLow", "SlLow#2"]
    second.evaluate(data(60, 0.5))
    assert {a.label_dict()["severity"]: a.state for a in second.alerts()} == {
        "warning": "firing",
        "critical": "firing",
    }


def test_a_builtin_alert_resolves_with_the_values_it_resolved_at() -> None:
    from callpulse.core.rules import Series, builtin_rule

    reports = {"value": 30.0, "active": True}

    def source(_: object) -> list[Series]:
        text = "30 waiting" if reports["active"] else "drained, 1 waiting"
        return [Series({"queue": "q"}, reports["value"], {"summary": text}, reports["active"])]

    e = evaluator(builtin_rule("Backlog", "critical", source, keep_firing_for=10.0))
    assert [n.annotations["summary"] for n in e.evaluate(EvaluationInput(0, {}))] == ["30 waiting"]
    reports.update(value=1.0, active=False)
    e.evaluate(EvaluationInput(5, {}))  # keep firing, already showing the drained values
    # Callers keep coming while it keeps firing; it drained at 1, and says so when it resolves.
    reports.update(value=6.0)
    [sent] = e.evaluate(EvaluationInput(15, {}))
    assert sent.ends_at == 15
    assert (sent.annotations["summary"], e.alerts()[0].value) == ("drained, 1 waiting", 1.0)


def test_an_evaluation_in_steps_moves_no_state_until_its_last_step() -> None:
    e = evaluator(rule(), rule(alert="SlLow2", threshold=0.9))
    steps = e.evaluate_in_steps(data(0, 0.5))
    next(steps)  # the first rule's series read
    next(steps)
    assert e.alerts() == []
    with pytest.raises(StopIteration) as done:
        next(steps)
    assert [n.labels["alertname"] for n in done.value.value] == ["SlLow", "SlLow2"]
    assert [a.state for a in e.alerts()] == ["firing", "firing"]


@pytest.mark.parametrize(
    ("change", "left"),
    [
        (lambda e: e.replace_rules([rule(for_seconds=60.0)]), ["pending"]),  # the same rule
        (lambda e: e.forget_sites({"lon1"}), []),
        (lambda e: e.import_state([]), ["pending"]),
    ],
    ids=["reload", "rebalance", "restore"],
)
def test_a_change_between_the_steps_voids_the_evaluation(change: Any, left: list[str]) -> None:
    e = evaluator(rule(for_seconds=60.0))
    run(e, [(0, 0.5)])
    steps = e.evaluate_in_steps(data(60, 0.5))  # would fire it, its for: over...
    next(steps)
    change(e)  # ...but a reload, a rebalance or a restore came between two steps
    with pytest.raises(StopIteration) as done:
        next(steps)
    assert done.value.value == []
    assert [a.state for a in e.alerts()] == left  # as the change left it
    e.evaluate(data(65, 0.5))  # the next evaluation judges the new state
    assert [a.state for a in e.alerts()] == (["firing"] if left else ["pending"])


def test_a_rule_over_many_series_pauses_within_its_read() -> None:
    samples = Samples(KPIS[SL])
    samples.samples.extend((("lon1", f"q{n}", "5m"), 0.9) for n in range(4999))
    samples.samples.append((("lon1", "low", "5m"), 0.5))
    e = evaluator(rule())
    paused = sum(
        1 for _ in itertools.islice(e.evaluate_in_steps(EvaluationInput(0, {SL: samples})), 10)
    )
    assert paused == 3  # after 2,000 and 4,000 samples, then after the rule
    assert [a.labels for a in e.alerts()] == [
        (
            ("alertname", "SlLow"),
            ("queue", "low"),
            ("severity", "critical"),
            ("site", "lon1"),
            ("window", "5m"),
        )
    ]

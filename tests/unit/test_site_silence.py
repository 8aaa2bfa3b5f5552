"""SiteSilent judged against a site's own rate: a one-queue feed with nights pages only when
its silence is improbable, a busy site gone quiet pages within minutes, a site with
heartbeats keeps the strict rule, and nothing of it pages while the source cannot see."""

from __future__ import annotations

import random
from collections.abc import Iterator
from typing import Any

import pytest

from callpulse.core.alerting import AlertEvaluator, AlertingConfig
from callpulse.core.consumer_health import Sight
from callpulse.core.evaluation_input import EvaluationInput, held_while_blind
from callpulse.core.monitor import Monitor, MonitorConfig
from callpulse.core.rules import RuleError, RuleSpec, compile_rule
from callpulse.core.silence import DAYS, SilencePolicy, SiteActivity

from .events import event

WINDOWS = (60.0, 300.0, 900.0)
HOUR, DAY = 3600.0, 86400.0
START = 1_700_006_400.0  # a midnight, UTC
STEP = 15.0


def silent_rule(**absent: Any) -> Any:
    spec = {"absent_scope": "site", "absent_for": 120.0} | absent
    return compile_rule(RuleSpec(alert="SiteSilent", severity="critical", **spec), WINDOWS)


RATE_RULE = silent_rule(absent_improbability=1e-3, absent_max=6 * HOUR)


def call(site: str, t: float, n: int) -> Iterator[tuple[float, Any]]:
    """A queued call as a queue_log gives it: queued, answered, completed, the agent's
    state on the way."""
    ids = {"call_id": f"{site}-{n}", "queue": "it"}
    agent = {"agent_id": "a1"}
    yield t, event("call.queued", t, site, **ids)
    yield t + 15, event("agent.state", t + 15, site, **agent, state="on_call", queues=["it"])
    yield t + 15, event("call.answered", t + 15, site, **ids, **agent, wait_seconds=15)
    done = {"talk_seconds": 185, "hold_seconds": 0, "acw_seconds": 0}
    yield t + 200, event("call.completed", t + 200, site, **ids, **agent, **done)
    yield t + 200, event("agent.state", t + 200, site, **agent, state="available", queues=["it"])


def one_queue(days: int, seed: int = 7) -> list[tuple[float, Any]]:
    """A one-queue feed: 150 calls an hour from 08:00 to 20:00, and at night a call every
    10 to 40 minutes."""
    rng = random.Random(seed)
    out: list[tuple[float, Any]] = []
    t, n = START, 0
    while t < START + days * DAY:
        hour = (t - START) % DAY / HOUR
        busy = 8 <= hour < 20
        t += rng.expovariate(150 / HOUR) if busy else rng.uniform(600, 2400)
        n += 1
        out += call("it", t, n)
    return sorted(out, key=lambda pair: pair[0])


def play(
    feed: list[tuple[float, Any]], until: float, policy: SilencePolicy, blind: Any = None
) -> tuple[list[float], Monitor]:
    """Apply ``feed`` on a live clock, evaluating SiteSilent every 15 s; the times it fired."""
    monitor = Monitor(MonitorConfig(windows=WINDOWS, silence=policy), now=START)
    evaluator = AlertEvaluator([RATE_RULE], AlertingConfig(evaluation_interval=STEP))
    fired: list[float] = []
    i, now = 0, START
    while now < until:
        now += STEP
        monitor.tick(now)
        while i < len(feed) and feed[i][0] <= now:
            monitor.apply(feed[i][1])
            i += 1
        data = EvaluationInput(
            now,
            {},
            monitor.site_last_event,
            monitor.site_activity,
            blind=blind(now) if blind else False,
        )
        for n in evaluator.evaluate(data):
            if n.ends_at > now and n.starts_at == now:
                fired.append(now)
    return fired, monitor


RATE_JUDGED = SilencePolicy(by_default=True)


def test_a_one_queue_feed_with_quiet_nights_pages_at_most_once_a_night() -> None:
    feed = one_queue(4)
    fired, _ = play(feed, START + 4 * DAY, RATE_JUDGED)
    nights = [int((t - START - 20 * HOUR) // DAY) for t in fired]
    # Before the first night the site has no history: its evening rate is all it knows.
    assert all(nights.count(night) <= 1 for night in set(nights)), fired
    # With a day of history, the usual rate of the night hours holds each night's gaps.
    assert [t for t in fired if t > START + DAY + 20 * HOUR] == []
    # The strict rule, as before: every gap past 2 minutes is a page.
    strict, _ = play(feed, START + 4 * DAY, SilencePolicy())
    assert len(strict) > 100


def test_a_busy_site_gone_silent_pages_within_five_minutes() -> None:
    outage = START + 3 * DAY + 11 * HOUR
    feed = [(t, e) for t, e in one_queue(4) if t < outage]
    fired, _ = play(feed, outage + 30 * 60, RATE_JUDGED)
    last = max(t for t, _ in feed)
    [page] = [t for t in fired if t > last]
    assert page - last <= 5 * 60


def test_a_quiet_site_pages_after_max_whatever_its_rate() -> None:
    feed = list(call("it", START + 60, 1))
    fired, _ = play(feed, START + 7 * HOUR, RATE_JUDGED)
    assert len(fired) == 1
    assert 6 * HOUR <= fired[0] - feed[-1][0] <= 6 * HOUR + STEP


def test_a_site_with_heartbeats_keeps_the_strict_rule() -> None:
    night = START + 2 * HOUR
    heartbeat = event("component.health", night, "it", component="pbx-1", kind="pbx", status="up")
    feed = sorted([*call("it", night, 1), (night, heartbeat)], key=lambda p: p[0])
    last = feed[-1][0]
    fired, monitor = play(feed, last + 10 * 60, RATE_JUDGED)
    assert not monitor.site_activity["it"].without_heartbeat
    [page] = [t for t in fired if t > last]
    assert 120 < page - last <= 120 + STEP
    # The same calls without the heartbeat: 10 quiet minutes at night are no page.
    fired, _ = play(list(call("it", night, 1)), last + 10 * 60, RATE_JUDGED)
    assert fired == []


def test_per_site_state_is_bounded_and_released_with_the_site() -> None:
    activity = SiteActivity(START, START, True)
    for k in range(40 * 24):
        activity.note(START + k * HOUR, "call.queued")
    assert len(activity.counts) == len(activity.hours) == (DAYS + 1) * 24
    monitor = Monitor(MonitorConfig(windows=WINDOWS), now=START)
    monitor.apply(event("call.queued", START, "it", call_id="c", queue="it"))
    assert "it" in monitor.site_activity
    monitor.forget_sites(["it"])
    assert monitor.site_activity == {}


def test_a_silence_is_held_while_the_source_cannot_see() -> None:
    outage = START + 3 * DAY + 11 * HOUR
    feed = [(t, e) for t, e in one_queue(4) if t < outage]
    # Blind from the outage for an hour: the site's silence means nothing meanwhile.
    fired, _ = play(
        feed, outage + 3 * HOUR, RATE_JUDGED, blind=lambda now: outage <= now < outage + HOUR
    )
    [page] = [t for t in fired if t > outage]
    assert outage + HOUR <= page <= outage + HOUR + STEP


def test_a_firing_silence_stays_as_it_was_while_blind() -> None:
    e = AlertEvaluator([silent_rule()], AlertingConfig())
    e.evaluate(EvaluationInput(1000.0, {}, {"lon1": 800.0}))
    assert e.alerts()[0].state == "firing"
    e.evaluate(EvaluationInput(1010.0, {}, {"lon1": 1009.0}, blind=True))
    assert e.alerts()[0].state == "firing"
    e.evaluate(EvaluationInput(1020.0, {}, {"lon1": 1019.0}))
    assert e.alerts()[0].state == "resolved"


def test_sight_holds_until_caught_up_and_settled() -> None:
    sight = Sight("kafka", caught_up=100, settle=30.0)
    behind = {("t", 0): 5000, ("t", 1): 3}
    assert sight.observe(900.0, None, behind, 899.0) is None  # behind, but never blind
    down = sight.observe(1000.0, ("Kafka at b:9092 unreachable for 70 s", 930.0), {}, 930.0)
    assert down is not None
    assert (down.since, "b:9092" in down.reason) == (930.0, True)
    # The trouble is over: no fetch has completed since, then one has but leaves t[0] behind.
    assert sight.observe(1005.0, None, {}, 930.0) is not None
    catching = sight.observe(1006.0, None, behind, 1006.0)
    assert catching is not None
    assert (catching.since, "t[0] 5000" in catching.reason) == (930.0, True)
    # Caught up: blind for settle seconds more, then it sees.
    assert sight.observe(1007.0, None, {("t", 0): 40}, 1007.0) is not None
    assert sight.observe(1036.0, None, {("t", 0): 0}, 1036.0) is not None
    assert sight.observe(1037.0, None, {("t", 0): 0}, 1037.0) is None


@pytest.mark.parametrize(
    ("absent", "key", "message"),
    [
        ({"absent_improbability": 0.0, "absent_max": 3600.0}, "absent.improbability", "between 0"),
        ({"absent_improbability": 1.5, "absent_max": 3600.0}, "absent.improbability", "between 0"),
        ({"absent_improbability": 1e-3}, "absent.max", "needs a longest silence"),
        ({"absent_max": 3600.0}, "absent.max", "give improbability"),
        ({"absent_improbability": 1e-3, "absent_max": 60.0}, "absent.max", "longer than"),
    ],
)
def test_the_rate_rule_is_validated_naming_the_key(
    absent: dict[str, float], key: str, message: str
) -> None:
    with pytest.raises(RuleError, match=message) as caught:
        silent_rule(**absent)
    assert caught.value.field == key


def test_a_blind_source_pages_once_about_itself_and_holds_the_sites() -> None:
    from callpulse.alerting import Alerting
    from callpulse.config import AlertingSettings
    from callpulse.core.consumer_health import Blindness

    monitor = Monitor(MonitorConfig(windows=WINDOWS), now=START)
    down: list[Blindness | None] = [None]
    settings = AlertingSettings(log=False, evaluation_interval=STEP)
    alerting = Alerting(settings, [silent_rule()], monitor, blind=lambda: down[0])
    sent: list[tuple[str, bool]] = []
    for k in range(1, 80):
        now = START + k * STEP
        monitor.tick(now)
        # Events stop at step 5, when the broker freezes; callpulse sees it stall_timeout
        # later, and after the thaw it catches up on them by step 40.
        if k == 9:
            down[0] = Blindness("kafka", "Kafka at b:9092 unreachable for 60 s", START + 5 * STEP)
        if k == 40:
            down[0] = None
        if k < 5 or k >= 40:
            for site in ("lon1", "nyc1", "sgp1"):
                monitor.apply(event("call.queued", now, site, call_id=f"{site}-{k}", queue="it"))
        sent += [(n.labels["alertname"], n.ends_at > now) for n in alerting.evaluate()]
    assert {name for name, _ in sent} == {"CallpulseSourceDown"}
    assert sent[0] == ("CallpulseSourceDown", True)
    assert sent[-1] == ("CallpulseSourceDown", False)  # resolved after the thaw
    [alert] = alerting.alerts()
    assert alert.rule == "CallpulseSourceDown"
    assert "b:9092" in alert.annotations["summary"]


def test_rules_on_waits_and_heartbeat_ages_are_held_while_blind() -> None:
    def threshold(kpi: str, **more: Any) -> Any:
        spec = RuleSpec(alert="R", kpi=kpi, op=">", threshold=1.0, **more)
        return compile_rule(spec, WINDOWS)

    assert held_while_blind(silent_rule())
    assert held_while_blind(threshold("queue_oldest_wait_seconds"))
    assert held_while_blind(threshold("component_status", match={"status": "down"}))
    assert not held_while_blind(threshold("queue_calls_waiting"))
    assert not held_while_blind(threshold("queue_abandon_ratio", window=900.0))


def test_which_feeds_have_heartbeats_is_configured_per_format() -> None:
    from callpulse.config import Settings
    from callpulse.config.convert import silence_policy

    def policy(source: dict[str, Any]) -> SilencePolicy:
        return silence_policy(Settings.model_validate({"source": source}).source)

    queue_log = {"format": "asterisk-queue-log", "site": "it"}
    assert policy({"kind": "replay", "replay": {"format": queue_log}}) == SilencePolicy(
        frozenset({"it"})
    )
    kafka = {
        "kind": "kafka",
        "kafka": {
            "topics": ["pbx", "v1"],
            "formats": {
                "pbx": queue_log | {"heartbeats": True},
                "v1": {"format": "events-v1", "heartbeats": False},
            },
        },
    }
    assert policy(kafka) == SilencePolicy(frozenset(), by_default=True)
    assert policy({"kind": "kafka"}) == SilencePolicy()

"""Sites that move to another replica: their alerts go without a resolution, and only the
owner of a site sends anything for it."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

from callpulse.alerting import Alerting
from callpulse.config import compile_config, load_settings
from callpulse.core.alert_changelog import AlertChangelog
from callpulse.core.alert_state import Notification, owned_only
from callpulse.core.alerting import AlertEvaluator, AlertingConfig
from callpulse.core.catalog import KPIS, Samples
from callpulse.core.evaluation_input import EvaluationInput
from callpulse.core.monitor import Monitor, MonitorConfig
from callpulse.core.rules import Rule, RuleSpec, Series, builtin_rule, compile_rule

from .events import event

WAITING = "queue_calls_waiting"
NOW = 1_800_000_000.0


def waiting(now: float, *sites: str) -> EvaluationInput:
    """One caller waiting in billing at each of ``sites``."""
    samples = Samples(KPIS[WAITING])
    samples.samples.extend(((site, "billing"), 1.0) for site in sites)
    return EvaluationInput(now, {WAITING: samples})


def paging_evaluator(*more: Rule) -> AlertEvaluator:
    rule = compile_rule(
        RuleSpec(
            alert="CallerWaiting",
            kpi=WAITING,
            op=">",
            threshold=0.0,
            for_seconds=5.0,
            keep_firing_for=20.0,
        ),
        (60.0,),
    )
    return AlertEvaluator([rule, *more], AlertingConfig(evaluation_interval=5.0, resend_delay=5.0))


def sites(notifications: list[Notification]) -> list[str]:
    return sorted(n.labels["site"] for n in notifications)


def test_forgotten_sites_leave_without_a_resolution_and_the_rest_keep_paging() -> None:
    e = paging_evaluator()
    e.evaluate(waiting(0, "lon1", "nyc1", "sgp1", "syd1"))
    assert sites(e.evaluate(waiting(5, "lon1", "nyc1", "sgp1", "syd1"))) == [
        "lon1",
        "nyc1",
        "sgp1",
        "syd1",
    ]

    dropped = e.forget_sites({"nyc1", "sgp1", "syd1"})

    assert sorted((a.label_dict()["site"], a.state) for a in dropped) == [
        ("nyc1", "firing"),
        ("sgp1", "firing"),
        ("syd1", "firing"),
    ]
    # Their samples are gone from this replica (another rebuilt them): past keep_firing_for
    # and the resolved re-sends, nothing at all is due for them, only lon1's re-sends.
    for now in range(10, 60, 5):
        sent = e.evaluate(waiting(now, "lon1"))
        assert sites(sent) == ["lon1"]
        assert all(n.ends_at > now for n in sent)  # firing: no resolution of anything
    assert [dict(a.labels)["site"] for a in e.alerts()] == ["lon1"]


def test_forgetting_sites_keeps_the_others_timers_and_the_alerts_without_a_site() -> None:
    blind = builtin_rule(
        "CallpulseSourceDown", "critical", lambda _: [Series({"source": "kafka"}, 3.0, {})]
    )
    e = paging_evaluator(blind)
    e.evaluate(waiting(0, "lon1", "nyc1"))

    e.forget_sites({"nyc1"})

    kept = {(a.rule, a.label_dict().get("site"), a.state, a.active_at) for a in e.alerts()}
    assert kept == {
        ("CallerWaiting", "lon1", "pending", 0),
        ("CallpulseSourceDown", None, "firing", 0),
    }


def test_only_notifications_of_owned_sites_or_of_no_site_may_be_sent() -> None:
    def note(**labels: str) -> Notification:
        return Notification(labels, {}, 0.0, 10.0, "")

    lon, nyc, nowhere = note(site="lon1"), note(site="nyc1"), note(source="kafka")
    mine, foreign = owned_only([lon, nyc, nowhere], {"lon1"})
    assert mine == [lon, nowhere]
    assert foreign == [nyc]


def alerting(
    tmp_path: Path, monitor: Monitor, hold: Callable[[], bool] = lambda: False
) -> Alerting:
    rules = tmp_path / "rules.yaml"
    rules.write_text(
        "rules:\n  - {alert: CallerWaiting, kpi: queue_calls_waiting, op: '>', threshold: 0}\n"
    )
    config = tmp_path / "callpulse.yaml"
    config.write_text(
        "rule_files: [rules.yaml]\nalerting:\n  log: false\n"
        f"  state_file: {tmp_path / 'alerts.json'}\n"
    )
    settings = load_settings(config)
    return Alerting(settings.alerting, list(compile_config(settings).rules), monitor, hold=hold)


def queued(monitor: Monitor, *sites: str) -> None:
    for site in sites:
        monitor.apply(event("call.queued", NOW, site=site, call_id=f"c-{site}", queue="billing"))


def test_released_sites_leave_the_exported_alerts_and_the_state_file(tmp_path: Path) -> None:
    monitor = Monitor(MonitorConfig(), now=NOW)
    shell = alerting(tmp_path, monitor)
    queued(monitor, "lon1", "nyc1")
    assert sites(shell.evaluate()) == ["lon1", "nyc1"]

    assert shell.release_sites({"nyc1", "sgp1"}, "partitions revoked") == 1

    assert [a.label_dict()["site"] for a in shell.alerts()] == ["lon1"]
    saved = json.loads((tmp_path / "alerts.json").read_text())
    assert [dict(row["labels"])["site"] for row in saved] == ["lon1"]


def test_a_restart_on_another_share_of_the_sites_neither_resolves_nor_sends_the_others(
    tmp_path: Path,
) -> None:
    monitor = Monitor(MonitorConfig(), now=NOW)
    first = alerting(tmp_path, monitor)
    queued(monitor, "lon1", "nyc1")
    first.evaluate()

    # Restarted, and given lon1's partition only. Until the source is assigned and rebuilt
    # (the hold), the restored alerts stay as they were, though no data holds them up.
    monitor = Monitor(MonitorConfig(), now=NOW + 1)
    owned: set[str] | None = None
    second = alerting(tmp_path, monitor, hold=lambda: owned is None)
    second.owned_sites = lambda: owned
    for step in range(1, 30):
        monitor.tick(NOW + step)
        assert second.evaluate() == []
    assert sorted((a.label_dict()["site"], a.state) for a in second.alerts()) == [
        ("lon1", "firing"),
        ("nyc1", "firing"),
    ]

    queued(monitor, "lon1")
    owned = {"lon1"}
    sent = []
    for step in range(30, 65):
        monitor.tick(NOW + step)
        sent += second.evaluate()
    assert sites(sent) == ["lon1"]  # re-sent once resend_delay (60 s) after the first send
    assert all(n.ends_at > NOW + 64 for n in sent)
    assert [(a.label_dict()["site"], a.fired_at) for a in second.alerts()] == [("lon1", NOW)]


# --- the changelog: a site's alert state travels with its partition ----------------------


def test_a_new_owner_carries_a_page_on_with_its_start_and_a_pending_timer_with_its_for() -> None:
    old, new = paging_evaluator(), paging_evaluator()
    old.evaluate(waiting(0, "lon1"))
    old.evaluate(waiting(5, "lon1", "nyc1"))  # lon1 fires at 5, nyc1 pending since 5
    states = old.export_sites()

    for site, rows in states.items():
        new.adopt_site(site, rows)

    # It carries on: nyc1 fires 5 s after it became active, not 5 s after the move; lon1 is
    # the same page (startsAt 5), re-sent on its cadence, not notified anew.
    sent = new.evaluate(waiting(8, "lon1", "nyc1"))
    assert sent == []
    sent = new.evaluate(waiting(10, "lon1", "nyc1"))
    assert sorted((n.labels["site"], n.starts_at) for n in sent) == [("lon1", 5), ("nyc1", 10)]


def test_adopting_a_site_replaces_what_this_replica_had_of_it() -> None:
    old, new = paging_evaluator(), paging_evaluator()
    old.evaluate(waiting(0, "lon1"))
    new.evaluate(waiting(3, "lon1"))
    new.adopt_site("lon1", old.export_sites()["lon1"])
    assert [a.active_at for a in new.alerts()] == [0]


def test_the_changelog_writes_a_site_when_its_alerts_change_and_a_tombstone_at_the_end() -> None:
    e, log = paging_evaluator(), AlertChangelog()
    owned = {"lon1", "nyc1"}
    e.evaluate(waiting(0, "lon1"))
    assert list(log.due(e.export_sites(), owned)) == ["lon1"]  # pending
    e.evaluate(waiting(1, "lon1"))
    assert log.due(e.export_sites(), owned) == {}  # its value and nothing else
    e.evaluate(waiting(5, "lon1"))
    assert list(log.due(e.export_sites(), owned)) == ["lon1"]  # firing
    e.evaluate(waiting(10, "lon1"))  # re-sent: no change
    assert log.due(e.export_sites(), owned) == {}
    e.evaluate(waiting(15))  # keep_firing_for starts
    assert list(log.due(e.export_sites(), owned)) == ["lon1"]
    e.forget_sites({"lon1"})
    assert log.due(e.export_sites(), owned) == {"lon1": None}
    assert log.due(e.export_sites(), owned) == {}


def test_the_changelog_never_writes_a_site_another_replica_owns() -> None:
    e, log = paging_evaluator(), AlertChangelog()
    e.evaluate(waiting(0, "lon1", "nyc1"))
    assert sorted(log.due(e.export_sites(), {"lon1", "nyc1"})) == ["lon1", "nyc1"]
    # nyc1 moved: no tombstone from here, whatever this replica still holds of it.
    e.forget_sites({"nyc1"})
    assert log.due(e.export_sites(), {"lon1"}) == {}
    e.evaluate(waiting(1, "lon1", "nyc1"))  # a batch in flight revived it here
    assert log.due(e.export_sites(), {"lon1"}) == {}


def test_an_adopted_site_is_not_written_back_until_it_changes() -> None:
    old, new, log = paging_evaluator(), paging_evaluator(), AlertChangelog()
    old.evaluate(waiting(0, "lon1"))
    rows = old.export_sites()["lon1"]
    new.adopt_site("lon1", rows)
    log.adopted("lon1", rows)
    new.evaluate(waiting(1, "lon1"))
    assert log.due(new.export_sites(), {"lon1"}) == {}
    new.evaluate(waiting(5, "lon1"))
    assert list(log.due(new.export_sites(), {"lon1"})) == ["lon1"]

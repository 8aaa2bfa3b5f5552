"""What ``/api/v1/alerts`` (and so the status page) says of a pending alert: when it fires."""

from __future__ import annotations

from callpulse.alerting import Alerting
from callpulse.config import AlertingSettings
from callpulse.core.monitor import Monitor, MonitorConfig
from callpulse.core.rules import RuleSpec, compile_rule

from .events import event

NOW = 1_800_000_000.0


def test_a_pending_alert_says_when_its_for_runs_out_and_a_firing_one_does_not() -> None:
    monitor = Monitor(MonitorConfig(), now=NOW)
    spec = RuleSpec(alert="Waiting", kpi="queue_calls_waiting", op=">", threshold=0,
                    for_seconds=600)  # fmt: skip
    rule = compile_rule(spec, monitor.config.windows)
    alerting = Alerting(AlertingSettings(log=False, evaluation_interval=5.0), [rule], monitor)
    monitor.apply(event("call.queued", NOW, call_id="c1", queue="billing"))
    alerting.evaluate()
    monitor.tick(NOW + 100)
    alerting.evaluate()
    [row] = [r for r in alerting.describe() if r["labels"]["alertname"] == "Waiting"]
    assert row["state"] == "pending"
    assert row["firesInSeconds"] == 500
    assert row["firesAt"] == "2027-01-15T08:10:00.000Z"
    monitor.tick(NOW + 600)
    alerting.evaluate()
    [row] = [r for r in alerting.describe() if r["labels"]["alertname"] == "Waiting"]
    assert (row["state"], row["firesAt"], row["firesInSeconds"]) == ("firing", None, None)

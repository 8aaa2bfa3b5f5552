"""Alerts from real Kafka traffic delivered to a real Alertmanager, the way Prometheus does."""

from __future__ import annotations

import json
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from tests.unit.events import raw

from .alertmanager import Alertmanager
from .helpers import SECRETS, Daemon, kafka_config, kcat_produce, wait_until

pytestmark = pytest.mark.integration

RULES = """
rules:
  - alert: QueueServiceLevelLow
    kpi: queue_service_level_ratio
    window: 1m
    match: {site: "lon.*", queue: "billing|sales"}
    op: "<"
    threshold: 0.8
    clear: 0.85
    for: 2s
    severity: critical
    labels: {team: voice}
    annotations:
      summary: "Service level {{ value | percent }} on {{ labels.queue }} at {{ labels.site }}"
      runbook_url: "https://runbooks.example/sl"
"""


def answers(count: int, wait: float, prefix: str) -> list[tuple[str, bytes]]:
    now = time.time()
    return [
        (
            "lon1",
            raw(
                "call.answered",
                now,
                call_id=f"{prefix}{i}",
                queue="billing",
                agent_id="a1",
                wait_seconds=wait,
            ),
        )
        for i in range(count)
    ]


def alerting_daemon(
    tmp_path: Path, kafka: str, topics: tuple[str, str], alertmanager_url: str
) -> Daemon:
    (tmp_path / "rules.yaml").write_text(RULES)
    topic, dlq = topics
    config: dict[str, Any] = kafka_config(kafka, topic, dlq, f"g-{uuid.uuid4().hex}")
    config["alerting"] = {
        "alertmanagers": [{"url": alertmanager_url, "timeout": "2s"}],
        "evaluation_interval": "1s",
        "resend_delay": "2s",
        "external_url": "http://callpulse.test:9464",
    }
    config["rule_files"] = [str(tmp_path / "rules.yaml")]
    return Daemon(tmp_path, config)


def sl_alerts(am: Alertmanager) -> list[dict[str, Any]]:
    return [a for a in am.alerts() if a["labels"].get("alertname") == "QueueServiceLevelLow"]


def is_resolved(alert: dict[str, Any]) -> bool:
    ends = datetime.fromisoformat(alert["endsAt"].replace("Z", "+00:00"))
    return ends <= datetime.now(UTC)


def test_service_level_alert_fires_in_alertmanager_and_resolves(
    kafka_bootstrap: str, topics: tuple[str, str], tmp_path: Path, alertmanager: Alertmanager
) -> None:
    daemon = alerting_daemon(tmp_path, kafka_bootstrap, topics, alertmanager.url)
    daemon.start()
    try:
        daemon.wait_ready()
        kcat_produce(kafka_bootstrap, topics[0], answers(5, 60.0, "slow-"), tmp_path)
        [alert] = wait_until(lambda: sl_alerts(alertmanager), 30, "the alert in Alertmanager")
        assert alert["labels"] == {
            "alertname": "QueueServiceLevelLow",
            "severity": "critical",
            "team": "voice",
            "site": "lon1",
            "queue": "billing",
            "window": "1m",
        }
        assert alert["annotations"] == {
            "summary": "Service level 0.0% on billing at lon1",
            "runbook_url": "https://runbooks.example/sl",
        }
        assert alert["generatorURL"] == (
            "http://callpulse.test:9464/api/v1/alerts?alertname=QueueServiceLevelLow"
        )
        assert alert["status"]["state"] == "active"
        assert not is_resolved(alert)
        firing = daemon.value(
            "callpulse_alerts",
            alertname="QueueServiceLevelLow",
            alertstate="firing",
            severity="critical",
            team="voice",
            site="lon1",
            queue="billing",
            window="1m",
        )
        assert firing == 1
        status, body = daemon.get("/api/v1/alerts")
        assert status == 200
        assert '"state": "firing"' in body

        # Recovery: 45 quick answers take the 1m service level to 45/50, past clear (0.85).
        kcat_produce(kafka_bootstrap, topics[0], answers(45, 1.0, "fast-"), tmp_path)
        wait_until(
            lambda: all(is_resolved(a) for a in sl_alerts(alertmanager)),
            30,
            "Alertmanager to hold the alert as resolved",
        )
        assert daemon.total("callpulse_alerts") == 0
    finally:
        assert daemon.stop() == 0


def test_alertmanager_down_for_a_minute_blocks_nothing_and_gets_the_alert_after(
    kafka_bootstrap: str, topics: tuple[str, str], tmp_path: Path, alertmanager: Alertmanager
) -> None:
    daemon = alerting_daemon(tmp_path, kafka_bootstrap, topics, alertmanager.url)
    daemon.start()
    try:
        daemon.wait_ready()
        alertmanager.stop()
        kcat_produce(kafka_bootstrap, topics[0], answers(5, 60.0, "slow-"), tmp_path)
        wait_until(lambda: daemon.total("callpulse_alerts") == 1, 30, "the alert to fire")
        sink = f"alertmanager:{alertmanager.url}"
        down_until = time.monotonic() + 60
        produced = 5
        while time.monotonic() < down_until:
            # Events keep flowing and KPIs keep moving while nobody takes the alerts.
            kcat_produce(
                kafka_bootstrap, topics[0], answers(1, 60.0, f"more-{produced}-"), tmp_path
            )
            produced += 1
            wait_until(
                lambda n=produced: daemon.total("callpulse_events_total") == n,  # type: ignore[misc]
                10,
                "the new event to be applied",
            )
            time.sleep(4)
        samples = daemon.samples()
        answered = samples[
            (
                "callpulse_queue_calls_answered_total",
                frozenset({"site": "lon1", "queue": "billing"}.items()),
            )
        ]
        assert answered == produced
        failed = samples.get(
            (
                "callpulse_alert_notifications_total",
                frozenset({"sink": sink, "result": "failed"}.items()),
            ),
            0,
        )
        assert failed > 0

        alertmanager.start()  # back on the same port
        [alert] = wait_until(lambda: sl_alerts(alertmanager), 30, "the alert after the outage")
        assert alert["labels"]["queue"] == "billing"
        samples = daemon.samples()
        sent = samples[
            (
                "callpulse_alert_notifications_total",
                frozenset({"sink": sink, "result": "sent"}.items()),
            )
        ]
        dropped = samples[
            (
                "callpulse_alert_notifications_total",
                frozenset({"sink": sink, "result": "dropped"}.items()),
            )
        ]
        assert sent >= 1
        print(f"during the outage: {failed:.0f} failed attempts, {dropped:.0f} dropped")
    finally:
        assert daemon.stop() == 0


def test_alertmanager_behind_basic_auth_receives_alerts_and_no_secret_shows(
    kafka_bootstrap: str, topics: tuple[str, str], tmp_path: Path
) -> None:
    secret = "pw-" + uuid.uuid4().hex
    SECRETS.add(secret)
    am = Alertmanager(tmp_path, basic_auth=("callpulse", secret)).start()
    password = tmp_path / "am-password"
    password.write_text(secret + "\n")
    daemon = alerting_daemon(tmp_path, kafka_bootstrap, topics, am.url)
    daemon.config["alerting"]["alertmanagers"] = [
        {
            "url": am.url,
            "timeout": "2s",
            "name": "am-secure",
            "basic_auth": {"username": "callpulse", "password_file": str(password)},
        }
    ]
    daemon.start()
    try:
        daemon.wait_ready()
        kcat_produce(kafka_bootstrap, topics[0], answers(10, 60.0, "slow"), tmp_path)
        [alert] = wait_until(lambda: sl_alerts(am), 30, "the alert in Alertmanager")
        assert alert["labels"]["queue"] == "billing"
        metrics = daemon.metrics_text()
        assert 'sink="alertmanager:am-secure"' in metrics

        # The status page reads its silences with the same credentials.
        def status() -> dict[str, Any] | None:
            document: dict[str, Any] = json.loads(daemon.get("/api/v1/status")[1])
            return document if document["silences"]["fetchedAt"] else None

        read = wait_until(status, 30, "the silences read")
        assert (read["silences"]["alertmanager"], read["silences"]["error"]) == (
            "alertmanager:am-secure",
            None,
        )
        assert read["links"]["alertmanager"] == am.url
        for text in (metrics, daemon.log_text(), daemon.get("/api/v1/status")[1]):
            assert secret not in text
    finally:
        assert daemon.stop() == 0
        am.stop()


def test_an_alertmanager_behind_basic_auth_refuses_a_request_without_it(tmp_path: Path) -> None:
    import urllib.error

    am = Alertmanager(tmp_path, basic_auth=("callpulse", "right")).start()
    try:
        with pytest.raises(urllib.error.HTTPError) as info:
            urllib.request.urlopen(f"{am.url}/api/v2/alerts", timeout=5)
        assert info.value.code == 401
    finally:
        am.stop()

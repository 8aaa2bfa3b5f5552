"""Maintenance end to end: real Kafka in, a real Alertmanager out."""

from __future__ import annotations

import json
import time
import uuid
from pathlib import Path
from typing import Any

import pytest

from tests.unit.events import raw

from .alertmanager import Alertmanager
from .helpers import COMPONENT_DOWN_RULES, Daemon, kafka_config, kcat_produce, wait_until
from .test_alerting import is_resolved

pytestmark = pytest.mark.integration

WINDOW = "chg-e2e"
AGENTS, AHT, QUEUED = 30, 300.0, 20


def alerts_named(am: Alertmanager, name: str) -> list[dict[str, Any]]:
    return [a for a in am.alerts() if a["labels"]["alertname"] == name]


def test_maintenance_suppresses_the_expected_and_pages_the_backlog_then_the_overrun(
    kafka_bootstrap: str, topics: tuple[str, str], tmp_path: Path, alertmanager: Alertmanager
) -> None:
    topic, dlq = topics
    (tmp_path / "rules.yaml").write_text(COMPONENT_DOWN_RULES)
    config: dict[str, Any] = kafka_config(kafka_bootstrap, topic, dlq, f"g-{uuid.uuid4().hex}")
    config["alerting"] = {
        "alertmanagers": [{"url": alertmanager.url}],
        "evaluation_interval": "1s",
        "resend_delay": "2s",
    }
    config["rule_files"] = [str(tmp_path / "rules.yaml")]
    config["maintenance"] = {
        "backlog": {
            "max_calls_waiting": 10,
            "max_backlog_ratio": 3.0,
            "max_drain_eta": "15m",
            "overrun_after": "2s",
            "for": "0s",
            "keep_firing_for": "0s",
            # Callers who never give up: the drain is the linear one worked out below.
            "patience": "1000h",
        }
    }
    daemon = Daemon(tmp_path, config)
    daemon.start()
    try:
        daemon.wait_ready()
        now = time.time()
        lon = {"site": "lon1"}
        q = {"queue": "billing"}
        events = [
            raw(
                "maintenance.started",
                now - 880,  # callpulse has seen this site's traffic for ~15 minutes
                maintenance_id=WINDOW,
                components=["pbx-2"],
                queues=["billing"],
                ticket="CHG-1",
                **lon,
            ),
            raw("component.health", now - 110, component="pbx-2", kind="pbx", status="down", **lon),
            raw(
                "component.health",
                now - 110,
                site="nyc1",
                component="pbx-9",
                kind="pbx",
                status="down",
            ),
        ]
        # 30 agents busy with 5-minute calls; 20 callers arrive in the last 100 s and wait.
        events += [
            raw(
                "agent.state",
                now - 105,
                agent_id=f"a{i}",
                state="on_call",
                queues=["billing"],
                **lon,
            )
            for i in range(AGENTS)
        ]
        events += [
            raw(
                "call.completed",
                now - 104,
                call_id=f"done{i}",
                agent_id=f"a{i}",
                talk_seconds=240.0,
                hold_seconds=0.0,
                acw_seconds=60.0,
                **lon,
                **q,
            )
            for i in range(10)
        ]
        events += [
            raw("call.queued", now - 100 + 4 * i, call_id=f"w{i}", **lon, **q)
            for i in range(QUEUED)
        ]
        kcat_produce(
            kafka_bootstrap,
            topic,
            [(json.loads(e)["site"], e) for e in events],
            tmp_path,
        )

        # The same failure outside any window pages; inside the window it is held back.
        [nyc] = wait_until(
            lambda: alerts_named(alertmanager, "ComponentDown"),
            30,
            "ComponentDown for nyc1 in Alertmanager",
        )
        assert nyc["labels"]["site"] == "nyc1"
        [backlog] = wait_until(
            lambda: alerts_named(alertmanager, "MaintenanceBacklog"),
            30,
            "MaintenanceBacklog in Alertmanager",
        )
        assert [a["labels"]["site"] for a in alerts_named(alertmanager, "ComponentDown")] == [
            "nyc1"
        ]
        assert (
            daemon.value(
                "callpulse_alerts_suppressed_total", alertname="ComponentDown", maintenance=WINDOW
            )
            == 1
        )
        assert daemon.value("callpulse_maintenance_active", site="lon1", maintenance=WINDOW) == 1

        labels, notes = backlog["labels"], backlog["annotations"]
        assert (labels["site"], labels["queue"], labels["maintenance"]) == (
            "lon1",
            "billing",
            WINDOW,
        )
        # By hand: capacity 30 agents / 300 s = 0.1 calls/s; arrivals 20 over the ~880 s of
        # traffic callpulse has seen (the 15m window, young), so 0.0227 calls/s; 20 waiting
        # calls drain to the drained level of 2 in 18 / (0.1 - 0.0227) = 233 s.
        by_hand = (QUEUED - 2) / (AGENTS / AHT - QUEUED / 880)
        eta = float(notes["drain_eta"].rstrip("s"))
        assert abs(eta - by_hand) / by_hand < 0.10, (eta, by_hand)
        assert notes["backlog"] == "20"
        assert notes["summary"].startswith("billing at lon1: 20 waiting")
        assert "drains in 4 min" in notes["summary"]

        # Agents answer everyone: the backlog drains and the alert resolves.
        answers = [
            raw(
                "call.answered",
                time.time(),
                call_id=f"w{i}",
                agent_id="a0",
                wait_seconds=90.0,
                **lon,
                **q,
            )
            for i in range(QUEUED)
        ]
        kcat_produce(kafka_bootstrap, topic, [("lon1", e) for e in answers], tmp_path)
        wait_until(
            lambda: all(is_resolved(a) for a in alerts_named(alertmanager, "MaintenanceBacklog")),
            30,
            "MaintenanceBacklog to resolve",
        )

        # The window ends with pbx-2 still down: MaintenanceOverrun.
        kcat_produce(
            kafka_bootstrap,
            topic,
            [("lon1", raw("maintenance.ended", time.time(), maintenance_id=WINDOW, **lon))],
            tmp_path,
        )
        [overrun] = wait_until(
            lambda: alerts_named(alertmanager, "MaintenanceOverrun"),
            30,
            "MaintenanceOverrun in Alertmanager",
        )
        assert overrun["labels"]["component"] == "pbx-2"
        assert overrun["labels"]["maintenance"] == WINDOW
    finally:
        assert daemon.stop() == 0

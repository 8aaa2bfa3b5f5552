"""A hostile producer floods the topic with maintenance starts that never end: memory stays
bounded and alerts at other sites are untouched (real Kafka, the real daemon)."""

from __future__ import annotations

import json
import time
import uuid
from pathlib import Path
from typing import Any

import pytest

from tests.unit.events import raw

from .helpers import COMPONENT_DOWN_RULES, Daemon, kafka_config, kcat_produce, wait_until

pytestmark = pytest.mark.integration

FLOOD = 10_000


def rss_mib(daemon: Daemon) -> float:
    assert daemon.process is not None
    status = Path(f"/proc/{daemon.process.pid}/status").read_text()
    [line] = [x for x in status.splitlines() if x.startswith("VmRSS:")]
    return int(line.split()[1]) / 1024


def test_ten_thousand_unclosed_maintenance_starts_stay_bounded(
    kafka_bootstrap: str, topics: tuple[str, str], tmp_path: Path
) -> None:
    topic, dlq = topics
    (tmp_path / "rules.yaml").write_text(COMPONENT_DOWN_RULES)
    config: dict[str, Any] = kafka_config(kafka_bootstrap, topic, dlq, f"g-{uuid.uuid4().hex}")
    config["alerting"] = {"evaluation_interval": "1s"}
    config["rule_files"] = [str(tmp_path / "rules.yaml")]
    daemon = Daemon(tmp_path, config)
    daemon.start()
    try:
        daemon.wait_ready()
        now = time.time()
        warm = [raw("agent.state", now, agent_id="a", state="available", queues=["q"])]
        kcat_produce(kafka_bootstrap, topic, [("lon1", e) for e in warm], tmp_path)
        wait_until(lambda: daemon.total("callpulse_events_total") >= 1, 30, "the first event")
        before = rss_mib(daemon)

        flood = [
            raw("maintenance.started", now, maintenance_id=f"junk-{i}", components=["x"])
            for i in range(FLOOD)
        ]
        kcat_produce(kafka_bootstrap, topic, [("lon1", e) for e in flood], tmp_path)
        wait_until(
            lambda: daemon.total("callpulse_events_total") >= 1 + FLOOD, 60, "the flood applied"
        )
        after = rss_mib(daemon)
        print(f"RSS {before:.1f} MiB before, {after:.1f} MiB after {FLOOD:,} unclosed starts")
        assert after - before < 25  # it grew ~290 MiB for 4,000 before windows were capped
        windows = daemon.samples()
        open_at_lon1 = [
            k
            for k in windows
            if k[0] == "callpulse_maintenance_active" and ("site", "lon1") in k[1]
        ]
        assert len(open_at_lon1) == 20  # maintenance.event_windows.max_open_per_site
        # Said in the log once per evaluation with the running total, not once per event.
        wait_until(
            lambda: [
                e
                for e in daemon.log_events("maintenance_events_refused")
                if e["total"] == FLOOD - 20
            ],
            10,
            "the refusals logged",
        )
        assert len(daemon.log_events("maintenance_events_refused")) < 20

        # A component down at another site still pages.
        down = raw(
            "component.health",
            time.time(),
            site="nyc1",
            component="pbx-9",
            kind="pbx",
            status="down",
        )
        kcat_produce(kafka_bootstrap, topic, [("nyc1", down)], tmp_path)
        [firing] = wait_until(
            lambda: [
                e
                for e in daemon.log_events("alert_firing")
                if e["labels"]["alertname"] == "ComponentDown"
            ],
            30,
            "ComponentDown at nyc1",
        )
        assert json.dumps(firing["labels"]).count("nyc1") == 1
    finally:
        assert daemon.stop() == 0

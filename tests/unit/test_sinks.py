"""Sinks against a real HTTP listener on loopback, and the alert state file across restarts."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

from callpulse.alerts import Alerting
from callpulse.core.alerting import Notification
from callpulse.core.monitor import Monitor, MonitorConfig
from callpulse.settings import AlertingSettings, load_rules, load_settings
from callpulse.sinks.webhook import WebhookSink

from .events import event

NOW = 1_800_000_000.0


async def receive_one(requests: list[tuple[str, dict[str, Any]]]) -> tuple[asyncio.Server, int]:
    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        head = await reader.readuntil(b"\r\n\r\n")
        length = int(
            next(
                line.split(b":")[1]
                for line in head.split(b"\r\n")
                if line.lower().startswith(b"content-length")
            )
        )
        body = await reader.readexactly(length)
        requests.append((head.split(b" ")[1].decode(), json.loads(body)))
        writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
        await writer.drain()
        writer.close()

    server = await asyncio.start_server(handle, "127.0.0.1", 0)
    return server, server.sockets[0].getsockname()[1]


async def test_webhook_posts_alertmanagers_webhook_body() -> None:
    requests: list[tuple[str, dict[str, Any]]] = []
    server, port = await receive_one(requests)
    sink = WebhookSink(
        f"http://127.0.0.1:{port}/hook", 5.0, 100, 60.0, "http://cp:9464", clock=lambda: NOW
    )
    firing = Notification(
        {"alertname": "A", "site": "lon1"},
        {"summary": "s"},
        NOW - 60,
        NOW + 240,
        "http://cp:9464/api/v1/alerts?alertname=A",
    )
    resolved = Notification(
        {"alertname": "A", "site": "nyc1"},
        {"summary": "s"},
        NOW - 600,
        NOW - 30,
        "http://cp:9464/api/v1/alerts?alertname=A",
    )
    worker = asyncio.create_task(sink.run())
    try:
        sink.submit([firing, resolved])
        await sink.flush(5.0)
    finally:
        worker.cancel()
        server.close()
    [(path, body)] = requests
    assert path == "/hook"
    assert body["version"] == "4"
    assert body["status"] == "firing"
    assert body["commonLabels"] == {"alertname": "A"}
    assert [a["status"] for a in body["alerts"]] == ["firing", "resolved"]
    assert body["alerts"][1]["endsAt"].startswith("2027-01-15T")
    assert sink.stats.as_dict() == {"sent": 2, "failed": 0, "dropped": 0}


async def test_a_refused_webhook_is_retried_then_dropped_and_counted() -> None:
    sink = WebhookSink(
        "http://127.0.0.1:9/nobody-listens", 1.0, 100, 0.2, "http://cp", clock=lambda: NOW
    )
    worker = asyncio.create_task(sink.run())
    try:
        sink.submit([Notification({"alertname": "A"}, {}, NOW, NOW + 60, "u")])
        for _ in range(100):
            if sink.stats.dropped:
                break
            await asyncio.sleep(0.05)
    finally:
        worker.cancel()
    assert sink.stats.failed >= 1
    assert sink.stats.dropped == 1
    assert sink.pending() == 0


def test_alert_state_file_carries_firing_alerts_across_a_restart(tmp_path: Path) -> None:
    (tmp_path / "rules.yaml").write_text(
        "rules:\n  - {alert: Waiting, kpi: queue_calls_waiting, op: '>', threshold: 0, for: 10m}\n"
    )
    config = tmp_path / "callpulse.yaml"
    config.write_text(
        f"rule_files: [rules.yaml]\nalerting:\n  log: false\n"
        f"  state_file: {tmp_path / 'state' / 'alerts.json'}\n"
    )
    settings = load_settings(config)

    def start() -> tuple[Alerting, Monitor]:
        monitor = Monitor(MonitorConfig(), now=NOW)
        return Alerting(settings.alerting, load_rules(settings), monitor), monitor

    first, monitor = start()
    monitor.apply(event("call.queued", NOW, call_id="c", queue="billing"))
    first.evaluate()
    assert [a.state for a in first.alerts()] == ["pending"]

    second, monitor = start()  # a restart: the pending alert and its for timer come back
    assert [(a.state, a.active_at) for a in second.alerts()] == [("pending", NOW)]
    monitor.apply(event("call.queued", NOW, call_id="c", queue="billing"))
    monitor.tick(NOW + 600)
    second.evaluate()
    assert [a.state for a in second.alerts()] == ["firing"]


def test_alerting_settings_defaults_follow_prometheus() -> None:
    defaults = AlertingSettings()
    assert (defaults.evaluation_interval, defaults.resend_delay) == (5.0, 60.0)

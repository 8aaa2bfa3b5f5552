"""Sinks against a real HTTP listener on loopback, and the alert state file across restarts."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import pytest

from callpulse.alerting import Alerting, statefile
from callpulse.config import AlertingSettings, compile_config, load_settings
from callpulse.core.alert_state import Notification
from callpulse.core.monitor import Monitor, MonitorConfig
from callpulse.sinks.delivery import PermanentError, Sink
from callpulse.sinks.http_client import HttpTarget
from callpulse.sinks.webhook import WebhookSink

from .events import event
from .receivers import Receiver, redirect

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
    target = HttpTarget("webhook:test", f"http://127.0.0.1:{port}/hook", 5.0)
    sink = WebhookSink(target, 100, 60.0, "http://cp:9464", clock=lambda: NOW)
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
    target = HttpTarget("webhook:test", "http://127.0.0.1:9/nobody-listens", 1.0)
    sink = WebhookSink(target, 100, 0.2, "http://cp", clock=lambda: NOW)
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
        return Alerting(settings.alerting, list(compile_config(settings).rules), monitor), monitor

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


def test_the_state_file_carries_each_queues_flow_history_across_a_restart(
    tmp_path: Path,
) -> None:
    state = tmp_path / "alerts.json"
    settings = AlertingSettings(log=False, state_file=state)

    def start() -> tuple[Alerting, Monitor]:
        monitor = Monitor(MonitorConfig(), now=NOW)
        return Alerting(settings, [], monitor), monitor

    first, monitor = start()
    for k in range(3):
        monitor.apply(event("call.queued", NOW + k, call_id=f"c{k}", queue="billing"))
    monitor.apply(event("call.abandoned", NOW + 60, call_id="c0", queue="billing", wait_seconds=60))
    monitor.tick(NOW + 120)
    first.evaluate()  # the first evaluation takes the queue's first reading, and saves it
    beside = tmp_path / "alerts.history.json"
    [(_site, queue, history)] = json.loads(beside.read_text())
    assert (queue, len(history["readings"])) == ("billing", 1)
    learnt = monitor.maintenance.baselines.export_history()

    second, monitor = start()  # a restart, before any event of the queue has come again
    assert monitor.maintenance.baselines.export_history() == learnt
    # It is kept while its queue has not been seen since, for the span of the readings ...
    second.evaluate()
    assert monitor.maintenance.baselines.export_history() == learnt
    # ... and let go with the rest once that has passed.
    monitor.tick(NOW + 5 * 3600)
    second.evaluate()
    assert monitor.maintenance.baselines.export_history() == []
    assert json.loads(beside.read_text()) == []


def test_a_broken_flow_history_is_logged_and_the_alerts_still_restored(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    logged: list[str] = []

    class Log:
        def info(self, event: str, **_: object) -> None:
            logged.append(event)

        warning = info

    monkeypatch.setattr(statefile, "log", Log())
    (tmp_path / "rules.yaml").write_text(
        "rules:\n  - {alert: Waiting, kpi: queue_calls_waiting, op: '>', threshold: 0, for: 10m}\n"
    )
    state = tmp_path / "alerts.json"
    config = tmp_path / "callpulse.yaml"
    config.write_text(f"rule_files: [rules.yaml]\nalerting:\n  log: false\n  state_file: {state}\n")
    settings = load_settings(config)
    monitor = Monitor(MonitorConfig(), now=NOW)
    first = Alerting(settings.alerting, list(compile_config(settings).rules), monitor)
    monitor.apply(event("call.queued", NOW, call_id="c", queue="billing"))
    first.evaluate()
    (tmp_path / "alerts.history.json").write_text('[["lon1", "billing", {"hours": [-1]}]]')
    monitor = Monitor(MonitorConfig(), now=NOW)
    again = Alerting(settings.alerting, list(compile_config(settings).rules), monitor)
    assert logged[-2:] == ["alert_state_restored", "flow_history_unreadable"]
    assert [(a.state, a.active_at) for a in again.alerts()] == [("pending", NOW)]
    assert monitor.maintenance.baselines.export_history() == []


def test_alerting_settings_defaults_follow_prometheus() -> None:
    defaults = AlertingSettings()
    assert (defaults.evaluation_interval, defaults.resend_delay) == (5.0, 60.0)


class SlowSink(Sink):
    def __init__(self) -> None:
        super().__init__(capacity=4, max_age=60)
        self.release = asyncio.Event()
        self.delivered: list[str] = []

    async def send(self, batch: Any) -> None:
        await self.release.wait()
        self.delivered += [n.labels["alertname"] for n in batch]


def note(name: str) -> Notification:
    return Notification({"alertname": name}, {}, NOW, NOW + 60, "u")


async def test_a_full_queue_drops_what_waits_never_what_is_in_flight() -> None:
    sink = SlowSink()
    worker = asyncio.create_task(sink.run())
    try:
        sink.submit([note(f"A{i}") for i in range(4)])
        await asyncio.sleep(0.05)  # A0-A3 are in flight now
        sink.submit([note(f"B{i}") for i in range(6)])  # 6 into room for 4: B0, B1 dropped
        sink.release.set()
        await sink.flush(5.0)
    finally:
        worker.cancel()
    assert sink.delivered == ["A0", "A1", "A2", "A3", "B2", "B3", "B4", "B5"]
    assert sink.stats.as_dict() == {"sent": 8, "failed": 0, "dropped": 2}


async def test_a_refusal_for_good_is_dropped_at_once() -> None:
    class Refusing(Sink):
        async def send(self, batch: Any) -> None:
            raise PermanentError("400 bad payload")

    sink = Refusing(capacity=10, max_age=600)
    worker = asyncio.create_task(sink.run())
    try:
        sink.submit([note("A")])
        for _ in range(50):
            if sink.stats.dropped:
                break
            await asyncio.sleep(0.02)
    finally:
        worker.cancel()
    assert sink.stats.as_dict() == {"sent": 0, "failed": 1, "dropped": 1}


def test_an_alert_firing_before_a_window_opens_is_still_sent_and_resolved(tmp_path: Path) -> None:
    (tmp_path / "rules.yaml").write_text(
        "rules:\n  - {alert: Waiting, kpi: queue_calls_waiting, op: '>', threshold: 0}\n"
    )
    config = tmp_path / "callpulse.yaml"
    config.write_text("rule_files: [rules.yaml]\nalerting: {log: false}\n")
    settings = load_settings(config)
    monitor = Monitor(MonitorConfig(), now=NOW)
    alerting = Alerting(settings.alerting, list(compile_config(settings).rules), monitor)
    monitor.apply(event("call.queued", NOW, call_id="c", queue="billing"))
    assert [n.labels["alertname"] for n in alerting.evaluate()] == ["Waiting"]
    monitor.tick(NOW + 10)
    monitor.apply(event("maintenance.started", NOW + 10, maintenance_id="m", components=[]))
    monitor.apply(
        event(
            "call.answered", NOW + 20, call_id="c", queue="billing", agent_id="a", wait_seconds=20.0
        )
    )
    monitor.tick(NOW + 30)
    [resolved] = alerting.evaluate()  # inside the window, yet it fired before it: sent
    assert resolved.ends_at == NOW + 30
    assert alerting.suppressed == {}


def test_sink_names_and_the_logged_settings_keep_url_secrets_out() -> None:
    from callpulse.alerting.sinks import build_sinks
    from callpulse.config import Settings

    secret_am = "https://ops:hunter2@am.example:9093/prefix?token=abc"
    secret_hook = "https://hooks.example/services/T0/B0/XXXXSECRETXXXX"
    settings = Settings.model_validate(
        {"alerting": {"alertmanagers": [{"url": secret_am}], "webhooks": [{"url": secret_hook}]}}
    )
    built = build_sinks(settings.alerting, lambda: 0.0, event_time=False)
    assert [sink.name for sink in built.notifications] == [
        "alertmanager:https://am.example:9093",
        "webhook:https://hooks.example",
        "log",
    ]
    text = str(settings.redacted())
    assert "hunter2" not in text
    assert "SECRET" not in text
    assert "token=abc" not in text


async def capture_headers(headers: list[dict[str, str]]) -> tuple[asyncio.Server, int]:
    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        head = await reader.readuntil(b"\r\n\r\n")
        fields = dict(
            line.decode().split(": ", 1) for line in head.split(b"\r\n")[1:] if b": " in line
        )
        headers.append({k.lower(): v for k, v in fields.items()})
        length = int(fields.get("Content-Length", "0"))
        await reader.readexactly(length)
        writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
        await writer.drain()
        writer.close()

    server = await asyncio.start_server(handle, "127.0.0.1", 0)
    return server, server.sockets[0].getsockname()[1]


async def test_sinks_authenticate_with_basic_auth_or_a_bearer_token(tmp_path: Path) -> None:
    import base64

    from callpulse.sinks.alertmanager import AlertmanagerSink
    from callpulse.sinks.http_client import HttpConfig

    token = tmp_path / "token"
    token.write_text("t0ken\n")
    headers: list[dict[str, str]] = []
    server, port = await capture_headers(headers)
    note = Notification({"alertname": "A"}, {}, NOW - 60, NOW + 240, "http://cp")
    sinks: list[Sink] = [
        # user:password@ in the URL authenticates (it used to be dropped)...
        AlertmanagerSink(HttpTarget("am:1", f"http://am:s3cret@127.0.0.1:{port}", 5.0), 10, 60.0),
        # ...and so do http_config's basic auth and a bearer token from a file.
        AlertmanagerSink(
            HttpTarget("am:2", f"http://127.0.0.1:{port}", 5.0, HttpConfig("cp", "pw")), 10, 60.0
        ),
        WebhookSink(
            HttpTarget(
                "hook", f"http://127.0.0.1:{port}/hook", 5.0, HttpConfig(bearer_token_file=token)
            ),
            10,
            60.0,
            "http://cp",
            lambda: NOW,
        ),
    ]
    try:
        for sink in sinks:
            await sink.send([note])
    finally:
        for sink in sinks:
            await sink.close()
        server.close()
    basic = [base64.b64decode(h["authorization"].split()[1]).decode() for h in headers[:2]]
    assert basic == ["am:s3cret", "cp:pw"]
    assert headers[2]["authorization"] == "Bearer t0ken"


async def test_a_failed_post_names_the_host_not_the_credentials() -> None:
    from callpulse.sinks.http_client import HttpClient, HttpError

    client = HttpClient()
    try:
        with pytest.raises(HttpError, match=r"POST http://127\.0\.0\.1:9: ") as info:
            await client.post("http://u:hunter2@127.0.0.1:9/x?token=abc", b"{}", "text/plain", 2)
    finally:
        await client.close()
    assert "hunter2" not in str(info.value)
    assert "token=abc" not in str(info.value)


@pytest.mark.parametrize(
    ("status", "error"), [(400, "PermanentError"), (429, "HttpError"), (503, "HttpError")]
)
async def test_a_refusal_is_permanent_only_when_retrying_cannot_help(
    status: int, error: str
) -> None:
    from aiohttp import web

    from callpulse.sinks.http_client import HttpClient

    async def answer(_: web.Request) -> web.Response:
        return web.Response(status=status)

    app = web.Application()
    app.router.add_post("/x", answer)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    client = HttpClient()
    try:
        with pytest.raises(
            Exception, match=f"receiver (refused the notifications:|answered) {status}"
        ) as info:
            await client.post_json(f"http://127.0.0.1:{port}/x", b"[]", 2, "receiver")
        assert type(info.value).__name__ == error
    finally:
        await client.close()
        await runner.cleanup()


SLACK = "https://hooks.slack.com/services/T0/B{}/XXXXSECRET{}XXXX"


def test_two_sinks_on_one_host_get_distinct_labels_that_hold_no_secret() -> None:
    from callpulse.config import Settings

    settings = Settings.model_validate(
        {
            "alerting": {
                "log": False,
                "alertmanagers": [
                    {"url": "https://ops:hunter2@am.example:9093/a?token=abc"},
                    {"url": "https://am.example:9093/b"},
                    {"url": "https://am.example:9093/c", "name": "am-c"},
                ],
                "webhooks": [{"url": SLACK.format(n, n)} for n in range(3)],
            }
        }
    )
    alerting = Alerting(settings.alerting, [], Monitor(MonitorConfig(), now=NOW))
    names = [sink.name for sink in alerting.sinks]
    assert names == [
        "alertmanager:https://am.example:9093",
        "alertmanager:https://am.example:9093#2",
        "alertmanager:am-c",
        "webhook:https://hooks.slack.com",
        "webhook:https://hooks.slack.com#2",
        "webhook:https://hooks.slack.com#3",
    ]
    assert len(alerting.delivery_stats()) == 6  # one series per sink, none added up
    for secret in ("hunter2", "token", "9093/", "services", "SECRET"):
        assert secret not in str(names)


@pytest.mark.parametrize(
    ("alerting", "message"),
    [
        (
            "{alertmanagers: [{url: 'http://a', name: ops}], webhooks: [{url: 'http://b/x', "
            "name: ops}]}",
            r"webhooks\.0\.name: 'ops' is also alertmanagers\.0\.name: sink names must be unique",
        ),
        (
            "{webhooks: [{url: 'http://b/x', name: ops}, {url: 'http://b/y', name: ops}]}",
            r"webhooks\.1\.name: 'ops' is also webhooks\.0\.name",
        ),
        (
            "{webhooks: [{url: 'http://b/x'}, {url: 'http://c/y', name: 'http://b'}]}",
            r"webhooks\.1\.name: 'http://b' is the label of the unnamed webhooks\.0",
        ),
    ],
)
def test_sink_names_are_unique_and_the_error_names_the_key(
    tmp_path: Path, alerting: str, message: str
) -> None:
    from callpulse.config import ConfigError

    config = tmp_path / "callpulse.yaml"
    config.write_text(f"alerting: {alerting}\n")
    with pytest.raises(ConfigError, match=message):
        load_settings(config)


async def deliver(sink: Sink) -> None:
    """Submit one notification and let the worker send it, fail or drop it."""
    worker = asyncio.create_task(sink.run())
    try:
        sink.submit([note("A")])
        for _ in range(100):
            if sink.stats.sent or sink.stats.dropped:
                break
            await asyncio.sleep(0.02)
    finally:
        worker.cancel()
        await sink.close()


@pytest.mark.parametrize("status", [301, 302, 303, 307, 308])
@pytest.mark.parametrize("elsewhere", ["another port", "another host", "another scheme"])
async def test_a_redirect_to_another_origin_sends_it_nothing_and_is_a_counted_failure(
    status: int, elsewhere: str
) -> None:
    from structlog.testing import capture_logs

    async with Receiver() as other:
        location = {
            "another port": f"http://127.0.0.1:{other.port}/landed",
            "another host": "http://localhost:{port}/landed",
            "another scheme": "https://127.0.0.1:{port}/landed",
        }[elsewhere]
        async with Receiver() as first:
            first.answer = redirect(status, location.format(port=first.port))
            url = f"http://u:s3cret@127.0.0.1:{first.port}/hook?token=t0ken"
            sink = WebhookSink(HttpTarget("hook", url, 5.0), 10, 600.0, "http://cp", lambda: NOW)
            with capture_logs() as logs:
                await deliver(sink)
        assert other.requests == []  # not a byte of the alert, nor the credentials
        assert len(first.requests) == 1
    assert sink.stats.as_dict() == {"sent": 0, "failed": 1, "dropped": 1}
    [line] = [entry for entry in logs if entry["event"] == "notifications_dropped"]
    assert (line["sink"], line["status"]) == (sink.name, status)
    for secret in ("s3cret", "t0ken", "/hook", "landed"):  # the label, never a URL
        assert secret not in str(line)


async def test_a_redirect_within_the_origin_keeps_the_body_and_the_credentials() -> None:
    async with Receiver() as receiver:
        receiver.answer = redirect(307, "/landed")
        url = f"http://u:s3cret@127.0.0.1:{receiver.port}/hook"
        sink = WebhookSink(HttpTarget("hook", url, 5.0), 10, 600.0, "http://cp", lambda: NOW)
        await deliver(sink)
    assert sink.stats.as_dict() == {"sent": 1, "failed": 0, "dropped": 0}
    (m1, p1, body1, auth1), (m2, p2, body2, auth2) = receiver.requests
    assert (m1, p1, m2, p2) == ("POST", "/hook", "POST", "/landed")
    assert body1 == body2
    assert json.loads(body2)["alerts"][0]["labels"] == {"alertname": "A"}
    assert auth1 == auth2 is not None


async def test_a_redirect_that_would_turn_the_post_into_a_get_is_not_counted_sent() -> None:
    async with Receiver() as receiver:
        receiver.answer = redirect(303, "/landed")
        url = f"http://127.0.0.1:{receiver.port}/hook"
        sink = WebhookSink(HttpTarget("hook", url, 5.0), 10, 600.0, "http://cp", lambda: NOW)
        await deliver(sink)
    assert [method for method, *_ in receiver.requests] == ["POST"]
    assert sink.stats.as_dict() == {"sent": 0, "failed": 1, "dropped": 1}


def test_a_sink_url_no_request_could_use_stops_the_config_without_quoting_it(
    tmp_path: Path,
) -> None:
    from callpulse.config import ConfigError

    config = tmp_path / "callpulse.yaml"
    for url in ("http://u:x@am:s3cret-port/x", "http://[s3cret/x", "https:///s3cret", "ftp://h"):
        config.write_text(f"alerting: {{webhooks: [{{url: '{url}'}}]}}\n")
        with pytest.raises(ConfigError, match=r"alerting\.webhooks\.0\.url: ") as info:
            load_settings(config)
        assert "s3cret" not in str(info.value)

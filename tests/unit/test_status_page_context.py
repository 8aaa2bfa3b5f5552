"""What the status document carries beside the monitor's view: the source and whether it is
simulated, the header's links (never a sink's credentials), each site's freshness and lag,
and Alertmanager's silences, read in the background from a real HTTP server."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web

from callpulse.alerting import Alerting
from callpulse.config import AlertingSettings, ConfigError, load_settings
from callpulse.core.monitor import Monitor, MonitorConfig
from callpulse.core.planned_silences import CREATED_BY, comment
from callpulse.core.rules import RuleSpec, compile_rule
from callpulse.core.timefmt import rfc3339
from callpulse.sinks.http_client import HttpTarget
from callpulse.sinks.silence_reader import SilenceReader
from callpulse.web.page_context import (
    Links,
    PageContext,
    SourceStatus,
    links,
    silence_reader,
    source_status,
)
from callpulse.web.status import StatusBoard

from .events import event
from .receivers import Receiver

NOW = 1_800_000_000.0


def settings_of(tmp_path: Path, text: str) -> Any:
    path = tmp_path / "callpulse.yaml"
    path.write_text(text)
    return load_settings(path)


def test_the_embedded_demo_and_a_replay_say_they_are_not_live(tmp_path: Path) -> None:
    assert source_status(load_settings(None)) == SourceStatus(
        kind="simulator",
        simulated="the built-in demo scenario maintenance-backlog at 30x",
    )
    replay = settings_of(tmp_path, "source: {kind: replay, replay: {path: /data/day.jsonl}}\n")
    assert source_status(replay)["simulated"] == ("a replay of day.jsonl as fast as it reads")
    kafka = settings_of(tmp_path, "source: {kind: kafka}\n")
    assert source_status(kafka) == SourceStatus(kind="kafka", simulated=None)


def test_the_alertmanager_link_is_the_sink_url_without_its_secrets(tmp_path: Path) -> None:
    settings = settings_of(
        tmp_path,
        "alerting:\n  alertmanagers:\n"
        '    - {url: "https://ops:hunter2@am.example:9093/am/api?token=s3cret"}\n',
    )
    assert links(settings) == Links(grafana=None, alertmanager="https://am.example:9093")
    configured = settings_of(
        tmp_path,
        "http:\n  status_page:\n"
        "    grafana_url: https://grafana.example/d/callpulse\n"
        "    alertmanager_url: https://alerts.example/\n",
    )
    assert links(configured) == Links(
        grafana="https://grafana.example/d/callpulse", alertmanager="https://alerts.example/"
    )
    assert links(load_settings(None)) == Links(grafana=None, alertmanager=None)


@pytest.mark.parametrize(
    ("url", "why"),
    [
        ("https://admin:pw@grafana.example/", "no user:password@"),
        ("javascript:alert(1)", "http or https URL"),
        ("grafana.example", "http or https URL"),
    ],
)
def test_a_link_that_would_leak_or_run_is_refused(tmp_path: Path, url: str, why: str) -> None:
    with pytest.raises(ConfigError, match=why):
        settings_of(tmp_path, f"http:\n  status_page:\n    grafana_url: '{url}'\n")


def test_a_scenario_file_is_named_as_such(tmp_path: Path) -> None:
    path = tmp_path / "storm.yaml"
    path.write_text("name: storm\n")
    settings = settings_of(tmp_path, f"source: {{simulator: {{scenario: '{path}', speed: 2}}}}\n")
    assert source_status(settings)["simulated"] == "the scenario file storm.yaml at 2x"


def test_no_reader_without_an_alertmanager(tmp_path: Path) -> None:
    assert silence_reader(load_settings(None)) is None
    settings = settings_of(tmp_path, 'alerting: {alertmanagers: [{url: "http://127.0.0.1:1"}]}\n')
    assert silence_reader(settings) is not None


def board(reader: SilenceReader | None = None, lag: dict[Any, int] | None = None) -> Any:
    monitor = Monitor(MonitorConfig(), now=NOW)
    spec = RuleSpec(alert="Waiting", kpi="queue_calls_waiting", op=">", threshold=0)
    rule = compile_rule(spec, monitor.config.windows)
    alerting = Alerting(AlertingSettings(log=False), [rule], monitor)
    partitions = {("events", 0): {"lon1"}, ("events", 1): {"par1"}}
    page = PageContext(
        source=SourceStatus(kind="kafka", simulated=None),
        links=Links(grafana=None, alertmanager=None),
        stale_after=60.0,
        partitions=lambda: partitions,
        lag=None if lag is None else (lambda: lag),
        silences=reader,
    )
    monitor.apply(event("call.queued", NOW - 100, site="par1", call_id="p", queue="sales"))
    monitor.apply(event("call.queued", NOW - 5, call_id="c1", queue="billing"))
    alerting.evaluate()
    return StatusBoard(monitor, alerting, page)


def test_each_site_says_how_old_its_last_event_is_and_how_far_behind_kafka_is() -> None:
    document = board(lag={("events", 0): 3, ("events", 1): 1200}).document()
    assert document["sites"] == [
        {"site": "lon1", "last_event_age_seconds": 5.0, "stale": False, "lag": 3,
         "partitions": ["events/0"]},
        {"site": "par1", "last_event_age_seconds": 100.0, "stale": True, "lag": 1200,
         "partitions": ["events/1"]},
    ]  # fmt: skip
    assert document["silences"] is None
    # Not Kafka: no partitions, no lag.
    [lon1, _] = board().document()["sites"]
    assert (lon1["lag"], lon1["partitions"]) == (None, [])


def alertmanager_answer(request: web.Request) -> web.Response:
    if request.path == "/api/v2/silences":
        body: Any = [
            {
                "id": "own-1",
                "status": {"state": "active"},
                "matchers": [{"name": "site", "value": "lon1", "isRegex": False}],
                "startsAt": rfc3339(NOW - 60),
                "endsAt": rfc3339(NOW + 1500),
                "createdBy": CREATED_BY,
                "comment": comment("mw-pbx", NOW - 60),
            }
        ]
    else:
        labels = {"alertname": "Waiting", "site": "lon1", "queue": "billing", "severity": "warning"}
        body = [{"labels": labels, "status": {"state": "suppressed", "silencedBy": ["own-1"]}}]
    return web.json_response(body)


async def test_silences_and_the_alerts_they_mute_come_from_the_background_read() -> None:
    async with Receiver(alertmanager_answer) as am:
        target = HttpTarget("alertmanager:am", f"http://127.0.0.1:{am.port}", 5.0)
        reader = SilenceReader(target, 30.0, 65536, 100)
        status = board(reader)
        before = status.document()["silences"]
        assert (before["fetchedAt"], before["error"], before["items"]) == (None, None, [])
        await reader.read()
    document = status.document()
    silences = document["silences"]
    assert silences["error"] is None
    [row] = silences["items"]
    assert (row["id"], row["window"], row["matchers"]) == ("own-1", "mw-pbx", ['site="lon1"'])
    assert row["endsAt"] == rfc3339(NOW + 1500)
    muted = {a["labels"]["site"]: a["silencedBy"] for a in document["alerts"]["firing"]}
    assert muted == {"lon1": ["own-1"], "par1": []}
    paths = [(m, p) for m, p, _, _ in am.requests]
    assert paths == [("GET", "/api/v2/silences"), ("GET", "/api/v2/alerts")]


@pytest.mark.parametrize(
    ("answer", "error"),
    [
        (lambda r: web.Response(status=503), "GET /api/v2/silences answered 503"),
        (lambda r: web.Response(body=b"<html>"), "GET /api/v2/silences did not answer JSON"),
        (lambda r: web.Response(body=b"[" + b" " * 70_000 + b"]"), "more than 65536 bytes"),
        (lambda r: web.json_response({"a": 1}), "did not answer a list of silences"),
    ],
)
async def test_a_failed_read_shows_its_error_instead_of_silences(answer: Any, error: str) -> None:
    async with Receiver(alertmanager_answer) as am:
        target = HttpTarget("alertmanager:am", f"http://user:pw@127.0.0.1:{am.port}", 5.0)
        reader = SilenceReader(target, 30.0, 65536, 100)
        await reader.read()
        assert reader.view.rows
        am.answer = answer
        await reader.read()
        await reader.close()
    view = reader.view
    assert error in (view.error or "")
    assert "pw" not in (view.error or "")
    assert (view.rows, view.silenced) == ((), {})
    assert view.fetched_at is not None  # when it was last read well


async def test_a_hung_alertmanager_never_holds_up_the_document() -> None:
    release = asyncio.Event()

    async def hang(request: web.Request) -> web.Response:
        await release.wait()
        return web.json_response([])

    runner = web.ServerRunner(web.Server(hang))
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    try:
        target = HttpTarget("alertmanager:am", f"http://127.0.0.1:{port}", 30.0)
        reader = SilenceReader(target, 30.0, 65536, 100)
        status = board(reader)
        task = asyncio.create_task(reader.run())
        await asyncio.sleep(0.2)  # the read is under way, waiting on the Alertmanager
        assert not task.done()
        # The page's answer is built from what is kept: nothing awaits the Alertmanager.
        assert status.document()["silences"]["fetchedAt"] is None
        json.dumps(status.document())
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
    finally:
        release.set()
        await runner.cleanup()

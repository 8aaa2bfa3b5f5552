"""The embedded default, as a newcomer and an on-call engineer meet it: three minutes of
`callpulse run` (90 simulated minutes of the maintenance-backlog scenario) page once for the
backlog a planned window leaves, with a drain time that comes true, and resolve once; and a
real Prometheus scraping it all along has data for every panel of the shipped dashboards."""

from __future__ import annotations

import json
import re
import time
import urllib.parse
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest

from .helpers import Daemon, start_prometheus, wait_until

pytestmark = [pytest.mark.integration, pytest.mark.waits]
ROOT = Path(__file__).resolve().parents[2]
DASHBOARDS = ROOT / "helm" / "callpulse" / "dashboards"
RUN_SECONDS = 180.0
SPEED = 30.0  # the embedded default's simulated seconds per second
KEEP_FIRING_FOR = 120.0  # maintenance.backlog.keep_firing_for, simulated seconds
# Series that exist only once something happened that the demo never does.
EMPTY_IN_THE_DEMO = {
    "callpulse_events_invalid",  # no invalid record in a simulation
    "callpulse_trunk_media_score_mean",  # simulated media reports carry no platform score
}


@dataclass
class Demo:
    daemon: Daemon
    prometheus: str
    start: float
    end: float


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Demo]:
    tmp = tmp_path_factory.mktemp("demo")
    daemon = Daemon(tmp, None)  # no config: the embedded default
    start = time.time()
    daemon.start()
    prometheus, base = start_prometheus(
        tmp,
        f"""
global: {{scrape_interval: 1s}}
scrape_configs:
  - job_name: callpulse
    static_configs: [{{targets: ["127.0.0.1:{daemon.port}"]}}]
""",
    )
    try:
        daemon.wait_ready(60)
        while time.time() < start + RUN_SECONDS:
            daemon.assert_running()
            time.sleep(1)
        end = time.time()
        wait_until(lambda: last_scrape(base) >= end, 30, "a scrape after the run")
        yield Demo(daemon, base, start, end)
    finally:
        prometheus.terminate()
        prometheus.wait(timeout=30)
        daemon.stop()


def last_scrape(prometheus: str) -> float:
    """When Prometheus last scraped callpulse (0 before it has)."""
    query = urllib.parse.urlencode({"query": 'timestamp(up{job="callpulse"})'})
    with urllib.request.urlopen(f"{prometheus}/api/v1/query?{query}") as r:
        result = json.load(r)["data"]["result"]
    return float(result[0]["value"][1]) if result else 0.0


def at(entry: dict[str, Any]) -> float:
    return datetime.fromisoformat(entry["timestamp"].replace("Z", "+00:00")).timestamp()


@pytest.mark.timeout(300)
def test_the_backlog_pages_once_with_a_drain_time_that_comes_true_and_resolves_once(
    demo: Demo,
) -> None:
    def backlog(event: str) -> list[dict[str, Any]]:
        return [
            e
            for e in demo.daemon.log_events(event)
            if e["labels"]["alertname"] == "MaintenanceBacklog" and at(e) <= demo.end
        ]

    [fired] = backlog("alert_firing")
    [resolved] = backlog("alert_resolved")
    notes = fired["annotations"]
    assert int(notes["backlog"]) >= 10
    assert "drained" in resolved["annotations"]["summary"]
    assert int(resolved["annotations"]["backlog"]) <= float(notes["drained_at"])
    # The announced drain time against the time the backlog took: the resolution comes
    # keep_firing_for after the drain was seen; both are simulated seconds.
    announced = float(notes["drain_eta"].removesuffix("s"))
    took = (at(resolved) - at(fired)) * SPEED - KEEP_FIRING_FOR
    print(f"drain ETA {announced / 60:.1f} min, drained in {took / 60:.1f} min")
    assert abs(announced - took) / took <= 0.2
    # The forecast came first, before the window opened, and is a warning.
    [forecast] = [
        e
        for e in demo.daemon.log_events("alert_firing")
        if e["labels"]["alertname"] == "MaintenanceImpactForecast"
    ]
    assert at(forecast) < at(fired)
    assert forecast["labels"]["severity"] == "warning"


def panels() -> list[tuple[str, str, str]]:
    """(dashboard, panel, PromQL) of every panel target and annotation, each variable as
    Grafana's All (`.*`)."""
    out = []
    for path in sorted(DASHBOARDS.glob("*.json")):
        board = json.loads(path.read_text())
        for p in board["panels"]:
            out += [(path.stem, p["title"], t["expr"]) for t in p["targets"]]
        out += [(path.stem, a["name"], a["expr"]) for a in board["annotations"]["list"]]
    return [(b, t, re.sub(r"\$(site|job|instance)\b", ".*", e)) for b, t, e in out]


@pytest.mark.timeout(300)
def test_every_dashboard_query_has_data_from_the_scenario(demo: Demo) -> None:
    found = panels()
    assert len(found) > 25
    empty = []
    for board, title, expr in found:
        query = urllib.parse.urlencode(
            {"query": expr, "start": demo.start, "end": demo.end, "step": "2"}
        )
        with urllib.request.urlopen(f"{demo.prometheus}/api/v1/query_range?{query}") as r:
            body = json.load(r)
        assert body["status"] == "success", (board, title, expr, body)
        if not any(series["values"] for series in body["data"]["result"]):
            names = set(re.findall(r"\b(callpulse_[a-z0-9_]+?)(?:_total)?\b", expr))
            if not names <= EMPTY_IN_THE_DEMO:
                empty.append(f"{board} / {title}: {expr}")
    assert empty == []

"""The newcomer's first five minutes: the embedded default raises an alert within two
minutes, in the log and on the status page, as a real headless Chromium shows it."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from typing import Any

import pytest
from selenium import webdriver
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By

from .helpers import Daemon, wait_until

pytestmark = pytest.mark.integration
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"


def chromium() -> webdriver.Chrome:
    options = webdriver.ChromeOptions()
    options.binary_location = "/usr/bin/chromium"
    for flag in (
        "--headless=new",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-dev-shm-usage",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--window-size=1280,1400",
    ):
        options.add_argument(flag)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    return webdriver.Chrome(options=options, service=Service("/usr/bin/chromedriver"))


def test_default_run_pages_within_two_minutes_and_the_status_page_shows_it(
    tmp_path: Path,
) -> None:
    daemon = Daemon(tmp_path, None)  # no config at all: the embedded default
    started = time.monotonic()
    daemon.start()
    browser = None
    try:
        [firing] = wait_until(
            lambda: daemon.log_events("alert_firing")[:1], 120, "an alert_firing line in the log"
        )
        took = time.monotonic() - started
        assert took < 120
        print(f"first alert after {took:.0f} s: {firing['labels']['alertname']}")

        # The page runs under a CSP without 'unsafe-inline': its script and style are
        # allowed by hash, nothing else loads, and no other site may frame it.
        with urllib.request.urlopen(f"http://127.0.0.1:{daemon.port}/", timeout=5) as page:
            csp = page.headers["Content-Security-Policy"]
            assert page.headers["X-Content-Type-Options"] == "nosniff"
        assert "unsafe-inline" not in csp
        assert "script-src 'sha256-" in csp
        assert "frame-ancestors 'none'" in csp

        browser = chromium()
        browser.get(f"http://127.0.0.1:{daemon.port}/")
        wait_until(
            lambda: browser.find_elements(By.CSS_SELECTOR, "#queues tbody tr td.num"),
            20,
            "the queue table",
        )
        assert len(browser.find_elements(By.CSS_SELECTOR, "#queues tbody tr")) == 4
        rows = wait_until(
            lambda: (
                browser.find_elements(By.CSS_SELECTOR, "#alerts-firing tbody td.bad")
                + browser.find_elements(By.CSS_SELECTOR, "#alerts-firing tbody td.warn")
                + browser.find_elements(By.CSS_SELECTOR, "#alerts-suppressed tbody td.warn")
            ),
            60,
            "an alert on the status page",
        )
        names = {r.text for r in rows}
        assert names & {
            "MaintenanceImpactForecast",  # the demo's first: a warning before its window
            "MaintenanceBacklog",
            "ComponentDown",
            "QueueServiceLevelLow",
        }
        ARTIFACTS.mkdir(exist_ok=True)
        browser.save_screenshot(str(ARTIFACTS / "status-page.png"))

        # Names come from any producer: they must show as text, never run as markup.
        evil = json.loads((Path(__file__).parent / "evil-status.json").read_text())
        browser.execute_script("render(arguments[0])", evil)
        cells = [c.text for c in browser.find_elements(By.CSS_SELECTOR, "#queues tbody td")]
        assert "<script>alert(1)</script>" in cells
        assert "<img src=x onerror=alert(2)>" in cells
        assert browser.find_elements(By.CSS_SELECTOR, "img") == []
        assert len(browser.find_elements(By.CSS_SELECTOR, "script")) == 1
        # Links only for http(s): a javascript: runbook or Grafana URL stays text.
        hrefs = [a.get_attribute("href") for a in browser.find_elements(By.TAG_NAME, "a")]
        assert hrefs == [
            "https://am.example/%3Cb%3Ex%3C/b%3E",
            "https://runbooks.example/%3Cb%3Ep%3C/b%3E",
        ]
        assert "javascript:alert(11)" in browser.find_element(By.ID, "links").text
        assert "javascript:alert(17)" in browser.find_element(By.ID, "alerts-firing").text
        banner = browser.find_element(By.ID, "banner").text
        assert banner == "SIMULATED DATA \u2014 <img src=x onerror=alert(10)>"
        silences = browser.find_element(By.ID, "silences").text
        assert "<script>alert(15)</script>" in silences
        assert "<img src=x onerror=alert(16)>" in silences
        assert "in 25 min" in silences
        [site] = rows_text(browser, "sites")
        assert site == "<b>lon1</b> 1 s ago stale 5 <script>alert(12)</script>/0"
        assert browser.find_elements(By.CSS_SELECTOR, "#sites td.stale")

        errors = [e for e in browser.get_log("browser") if e["level"] == "SEVERE"]
        assert errors == []

        # The same view in a terminal.
        terminal = subprocess.run(
            [
                sys.executable,
                "-m",
                "callpulse",
                "status",
                "--url",
                f"http://127.0.0.1:{daemon.port}",
            ],
            capture_output=True,
            text=True,
            timeout=30,
        )
        assert terminal.returncode == 0, terminal.stderr
        assert "Queues" in terminal.stdout
        assert "billing" in terminal.stdout
    finally:
        if browser is not None:
            browser.quit()
        assert daemon.stop() == 0


def test_hostile_names_from_real_events_never_run_in_the_page(tmp_path: Path) -> None:
    """Every string a producer controls carries a script and an image payload; the events go
    through the real decoder and monitor (a replayed file), the rules page on them, and a real
    Chromium renders the page: the payloads show as text and nothing runs."""
    from callpulse.shipped import shipped
    from tests.unit.events import raw

    script, image = "<script>window.pwned=1</script>", "<img src=x onerror=window.pwned=2>"
    now = time.time()
    events = [
        raw("agent.state", now - 300, agent_id=image, state="offline", queues=[script]),
        raw("component.health", now - 200, component=script, kind="pbx", status="down"),
        raw("trunk.status", now - 200, trunk_id=image, state="down", channels_in_use=0,
            channels_total=10),
        raw("ivr.ports", now - 200, application=script, ports_in_use=1, ports_total=2),
        raw("maintenance.started", now - 100, maintenance_id=image, components=[image]),
    ]  # fmt: skip
    events += [
        raw("call.queued", now - 60 + i, call_id=f"{image}{i}", queue=script) for i in range(5)
    ]
    path = tmp_path / "hostile.jsonl"
    path.write_bytes(b"\n".join(events) + b"\n")
    daemon = Daemon(
        tmp_path, {"rule_files": [str(shipped("rules.yaml"))]}, args=("replay", str(path))
    )
    daemon.start()
    browser = None
    try:
        daemon.wait_ready(30)
        wait_until(
            lambda: "TrunkDown" in daemon.get("/api/v1/alerts")[1], 30, "alerts on hostile names"
        )
        with urllib.request.urlopen(f"http://127.0.0.1:{daemon.port}/", timeout=5) as page:
            assert "unsafe-inline" not in page.headers["Content-Security-Policy"]
        browser = chromium()
        browser.get(f"http://127.0.0.1:{daemon.port}/")
        wait_until(
            lambda: script in browser.find_element(By.ID, "queues").text,
            20,
            "the hostile queue name shown as text",
        )
        texts = browser.find_element(By.TAG_NAME, "body").text
        assert image in texts  # the trunk, shown as text
        assert browser.execute_script("return window.pwned === undefined")
        assert browser.find_elements(By.CSS_SELECTOR, "img") == []
        assert len(browser.find_elements(By.CSS_SELECTOR, "script")) == 1  # the page's own
        errors = [e for e in browser.get_log("browser") if e["level"] == "SEVERE"]
        assert errors == []
    finally:
        if browser is not None:
            browser.quit()
        daemon.stop()


ETA_RULES = """
rules:
  - alert: QueueWaitingLong
    kpi: queue_calls_waiting
    match: {queue: billing}
    op: ">"
    threshold: 5
    for: 1h
    severity: warning
    annotations: {summary: "{{ value }} waiting in {{ labels.queue }} at {{ labels.site }}"}
"""


def window_replay(path: Path) -> tuple[float, float]:
    """Forty minutes of lon1 written to ``path``: billing's 20 agents leave as window mw-now
    opens (its callers pile up) and come back as it ends; sales' steady traffic has mw-next
    coming, which takes half its agents. Returns (mw-now's start, the last event's time)."""
    from tests.unit.events import raw

    opened = (int(time.time()) // 60) * 60 - 600
    start = opened - 1800
    billing, sales = {"queue": "billing"}, {"queue": "sales"}
    timed: list[tuple[float, bytes]] = []

    def add(when: float, event_type: str, **fields: Any) -> None:
        timed.append((when, raw(event_type, when, **fields)))

    for i in range(20):
        add(start + 10, "agent.state", agent_id=f"b{i}", state="on_call", queues=["billing"])
        add(opened + 5, "agent.state", agent_id=f"b{i}", state="offline", queues=["billing"])
    for i in range(10):
        add(start + 10, "agent.state", agent_id=f"s{i}", state="on_call", queues=["sales"])
    for i in range(30):  # billing's handle time: 5 minutes
        add(opened - 900 + 30 * i, "call.completed", call_id=f"bd{i}", agent_id=f"b{i % 20}",
            talk_seconds=240.0, hold_seconds=0.0, acw_seconds=60.0, **billing)  # fmt: skip
    for i in range(20):  # callers pile up on billing with nobody to answer
        add(opened + 30 * i, "call.queued", call_id=f"bw{i}", **billing)
    last = opened + 600
    for i, t in enumerate(range(int(start) + 60, int(last) - 10, 40)):  # sales: steady
        add(t, "call.queued", call_id=f"s{i}", **sales)
        add(t + 2, "call.answered", call_id=f"s{i}", agent_id=f"s{i % 10}", wait_seconds=2.0,
            **sales)  # fmt: skip
        if t + 302 < last:
            add(t + 302, "call.completed", call_id=f"s{i}", agent_id=f"s{i % 10}",
                talk_seconds=240.0, hold_seconds=0.0, acw_seconds=60.0, **sales)  # fmt: skip
    add(last, "component.health", component="pbx-1", kind="pbx", status="up")
    timed.sort(key=lambda pair: pair[0])
    path.write_bytes(b"\n".join(line for _, line in timed) + b"\n")
    return opened, last


def local(t: float) -> str:
    return time.strftime("%Y-%m-%dT%H:%M", time.gmtime(t))


def test_one_backlog_shows_one_drain_eta_on_every_surface_with_pending_and_coming(
    tmp_path: Path,
) -> None:
    """A window's backlog, through the real pipeline (a replayed file, so its clock stops at
    the last event and every surface reads one evaluation): the MaintenanceBacklog
    annotation, the gauge, the JSON API, the page's row in a real Chromium and `callpulse
    status` all give the same drain ETA, where the queue's own constant-staffing reading
    (nobody left to answer) said "never". The page also lists the pending alert the window
    suppresses, with when it fires, and the window coming with its forecast."""
    path = tmp_path / "window.jsonl"
    opened, last = window_replay(path)
    (tmp_path / "rules.yaml").write_text(ETA_RULES)
    config: dict[str, Any] = {
        "rule_files": [str(tmp_path / "rules.yaml")],
        "alerting": {"evaluation_interval": "1s"},
        "maintenance": {
            "timezone": "UTC",
            "windows": [
                {"name": "mw-now", "sites": ["lon1"], "queues": ["billing"],
                 "start": local(opened), "duration": "20m"},
                {"name": "mw-next", "sites": ["lon1"], "queues": ["sales"],
                 "start": local(opened + 1200), "duration": "30m", "agents_affected": "50%"},
            ],
            "backlog": {"max_calls_waiting": 10, "for": "0s", "patience": "1000h"},
        },
    }  # fmt: skip
    daemon = Daemon(tmp_path, config, args=("replay", str(path)))
    daemon.start()
    browser = None
    try:
        daemon.wait_ready(30)

        def backlog_alert() -> list[dict[str, Any]]:
            alerts = json.loads(daemon.get("/api/v1/alerts")[1] or "{}")
            return [
                a
                for a in alerts.get("data", {}).get("alerts", [])
                if a["labels"]["alertname"] == "MaintenanceBacklog" and a["state"] == "firing"
            ]

        [alert] = wait_until(backlog_alert, 60, "MaintenanceBacklog firing")
        status = json.loads(daemon.get("/api/v1/status")[1])
        assert status["now"].startswith(time.strftime("%Y-%m-%dT%H:%M", time.gmtime(last)))
        notes = alert["annotations"]
        [row] = [q for q in status["queues"] if q["queue"] == "billing"]
        samples = daemon.samples()

        def gauge(suffix: str) -> float:
            key = frozenset({"site": "lon1", "queue": "billing"}.items())
            return samples[(f"callpulse_queue_drain_eta{suffix}_seconds", key)]

        # 1-3: the annotation, the gauge and the JSON API.
        eta = int(notes["drain_eta"].removesuffix("s"))
        assert round(gauge("")) == eta == row["drain_eta_seconds"]
        assert round(gauge("_low")) == int(notes["drain_eta_low"].removesuffix("s"))
        assert round(gauge("_low")) == row["drain_eta_low_seconds"]
        if notes["drain_eta_high"] == "inf":
            assert gauge("_high") == float("inf")
            assert row["drain_eta_high_seconds"] is None
        else:
            high = int(notes["drain_eta_high"].removesuffix("s"))
            assert round(gauge("_high")) == high == row["drain_eta_high_seconds"]
        assert (row["drains"], row["drain_eta_maintenance"]) == (True, "mw-now")
        # Nobody is left on billing: at constant staffing it would never drain. The ETA is
        # the window's: after the window's end (10 min away), as the summary says.
        assert row["agents"]["on_call"] + row["agents"]["available"] == 0
        assert eta > 600
        minutes = f"{eta / 60:.0f} min"
        assert f"drains in {max(1, round(eta / 60))} min" in notes["summary"]

        # 4: the page, in a real Chromium.
        browser = chromium()
        browser.get(f"http://127.0.0.1:{daemon.port}/")
        cells = wait_until(
            lambda: [
                r.find_element(By.CSS_SELECTOR, "td.eta")
                for r in browser.find_elements(By.CSS_SELECTOR, "#queues tbody tr")
                if "billing" in r.text
            ],
            20,
            "billing's row on the page",
        )
        assert cells[0].get_attribute("data-seconds") == str(eta)
        assert cells[0].text.startswith(minutes)
        assert "never" not in cells[0].text

        # 5: `callpulse status`, which reads the JSON API.
        terminal = subprocess.run(
            [sys.executable, "-m", "callpulse", "status", "--url",
             f"http://127.0.0.1:{daemon.port}"],
            capture_output=True, text=True, timeout=30, env=os.environ | {"COLUMNS": "240"},
        )  # fmt: skip
        assert terminal.returncode == 0, terminal.stderr
        table = terminal.stdout[terminal.stdout.index("Queues") :]
        [line] = [x for x in table.splitlines() if "billing" in x]
        assert minutes in line
        assert "never" not in line

        # The pending alert the window suppresses, with when it fires, everywhere.
        [pending] = [
            a for a in status["alerts"]["pending"] if a["labels"]["alertname"] == "QueueWaitingLong"
        ]
        assert pending["suppressedBy"] == "mw-now"
        assert 3000 < pending["firesInSeconds"] <= 3600
        labels = {"alertname": "QueueWaitingLong", "alertstate": "pending", "site": "lon1",
                  "queue": "billing", "severity": "warning", "suppressed_by": "mw-now"}  # fmt: skip
        assert samples[("callpulse_alerts", frozenset(labels.items()))] == 1
        [shown] = [
            r.text
            for r in browser.find_elements(By.CSS_SELECTOR, "#alerts-pending tbody tr")
            if "QueueWaitingLong" in r.text
        ]
        assert "mw-now" in shown
        assert secs_text(pending["firesInSeconds"]) in shown
        assert "QueueWaitingLong" not in browser.find_element(By.ID, "alerts-firing").text
        assert "pending, fires in" in terminal.stdout

        # The window coming, with its forecast, where "no window open" would have been.
        [coming] = status["upcoming"]
        assert (coming["name"], coming["starts_in_seconds"]) == ("mw-next", 600)
        assert coming["forecast_expected"]
        [forecast] = coming["forecasts"]
        assert (forecast["queue"], forecast["agents_lost"]) == ("sales", 5)
        assert forecast["peak_low"] <= forecast["peak"] <= forecast["peak_high"]
        [upcoming] = [r.text for r in browser.find_elements(By.CSS_SELECTOR, "#upcoming tbody tr")]
        peak = (
            f"{round(forecast['peak'])} ({round(forecast['peak_low'])} \u2013 "
            f"{round(forecast['peak_high'])})"
        )
        assert upcoming.startswith("mw-next in 10 min lon1 sales 5 of 10")
        assert peak in upcoming
        ARTIFACTS.mkdir(exist_ok=True)
        browser.save_screenshot(str(ARTIFACTS / "status-page-window.png"))
        browser.execute_script("render(Object.assign(arguments[0], {maintenance: []}))", status)
        maintenance = browser.find_element(By.ID, "maintenance").text
        assert "no window open now; mw-next opens in 10 min" in maintenance
        assert "mw-next" in terminal.stdout
        errors = [e for e in browser.get_log("browser") if e["level"] == "SEVERE"]
        assert errors == []
    finally:
        if browser is not None:
            browser.quit()
        assert daemon.stop() == 0


def rows_text(browser: webdriver.Chrome, table: str) -> list[str]:
    return [r.text for r in browser.find_elements(By.CSS_SELECTOR, f"#{table} tbody tr")]


def secs_text(seconds: float) -> str:
    """What the page shows for a duration (its secs())."""
    if seconds < 90:
        return f"{round(seconds)} s"
    if seconds < 5400:
        return f"{round(seconds / 60)} min"
    return f"{seconds / 3600:.1f} h"

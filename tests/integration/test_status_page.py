"""The newcomer's first five minutes: the embedded default raises an alert within two
minutes, in the log and on the status page, as a real headless Chromium shows it."""

from __future__ import annotations

import json
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

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

"""The status page an on-call engineer meets in the demo, in a real Chromium, before, during
and after its planned window: the simulated-data banner, the header's links (never the
Alertmanager URL's credentials), each site's freshness, alerts pending with when they fire
and their runbook, the window coming with its forecast, and a real Alertmanager's silences,
callpulse's marked and the alert one of them mutes shown as silenced. Screenshots of each
phase are kept in test-artifacts/."""

from __future__ import annotations

import base64
import json
import time
import urllib.request
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from selenium.webdriver.common.by import By
from selenium.webdriver.remote.webdriver import WebDriver

from callpulse.core.planned_silences import CREATED_BY, comment
from callpulse.core.timefmt import rfc3339

from .alertmanager import Alertmanager
from .helpers import Daemon, wait_until
from .test_status_page import ARTIFACTS, chromium

pytestmark = [pytest.mark.integration, pytest.mark.waits]
USER, PASSWORD = "callpulse", "am-s3cret"
GRAFANA = "https://grafana.example/d/callpulse"
RUNBOOK = "https://runbooks.example/billing-watch"
# Pending all through the demo: a real rule whose `for` never runs out in 90 minutes.
WATCH = {
    "alert": "BillingWatch",
    "kpi": "queue_calls_waiting",
    "match": {"queue": "billing"},
    "op": ">=",
    "threshold": 0,
    "for": "24h",
    "annotations": {"summary": "billing is watched", "runbook_url": RUNBOOK},
}


def add_silence(am: Alertmanager, alertname: str, by: str, note: str, ends: float) -> None:
    """A silence made through Alertmanager's API, as a person (or callpulse) makes one."""
    body = {
        "matchers": [{"name": "alertname", "value": alertname, "isRegex": False}],
        "startsAt": rfc3339(time.time()),
        "endsAt": rfc3339(ends),
        "createdBy": by,
        "comment": note,
    }
    token = base64.b64encode(f"{USER}:{PASSWORD}".encode()).decode()
    request = urllib.request.Request(
        f"{am.url}/api/v2/silences",
        data=json.dumps(body).encode(),
        method="POST",
        headers={"Content-Type": "application/json", "Authorization": f"Basic {token}"},
    )
    with urllib.request.urlopen(request, timeout=5) as response:
        assert response.status == 200


def rows(browser: WebDriver, table: str) -> list[Any]:
    return list(browser.find_elements(By.CSS_SELECTOR, f"#{table} tbody tr"))


def row_with(browser: WebDriver, table: str, *texts: str) -> Any:
    [row] = [r for r in rows(browser, table) if all(t in r.text for t in texts)]
    return row


def epoch(iso: str) -> float:
    return datetime.fromisoformat(iso).timestamp()


def check_time_cell(cell: Any, now: str) -> None:
    """A time shown relative to the document's now, the exact one in its title."""
    exact = cell.get_attribute("title")
    assert exact == cell.get_attribute("data-time")
    text = cell.text
    assert text == "now" or text.startswith("in ") or text.endswith(" ago"), text
    assert (text.startswith("in ")) == (epoch(exact) - epoch(now) >= 1)


def check_every_phase(
    browser: WebDriver, am: Alertmanager, document: dict[str, Any], window: str
) -> None:
    now = document["now"]
    banner = browser.find_element(By.ID, "banner")
    assert banner.is_displayed()
    assert banner.text == (
        "SIMULATED DATA \u2014 the built-in demo scenario maintenance-backlog at 30x"
    )
    grafana = browser.find_element(By.ID, "link-grafana")
    assert (grafana.text, grafana.get_attribute("href")) == ("Grafana", GRAFANA + "")
    alertmanager = browser.find_element(By.ID, "link-alertmanager")
    assert alertmanager.get_attribute("href") == f"http://127.0.0.1:{am.port}/"
    assert PASSWORD not in browser.page_source
    # Freshness: each site's last event seconds ago on the monitor's clock, not stale; no
    # Kafka, so no lag.
    sites = rows(browser, "sites")
    assert len(sites) == len(document["sites"]) == 2
    for site, shown in zip(sites, document["sites"], strict=True):
        cells = site.find_elements(By.TAG_NAME, "td")
        assert [c.text for c in cells][0::2] == [shown["site"], "fresh", ""]
        check_time_cell(cells[1], now)
        assert cells[1].text.endswith(" ago") or cells[1].text == "now"
        assert shown["last_event_age_seconds"] < 60
    # The real rule pending all along, with when it fires and its runbook.
    pending = row_with(browser, "alerts-pending", "BillingWatch", "lon1")
    fires = pending.find_element(By.CSS_SELECTOR, "td[data-time]")
    check_time_cell(fires, now)
    assert fires.text.startswith("in ")
    link = pending.find_element(By.CSS_SELECTOR, "td.runbook a")
    assert link.get_attribute("href") == RUNBOOK
    # Silences as the Alertmanager holds them, callpulse's marked with its window.
    silences = document["silences"]
    assert silences["error"] is None
    operator = row_with(browser, "silences", "oncall@example")
    assert 'alertname="MaintenanceImpactForecast"' in operator.text
    check_time_cell(operator.find_element(By.CSS_SELECTOR, "td.ends"), silences["now"])
    own = row_with(browser, "silences", CREATED_BY + " ")
    assert own.find_element(By.CSS_SELECTOR, "td.own").text == window
    errors = [e for e in browser.get_log("browser") if e["level"] == "SEVERE"]
    assert errors == []


@pytest.mark.timeout(300)
def test_the_demo_page_before_during_and_after_its_window(tmp_path: Path) -> None:
    am = Alertmanager(tmp_path, basic_auth=(USER, PASSWORD)).start()
    url = f"http://{USER}:{PASSWORD}@127.0.0.1:{am.port}"
    # The embedded default's simulator source, with a real Alertmanager and a rule added.
    config = {
        "alerting": {"alertmanagers": [{"url": url}], "evaluation_interval": "1s"},
        "rules": [WATCH],
    }
    daemon = Daemon(tmp_path, config)
    daemon.config["http"]["status_page"] = {"grafana_url": GRAFANA, "silences_interval": "1s"}
    daemon.start()
    browser = None
    try:
        daemon.wait_ready(60)

        def document() -> dict[str, Any]:
            status, body = daemon.get("/api/v1/status")
            assert status == 200
            return dict(json.loads(body))

        def when(check: Callable[[dict[str, Any]], bool], timeout: float, what: str) -> Any:
            def met() -> dict[str, Any] | None:
                d = document()
                return d if check(d) else None

            return wait_until(met, timeout, what)

        coming = when(lambda d: bool(d["upcoming"]), 60, "the planned window coming")
        [window] = coming["upcoming"]
        opens, closes = epoch(window["start"]), epoch(window["end"])
        # An operator's silence of the forecast alert, and one as callpulse makes for the
        # window (at 30x its clock is event time, on which callpulse makes none itself).
        add_silence(am, "MaintenanceImpactForecast", "oncall@example", "known", time.time() + 3600)
        add_silence(
            am, "ComponentDown", CREATED_BY, comment(window["name"], opens), time.time() + 3600
        )

        browser = chromium()
        browser.get(f"http://127.0.0.1:{daemon.port}/")
        ARTIFACTS.mkdir(exist_ok=True)

        # Before: the forecast, firing and muted by the operator's silence.
        def before(d: dict[str, Any]) -> bool:
            forecast = [
                a for a in d["alerts"]["firing"]
                if a["labels"]["alertname"] == "MaintenanceImpactForecast"
            ]  # fmt: skip
            forecasts = d["upcoming"] and d["upcoming"][0]["forecasts"]
            silenced = forecast and forecast[0]["silencedBy"]
            return bool(forecasts and silenced and len(d["silences"]["items"]) == 2)

        seen = when(before, 60, "the forecast firing and silenced before the window")
        assert not seen["maintenance"]
        wait_until(
            lambda: "silenced" in browser.find_element(By.ID, "alerts-firing").text,
            15,
            "the silenced forecast on the page",
        )
        snapshot = document()
        check_every_phase(browser, am, snapshot, window["name"])
        row = row_with(browser, "upcoming", window["name"])
        check_time_cell(row.find_element(By.CSS_SELECTOR, "td[data-time]"), snapshot["now"])
        assert " in " in f" {row.text}"
        assert row.find_element(By.CSS_SELECTOR, "td.forecast-peak").text
        forecast = row_with(browser, "alerts-firing", "MaintenanceImpactForecast")
        assert "silenced" in forecast.find_element(By.CSS_SELECTOR, "td.silenced-by").text
        assert "silenced" in (forecast.get_attribute("class") or "")
        browser.save_screenshot(str(ARTIFACTS / "status-demo-before.png"))

        # During: the window open, since when and until when.
        during = when(lambda d: bool(d["maintenance"]), 90, "the window open")
        wait_until(
            lambda: browser.find_elements(By.CSS_SELECTOR, "#maintenance td[data-time]"),
            15,
            "the open window on the page",
        )
        check_every_phase(browser, am, document(), window["name"])
        open_row = row_with(browser, "maintenance", window["name"])
        opened, ends = open_row.find_elements(By.CSS_SELECTOR, "td[data-time]")
        assert opened.text.endswith(" ago") or opened.text == "now"
        assert ends.text.startswith("in ")
        assert epoch(ends.get_attribute("title")) == closes
        assert epoch(during["now"]) >= opens
        browser.save_screenshot(str(ARTIFACTS / "status-demo-during.png"))

        # After: no window open, the page as fresh as before.
        when(lambda d: not d["maintenance"] and epoch(d["now"]) > closes, 90, "the window over")
        wait_until(lambda: "no window open" in browser.find_element(By.ID, "maintenance").text,
                   15, "the window gone from the page")  # fmt: skip
        check_every_phase(browser, am, document(), window["name"])
        browser.save_screenshot(str(ARTIFACTS / "status-demo-after.png"))

        # An Alertmanager gone: its error instead of the silences, the page still answering.
        am.stop()
        failed = when(lambda d: d["silences"]["error"] is not None, 30, "the read's error")
        assert failed["silences"]["items"] == []
        assert PASSWORD not in failed["silences"]["error"]
        error = wait_until(
            lambda: browser.find_elements(By.CSS_SELECTOR, "#silences td.silences-error"),
            15,
            "the error on the page",
        )
        assert "cannot read the silences of alertmanager:" in error[0].text
        assert PASSWORD not in browser.page_source
    finally:
        if browser is not None:
            browser.quit()
        am.stop()
        assert daemon.stop() == 0

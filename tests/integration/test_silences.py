"""Silences for planned windows in a real Alertmanager: created for the window, silencing a
foreign exporter's alert, expired at the end or after the overrun, adopted again after a
restart, and nobody else's silence touched."""

from __future__ import annotations

import json
import math
import time
import urllib.request
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from callpulse.core.planned_silences import CREATED_BY, comment, tag
from callpulse.core.timefmt import rfc3339
from tests.unit.events import raw

from .alertmanager import Alertmanager
from .helpers import SECRETS, Daemon, kafka_config, kcat_produce, wait_until

pytestmark = pytest.mark.integration

# callpulse's own alert names with no rule configured: the built-in ones.
OWN = "CallpulseSourceDown|MaintenanceBacklog|MaintenanceImpactForecast|MaintenanceOverrun"


def call(am: Alertmanager, method: str, path: str, body: Any = None) -> Any:
    if method == "GET":  # with the credentials it demands, if any
        with am.get(path) as response:
            return json.load(response)
    request = urllib.request.Request(
        f"{am.url}{path}",
        data=json.dumps(body).encode(),
        method=method,
        headers={"Content-Type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=5) as response:
        text = response.read()
    return json.loads(text) if text else None


def silences(am: Alertmanager) -> list[dict[str, Any]]:
    return list(call(am, "GET", "/api/v2/silences"))


def occurrence_silences(am: Alertmanager, window: str, start: float) -> list[dict[str, Any]]:
    """callpulse's silences (any state) for ``window``'s occurrence starting at ``start``."""
    key = (window, rfc3339(start))
    return [s for s in silences(am) if s["createdBy"] == CREATED_BY and tag(s["comment"]) == key]


def silence_by(am: Alertmanager, created_by: str, comment_text: str, ends: float) -> str:
    """A silence the test makes beforehand, as someone else would; its id."""
    body = {
        "matchers": [
            {"name": "site", "value": "lon1", "isRegex": True, "isEqual": True},
            {"name": "alertname", "value": OWN, "isRegex": True, "isEqual": False},
        ],
        "startsAt": rfc3339(time.time()),
        "endsAt": rfc3339(ends),
        "createdBy": created_by,
        "comment": comment_text,
    }
    return str(call(am, "POST", "/api/v2/silences", body)["silenceID"])


def fire(am: Alertmanager, alertname: str, **labels: str) -> None:
    """An alert as another exporter's Prometheus would send it."""
    now = time.time()
    alert = {
        "labels": {"alertname": alertname, **labels},
        "startsAt": rfc3339(now),
        "endsAt": rfc3339(now + 3600),
    }
    call(am, "POST", "/api/v2/alerts", [alert])


def alert_status(am: Alertmanager, alertname: str) -> dict[str, Any]:
    [found] = [a for a in am.alerts() if a["labels"]["alertname"] == alertname]
    return dict(found["status"])


def whole_second(offset: float) -> float:
    """A calendar start ``offset`` seconds from now, on a whole second (config has seconds)."""
    return float(math.ceil(time.time() + offset))


def local(start: float) -> str:
    return datetime.fromtimestamp(start, UTC).strftime("%Y-%m-%dT%H:%M:%S")


def silencing_config(
    kafka: str,
    topics: tuple[str, str],
    am: Alertmanager,
    windows: list[dict[str, Any]],
    **auth: Any,
) -> dict[str, Any]:
    topic, dlq = topics
    config: dict[str, Any] = kafka_config(kafka, topic, dlq, f"g-{uuid.uuid4().hex}")
    config["alerting"] = {
        "alertmanagers": [{"url": am.url, "name": "am", **auth}],
        "evaluation_interval": "1s",
        "silence_windows": {"enabled": True},
    }
    # No configured rules: callpulse's own alerts, which its silences leave out, are then the
    # built-in ones (OWN).
    config["rule_files"] = []
    config["maintenance"] = {
        "timezone": "UTC",
        "windows": windows,
        "backlog": {"overrun_after": "2s", "for": "0s", "keep_firing_for": "0s"},
    }
    return config


def held_metric(daemon: Daemon, state: str) -> float | None:
    return daemon.value("callpulse_silences", alertmanager="alertmanager:am", state=state)


def test_a_window_is_silenced_from_its_start_to_its_end_and_no_other_silence_is_touched(
    kafka_bootstrap: str, topics: tuple[str, str], tmp_path: Path, alertmanager: Alertmanager
) -> None:
    am = alertmanager
    start = whole_second(25)
    end = start + 15
    later = time.time() + 3600
    # Beforehand: the same matchers by someone else, even with callpulse's own comment; one
    # created by "callpulse" by hand (no tag); one of another callpulse's window.
    others = {
        silence_by(am, "alice", comment("patch-lon1", start), later),
        silence_by(am, CREATED_BY, "muted by hand during the patching", later),
        silence_by(am, CREATED_BY, comment("another-deployments-window", start), later),
    }
    before = {s["id"]: s for s in silences(am)}
    # Alice's silences the foreign alert too: what shows callpulse's is its id in silencedBy.
    fire(am, "SbcCpuHigh", site="lon1", instance="sbc1:9100")
    fire(am, "MaintenanceOverrun", site="lon1", component="sbc-1", maintenance="patch-lon1")
    fire(am, "NodeDown", site="nyc1", instance="node9:9100")
    window = {"name": "patch-lon1", "sites": ["lon1"], "start": local(start), "duration": "15s"}
    daemon = Daemon(tmp_path, silencing_config(kafka_bootstrap, topics, am, [window]))
    daemon.start()
    try:
        daemon.wait_ready()
        # callpulse's silence comes up to lead (1m) early, pending until the start.
        [mine] = wait_until(lambda: occurrence_silences(am, "patch-lon1", start), 20, "silence")
        assert time.time() < start - 1, "the daemon took too long to start for this test"
        assert mine["status"]["state"] == "pending"
        assert (mine["startsAt"], mine["endsAt"]) == (rfc3339(start), rfc3339(end))
        assert {(m["name"], m["value"], m["isRegex"], m["isEqual"]) for m in mine["matchers"]} == {
            ("site", "lon1", True, True),
            ("alertname", OWN, True, False),
        }
        assert mine["id"] not in alert_status(am, "SbcCpuHigh")["silencedBy"]

        # The window opens: the foreign alert is silenced by callpulse's silence; callpulse's
        # own alert and another site's are not silenced by it.
        wait_until(lambda: time.time() > start + 1, 30, "the window to open")
        status = wait_until(
            lambda: (
                (s := alert_status(am, "SbcCpuHigh"))["state"] == "suppressed"
                and mine["id"] in s["silencedBy"]
                and s
            ),
            10,
            "the foreign alert to be silenced by callpulse's silence",
        )
        assert status["state"] == "suppressed"
        assert mine["id"] not in alert_status(am, "MaintenanceOverrun")["silencedBy"]
        assert alert_status(am, "NodeDown")["silencedBy"] == []
        assert held_metric(daemon, "active") == 1

        # The window ends: the silence is expired, and no other is made for it.
        wait_until(lambda: time.time() > end + 3, 40, "the window to end")
        [after] = occurrence_silences(am, "patch-lon1", start)
        assert after["id"] == mine["id"]
        assert after["status"]["state"] == "expired"
        assert mine["id"] not in alert_status(am, "SbcCpuHigh")["silencedBy"]
        assert not daemon.log_events("silence_sync_failed")
    finally:
        daemon.stop()
    now = {s["id"]: s for s in silences(am)}
    for sid in others:
        assert now[sid] == before[sid] | {"status": now[sid]["status"]}
        assert now[sid]["status"]["state"] == "active"


def health(kafka: str, topics: tuple[str, str], tmp: Path, status: str) -> None:
    event = raw("component.health", time.time(), component="sbc-1", kind="sbc", status=status)
    kcat_produce(kafka, topics[0], [("lon1", event)], tmp)


def test_a_component_still_down_keeps_the_silence_until_the_overrun_is_over(
    kafka_bootstrap: str, topics: tuple[str, str], tmp_path: Path, alertmanager: Alertmanager
) -> None:
    am = alertmanager
    start = whole_second(20)
    end = start + 10
    window = {
        "name": "patch-sbc",
        "sites": ["lon1"],
        "components": ["sbc-1"],
        "start": local(start),
        "duration": "10s",
    }
    daemon = Daemon(tmp_path, silencing_config(kafka_bootstrap, topics, am, [window]))
    daemon.start()
    try:
        daemon.wait_ready()
        [mine] = wait_until(lambda: occurrence_silences(am, "patch-sbc", start), 20, "silence")
        assert mine["endsAt"] == rfc3339(end)  # nothing is down yet
        health(kafka_bootstrap, topics, tmp_path, "down")
        assert ("component", "sbc-1", True, True) in {
            (m["name"], m["value"], m["isRegex"], m["isEqual"]) for m in mine["matchers"]
        }
        fire(am, "SbcDown", site="lon1", component="sbc-1", instance="sbc1:9100")

        # Past the end and overrun_after, sbc-1 still down: callpulse pages the overrun,
        # and the silence (its own page left out) still holds the SBC's alert.
        wait_until(
            lambda: any(a["labels"]["alertname"] == "MaintenanceOverrun" for a in am.alerts()),
            40,
            "MaintenanceOverrun to reach Alertmanager",
        )
        assert time.time() > end + 2
        [held] = occurrence_silences(am, "patch-sbc", start)
        assert held["id"] == mine["id"]
        assert held["status"]["state"] == "active"
        assert [e["maintenance"] for e in daemon.log_events("silence_updated")] == ["patch-sbc"]
        sbc = alert_status(am, "SbcDown")
        assert sbc["state"] == "suppressed"
        assert mine["id"] in sbc["silencedBy"]
        assert mine["id"] not in alert_status(am, "MaintenanceOverrun")["silencedBy"]

        # sbc-1 is back: the overrun is over, and so is the silence.
        health(kafka_bootstrap, topics, tmp_path, "up")
        wait_until(
            lambda: occurrence_silences(am, "patch-sbc", start)[0]["status"]["state"] == "expired",
            20,
            "the silence to be expired once sbc-1 is up",
        )
        [gone] = occurrence_silences(am, "patch-sbc", start)
        assert gone["id"] == mine["id"]
        assert [e["maintenance"] for e in daemon.log_events("silence_expired")] == ["patch-sbc"]
        assert alert_status(am, "SbcDown")["state"] == "active"
    finally:
        daemon.stop()


def test_a_restart_mid_window_adopts_the_silence_instead_of_making_another(
    kafka_bootstrap: str, topics: tuple[str, str], tmp_path: Path
) -> None:
    # An Alertmanager that demands basic auth: the silences go with the sink's credentials.
    password = "silences-" + uuid.uuid4().hex[:12]
    SECRETS.add(password)
    am = Alertmanager(tmp_path, basic_auth=("callpulse", password)).start()
    start = whole_second(12)
    window = {"name": "patch-lon1", "sites": ["lon1"], "start": local(start), "duration": "5m"}
    auth = {"basic_auth": {"username": "callpulse", "password": password}}
    config = silencing_config(kafka_bootstrap, topics, am, [window], **auth)
    first = Daemon(tmp_path, config, name="first")
    second = Daemon(tmp_path, config, name="second")
    try:
        first.start()
        first.wait_ready()
        [mine] = wait_until(lambda: occurrence_silences(am, "patch-lon1", start), 20, "silence")
        wait_until(lambda: time.time() > start + 1, 30, "the window to open")
        assert first.stop() == 0
        second.start()
        second.wait_ready()
        # A sync has read the Alertmanager once the gauge counts the silence it found.
        wait_until(lambda: held_metric(second, "active") == 1, 30, "the second daemon's sync")
        [still] = occurrence_silences(am, "patch-lon1", start)
        assert still["id"] == mine["id"]
        assert still["status"]["state"] == "active"
        assert still["updatedAt"] == mine["updatedAt"]
        assert not second.log_events("silence_created")
        assert not second.log_events("silence_updated")
        assert not second.log_events("silence_sync_failed")
    finally:
        first.kill()
        if second.process is not None:
            second.stop()
        am.stop()


def test_replicas_that_raced_keep_one_silence_for_the_occurrence(
    kafka_bootstrap: str, topics: tuple[str, str], tmp_path: Path, alertmanager: Alertmanager
) -> None:
    am = alertmanager
    start = whole_second(-5)  # open already
    # The race already happened: two of callpulse's silences for the one occurrence.
    made = sorted(
        silence_by(am, CREATED_BY, comment("patch-lon1", start), start + 300) for _ in range(2)
    )
    window = {"name": "patch-lon1", "sites": ["lon1"], "start": local(start), "duration": "5m"}
    config = silencing_config(kafka_bootstrap, topics, am, [window])
    replicas = [Daemon(tmp_path, config, name=f"replica{i}") for i in range(2)]
    try:
        for replica in replicas:
            replica.start()
        for replica in replicas:
            replica.wait_ready()

        def live() -> list[str]:
            found = occurrence_silences(am, "patch-lon1", start)
            return [s["id"] for s in found if s["status"]["state"] != "expired"]

        # Both replicas keep the same one (the lower id) and expire the other, whichever
        # gets there first; neither makes a third.
        wait_until(lambda: live() == made[:1], 30, "one live silence")
        for replica in replicas:
            wait_until(lambda r=replica: held_metric(r, "active") == 1, 30, "a replica's sync")
        assert live() == made[:1]
        assert len(occurrence_silences(am, "patch-lon1", start)) == 2
        for replica in replicas:
            assert not replica.log_events("silence_created")
    finally:
        for replica in replicas:
            if replica.process is not None:
                replica.stop()

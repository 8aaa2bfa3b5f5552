"""A reload reaches the running parts from one place: for every reloadable key, a daemon
that reloads a changed value runs as one started on it would, and a key that cannot be
reloaded is named in ``restart_needed_for``.

The keys are enumerated from the schema, not listed here: a key added later is covered
(and must have a changed value below, or the test says which one is missing)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml
from pydantic import BaseModel

from callpulse import pipeline
from callpulse import reload as reloading
from callpulse.config import Settings, load_settings
from callpulse.config.convert import monitor_config
from callpulse.config.schema import BacklogSettings, EventWindowSettings, MaintenanceSettings
from callpulse.core.clock import WALL_TIME
from callpulse.reload import Reloader

NOW = 1_800_000_000.0
WINDOW = {
    "name": "pbx-upgrade",
    "start": "2027-01-15T02:00:00",
    "duration": "1h",
    "sites": ["lon1"],
    "agents_affected": 0.5,
}
BASE: dict[str, Any] = {"maintenance": {"windows": [WINDOW]}}

# A changed, valid value for every reloadable leaf key.
CHANGED: dict[str, Any] = {
    "maintenance.timezone": "Europe/London",
    "maintenance.windows": [WINDOW | {"duration": "2h"}],
    "maintenance.events": "calendar_only",
    "maintenance.backlog.grace": 600,
    "maintenance.backlog.baseline": 900,
    "maintenance.backlog.min_calls_waiting": 8,
    "maintenance.backlog.max_calls_waiting": 30,
    "maintenance.backlog.max_backlog_ratio": 2.0,
    "maintenance.backlog.max_drain_eta": 1200,
    "maintenance.backlog.drained_calls_waiting": 3,
    "maintenance.backlog.patience": 300,
    "maintenance.backlog.forecast_lead": 3600,
    "maintenance.backlog.overrun_after": 120,
    "maintenance.backlog.return_spread": 60,
    "maintenance.backlog.page_confidence": 0.9,
    "maintenance.backlog.for": 30,
    "maintenance.backlog.keep_firing_for": 300,
    "maintenance.backlog.severity": "page",
    "maintenance.event_windows.sites": ["lon1"],
    "maintenance.event_windows.components": ["pbx"],
    "maintenance.event_windows.max_duration": 3600,
    "maintenance.event_windows.max_open_per_site": 5,
    "maintenance.event_windows.max_names": 16,
    "maintenance.event_windows.max_bytes": 1024 * 1024,
    "rules": [
        {
            "alert": "Waiting",
            "kpi": "queue_calls_waiting",
            "op": ">",
            "threshold": 3,
            "for": "30s",
            "severity": "ticket",
        }
    ],
    "rule_files": [],
}


def leaves(model: type[BaseModel], prefix: str) -> list[str]:
    out = []
    for name, info in model.model_fields.items():
        key = prefix + (info.alias or name)
        nested = {
            "backlog": BacklogSettings,
            "event_windows": EventWindowSettings,
        }.get(name)
        out += leaves(nested, key + ".") if nested else [key]
    return out


RELOADABLE = [*leaves(MaintenanceSettings, "maintenance."), "rules", "rule_files"]


def test_every_reloadable_key_has_a_changed_value() -> None:
    assert sorted(RELOADABLE) == sorted(CHANGED)


def put(data: dict[str, Any], key: str, value: Any) -> dict[str, Any]:
    out = yaml.safe_load(yaml.safe_dump(data))
    *path, last = key.split(".")
    node = out
    for part in path:
        node = node.setdefault(part, {})
    node[last] = value
    return out


class Recorder:
    """The reloader's log, kept (structlog's capture misses a logger cached by another test)."""

    def __init__(self) -> None:
        self.events: list[dict[str, Any]] = []

    def info(self, event: str, **fields: Any) -> None:
        self.events.append({"event": event, **fields})

    warning = error = info


@pytest.fixture
def logged(monkeypatch: pytest.MonkeyPatch) -> Recorder:
    recorder = Recorder()
    monkeypatch.setattr(reloading, "log", recorder)
    return recorder


def reloader_of(path: Path, settings: Settings, parts: pipeline.Pipeline) -> Reloader:
    return Reloader(
        path,
        settings,
        parts.alerting,
        parts.monitor,
        lambda new: monitor_config(new, event_time_clock=False),
    )


def running(settings: Settings) -> pipeline.Pipeline:
    return pipeline.build(settings, now=NOW, clock=WALL_TIME, deliver=False)


def effect(parts: pipeline.Pipeline) -> tuple[object, ...]:
    """What the running parts do with the reloadable keys."""
    tracker = parts.monitor.maintenance
    calendar = tracker.calendar
    return (
        tracker.limits,
        tracker.policy,
        None if calendar is None else (tuple(calendar.windows), str(calendar.zone)),
        tuple(r.spec for r in parts.alerting.evaluator.rules),
    )


@pytest.mark.parametrize("key", RELOADABLE)
def test_a_reload_applies_the_whole_key(key: str, tmp_path: Path, logged: Recorder) -> None:
    path = tmp_path / "callpulse.yaml"
    path.write_text(yaml.safe_dump(BASE))
    settings = load_settings(path)
    parts = running(settings)
    before = effect(parts)
    path.write_text(yaml.safe_dump(put(BASE, key, CHANGED[key])))
    assert reloader_of(path, settings, parts).reload("test")
    after = effect(parts)
    assert after != before, f"{key}: the reload changed nothing that runs"
    assert after == effect(running(load_settings(path))), f"{key}: not as a fresh start"
    assert [e["restart_needed_for"] for e in logged.events] == [[]]


@pytest.mark.parametrize(
    ("key", "value"), [("kpi.bucket", 10), ("kpi.trunk_channels", {"carrier-a": 30})]
)
def test_a_key_that_needs_a_restart_is_named(
    key: str, value: Any, tmp_path: Path, logged: Recorder
) -> None:
    # kpi keys shape the monitor's state (windows, caps, capacities): a restart applies them.
    path = tmp_path / "callpulse.yaml"
    path.write_text(yaml.safe_dump(BASE))
    settings = load_settings(path)
    parts = running(settings)
    path.write_text(yaml.safe_dump(put(BASE, key, value)))
    assert reloader_of(path, settings, parts).reload("test")
    assert [e["restart_needed_for"] for e in logged.events] == [["kpi"]]
    assert parts.monitor.config.trunk_channels == {}


def test_a_backlog_limit_and_its_severity_changed_together_both_take_effect(
    tmp_path: Path, logged: Recorder
) -> None:
    # The maintenance policy is swapped whole: a reload that changes when a backlog pages and
    # how it is sent must not keep either half of the old one.
    path = tmp_path / "callpulse.yaml"
    path.write_text(yaml.safe_dump(BASE))
    settings = load_settings(path)
    parts = running(settings)
    changed = put(BASE, "maintenance.backlog.min_calls_waiting", 8)
    changed = put(changed, "maintenance.backlog.severity", "page")
    path.write_text(yaml.safe_dump(changed))
    assert reloader_of(path, settings, parts).reload("test")
    assert parts.monitor.maintenance.limits.min_calls_waiting == 8
    [backlog] = [r for r in parts.alerting.evaluator.rules if r.name == "MaintenanceBacklog"]
    assert backlog.spec.severity == "page"
    assert effect(parts) == effect(running(load_settings(path)))

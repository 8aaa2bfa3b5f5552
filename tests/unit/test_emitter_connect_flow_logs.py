"""The simulator's IVR errors written as Amazon Connect contact flow logs, read back through
the adapter, and every shipped scenario checked through the format against events v1."""

from __future__ import annotations

import json
from typing import Any

import pytest

from callpulse.adapters.connect_flow_logs import ConnectFlowLogOptions, ConnectFlowLogs
from callpulse.config import Settings
from callpulse.shipped import shipped
from callpulse.simulation import scenario as scenarios
from callpulse.simulation.emitters import FORMATS, emitter_for, trunk_emitter
from callpulse.simulation.emitters.connect_flow_logs import ConnectFlowLogEmitter

from .adapters import translated
from .test_emitter_twilio import played

FORMAT = "amazon-connect-flow-logs"


def test_it_is_registered_with_the_hooks_a_comparison_needs() -> None:
    assert FORMAT in FORMATS
    emitter = emitter_for(FORMAT, "lon1")
    assert isinstance(emitter, ConnectFlowLogEmitter)
    assert trunk_emitter(emitter) is emitter
    assert emitter.carries == {"ivr.backend_error", "ivr.input_error"}


def test_an_error_is_written_as_the_admin_guide_lays_an_entry_out() -> None:
    error = {
        "type": "ivr.backend_error", "event_id": "lon1-e7", "site": "lon1",
        "occurred_at": "2025-11-24T16:00:31.640123+00:00", "session_id": "lon1-c7-ivr",
        "application": "lon1-main", "backend": "crm", "error": "timeout",
    }  # fmt: skip
    [record] = ConnectFlowLogEmitter().emit(error)
    entry = json.loads(record)
    assert entry["ContactFlowModuleType"] == "InvokeExternalResource"
    assert entry["ContactId"] == "lon1-c7-ivr"
    assert entry["Timestamp"] == "2025-11-24T16:00:31.640Z"
    assert entry["Parameters"]["FunctionArn"].endswith(":function:crm")
    assert "ExternalResults" not in entry  # absent when the function failed


def test_a_day_of_ivr_errors_reads_back_as_the_format_keeps_them() -> None:
    emitter = ConnectFlowLogEmitter()
    adapter = ConnectFlowLogs(ConnectFlowLogOptions(site="lon1", ivr_application="lon1-main"))
    errors = [
        e for e in played("ivr-backend-outage", 40)
        if e["type"] in emitter.carries and e["site"] == "lon1"
    ]  # fmt: skip
    kinds = {e.get("kind", e["type"]) for e in errors}
    assert kinds == {"ivr.backend_error", "no_input", "no_match"}  # each kind is played
    back = [event for e in errors for r in emitter.emit(e) for event in translated(adapter, r)]
    kept = [k for e in errors for k in emitter.as_kept(e)]
    assert len(back) == len(kept) == len(errors)
    fields = ("type", "session_id", "application", "occurred_at", "backend", "error", "node",
              "kind")  # fmt: skip
    for got, want in zip(back, kept, strict=True):
        want = want | {"occurred_at": want["occurred_at"].replace("+00:00", "Z")}
        assert {f: got.get(f) for f in fields} == {f: want.get(f) for f in fields}
    assert not adapter.ignored


@pytest.mark.parametrize("name", scenarios.names())
def test_every_scenario_through_the_format_agrees_with_events_v1(name: str) -> None:
    from callpulse.cli.scenario import _through

    settings = Settings(rule_files=[shipped("rules.yaml")])
    adapted, problems = _through(FORMAT, scenarios.load(name), settings)
    assert problems == []
    if name == "ivr-backend-outage":
        assert "IvrBackendErrors" in adapted.fired


def test_errors_lost_on_the_way_are_seen(monkeypatch: pytest.MonkeyPatch) -> None:
    # The comparison can fail: an emitter that loses the Lambda errors loses the page.
    from callpulse.cli.scenario import _through
    from callpulse.simulation import platform

    class Losing(ConnectFlowLogEmitter):
        def emit(self, event: Any) -> list[bytes]:
            return [] if event["type"] == "ivr.backend_error" else super().emit(event)

    monkeypatch.setattr(platform, "emitter_for", lambda fmt, site: Losing())
    settings = Settings(rule_files=[shipped("rules.yaml")])
    _, problems = _through(FORMAT, scenarios.load("ivr-backend-outage"), settings)
    assert any(p.startswith("IvrBackendErrors") and "0 episodes" in p for p in problems)

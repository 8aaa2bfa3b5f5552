"""The /metrics families, read through a fresh registry as Prometheus would read them."""

from __future__ import annotations

from typing import Any

import pytest
from prometheus_client import generate_latest
from prometheus_client.parser import text_string_to_metric_families

from callpulse.core.alert_state import Alert
from callpulse.core.ingest import Ingest, RawRecord
from callpulse.core.monitor import Monitor, MonitorConfig
from callpulse.protocols import DeadLetterStats
from callpulse.web.exposition import (
    NO_ALERTS,
    AlertMetrics,
    CallpulseCollector,
    SourceMetrics,
    build_registry,
)

from .events import raw

NOW = 1_800_000_000.0


def scrape(
    ingest: Ingest,
    alerting: AlertMetrics = NO_ALERTS,
    reloads: dict[str, int] | None = None,
    **extra: Any,
) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    collector = CallpulseCollector(
        ingest,
        SourceMetrics(
            lag=lambda: {("events", 0): 7},
            dead_letters=DeadLetterStats(2, 1),
            health=lambda: {("events", 0): "ok"},
        ),
        ready=lambda: True,
        wall_clock=lambda: NOW + 3,
        alerting=alerting,
        reloads=lambda: reloads or {},
        ignored=lambda: {("asterisk-queue-log", "RINGNOANSWER"): 2},
        **extra,
    )
    text = generate_latest(build_registry(collector)).decode()
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


def test_queue_series_and_zero_denominator_rule() -> None:
    ingest = Ingest(Monitor(MonitorConfig(), now=NOW))
    ingest.process(
        [
            RawRecord(raw("call.queued", NOW - 1, call_id="a", queue="billing")),
            RawRecord(raw("call.queued", NOW - 1, call_id="b", queue="sales")),
            RawRecord(
                raw(
                    "call.answered", NOW, call_id="b", queue="sales", agent_id="x", wait_seconds=4.0
                )
            ),
            RawRecord(b"nope"),
        ]
    )
    samples = scrape(ingest)
    billing = (("queue", "billing"), ("site", "lon1"))
    sales_1m = (("queue", "sales"), ("site", "lon1"), ("window", "1m"))
    assert samples[("callpulse_queue_calls_waiting", billing)] == 1
    assert samples[("callpulse_queue_offered_calls", (*billing, ("window", "15m")))] == 1
    assert samples[("callpulse_queue_service_level_ratio", sales_1m)] == 1.0
    assert samples[("callpulse_queue_asa_seconds", sales_1m)] == 4.0
    # billing answered nothing: no ratio series at all, not 0 and not NaN.
    assert not [
        k
        for k in samples
        if k[0] == "callpulse_queue_service_level_ratio" and ("queue", "billing") in k[1]
    ]
    assert samples[("callpulse_queue_calls_offered_total", billing)] == 1
    assert samples[("callpulse_events_total", (("type", "call.queued"),))] == 2
    assert samples[("callpulse_events_invalid_total", (("reason", "invalid_json"),))] == 1
    assert samples[("callpulse_dead_letter_records_total", ())] == 2
    assert samples[("callpulse_dead_letter_failures_total", ())] == 1
    assert (
        samples[("callpulse_consumer_lag_records", (("partition", "0"), ("topic", "events")))] == 7
    )
    assert samples[("callpulse_event_time_lag_seconds", ())] == 3.0
    build = [labels for name, labels in samples if name == "callpulse_build_info"]
    assert [dict(labels)["version"] for labels in build] == ["0.1.0"]
    assert {name for name, _ in build[0]} == {
        "version",
        "revision",
        "python_version",
        "compiled",
        "native",
    }
    assert ("process_resident_memory_bytes", ()) in samples


def test_the_fill_of_every_cap(make_monitor: Any) -> None:
    monitor = make_monitor(
        label_limits={"site": 4, "queue": 8, "agent": 10, "trunk": 5, "component": 2},
        dedup_capacity=1000,
    )
    ingest = Ingest(monitor)
    records = [raw("call.queued", NOW - 1, call_id=f"c{i}", queue="billing") for i in range(3)]
    records += [
        raw("call.queued", NOW - 1, site="nyc1", call_id="n", queue="sales"),
        raw("agent.state", NOW - 1, agent_id="a", state="available", queues=["billing"]),
        raw("component.health", NOW - 1, component="pbx-1", kind="pbx", status="up"),
        raw("maintenance.ended", NOW - 1, maintenance_id="chg-1"),
        raw("call.queued", NOW - 10_000, call_id="late", queue="billing"),
    ]
    assert ingest.process([RawRecord(r) for r in records]) == []

    def fill(**extra: Any) -> dict[str, float]:
        return {
            labels[0][1]: value
            for (name, labels), value in scrape(ingest, **extra).items()
            if name == "callpulse_cap_fill_ratio"
        }

    mine = fill()
    assert sorted(mine) == sorted(
        ["site", "queue", "application", "trunk", "component", "backend", "agent", "dedup",
         "dedup_late", "waiting_calls", "maintenance_event_bytes"]
    )  # fmt: skip
    assert mine == {
        "site": 2 / 4,
        "queue": 2 / 8,
        "application": 0.0,
        "trunk": 0.0,
        "component": 1 / 2,
        "backend": 0.0,
        "agent": 1 / 10,
        "dedup": 7 / 1000,
        "dedup_late": 1 / 1000,
        "waiting_calls": 3 / 10_000,  # the fullest queue's, of 10,000
        # The end is kept (a start could follow it): a share of the 8 MiB budget.
        "maintenance_event_bytes": monitor.maintenance.event_windows.used / (8 * 1024 * 1024),
    }
    assert mine["maintenance_event_bytes"] > 0
    # Caps kept outside the monitor (an adapter's) join the family.
    assert fill(caps=lambda: {"adapter_calls": 0.5}) == mine | {"adapter_calls": 0.5}


def every_event_type_now() -> list[RawRecord]:
    """docs/examples/events-v1.jsonl (one event of every type), moved to just before NOW."""
    import json
    from datetime import UTC, datetime
    from pathlib import Path

    lines = (Path(__file__).resolve().parents[2] / "docs/examples/events-v1.jsonl").read_text()
    records = []
    for i, line in enumerate(lines.splitlines()):
        body = json.loads(line)
        if body["type"] == "maintenance.ended":
            continue  # keep the example's window open, so its families show
        body["occurred_at"] = datetime.fromtimestamp(NOW - 60 + i, UTC).isoformat()
        records.append(RawRecord(json.dumps(body).encode()))
    return records


def test_readme_documents_exactly_the_callpulse_metrics_exposed() -> None:
    import re
    from pathlib import Path

    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text()
    documented = set(re.findall(r"^\| `(callpulse_[a-z0-9_]+)`", readme, flags=re.M))
    import json
    from datetime import UTC as utc  # noqa: N811
    from datetime import datetime as dt

    from callpulse.core.calendar import AgentImpact, WindowSpec

    planned = WindowSpec(
        name="planned",
        sites=("lon1",),
        start=dt.fromtimestamp(NOW + 600, utc).replace(tzinfo=None),
        duration=1800,
        agents_affected=AgentImpact(share=0.5),
    )
    monitor = Monitor(MonitorConfig(maintenance_windows=(planned,)), now=NOW)
    ingest = Ingest(monitor)
    # A quarter of an hour of traffic: a forecast needs a whole window of it.
    early = {"type": "agent.state", "agent_id": "early", "state": "offline", "queues": ["x"]}
    early |= {"schema_version": 1, "event_id": "early", "site": "lon1"}
    early["occurred_at"] = dt.fromtimestamp(NOW - 899, utc).isoformat()
    assert ingest.process([RawRecord(json.dumps(early).encode())]) == []
    assert ingest.process(every_event_type_now()) == []
    # Samples before the example's window opens give the backlog its baseline; the built-in
    # maintenance families show what the last evaluation judged.
    monitor.maintenance.sample(NOW - 61, monitor.queue_views())
    monitor.maintenance.sample(monitor.now, monitor.queue_views())
    monitor.maintenance.assess(monitor.now, monitor.queue_views(), {})
    assert monitor.maintenance.forecasts
    alert = Alert("X", (("alertname", "X"), ("severity", "page")), "firing", NOW, 1.0, {})
    alerting = AlertMetrics(
        lambda: [alert], lambda: {"log": {"sent": 1}}, lambda: {("ComponentDown", "chg-1"): 1}
    )
    exposed = {
        name
        for name, _ in scrape(ingest, alerting, reloads={"success": 1})
        if name.startswith("callpulse_")
    }
    # With alerting.silence_windows on, the daemon's registry has the silences' too.
    from prometheus_client import CollectorRegistry

    from callpulse.sinks.silence_metrics import SilenceCollector
    from callpulse.sinks.silences import SilenceStats

    silences = CollectorRegistry()
    silences.register(SilenceCollector({"alertmanager:am": SilenceStats()}))
    text = generate_latest(silences).decode()
    exposed |= {s.name for f in text_string_to_metric_families(text) for s in f.samples}
    assert documented == exposed


def test_readings_of_named_families_are_those_of_the_full_collect() -> None:
    from callpulse.core import readings

    ingest = Ingest(Monitor(MonitorConfig(), now=NOW))
    queued = raw("call.queued", NOW - 30, call_id="c1", queue="billing")
    answered = raw("call.answered", NOW - 20, call_id="c1", queue="billing", agent_id="a1",
                   wait_seconds=10.0)  # fmt: skip
    busy = raw("agent.state", NOW - 20, agent_id="a1", state="on_call", queues=["billing"])
    ingest.process([RawRecord(queued), RawRecord(answered), RawRecord(busy)])
    wanted = {"callpulse_queue_service_level_ratio", "callpulse_queue_calls_waiting",
              "callpulse_queue_agents"}  # fmt: skip
    full = {s.family.name: s.samples for s in readings.collect(ingest.monitor)}
    some = readings.collect(ingest.monitor, {"queue"}, wanted)
    assert {s.family.name for s in some} == wanted
    for s in some:
        assert s.samples == full[s.family.name]
        assert s.samples  # each has samples to compare


def window_backlog() -> Ingest:
    """A queue behind an open maintenance window, its backlog assessed as an evaluation does:
    5 agents on 5-minute calls, 12 callers waiting."""
    ingest = Ingest(Monitor(MonitorConfig(), now=NOW))
    billing = {"queue": "billing"}
    opened = raw("maintenance.started", NOW - 600, maintenance_id="chg-1", components=["pbx-2"],
                 queues=["billing"])  # fmt: skip
    records = [opened]
    records += [
        raw("agent.state", NOW - 295, agent_id=f"a{i}", state="on_call", queues=["billing"])
        for i in range(5)
    ]
    records += [
        raw("call.completed", NOW - 290 + i, call_id=f"d{i}", agent_id=f"a{i % 5}",
            talk_seconds=240.0, hold_seconds=0.0, acw_seconds=60.0, **billing)
        for i in range(20)
    ]  # fmt: skip
    records += [
        raw("call.queued", NOW - 120 + 10 * i, call_id=f"w{i}", **billing) for i in range(12)
    ]
    assert ingest.process([RawRecord(r) for r in records]) == []
    monitor = ingest.monitor
    monitor.maintenance.assess(monitor.now, monitor.queue_views(), {})
    return ingest


def test_the_drain_eta_gauge_is_the_backlog_alerts_while_a_window_is_assessed() -> None:
    ingest = window_backlog()
    [b] = ingest.monitor.maintenance.backlogs
    [view] = ingest.monitor.queue_views()
    assert b.drain_eta is not None
    assert b.drain_eta_low is not None
    assert b.drain_eta_high is not None
    # The queue's own reading at current staffing is another number (a mean to an empty
    # queue, staff not coming back): the gauge must not show it while the alert says another.
    assert view.drain_eta_seconds is not None
    assert view.drain_eta_seconds != pytest.approx(b.drain_eta, rel=1e-3)
    samples = scrape(ingest)
    billing = (("queue", "billing"), ("site", "lon1"))
    window = (("maintenance", "chg-1"), ("queue", "billing"), ("site", "lon1"))
    assert samples[("callpulse_queue_drain_eta_seconds", billing)] == b.drain_eta
    assert samples[("callpulse_queue_drain_eta_low_seconds", billing)] == b.drain_eta_low
    assert samples[("callpulse_queue_drain_eta_high_seconds", billing)] == b.drain_eta_high
    # The deprecated families carry the same values for one release.
    for suffix in ("", "_low", "_high"):
        assert (
            samples[(f"callpulse_maintenance_backlog_drain_eta{suffix}_seconds", window)]
            == samples[(f"callpulse_queue_drain_eta{suffix}_seconds", billing)]
        )
    # Once no window's backlog is assessed, the gauge is the queue's own reading, no range.
    ingest.monitor.maintenance.backlogs = []
    samples = scrape(ingest)
    assert samples[("callpulse_queue_drain_eta_seconds", billing)] == view.drain_eta_seconds
    assert ("callpulse_queue_drain_eta_low_seconds", billing) not in samples


def test_a_suppressed_alert_is_labelled_with_the_window_that_suppresses_it() -> None:
    ingest = Ingest(Monitor(MonitorConfig(), now=NOW))
    down = Alert("ComponentDown", (("alertname", "ComponentDown"), ("site", "lon1")), "firing",
                 NOW, 1.0, {})  # fmt: skip
    slow = Alert("QueueSlow", (("alertname", "QueueSlow"), ("site", "lon1")), "pending",
                 NOW, 1.0, {})  # fmt: skip
    alerting = AlertMetrics(
        lambda: [down, slow],
        dict,
        suppressed_by=lambda a: "chg-1" if a is down else None,
    )
    alerts = {k: v for k, v in scrape(ingest, alerting).items() if k[0] == "callpulse_alerts"}
    assert alerts == {
        (
            "callpulse_alerts",
            (("alertname", "ComponentDown"), ("alertstate", "firing"), ("site", "lon1"),
             ("suppressed_by", "chg-1")),
        ): 1.0,
        (
            "callpulse_alerts",
            (("alertname", "QueueSlow"), ("alertstate", "pending"), ("site", "lon1")),
        ): 1.0,
    }  # fmt: skip

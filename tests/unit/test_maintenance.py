"""The maintenance calendar (recurrence, clock changes in two zones, midnight, overlaps),
event-opened windows, what a window explains, and the backlog it leaves."""

from __future__ import annotations

import math
from datetime import UTC, datetime

import pytest

from callpulse.core.maintenance import (
    BacklogLimits,
    Calendar,
    MaintenanceTracker,
    Occurrence,
    WindowSpec,
    backlog_summary,
)
from callpulse.core.monitor import Monitor, MonitorConfig

from .events import event


def utc(text: str) -> float:
    return datetime.fromisoformat(text).replace(tzinfo=UTC).timestamp()


def iso(t: float) -> str:
    return datetime.fromtimestamp(t, UTC).strftime("%Y-%m-%d %H:%M")


def window(
    start: str, duration: float = 1800, rrule: str | None = None, **kw: object
) -> WindowSpec:
    return WindowSpec(
        name=str(kw.pop("name", "w")),
        sites=("lon1",),
        start=datetime.fromisoformat(start),
        duration=duration,
        rrule=rrule,
        **kw,
    )  # type: ignore[arg-type]


def starts(cal: Calendar, a: str, b: str) -> list[str]:
    return [iso(o.start) for o in cal.occurrences(utc(a), utc(b))]


def test_weekly_recurrence_in_local_time_across_spring_forward() -> None:
    cal = Calendar([window("2026-03-15T02:00", rrule="FREQ=WEEKLY;BYDAY=SU")], "Europe/London")
    # 02:00 GMT, then 02:00 BST (01:00 UTC) from the last Sunday of March.
    assert starts(cal, "2026-03-14T00:00", "2026-04-06T00:00") == [
        "2026-03-15 02:00",
        "2026-03-22 02:00",
        "2026-03-29 01:00",
        "2026-04-05 01:00",
    ]


@pytest.mark.parametrize(
    ("zone", "local", "expected_utc"),
    [
        # Spring forward: the local time does not exist; the window begins shifted by the gap.
        ("Europe/London", "2026-03-29T01:30", "2026-03-29 01:30"),  # = 02:30 BST
        ("America/New_York", "2026-03-08T02:30", "2026-03-08 07:30"),  # = 03:30 EDT
        # Fall back: the local time exists twice; the window begins at the first.
        ("Europe/London", "2026-10-25T01:30", "2026-10-25 00:30"),  # 01:30 BST
        ("America/New_York", "2026-11-01T01:30", "2026-11-01 05:30"),  # 01:30 EDT
    ],
)
def test_clock_change_days(zone: str, local: str, expected_utc: str) -> None:
    cal = Calendar([window(local)], zone)
    [o] = cal.occurrences(utc("2026-01-01T00:00"), utc("2027-01-01T00:00"))
    assert iso(o.start) == expected_utc
    assert o.end - o.start == 1800  # elapsed time, whatever the wall clock did


def test_duration_is_elapsed_time_across_fall_back() -> None:
    cal = Calendar([window("2026-11-01T01:00", duration=7200)], "America/New_York")
    [o] = cal.occurrences(utc("2026-10-31T00:00"), utc("2026-11-02T00:00"))
    assert (iso(o.start), iso(o.end)) == ("2026-11-01 05:00", "2026-11-01 07:00")
    local_end = datetime.fromtimestamp(o.end, cal.zone)
    assert local_end.strftime("%H:%M %Z") == "02:00 EST"  # three hours on the wall clock


def test_window_crossing_midnight_is_open_after_it() -> None:
    cal = Calendar([window("2026-11-01T23:30", duration=3600, rrule="FREQ=DAILY")], "UTC")
    tracker = MaintenanceTracker(cal, BacklogLimits())
    assert [o.name for o in tracker.windows(utc("2026-11-05T00:15"))] == ["w"]
    assert tracker.windows(utc("2026-11-05T00:31")) == []


def test_overlapping_windows_are_both_open() -> None:
    cal = Calendar(
        [
            window("2026-11-29T02:00", name="pbx", components=("pbx-2",)),
            window("2026-11-29T02:15", name="sbc", components=("sbc-1",)),
        ],
        "UTC",
    )
    tracker = MaintenanceTracker(cal, BacklogLimits())
    now = utc("2026-11-29T02:20")
    assert sorted(o.name for o in tracker.windows(now)) == ["pbx", "sbc"]
    assert tracker.explaining({"site": "lon1", "component": "sbc-1"}, now).name == "sbc"  # type: ignore[union-attr]
    assert tracker.explaining({"site": "lon1", "component": "rec-1"}, now) is None


def test_event_opened_window_until_its_end_event_then_grace() -> None:
    m = Monitor(MonitorConfig(backlog=BacklogLimits(grace=600)), now=utc("2026-11-22T14:00"))
    t0 = utc("2026-11-22T13:59")
    m.apply(
        event(
            "maintenance.started",
            t0,
            maintenance_id="chg-1",
            components=["pbx-2"],
            queues=["billing"],
        )
    )
    [o] = m.maintenance.windows(m.now)
    assert (o.name, o.source, o.end) == ("chg-1", "event", math.inf)
    m.apply(event("maintenance.ended", t0 + 30, maintenance_id="chg-1"))
    assert m.maintenance.windows(m.now) == []
    assert [w.name for w in m.maintenance.windows(m.now, grace=600)] == ["chg-1"]


def test_what_a_window_explains() -> None:
    w = Occurrence(
        "pbx", 0, 100, ("lon1",), components=("pbx-2",), queues=("billing",), trunks=("bt-1",)
    )
    assert w.explains({"alertname": "ComponentDown", "site": "lon1", "component": "pbx-2"})
    assert not w.explains({"alertname": "ComponentDown", "site": "nyc1", "component": "pbx-2"})
    assert not w.explains({"alertname": "ComponentDown", "site": "lon1", "component": "sbc-1"})
    assert w.explains({"alertname": "QueueServiceLevelLow", "site": "lon1", "queue": "billing"})
    assert not w.explains({"alertname": "QueueServiceLevelLow", "site": "lon1", "queue": "vip"})
    assert w.explains({"alertname": "TrunkDown", "site": "lon1", "trunk": "bt-1"})
    assert w.explains({"alertname": "SiteSilent", "site": "lon1"})
    assert not w.explains({"alertname": "MaintenanceBacklog", "site": "lon1", "queue": "billing"})


def test_backlog_against_baseline_and_drain_eta() -> None:
    now = utc("2026-11-22T14:00")
    limits = BacklogLimits(max_calls_waiting=20, max_backlog_ratio=3.0, max_drain_eta=900)
    m = Monitor(MonitorConfig(backlog=limits), now=now - 600)
    tracker = m.maintenance
    for i in range(10):  # before the window: 2 calls waiting, sampled every minute
        tracker.sample(now - 600 + 60 * i, {("lon1", "billing"): 2})
    m.tick(now)
    m.apply(
        event(
            "maintenance.started",
            now,
            maintenance_id="chg-1",
            components=["pbx-2"],
            queues=["billing"],
        )
    )
    for i in range(10):  # 5m window: 10 offered (2/min), AHT 300 s
        m.apply(event("call.queued", now - 200 + i, call_id=f"c{i}", queue="billing"))
        m.apply(
            event(
                "call.completed",
                now - 100,
                call_id=f"x{i}",
                queue="billing",
                agent_id="a",
                talk_seconds=300.0,
                hold_seconds=0.0,
                acw_seconds=0.0,
            )
        )
    for i in range(12):
        m.apply(
            event("agent.state", now - 50, agent_id=f"a{i}", state="on_call", queues=["billing"])
        )
    [b] = tracker.backlogs(now, m.queue_views())
    assert (b.waiting, b.baseline, b.maintenance) == (10, 2.0, "chg-1")
    # capacity 12/300 = 0.04/s, arrivals 10/300 s: 10 waiting drain in 10 / (2/300) = 1500 s
    assert b.drain_eta == pytest.approx(1500)
    assert b.over  # 10 > 3 x baseline 2, and 25 min > 15 min
    notes = backlog_summary(b, limits.max_drain_eta)
    # To drain in 15 min: AHT x (10/900 + 1/30) = 13.3 -> 14 agents, 2 more than 12.
    assert notes["summary"] == (
        "billing at lon1: 10 waiting (5x normal), drains in 25 min at current staffing; "
        "2 more agents would drain it in 15 min"
    )
    assert notes["drain_eta"] == "1500s"


def test_an_end_delivered_before_its_start_does_not_leave_a_window_open() -> None:
    m = Monitor(MonitorConfig(backlog=BacklogLimits(grace=600)), now=utc("2026-11-22T14:00"))
    t0 = utc("2026-11-22T13:58")
    m.apply(event("maintenance.ended", t0 + 60, maintenance_id="chg-1"))
    m.apply(event("maintenance.started", t0, maintenance_id="chg-1", components=["pbx-2"]))
    assert m.maintenance.windows(m.now) == []


def test_one_ticket_at_two_sites_opens_a_window_at_each() -> None:
    m = Monitor(MonitorConfig(), now=utc("2026-11-22T14:00"))
    for site in ("lon1", "nyc1"):
        m.apply(
            event(
                "maintenance.started",
                m.now - 5,
                site=site,
                maintenance_id="chg-1",
                components=["pbx-2"],
            )
        )
    assert sorted(w.sites[0] for w in m.maintenance.windows(m.now)) == ["lon1", "nyc1"]


def test_a_backlog_still_over_after_the_grace_period_is_watched_until_it_drains() -> None:
    limits = BacklogLimits(grace=60, max_calls_waiting=5)
    now = utc("2026-11-22T14:00")
    m = Monitor(MonitorConfig(backlog=limits), now=now)
    m.apply(
        event(
            "maintenance.started",
            now - 30,
            maintenance_id="chg-1",
            components=["x"],
            queues=["billing"],
        )
    )
    m.apply(event("maintenance.ended", now - 20, maintenance_id="chg-1"))
    for i in range(8):
        m.apply(event("call.queued", now - 10, call_id=f"c{i}", queue="billing"))
    assert [b.over for b in m.maintenance.backlogs(now, m.queue_views())] == [True]
    assert m.maintenance.backlogs(now, m.queue_views())[0].baseline is None  # never sampled
    m.tick(now + 600)  # long past the grace period, still 8 waiting
    m.maintenance.prune(m.now)
    assert [b.over for b in m.maintenance.backlogs(m.now, m.queue_views())] == [True]
    for i in range(8):
        m.apply(
            event(
                "call.answered",
                m.now,
                call_id=f"c{i}",
                queue="billing",
                agent_id="a",
                wait_seconds=600.0,
            )
        )
    assert m.maintenance.backlogs(m.now, m.queue_views()) == []

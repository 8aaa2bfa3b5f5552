"""The maintenance calendar (recurrence, clock changes in two zones, midnight, overlaps),
event-opened windows, what a window explains, and the backlog it leaves."""

from __future__ import annotations

import math
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path

import pytest

from callpulse.alerting import Alerting
from callpulse.config import AlertingSettings
from callpulse.core.calendar import AgentImpact, Calendar, Occurrence, WindowSpec
from callpulse.core.drain import HORIZON
from callpulse.core.erlang_a import ErlangA, drain_forecast
from callpulse.core.maintenance import MaintenanceTracker
from callpulse.core.maintenance_notes import backlog_summary, forecast_summary, overrun_summary
from callpulse.core.maintenance_policy import BacklogLimits, EventPolicy
from callpulse.core.monitor import Monitor, MonitorConfig
from callpulse.core.queues import QueueFlow
from callpulse.core.rules import Rule, RuleSpec, compile_rule

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


class Queue:
    """A queue view as the tracker reads it: only what the backlog model needs."""

    def __init__(
        self,
        waiting: int,
        serving: int,
        arrivals: float = 0.0,
        aht: float | None = 300.0,
        site: str = "lon1",
        queue: str = "billing",
    ) -> None:
        self.site, self.queue, self.calls_waiting = site, queue, waiting
        self.agents = {"available": 0, "on_call": serving, "acw": 0}
        self.agents_serving = serving
        self.agents_known = True
        # Many callers' worth of patience data, all very patient: nobody gives up.
        self.flow = QueueFlow(
            arrivals,
            aht,
            reneged=0,
            exposure_seconds=1e12,
            settled=True,
            # Rates from a great many calls: known, as the hand computations take them.
            arrivals=round(arrivals * 1e7),
            window="15m",
            span=1e7,
            completed=1_000_000,
        )


def tracker_with_window(
    limits: BacklogLimits, now: float, samples: int = 2, serving: int = 12, arrivals: float = 0.0
) -> MaintenanceTracker:
    tracker = MaintenanceTracker(None, limits)
    for i in range(10):  # before the window: `samples` calls waiting, sampled every minute
        tracker.sample(now - 600 + 60 * i, [Queue(samples, serving, arrivals=arrivals)])
    tracker.apply(
        event(
            "maintenance.started",
            now,
            maintenance_id="chg-1",
            components=["pbx-2"],
            queues=["billing"],
        ),
        now,
        0,
        False,
    )
    return tracker


def test_backlog_pages_on_a_drain_eta_over_the_limit_with_the_staffing_to_fix_it() -> None:
    now = utc("2026-11-22T14:00")
    limits = BacklogLimits(max_calls_waiting=50, max_backlog_ratio=3.0, max_drain_eta=900)
    tracker = tracker_with_window(limits, now, arrivals=10 / 300)
    # capacity 12/300 = 0.04/s, arrivals 10/300 s, nobody gives up: 10 waiting drain to the
    # baseline of 2 in 8 / (2/300) = 1200 s on average. The event window has no planned
    # end: that is all there is. Near its load (0.83) a queue mostly drains early and now
    # and then very late: the median is 12 min, the P10 4 min. Draining within 15 minutes is
    # likely enough not to page.
    tracker.assess(now, [Queue(10, 12, arrivals=10 / 300)], {})
    [b] = tracker.backlogs
    assert (b.waiting, b.baseline, b.maintenance, b.drained_level) == (10, 2.0, "chg-1", 2.0)
    model = drain_forecast(ErlangA(12, 10 / 300, 300, 0.0), 10, 2, HORIZON)
    assert model.mean == pytest.approx(1200, rel=1e-3)
    assert b.drain_eta == pytest.approx(model.p50, rel=1e-3)
    # The rates rest on a great many calls: the range is the chain's own, near enough.
    assert (b.drain_eta_low, b.drain_eta_high) == pytest.approx((model.p10, model.p90), rel=1e-2)
    assert round(model.p10) == 226
    assert not b.active
    # 40 waiting: 38 / (2/300) = 5700 s on average, and even the P10 (44 min) is too late.
    tracker.assess(now + 5, [Queue(40, 12, arrivals=10 / 300)], {})
    [b] = tracker.backlogs
    assert b.drain_eta_low is not None
    assert b.drain_eta_low > 900
    assert b.active  # 40 >= max(5, 3 x 2) and the P10 > 15 min
    # 10 more agents would each take a caller at once (30 left) and, after 150 s of only the
    # 12 finishing calls (+1), drain the 29 to 2 at 22/300 - 1/30 = 0.04/s: 825 s in all.
    assert b.agents_needed == 22
    notes = backlog_summary(b, limits.max_drain_eta)
    assert notes["summary"] == (
        "billing at lon1: 40 waiting (20x normal), drains in 82 min (44-163); "
        "10 more agents would drain it in 15 min"
    )
    assert notes["drain_eta"] == f"{b.drain_eta:.0f}s"
    assert (notes["drain_eta_low"], notes["drain_eta_high"]) == (
        f"{b.drain_eta_low:.0f}s",
        f"{b.drain_eta_high:.0f}s",
    )


def test_a_small_backlog_never_pages_however_slow_it_drains() -> None:
    now = utc("2026-11-22T14:00")
    tracker = tracker_with_window(BacklogLimits(), now, samples=0)
    # Four callers waiting and nobody to answer: will not drain, but that is no incident.
    tracker.assess(now, [Queue(4, 0)], {})
    [b] = tracker.backlogs
    assert b.drain_eta == math.inf
    assert not b.active
    tracker.assess(now + 5, [Queue(5, 0)], {})  # min_calls_waiting reached
    assert [b.active for b in tracker.backlogs] == [True]


def test_the_fire_level_follows_the_baseline_ratio_when_it_is_larger() -> None:
    now = utc("2026-11-22T14:00")
    tracker = tracker_with_window(BacklogLimits(), now, samples=4)  # fire at 3 x 4 = 12
    tracker.assess(now, [Queue(11, 0)], {})
    assert [b.active for b in tracker.backlogs] == [False]
    tracker.assess(now + 5, [Queue(12, 0)], {})
    assert [b.active for b in tracker.backlogs] == [True]


def test_hysteresis_holds_the_page_until_the_backlog_has_drained() -> None:
    now = utc("2026-11-22T14:00")
    tracker = tracker_with_window(
        BacklogLimits(max_calls_waiting=20), now, samples=0, arrivals=0.05
    )
    active = []
    firing: set[tuple[str, str, str]] = set()
    for t, waiting in enumerate((25, 19, 8, 4, 3, 2, 6)):
        tracker.assess(now + 5 * t, [Queue(waiting, 20, arrivals=0.05)], {}, firing)
        active.append(tracker.backlogs[0].active)
        # The evaluator's answer: the alert fires (for 0) while active.
        firing = {("lon1", "billing", "chg-1")} if active[-1] else set()
    # Fires above 20; stays through 19..3 (above drained = 2); clears at 2; 6 alone does not
    # fire again (it drains in time).
    assert active == [True, True, True, True, True, False, False]
    notes = backlog_summary(tracker.backlogs[0], 900)
    assert notes["summary"].startswith("billing at lon1: backlog drained")


def test_a_pending_backlog_is_not_held_it_starts_over() -> None:
    # The same backlog, but its alert is still pending (not in ``firing``): once it is no
    # longer material it is not active, and the evaluator drops the pending alert.
    now = utc("2026-11-22T14:00")
    tracker = tracker_with_window(
        BacklogLimits(max_calls_waiting=20), now, samples=0, arrivals=0.05
    )
    active = []
    for t, waiting in enumerate((25, 8, 25)):
        tracker.assess(now + 5 * t, [Queue(waiting, 20, arrivals=0.05)], {})
        active.append(tracker.backlogs[0].active)
    assert active == [True, False, True]


def backlog_pages(
    calls_waiting: list[tuple[float, int]],
    until: float,
    state_file: Path | None = None,
    restart_at: float | None = None,
    rules: Sequence[Rule] = (),
    alertname: str = "MaintenanceBacklog",
) -> list[tuple[float, bool]]:
    """A window that closed a minute ago at lon1's billing (no agent stream: the backlog pages
    on its count alone, over 20), then calls waiting as (seconds from now, count) steps,
    evaluated every 5 s for ``until`` seconds with MaintenanceBacklog's default ``for`` (1m)
    and ``keep_firing_for`` (2m); at ``restart_at`` callpulse restarts with ``state_file``,
    its queues rebuilt from the events. Returns each notification of ``alertname`` (the
    built-in rules and ``rules``) as (seconds, firing)."""
    now = utc("2026-11-22T14:00")
    settings = AlertingSettings(log=False, evaluation_interval=5.0, state_file=state_file)
    queued: list[str] = []

    def start(at: float) -> tuple[Monitor, Alerting]:
        monitor = Monitor(MonitorConfig(backlog=BacklogLimits()), now=at)
        for kind, t in (("maintenance.started", now - 1800), ("maintenance.ended", now - 60)):
            monitor.apply(event(kind, t, maintenance_id="chg-1", components=["pbx-2"]))
        for call in queued:
            monitor.apply(event("call.queued", now, call_id=call, queue="billing"))
        return monitor, Alerting(settings, list(rules), monitor)

    monitor, alerting = start(now)
    sent = []
    for t in range(0, int(until) + 1, 5):
        if t == restart_at:
            monitor, alerting = start(now + t)
        monitor.tick(now + t)
        target = next(n for start, n in reversed(calls_waiting) if t >= start)
        while len(queued) < target:
            queued.append(f"c{t}-{len(queued)}")
            monitor.apply(event("call.queued", now + t, call_id=queued[-1], queue="billing"))
        while len(queued) > target:
            fields = {"call_id": queued.pop(), "queue": "billing", "agent_id": "a1"}
            monitor.apply(event("call.answered", now + t, wait_seconds=1.0, **fields))
        for n in alerting.evaluate():
            if n.labels["alertname"] == alertname:
                sent.append((float(t), n.ends_at > now + t))
    return sent


def test_a_40_second_touch_over_the_fire_level_after_a_window_does_not_page() -> None:
    # 22 waiting (over max_calls_waiting, 20) for 40 s, then 3 (still over drained, 2): the
    # pending alert starts over, where a hold would have paged when for ran out.
    assert backlog_pages([(0, 0), (30, 22), (70, 3)], until=600) == []


def test_a_backlog_over_the_fire_level_for_longer_than_for_pages_once_and_holds() -> None:
    # 22 waiting from 30 s: firing at 90 s; held at 3 (over drained) until 2 at 300 s, then
    # keep_firing_for (2 min): resolved at 420 s.
    sent = backlog_pages([(0, 0), (30, 22), (120, 3), (300, 2)], until=600)
    fired = [t for t, firing in sent if firing]  # first sent, then re-sent every minute
    resolved = [t for t, firing in sent if not firing]
    assert (fired[0], min(resolved)) == (90.0, 420.0)
    assert max(fired) < min(resolved)  # one episode


def test_a_page_restored_after_a_restart_holds_until_the_backlog_has_drained(
    tmp_path: Path,
) -> None:
    # Firing from 90 s, held at 3 waiting; restarted at 200 s with the alert's state file:
    # the restored page holds as before (no resolution) until the backlog drains at 300 s.
    steps = [(0, 0), (30, 22), (120, 3), (300, 2)]
    sent = backlog_pages(steps, 600, tmp_path / "alerts.json", restart_at=200)
    resolved = [t for t, firing in sent if not firing]
    assert min(resolved) == 420.0
    assert max(t for t, firing in sent if firing) < 420.0


def test_a_pending_backlog_explains_no_queue_alert_a_firing_one_does() -> None:
    busy = compile_rule(
        RuleSpec(alert="QueueBusy", kpi="queue_calls_waiting", op=">", threshold=21.0), ()
    )
    # Over 21 while MaintenanceBacklog is pending (30..65 s) and never pages: QueueBusy is
    # the only page there is, so it is sent, not withheld as the backlog's incident.
    spike = backlog_pages([(0, 0), (30, 22), (70, 3)], 300, rules=[busy], alertname="QueueBusy")
    assert spike[0] == (30.0, True)
    # Over 21 only once MaintenanceBacklog fires (from 90 s): one incident, one page.
    steps = [(0, 0), (30, 21), (120, 23), (200, 3), (300, 2)]
    assert backlog_pages(steps, 600, rules=[busy], alertname="QueueBusy") == []
    assert backlog_pages(steps, 600, rules=[busy])[0] == (90.0, True)


def test_during_a_planned_window_the_eta_counts_the_staff_coming_back() -> None:
    now = utc("2026-11-22T14:00")
    limits = BacklogLimits(max_drain_eta=600)
    cal = Calendar([window("2026-11-22T13:50", duration=1800, queues=("billing",))], "UTC")
    tracker = MaintenanceTracker(cal, limits)
    for i in range(10):  # 20 agents before the window
        tracker.sample(utc("2026-11-22T13:40") + 60 * i, [Queue(0, 20, arrivals=0.05)])
    # 10 minutes in: 10 agents left, AHT 300 s, 0.05 calls/s: the queue grows by
    # 0.05 - 10/300 = 1/60 per s for the 20 minutes left (+20, to 30). The 10 agents log
    # back in over return_spread (2 min), on average a minute after the end (+1, to 31).
    tracker.assess(now, [Queue(10, 10, arrivals=0.05)], {})
    [b] = tracker.backlogs
    assert b.window_left == 1200
    assert b.agents_after == 20
    # The chain after the return (1260 s from now) starts from those 31 less the 10 calls
    # the returning agents take and plus the half call each of those is still worth (26):
    # it drains the 24 to 2 in 24 x 60 s on average.
    late = drain_forecast(ErlangA(20, 0.05, 300, 0.0), 26, 2, HORIZON)
    assert late.mean == pytest.approx(1440, rel=1e-3)
    assert b.drain_eta == pytest.approx(1260 + late.p50, rel=1e-3)
    assert b.overhang == pytest.approx(60 + late.p50, rel=1e-3)
    assert b.drain_eta_low == pytest.approx(1260 + late.p10, rel=1e-3)
    assert b.active  # even the P10 is over 10 min after the window


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
    m.maintenance.assess(now, m.queue_views(), {})
    assert [b.active for b in m.maintenance.backlogs] == [True]
    assert m.maintenance.backlogs[0].baseline is None  # never sampled
    m.tick(now + 600)  # long past the grace period, still 8 waiting
    m.maintenance.prune(m.now)
    m.maintenance.assess(m.now, m.queue_views(), {})
    assert [b.active for b in m.maintenance.backlogs] == [True]
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
    m.maintenance.assess(m.now, m.queue_views(), {})
    assert [b.active for b in m.maintenance.backlogs] == [False]  # drained: its last values
    m.maintenance.assess(m.now + 5, m.queue_views(), {})
    assert m.maintenance.backlogs == []


def test_forecast_before_a_planned_window_from_live_load_and_the_staff_it_takes() -> None:
    now = utc("2026-11-22T13:40")
    spec = window(
        "2026-11-22T14:00",
        duration=1800,
        queues=("billing",),
        agents_affected=AgentImpact(share=0.5),
    )
    tracker = MaintenanceTracker(Calendar([spec], "UTC"), BacklogLimits(forecast_lead=1800))
    # 20 agents, AHT 300 s, 0.05 calls/s (A = 15): half of them gone grows the queue by
    # 0.05 - 10/300 = 1/60 per s. Agents on a call finish it first, so the loss lands half a
    # handle time (150 s) into the 30 minutes: 1650 s of growth, 27.5 waiting at the end.
    # The 10 agents back (a minute after the end on average) take 10 at once and their first
    # calls count half each: the chain with 20 agents starts from 23.
    tracker.sample(now, [Queue(0, 20, arrivals=0.05)])
    tracker.assess(now, [Queue(0, 20, arrivals=0.05)], {})
    [f] = tracker.forecasts
    assert (f.agents_lost, f.starts_in) == (10, 1200)
    assert f.peak == pytest.approx(27.5, rel=1e-3)
    late = drain_forecast(ErlangA(20, 0.05, 300, 0.0), 23, 2, HORIZON)
    assert f.drain_after == pytest.approx(60 + late.p50, rel=1e-3)
    # The queue's callers waited long and never gave up: patience from what they did.
    assert f.patience > 1e9
    assert f.patience_from.startswith("0 give-ups in ")
    # The range: chance around the path, sd ~ sqrt(1650 x (0.05 + 1/30)) = 11.7.
    assert f.peak_low < f.peak - 10
    assert f.peak_high > f.peak + 10
    assert f.active
    # Keeping 15 on the phones: 0 growth, nothing to drain.
    assert f.agents_to_keep is not None
    assert 10 < f.agents_to_keep <= 15
    notes = forecast_summary(f)
    assert notes["forecast_peak"] == "27"
    assert "takes 10 of 20 agents from billing at lon1" in notes["summary"]
    # Once warned, the warning stands until the window opens, then the forecast is gone.
    tracker.assess(now + 60, [Queue(0, 20, arrivals=0.01)], {})
    assert [f.active for f in tracker.forecasts] == [True]
    tracker.assess(utc("2026-11-22T14:00") + 1, [Queue(0, 20, arrivals=0.05)], {})
    assert tracker.forecasts == []


def test_a_forecast_levelling_just_under_the_limit_warns_as_its_queue_crosses_it() -> None:
    # As above: the mean path ends at 27.5 waiting with a spread of ~11.7, and the drain
    # after it is short. A page is for a queue over max_calls_waiting for a minute, which a
    # path ending at 27.5 crosses at 30 often; not at 40 (its P75 is ~35.4).
    now = utc("2026-11-22T13:40")
    spec = window(
        "2026-11-22T14:00",
        duration=1800,
        queues=("billing",),
        agents_affected=AgentImpact(share=0.5),
    )
    warned = {}
    for limit in (30, 40):
        limits = BacklogLimits(forecast_lead=1800, max_calls_waiting=limit, max_drain_eta=7200)
        tracker = MaintenanceTracker(Calendar([spec], "UTC"), limits)
        tracker.sample(now, [Queue(0, 20, arrivals=0.05)])
        tracker.assess(now, [Queue(0, 20, arrivals=0.05)], {})
        [f] = tracker.forecasts
        assert f.peak == pytest.approx(27.5, rel=1e-3)
        warned[limit] = f.active
    assert warned == {30: True, 40: False}


def test_no_forecast_beyond_the_lead_time_or_without_agents_affected() -> None:
    now = utc("2026-11-22T13:00")
    specs = [
        window("2026-11-22T14:00", queues=("billing",), agents_affected=AgentImpact(share=0.5)),
        window("2026-11-22T13:10", queues=("billing",), name="no-impact"),
    ]
    tracker = MaintenanceTracker(Calendar(specs, "UTC"), BacklogLimits(forecast_lead=1800))
    tracker.assess(now, [Queue(0, 20, arrivals=0.05)], {})
    assert tracker.forecasts == []


def test_agents_affected_per_queue_counts_override_the_share() -> None:
    impact = AgentImpact(share=0.25, counts=(("billing", 7),))
    assert (impact.lost("billing", 20), impact.lost("sales", 20), impact.lost("billing", 5)) == (
        7,
        5,
        5,
    )


def test_overrun_until_the_component_is_back_then_resolved_with_its_status() -> None:
    limits = BacklogLimits(grace=600, overrun_after=60)
    now = utc("2026-11-22T14:00")
    tracker = MaintenanceTracker(None, limits)
    started = event("maintenance.started", now - 600, maintenance_id="chg-1", components=["pbx-2"])
    tracker.apply(started, now - 600, 0, False)
    tracker.apply(
        event("maintenance.ended", now - 100, maintenance_id="chg-1"), now - 100, 0, False
    )
    tracker.assess(now - 50, [], {("lon1", "pbx-2"): "down"})
    assert tracker.overruns == []  # within overrun_after
    tracker.assess(now, [], {("lon1", "pbx-2"): "down"})
    assert [(o.active, o.status) for o in tracker.overruns] == [(True, "down")]
    tracker.assess(now + 1000, [], {("lon1", "pbx-2"): "down"})  # past grace, still down
    assert [o.active for o in tracker.overruns] == [True]
    tracker.assess(now + 1005, [], {("lon1", "pbx-2"): "up"})
    [o] = tracker.overruns
    assert not o.active
    assert overrun_summary(o)["summary"] == "pbx-2 at lon1 is up again"


def test_with_after_call_work_counted_no_extra_agent_is_asked_for() -> None:
    # 5 agents serving (ACW included), AHT 300 s, 1 arrival per 300 s, 10 waiting: they drain
    # to 2 in 8 / (5/300 - 1/300) = 600 s, within 15 minutes, so no page and no advice.
    now = utc("2026-11-22T14:00")
    tracker = tracker_with_window(BacklogLimits(), now, samples=0, serving=5, arrivals=1 / 300)
    tracker.assess(now, [Queue(10, 5, arrivals=1 / 300)], {})
    [b] = tracker.backlogs
    model = drain_forecast(ErlangA(5, 1 / 300, 300, 0.0), 10, 2, HORIZON)
    assert model.mean == pytest.approx(600, rel=1e-3)
    assert b.drain_eta == pytest.approx(model.p50, rel=1e-3)
    assert (b.active, b.agents_needed) == (False, 5)
    assert "more agents" not in backlog_summary(b, 900)["summary"]


def started(
    tracker: MaintenanceTracker, at: float, mid: str, site: str = "lon1", **kw: object
) -> None:
    e = event("maintenance.started", at, site=site, maintenance_id=mid, components=["pbx-2"], **kw)
    tracker.apply(e, at, 0, False)


def test_an_event_window_with_no_end_closes_by_itself_and_says_so() -> None:
    now = utc("2026-11-22T14:00")
    tracker = MaintenanceTracker(None, BacklogLimits(), EventPolicy(max_duration=3600))
    started(tracker, now, "chg-1")
    tracker.prune(now + 3599)
    assert [w.name for w in tracker.windows(now + 3599)] == ["chg-1"]
    assert tracker.expired == []
    tracker.prune(now + 3600)
    assert tracker.windows(now + 3600) == []
    [closed] = tracker.expired
    assert (closed.name, closed.end) == ("chg-1", now + 3600)


def test_a_site_holds_only_so_many_open_event_windows() -> None:
    # A producer sending starts with new ids and no ends: memory stays bounded, and other
    # sites' windows (and alerts) are untouched.
    now = utc("2026-11-22T14:00")
    tracker = MaintenanceTracker(None, BacklogLimits(), EventPolicy(max_open_per_site=20))
    for i in range(10_000):
        started(tracker, now + i * 0.01, f"junk-{i}")
    started(tracker, now + 200, "real", site="nyc1")
    assert len(tracker.event_windows) == 21
    assert tracker.refused == 10_000 - 20
    assert [w.name for w in tracker.windows(now + 200) if w.sites == ("nyc1",)] == ["real"]


@pytest.mark.parametrize(
    ("policy", "opened"),
    [
        (EventPolicy(mode="off"), []),
        (EventPolicy(mode="calendar_only"), ["planned"]),
        (EventPolicy(sites=("nyc1",)), []),
        (EventPolicy(components=("sbc-1",)), []),
        (EventPolicy(), ["adhoc", "planned"]),
    ],
)
def test_the_event_policy_decides_which_events_open_windows(
    policy: EventPolicy, opened: list[str]
) -> None:
    now = utc("2026-11-22T14:00")
    calendar = Calendar([window("2026-11-22T16:00", name="planned")], "UTC")
    tracker = MaintenanceTracker(calendar, BacklogLimits(), policy)
    started(tracker, now, "adhoc")
    started(tracker, now, "planned")  # a planned window, started two hours early
    assert sorted(w.name for w in tracker.windows(now + 1)) == opened

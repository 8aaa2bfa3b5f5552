"""Queue KPIs computed by the monitor, against values worked out by hand."""

from __future__ import annotations

import math
from collections.abc import Callable

import pytest

from callpulse.core.drain import HORIZON
from callpulse.core.erlang_a import ErlangA, drain_forecast
from callpulse.core.monitor import Monitor, MonitorConfig, Outcome, ServiceLevelPolicy
from callpulse.core.patience import estimate_patience
from callpulse.core.queues import QueueView, QueueWindow
from callpulse.core.readings import collect

from .conftest import NOW
from .events import event


def view(m: Monitor, site: str = "lon1", queue: str = "billing") -> QueueView:
    [v] = [v for v in m.queue_views() if (v.site, v.queue) == (site, queue)]
    return v


def window(v: QueueView, label: str) -> QueueWindow:
    [w] = [w for w in v.windows if w.window == label]
    return w


def feed_service_level_mix(m: Monitor, when: float = NOW - 30) -> None:
    for i in range(6):
        m.apply(event("call.queued", when, call_id=f"c{i}", queue="billing"))
    for i, wait in enumerate((3.0, 12.0, 25.0)):  # two within T = 20 s
        m.apply(
            event(
                "call.answered",
                when,
                call_id=f"c{i}",
                queue="billing",
                agent_id="a1",
                wait_seconds=wait,
            )
        )
    for i, wait in zip((3, 4, 5), (2.0, 8.0, 30.0), strict=True):  # 2.0 is a short abandon
        m.apply(event("call.abandoned", when, call_id=f"c{i}", queue="billing", wait_seconds=wait))


def test_service_level_excludes_short_abandons(make_monitor: Callable[..., Monitor]) -> None:
    m = make_monitor()
    feed_service_level_mix(m)
    w = window(view(m), "1m")
    assert (w.offered, w.answered, w.abandoned) == (6, 3, 2)
    assert w.service_level == pytest.approx(2 / 5)
    assert w.abandon_ratio == pytest.approx(2 / 5)
    assert w.asa_seconds == pytest.approx((3 + 12 + 25) / 3)


@pytest.mark.parametrize(("policy", "expected"), [("ignored", 2 / 4), ("positive", 3 / 5)])
def test_service_level_abandon_policies(
    policy: str, expected: float, make_monitor: Callable[..., Monitor]
) -> None:
    m = make_monitor(service_level=ServiceLevelPolicy(abandons=policy))  # type: ignore[arg-type]
    feed_service_level_mix(m)
    assert window(view(m), "5m").service_level == pytest.approx(expected)


@pytest.mark.parametrize(
    ("policy", "expected"), [("ignored", 7 / 9), ("negative", 0.70), ("positive", 0.80)]
)
def test_service_level_policies_as_cisco_ucce_defines_them(
    policy: str, expected: float, make_monitor: Callable[..., Monitor]
) -> None:
    # 7 answered within T, 1 answered at 30 s, 2 short abandons (3 s), 1 abandon at 10 s and
    # 1 at 40 s; T = 20 s, S = 5 s. Cisco's "abandons ignored" is answered within T /
    # (offered - abandoned within T) = 7 / (10 - 1) = 0.778.
    m = make_monitor(service_level=ServiceLevelPolicy(abandons=policy))  # type: ignore[arg-type]
    waits = [("call.answered", 10.0)] * 7 + [("call.answered", 30.0)]
    waits += [("call.abandoned", 3.0)] * 2 + [("call.abandoned", 10.0), ("call.abandoned", 40.0)]
    for i, (kind, wait) in enumerate(waits):
        m.apply(event("call.queued", NOW - 60, call_id=f"c{i}", queue="billing"))
        extra = {"agent_id": "a1"} if kind == "call.answered" else {}
        m.apply(event(kind, NOW - 20, call_id=f"c{i}", queue="billing", wait_seconds=wait, **extra))
    assert window(view(m), "5m").service_level == pytest.approx(expected)


def test_boundary_waits_answer_at_t_and_abandon_at_s_count(
    make_monitor: Callable[..., Monitor],
) -> None:
    m = make_monitor()
    m.apply(
        event("call.answered", NOW, call_id="a", queue="billing", agent_id="x", wait_seconds=20.0)
    )
    m.apply(event("call.abandoned", NOW, call_id="b", queue="billing", wait_seconds=5.0))
    w = window(view(m), "1m")
    assert (w.answered, w.abandoned) == (1, 1)
    assert w.service_level == pytest.approx(1 / 2)
    assert view(m).totals["answered_within_threshold"] == 1


def test_per_queue_threshold_override(make_monitor: Callable[..., Monitor]) -> None:
    m = make_monitor(service_level_overrides={"billing": ServiceLevelPolicy(threshold=30.0)})
    feed_service_level_mix(m)
    assert window(view(m), "1m").service_level == pytest.approx(3 / 5)


def test_zero_denominators_give_no_value(make_monitor: Callable[..., Monitor]) -> None:
    m = make_monitor()
    m.apply(event("call.queued", NOW, call_id="c", queue="billing"))
    w = window(view(m), "1m")
    assert w.offered == 1
    assert (w.service_level, w.abandon_ratio, w.asa_seconds, w.aht_seconds, w.occupancy) == (
        None,
        None,
        None,
        None,
        None,
    )


def test_each_window_counts_what_it_covers(make_monitor: Callable[..., Monitor]) -> None:
    m = make_monitor()
    for offset, call in ((30, "recent"), (200, "minutes-late"), (600, "ten-minutes")):
        m.apply(
            event(
                "call.answered",
                NOW - offset,
                call_id=call,
                queue="billing",
                agent_id="a",
                wait_seconds=1.0,
            )
        )
    v = view(m)
    assert [w.answered for w in v.windows] == [1, 2, 3]
    assert v.totals["answered"] == 3


def test_event_older_than_every_window_is_late_but_in_the_totals(
    make_monitor: Callable[..., Monitor],
) -> None:
    m = make_monitor()
    outcome = m.apply(
        event(
            "call.answered",
            NOW - 1000,
            call_id="old",
            queue="billing",
            agent_id="a",
            wait_seconds=1.0,
        )
    )
    assert outcome is Outcome.LATE
    v = view(m)
    assert [w.answered for w in v.windows] == [0, 0, 0]
    assert v.totals["answered"] == 1
    assert m.stats.late == 1


def test_event_on_the_far_edge_of_the_longest_window_still_counts(
    make_monitor: Callable[..., Monitor],
) -> None:
    m = make_monitor()
    assert m.apply(event("call.queued", NOW - 900, call_id="c", queue="billing")) is Outcome.APPLIED
    assert m.apply(event("call.queued", NOW - 905, call_id="d", queue="billing")) is Outcome.LATE
    assert [w.offered for w in view(m).windows] == [0, 0, 1]


def test_future_event_beyond_clock_skew_is_rejected_and_within_it_counts_now(
    make_monitor: Callable[..., Monitor],
) -> None:
    m = make_monitor(max_clock_skew=30.0)
    assert m.apply(event("call.queued", NOW + 31, call_id="a", queue="billing")) is Outcome.FUTURE
    assert m.apply(event("call.queued", NOW + 29, call_id="b", queue="billing")) is Outcome.APPLIED
    v = view(m)
    assert v.windows[0].offered == 1
    assert v.totals["offered"] == 1
    assert m.stats.future == 1


def test_duplicate_event_id_counts_once(make_monitor: Callable[..., Monitor]) -> None:
    m = make_monitor()
    first = event("call.queued", NOW, call_id="c", queue="billing", event_id="dup-1")
    assert m.apply(first) is Outcome.APPLIED
    assert m.apply(first) is Outcome.DUPLICATE
    assert view(m).totals["offered"] == 1
    assert m.stats.duplicates == 1
    assert m.stats.events_by_type == {"call.queued": 1}


def test_out_of_order_events_give_the_same_kpis(make_monitor: Callable[..., Monitor]) -> None:
    items = [
        event(
            "call.answered",
            NOW - s,
            call_id=f"c{s}",
            queue="billing",
            agent_id="a",
            wait_seconds=float(s % 40),
        )
        for s in range(0, 800, 7)
    ]
    ordered, shuffled = make_monitor(), make_monitor()
    for e in items:
        ordered.apply(e)
    for e in reversed(items):
        shuffled.apply(e)
    assert view(ordered).windows == view(shuffled).windows


def test_idle_queue_ages_out_by_tick_alone(make_monitor: Callable[..., Monitor]) -> None:
    m = make_monitor()
    m.apply(
        event("call.answered", NOW, call_id="c", queue="billing", agent_id="a", wait_seconds=4.0)
    )
    m.tick(NOW + 70)
    assert [w.answered for w in view(m).windows] == [0, 1, 1]
    assert window(view(m), "1m").service_level is None
    m.tick(NOW + 910)
    assert [w.answered for w in view(m).windows] == [0, 0, 0]
    # Older than every window, served by no agent: forgotten, its name back to the cap.
    m.tick(NOW + 3600)
    assert m.queue_views() == []
    assert m.stats.released == 1


def test_junk_names_give_their_place_back_once_they_age_out(
    make_monitor: Callable[..., Monitor],
) -> None:
    m = make_monitor(label_limits={"queue": 3})
    for i in range(10):  # a producer inventing names fills the cap at once
        m.apply(event("call.queued", NOW - 10, call_id=f"j{i}", queue=f"junk-{i}"))
    assert sorted(v.queue for v in m.queue_views()) == ["_overflow", "junk-0", "junk-1", "junk-2"]
    m.tick(NOW + 3600)
    m.apply(event("call.queued", NOW + 3600, call_id="r", queue="billing"))
    assert [v.queue for v in m.queue_views()] == ["billing"]  # not folded into _overflow


def test_a_quiet_queue_an_agent_serves_is_kept(make_monitor: Callable[..., Monitor]) -> None:
    m = make_monitor()
    m.apply(event("agent.state", NOW - 10, agent_id="a", state="available", queues=["night"]))
    m.tick(NOW + 3600)
    [v] = m.queue_views()
    assert (v.queue, v.agents["available"]) == ("night", 1)
    m.apply(event("agent.state", NOW + 3600, agent_id="a", state="offline", queues=["night"]))
    [v] = m.queue_views()
    assert (v.agents["available"], v.agents["offline"]) == (0, 1)


def test_waiting_calls_and_oldest_wait_follow_the_clock(
    make_monitor: Callable[..., Monitor],
) -> None:
    m = make_monitor()
    m.apply(event("call.queued", NOW - 40, call_id="old", queue="billing"))
    m.apply(event("call.queued", NOW - 10, call_id="new", queue="billing"))
    m.tick(NOW + 5)
    v = view(m)
    assert (v.calls_waiting, v.oldest_wait_seconds) == (2, 45.0)
    m.apply(
        event(
            "call.answered",
            NOW + 5,
            call_id="old",
            queue="billing",
            agent_id="a",
            wait_seconds=45.0,
        )
    )
    m.apply(event("call.transferred", NOW + 5, call_id="new", queue="billing", to_queue="x"))
    v = view(m)
    assert (v.calls_waiting, v.oldest_wait_seconds) == (0, 0.0)


def test_aht_from_completed_calls(make_monitor: Callable[..., Monitor]) -> None:
    m = make_monitor()
    m.apply(
        event(
            "call.completed",
            NOW,
            call_id="a",
            queue="billing",
            agent_id="x",
            talk_seconds=100.0,
            hold_seconds=20.0,
            acw_seconds=30.0,
        )
    )
    m.apply(
        event(
            "call.completed",
            NOW,
            call_id="b",
            queue="billing",
            agent_id="x",
            talk_seconds=200.0,
            hold_seconds=0.0,
            acw_seconds=10.0,
        )
    )
    assert window(view(m), "1m").aht_seconds == pytest.approx((150 + 210) / 2)


def test_agents_by_state_and_occupancy(make_monitor: Callable[..., Monitor]) -> None:
    m = make_monitor()
    t0 = NOW - 120

    def state(offset: float, name: str) -> None:
        m.apply(
            event(
                "agent.state", t0 + offset, agent_id="a1", state=name, queues=["billing", "sales"]
            )
        )

    state(0, "available")
    state(30, "on_call")
    state(90, "acw")
    state(100, "available")
    m.apply(event("agent.state", t0, agent_id="a2", state="not_ready", queues=["billing"]))
    v = view(m)
    assert v.agents == {"available": 1, "on_call": 0, "acw": 0, "not_ready": 1, "offline": 0}
    assert view(m, queue="sales").agents["available"] == 1
    # 1m window = [NOW-60, NOW]: on call 30 s, acw 10 s, available 20 s (still open).
    assert window(v, "1m").occupancy == pytest.approx(40 / 60)
    # 5m window holds all 120 s: busy 70 s, available 50 s.
    assert window(v, "5m").occupancy == pytest.approx(70 / 120)


def test_stale_agent_state_does_not_rewind_the_agent(make_monitor: Callable[..., Monitor]) -> None:
    m = make_monitor()
    m.apply(event("agent.state", NOW - 10, agent_id="a1", state="on_call", queues=["billing"]))
    m.apply(event("agent.state", NOW - 20, agent_id="a1", state="available", queues=["billing"]))
    assert view(m).agents["on_call"] == 1
    assert view(m).agents["available"] == 0


def test_event_time_clock_follows_the_newest_event(make_monitor: Callable[..., Monitor]) -> None:
    m = make_monitor(event_time_clock=True)
    m.apply(event("call.queued", NOW + 3600, call_id="a", queue="billing"))
    assert m.now == NOW + 3600
    m.apply(event("call.queued", NOW + 3500, call_id="b", queue="billing"))
    assert [w.offered for w in view(m).windows] == [1, 2, 2]


def test_windows_must_be_whole_buckets() -> None:
    with pytest.raises(ValueError, match="whole number"):
        MonitorConfig(windows=(60.0, 62.0), bucket=5.0)


def test_a_late_answer_still_ends_the_wait(make_monitor: Callable[..., Monitor]) -> None:
    m = make_monitor()
    m.apply(event("call.queued", NOW - 10, call_id="c", queue="billing"))
    m.tick(NOW + 1000)  # the answer arrives 16 minutes later, older than every window
    late = event(
        "call.answered", NOW, call_id="c", queue="billing", agent_id="a", wait_seconds=10.0
    )
    assert m.apply(late) is Outcome.LATE
    assert view(m).calls_waiting == 0
    assert view(m).totals["answered"] == 1


def test_a_late_event_delivered_twice_counts_once(make_monitor: Callable[..., Monitor]) -> None:
    m = make_monitor()
    old = event("call.queued", NOW - 2000, call_id="c", queue="billing")
    assert m.apply(old) is Outcome.LATE
    assert m.apply(old) is Outcome.DUPLICATE
    assert view(m).totals["offered"] == 1


def test_snapshot_drops_calls_the_acd_no_longer_has(make_monitor: Callable[..., Monitor]) -> None:
    m = make_monitor()
    m.apply(event("call.queued", NOW - 600, call_id="lost-end", queue="billing"))
    m.apply(event("call.queued", NOW - 30, call_id="a", queue="billing"))
    m.apply(event("call.queued", NOW - 20, call_id="b", queue="billing"))
    m.apply(
        event(
            "queue.snapshot",
            NOW,
            queue="billing",
            calls_waiting=2,
            oldest_wait_seconds=30.0,
            agents_staffed=5,
            agents_available=0,
        )
    )
    v = view(m)
    assert (v.calls_waiting, v.oldest_wait_seconds) == (2, 30.0)


def test_snapshot_with_fewer_calls_keeps_the_newest(make_monitor: Callable[..., Monitor]) -> None:
    m = make_monitor()
    for i, age in enumerate((50, 40, 30)):
        m.apply(event("call.queued", NOW - age, call_id=f"c{i}", queue="billing"))
    m.apply(
        event(
            "queue.snapshot",
            NOW,
            queue="billing",
            calls_waiting=1,
            oldest_wait_seconds=30.0,
            agents_staffed=5,
            agents_available=0,
        )
    )
    assert (view(m).calls_waiting, view(m).oldest_wait_seconds) == (1, 30.0)


def test_snapshot_adds_calls_we_never_saw_and_later_events_still_count(
    make_monitor: Callable[..., Monitor],
) -> None:
    m = make_monitor()
    m.apply(
        event(
            "queue.snapshot",
            NOW - 10,
            queue="billing",
            calls_waiting=3,
            oldest_wait_seconds=45.0,
            agents_staffed=5,
            agents_available=0,
        )
    )
    v = view(m)
    assert (v.calls_waiting, v.oldest_wait_seconds) == (3, 55.0)
    m.apply(event("call.queued", NOW - 5, call_id="new", queue="billing"))
    assert view(m).calls_waiting == 4
    m.apply(
        event(
            "queue.snapshot",
            NOW,
            queue="billing",
            calls_waiting=0,
            oldest_wait_seconds=0.0,
            agents_staffed=5,
            agents_available=5,
        )
    )
    assert view(m).calls_waiting == 0


def test_occupancy_does_not_depend_on_when_it_is_read(make_monitor: Callable[..., Monitor]) -> None:
    def run(read_in_between: bool) -> float | None:
        m = make_monitor()
        m.apply(event("agent.state", NOW - 60, agent_id="a", state="available", queues=["billing"]))
        if read_in_between:
            m.queue_views()
        m.apply(event("agent.state", NOW - 59, agent_id="a", state="on_call", queues=["billing"]))
        return window(view(m), "5m").occupancy

    assert run(False) == run(True) == pytest.approx(59 / 60)


def test_replay_on_event_time_counts_old_files_and_bounds_the_future() -> None:
    wall = NOW
    m = Monitor(MonitorConfig(event_time_clock=True), now=wall)
    long_ago = wall - 5 * 365 * 86400
    assert m.apply(event("call.queued", long_ago, call_id="a", queue="q")) is Outcome.APPLIED
    assert m.apply(event("call.queued", long_ago + 30, call_id="b", queue="q")) is Outcome.APPLIED
    assert [w.offered for w in view(m, queue="q").windows] == [2, 2, 2]
    m.tick(wall)
    assert m.apply(event("call.queued", wall + 3600, call_id="c", queue="q")) is Outcome.FUTURE
    assert m.now == long_ago + 30


def test_erlang_outlook_and_drain_eta(make_monitor: Callable[..., Monitor]) -> None:
    m = make_monitor()
    m.apply(event("agent.state", NOW - 600, agent_id="early", state="offline", queues=["other"]))
    # 5m window: 10 calls offered (2/min), AHT 300 s -> A = 10 Erlangs.
    for i in range(10):
        m.apply(event("call.queued", NOW - 200 + i, call_id=f"c{i}", queue="billing"))
        m.apply(
            event(
                "call.completed",
                NOW - 100,
                call_id=f"c{i}",
                queue="billing",
                agent_id="a",
                talk_seconds=280.0,
                hold_seconds=0.0,
                acw_seconds=20.0,
            )
        )
    for i in range(14):
        m.apply(
            event("agent.state", NOW - 50, agent_id=f"a{i}", state="on_call", queues=["billing"])
        )
    v = view(m)
    assert v.calls_waiting == 10
    # Erlang C with A = 10, N = 14, AHT = 300 s, T = 20 s.
    from callpulse.core import erlang

    assert v.predicted_service_level == pytest.approx(erlang.service_level(10, 14, 300, 20))
    assert v.agents_required == erlang.agents_required(10, 300, 20, 0.8)
    # Capacity 14/300 calls/s, arrivals 10/300 calls/s: without give-ups 10 waiting drain in
    # 10 / (4/300) s on average. The gauge is the queue model's mean, with callers giving up
    # as their waits so far say (too few yet: the configured 10 min, as half a caller).
    assert v.arrivals_per_second == pytest.approx(10 / 300)
    assert drain_forecast(ErlangA(14, 10 / 300, 300, 0.0), 10, 0).mean == pytest.approx(750)
    assert v.drain_eta_seconds == pytest.approx(gauge(v, 14, 300))


def test_no_erlang_numbers_without_handle_time_or_spare_agents(
    make_monitor: Callable[..., Monitor],
) -> None:
    m = make_monitor()
    # The agent stream says nobody serves billing (absent agents are another matter, below).
    m.apply(event("agent.state", NOW - 60, agent_id="gone", state="offline", queues=["billing"]))
    m.apply(event("call.queued", NOW, call_id="c", queue="billing"))
    v = view(m)
    # No agent and no handle time yet: nothing to predict, but the backlog certainly never drains.
    assert (v.predicted_service_level, v.agents_required, v.drain_eta_seconds) == (
        None,
        None,
        math.inf,
    )
    m.apply(
        event(
            "call.completed",
            NOW,
            call_id="x",
            queue="billing",
            agent_id="a",
            talk_seconds=300.0,
            hold_seconds=0.0,
            acw_seconds=0.0,
        )
    )
    v = view(m)  # AHT known, no agents: nobody drains the queue
    assert v.predicted_service_level is None
    assert v.drain_eta_seconds == float("inf")


def test_label_values_past_the_cap_fold_into_overflow(make_monitor: Callable[..., Monitor]) -> None:
    m = make_monitor(label_limits={"queue": 3})
    for i in range(10):
        m.apply(event("call.queued", NOW, call_id=f"c{i}", queue=f"q{i}"))
    names = sorted(v.queue for v in m.queue_views())
    assert names == ["_overflow", "q0", "q1", "q2"]
    assert view(m, queue="_overflow").totals["offered"] == 7
    assert m.guard.overflow["queue"] == 7


def test_forgetting_a_site_drops_its_state(make_monitor: Callable[..., Monitor]) -> None:
    m = make_monitor()
    m.apply(event("call.queued", NOW, site="lon1", call_id="a", queue="q"))
    m.apply(event("call.queued", NOW, site="nyc1", call_id="b", queue="q"))
    m.forget_sites({"lon1"})
    assert [v.site for v in m.queue_views()] == ["nyc1"]


def test_a_forgotten_site_taken_back_is_rebuilt_from_the_events_seen_before(
    make_monitor: Callable[..., Monitor],
) -> None:
    m = make_monitor()
    queued = event("call.queued", NOW, site="lon1", call_id="a", queue="q")
    m.apply(queued)
    m.forget_sites({"lon1"})  # its partition went to another replica...

    assert m.apply(queued, replay=True) is Outcome.APPLIED  # ...and came back: re-read
    assert m.apply(queued, replay=True) is Outcome.DUPLICATE
    assert view(m, site="lon1", queue="q").calls_waiting == 1


def snapshot(m: Monitor, when: float, waiting: int, oldest: float) -> None:
    m.apply(
        event(
            "queue.snapshot",
            when,
            queue="billing",
            calls_waiting=waiting,
            oldest_wait_seconds=oldest,
            agents_staffed=5,
            agents_available=0,
        )
    )


def test_snapshot_oldest_wait_wins_over_what_we_knew(make_monitor: Callable[..., Monitor]) -> None:
    m = make_monitor()
    m.apply(event("call.queued", NOW - 10, call_id="known", queue="billing"))
    snapshot(m, NOW, 3, 120.0)  # two calls we never saw, the oldest for 120 s
    assert (view(m).calls_waiting, view(m).oldest_wait_seconds) == (3, 120.0)
    m2 = make_monitor()
    for i, age in enumerate((60, 30, 10)):
        m2.apply(event("call.queued", NOW - age, call_id=f"c{i}", queue="billing"))
    snapshot(m2, NOW, 2, 60.0)  # the 60 s call is still there
    assert (view(m2).calls_waiting, view(m2).oldest_wait_seconds) == (2, 60.0)


def test_an_end_for_an_unknown_call_retires_a_stand_in(
    make_monitor: Callable[..., Monitor],
) -> None:
    m = make_monitor()
    snapshot(m, NOW - 20, 2, 30.0)
    m.apply(
        event(
            "call.answered",
            NOW - 10,
            call_id="never-seen-1",
            queue="billing",
            agent_id="a",
            wait_seconds=40.0,
        )
    )
    m.apply(
        event("call.abandoned", NOW - 5, call_id="never-seen-2", queue="billing", wait_seconds=45.0)
    )
    assert view(m).calls_waiting == 0


def test_a_huge_snapshot_count_is_capped(make_monitor: Callable[..., Monitor]) -> None:
    m = make_monitor()
    snapshot(m, NOW, 3_000_000, 10.0)
    assert view(m).calls_waiting == 10_000


def test_infinity_is_not_a_valid_duration() -> None:
    from callpulse.core.ingest import DecodeError, decode

    body = (
        b'{"schema_version":1,"event_id":"x","type":"call.answered","occurred_at":'
        b'"2026-11-22T14:00:00Z","site":"a","call_id":"c","queue":"q","agent_id":"a",'
        b'"wait_seconds":1e400}'
    )
    with pytest.raises(DecodeError):
        decode(body, 4096)


def test_a_replayed_event_rebuilds_windows_and_state_but_not_the_totals(
    make_monitor: Callable[..., Monitor],
) -> None:
    m = make_monitor()
    m.apply(event("call.queued", NOW - 30, call_id="a", queue="billing"), replay=True)
    m.apply(
        event(
            "call.answered", NOW - 20, call_id="a", queue="billing", agent_id="x", wait_seconds=10.0
        ),
        replay=True,
    )
    m.apply(event("call.queued", NOW - 10, call_id="b", queue="billing"), replay=True)
    v = view(m)
    assert (v.windows[0].offered, v.windows[0].answered, v.calls_waiting) == (2, 1, 1)
    assert v.totals == {"offered": 0, "answered": 0, "abandoned": 0, "answered_within_threshold": 0}
    assert (m.stats.events_by_type, m.stats.replayed) == ({}, 3)


def completed(m: Monitor, when: float, call_id: str, handle: float) -> None:
    m.apply(
        event(
            "call.completed",
            when,
            call_id=call_id,
            queue="billing",
            agent_id="a",
            talk_seconds=handle,
            hold_seconds=0.0,
            acw_seconds=0.0,
        )
    )


def staff(m: Monitor, when: float, **states: int) -> None:
    n = 0
    for state, count in states.items():
        for _ in range(count):
            n += 1
            m.apply(event("agent.state", when, agent_id=f"s{n}", state=state, queues=["billing"]))


def test_capacity_counts_agents_in_after_call_work(make_monitor: Callable[..., Monitor]) -> None:
    # 5 agents: 2 available, 2 on a call, 1 in ACW. AHT 300 s, 1 arrival per 300 s, 10 waiting.
    m = make_monitor()
    for i in range(10):  # waiting since before the 5m window
        m.apply(event("call.queued", NOW - 800, call_id=f"w{i}", queue="billing"))
    m.apply(event("call.queued", NOW - 100, call_id="new", queue="billing"))
    m.apply(
        event(
            "call.answered",
            NOW - 90,
            call_id="new",
            queue="billing",
            agent_id="a",
            wait_seconds=10.0,
        )
    )
    for i in range(3):
        completed(m, NOW - 50, f"done{i}", 300.0)
    staff(m, NOW - 10, available=2, on_call=2, acw=1)
    v = view(m)
    assert v.calls_waiting == 10
    assert v.agents_serving == 5
    # N = 5: 10 / (5/300 - 1/300) = 750 s on average without give-ups (with ACW left out,
    # N = 4 gave 1000 s); the gauge is the model's mean for N = 5.
    assert v.drain_eta_seconds == pytest.approx(gauge(v, 5, 300))
    assert v.drain_eta_seconds < gauge(v, 4, 300)


def test_erlang_c_counts_agents_in_after_call_work(make_monitor: Callable[..., Monitor]) -> None:
    # 10 agents staffed (5 available, 3 on a call, 2 in ACW), A = 8 Erlangs (AHT 180 s, 40
    # calls in the 15m window): Erlang C predicts 0.672 within 20 s. N = 8 would be N <= A.
    m = make_monitor(erlang_window=900.0)
    for i in range(40):
        when = NOW - 900 + i * 20
        m.apply(event("call.queued", when, call_id=f"c{i}", queue="billing"))
        m.apply(
            event(
                "call.answered",
                when,
                call_id=f"c{i}",
                queue="billing",
                agent_id="a",
                wait_seconds=0.0,
            )
        )
        completed(m, when + 1, f"c{i}", 180.0)
    staff(m, NOW - 5, available=5, on_call=3, acw=2)
    v = view(m)
    assert v.arrivals_per_second * v.aht_seconds == pytest.approx(8.0)  # type: ignore[operator]
    assert v.predicted_service_level == pytest.approx(0.672, abs=5e-4)


def test_no_agent_means_the_backlog_never_drains_even_before_any_handle_time(
    make_monitor: Callable[..., Monitor],
) -> None:
    m = make_monitor()
    for i in range(3):
        m.apply(event("call.queued", NOW - 30, call_id=f"c{i}", queue="billing"))
    staff(m, NOW - 20, not_ready=4)
    assert view(m).drain_eta_seconds == math.inf


@pytest.mark.parametrize(("erlang_window", "offset"), [(300.0, 0.0), (300.0, 4.0), (60.0, 4.0)])
def test_arrival_rate_divides_by_the_span_the_window_really_covers(
    erlang_window: float, offset: float, make_monitor: Callable[..., Monitor]
) -> None:
    # A window covers whole buckets: from the bucket holding now - window up to now, so up to
    # one bucket (5 s) more than its length: 304 s for 5m, 64 s for 1m at 4 s into a bucket.
    m = make_monitor(erlang_window=erlang_window)
    m.apply(event("agent.state", NOW - 1000, agent_id="early", state="offline", queues=["x"]))
    for i in range(30):
        m.apply(event("call.queued", NOW - erlang_window + 2 * i, call_id=f"c{i}", queue="billing"))
    m.tick(NOW + offset)
    span = erlang_window + offset
    assert view(m).arrivals_per_second == pytest.approx(30 / span)


def test_a_young_window_divides_by_the_time_it_has_seen(
    make_monitor: Callable[..., Monitor],
) -> None:
    m = make_monitor()
    for i in range(12):  # the first events ever, 60 s of them
        m.apply(event("call.queued", NOW - 60 + 5 * i, call_id=f"c{i}", queue="billing"))
    assert view(m).arrivals_per_second == pytest.approx(12 / 60)


def test_a_run_row_sums_every_call_since_the_start_past_every_window(
    make_monitor: Callable[..., Monitor], now: float
) -> None:
    m = make_monitor(event_time_clock=True)
    m.queues.keep_run()
    day = 86_400.0
    for i, when in enumerate((now, now + day)):  # a day apart: no window holds both
        m.apply(event("call.queued", when, call_id=f"c{i}", queue="q"))
        m.apply(event("call.answered", when + 30, call_id=f"c{i}", queue="q", agent_id="a",
                      wait_seconds=10 + 20 * i))  # fmt: skip
        m.apply(event("call.completed", when + 90, call_id=f"c{i}", queue="q", agent_id="a",
                      talk_seconds=60, hold_seconds=0, acw_seconds=0))  # fmt: skip
    [view] = m.queue_views()
    assert view.windows[-1].offered == 1  # the windows hold the second day only
    run = m.queues.run_kpis()[("lon1", "q")]
    assert (run.offered, run.answered, run.abandoned) == (2, 2, 0)
    assert run.service_level == pytest.approx(0.5)  # 10 s within T = 20 s, 30 s not
    assert run.asa_seconds == pytest.approx(20.0)
    assert run.aht_seconds == pytest.approx(60.0)


def test_an_event_time_clock_advances_between_events(
    make_monitor: Callable[..., Monitor], now: float
) -> None:
    m = make_monitor(event_time_clock=True)
    m.apply(event("call.queued", now, call_id="c1", queue="q"))
    m.advance(now + 200)
    [view] = m.queue_views()
    assert view.oldest_wait_seconds == pytest.approx(200)
    live = make_monitor()
    live.advance(now + 200)  # live, only tick() moves the clock
    assert live.now == now


def test_a_queue_no_agent_stream_describes_has_no_agent_kpis(
    make_monitor: Callable[..., Monitor],
) -> None:
    """A feed of calls alone (Connect's contact records) says nothing of agents: what needs
    them is absent, not computed from 0 agents, so no page comes from the missing feed."""
    m = make_monitor()
    m.apply(event("call.queued", NOW - 200, call_id="c0", queue="billing"))
    m.apply(event("call.completed", NOW - 100, call_id="x", queue="billing", agent_id="a",
                  talk_seconds=300.0, hold_seconds=0.0, acw_seconds=0.0))  # fmt: skip
    v = view(m)
    assert not v.agents_known
    assert v.calls_waiting == 1
    assert v.calls_waiting_no_agent_available is None
    assert (v.predicted_service_level, v.drain_eta_seconds) == (None, None)
    assert v.agents_required is not None  # the load's own need: no agent state in it
    assert window(v, "5m").occupancy is None
    samples = {s.family.name: s.samples for s in collect(m, ["queue"])}
    assert samples["callpulse_queue_calls_waiting_no_agent_available"] == []
    assert samples["callpulse_queue_agents"] == []
    assert samples["callpulse_queue_calls_waiting"] == [(("lon1", "billing"), 1)]
    # Once an agent stream names the queue, 0 available is a reading, and it pages.
    m.apply(event("agent.state", NOW, agent_id="a", state="not_ready", queues=["billing"]))
    v = view(m)
    assert v.agents_known
    assert v.calls_waiting_no_agent_available == 1
    assert v.drain_eta_seconds == math.inf


def gauge(v: QueueView, agents: int, aht: float) -> float:
    """The drain gauge's value for ``v`` at ``agents`` and ``aht``: the model's mean."""
    patience = estimate_patience(v.flow.reneged, v.flow.exposure_seconds, 600.0)
    queue = ErlangA(agents, v.arrivals_per_second, aht, patience.rate)
    return drain_forecast(queue, v.calls_waiting, 0, HORIZON).mean

"""IVR, trunk and component KPIs against values worked out by hand."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from callpulse.core.monitor import Monitor

from .conftest import NOW
from .events import event


def test_ivr_ratios_per_ended_session(monitor: Monitor) -> None:
    m = monitor
    app = {"application": "main"}
    for i, outcome in enumerate(["contained", "contained", "transferred", "hangup", "error"]):
        m.apply(event("ivr.session_started", NOW - 30, session_id=f"s{i}", **app))
        m.apply(event("ivr.node", NOW - 29, session_id=f"s{i}", node="menu", **app))
        m.apply(
            event(
                "ivr.session_ended",
                NOW - 20,
                session_id=f"s{i}",
                outcome=outcome,
                duration_seconds=10.0,
                **app,
            )
        )
    m.apply(event("ivr.session_started", NOW - 5, session_id="open", **app))
    m.apply(event("ivr.input_error", NOW - 25, session_id="s0", kind="no_input", **app))
    m.apply(event("ivr.input_error", NOW - 25, session_id="s1", kind="no_match", **app))
    m.apply(event("ivr.input_error", NOW - 24, session_id="s1", kind="no_match", **app))
    for backend in ("crm", "crm", "billing-api"):
        m.apply(event("ivr.backend_error", NOW - 22, session_id="s2", backend=backend, **app))
    m.apply(event("ivr.ports", NOW - 2, ports_in_use=30, ports_total=120, **app))
    [v] = m.ivr_views()
    w = v.windows[0]
    assert (w.started, w.ended) == (6, 5)
    assert (w.containment, w.transfer, w.hangup) == pytest.approx((2 / 5, 1 / 5, 1 / 5))
    assert (w.no_input_per_session, w.no_match_per_session) == pytest.approx((1 / 5, 2 / 5))
    assert w.backend_errors_per_session == pytest.approx(3 / 5)
    assert w.backend_errors == {"crm": 2, "billing-api": 1}
    assert (v.ports_in_use, v.ports_total) == (30, 120)
    assert v.outcomes_total == {"contained": 2, "transferred": 1, "hangup": 1, "error": 1}


def test_ivr_without_ended_sessions_has_no_ratios(monitor: Monitor) -> None:
    m = monitor
    m.apply(event("ivr.session_started", NOW, session_id="s", application="main"))
    w = m.ivr_views()[0].windows[0]
    assert (w.containment, w.backend_errors_per_session) == (None, None)


def test_trunk_sip_ratios_follow_rfc_6076(monitor: Monitor) -> None:
    m = monitor
    codes = [200, 200, 200, 200, 302, 486, 480, 503, 404, 603]
    for i, code in enumerate(codes):
        m.apply(
            event(
                "call.setup",
                NOW - 10,
                trunk_id="t1",
                sip_code=code,
                post_dial_delay_ms=1000.0 + 100 * i,
            )
        )
    [v] = m.trunk_views()
    w = v.windows[0]
    assert w.setups == 10
    assert w.asr == pytest.approx(4 / 10)
    assert w.ser == pytest.approx(4 / 9)  # 302 is excluded from the denominator
    assert w.ner == pytest.approx((4 + 3) / 9)  # 486, 480, 603 count as the network working
    assert v.setups_total == {"1xx": 0, "2xx": 4, "3xx": 1, "4xx": 3, "5xx": 1, "6xx": 1}
    # Delays 1.0 .. 1.9 s: the median is the 5th (1.4 s), p95 the 10th (1.9 s), within 2 %.
    assert w.post_dial_delay_p50 == pytest.approx(1.4, rel=0.02)
    assert w.post_dial_delay_p95 == pytest.approx(1.9, rel=0.02)


def test_a_provisional_response_is_not_a_seizure(monitor: Monitor) -> None:
    # A 183 Session Progress then the 200 OK of the same call: one seizure, ASR 1.0 (counting
    # the 183 made it 2 seizures and ASR 0.5). The 183 is refused as invalid schema.
    from callpulse.core.ingest import DecodeError, decode

    from .events import raw

    with pytest.raises(DecodeError) as info:
        decode(raw("call.setup", NOW - 11, trunk_id="t1", call_id="c1", sip_code=183), 4096)
    assert info.value.reason == "invalid_schema"
    m = monitor
    m.apply(event("call.setup", NOW - 10, trunk_id="t1", call_id="c1", sip_code=200))
    w = m.trunk_views()[0].windows[0]
    assert (w.setups, w.asr) == (1, 1.0)


def test_a_media_report_no_counter_can_hold_counts_in_no_series(monitor: Monitor) -> None:
    m = monitor
    m.apply(event("media.quality", NOW - 5, trunk_id="t1", mos=4.0, jitter_ms=2.0))
    # A jitter of 1e308 ms is no number of microseconds a counter holds: the report is
    # refused whole, its MOS counted neither in the mean nor in the percentile.
    with pytest.raises(OverflowError):
        m.apply(event("media.quality", NOW - 5, trunk_id="t1", mos=1.0, jitter_ms=1e308))
    [view] = m.trunk_views()
    w = view.windows[0]
    assert (w.mos_mean, w.mos_p5, w.jitter_mean) == (
        pytest.approx(4.0),
        pytest.approx(4.005),
        pytest.approx(0.002),
    )


def test_trunk_status_and_media_quality(monitor: Monitor) -> None:
    m = monitor
    m.apply(
        event(
            "trunk.status",
            NOW - 20,
            trunk_id="t1",
            state="up",
            channels_in_use=10,
            channels_total=40,
        )
    )
    m.apply(
        event(
            "trunk.status",
            NOW - 30,
            trunk_id="t1",
            state="down",
            channels_in_use=0,
            channels_total=40,
        )
    )  # older: ignored
    moses = [4.4, 4.3, 4.1, 3.9, 2.5] * 4
    for i, mos in enumerate(moses):
        m.apply(
            event(
                "media.quality",
                NOW - 5,
                trunk_id="t1",
                mos=mos,
                jitter_ms=float(i),
                packet_loss_ratio=0.001 * (i % 5),
            )
        )
    m.apply(
        event(
            "media.quality",
            NOW - 5,
            component="sbc-1",
            mos=4.0,
            jitter_ms=1.0,
            packet_loss_ratio=0.0,
        )
    )
    views = {v.trunk: v for v in m.trunk_views()}
    t1 = views["t1"]
    assert (t1.up, t1.channels_in_use, t1.channels_total) == (True, 10, 40)
    w = t1.windows[0]
    assert w.mos_mean == pytest.approx(sum(moses) / 20)
    assert w.mos_p5 == pytest.approx(2.5, abs=0.005)  # the worst 5 %: 1 of 20
    assert w.jitter_mean == pytest.approx(sum(range(20)) / 20 / 1000)
    assert w.jitter_p95 == pytest.approx(0.018, rel=0.02)  # 19 of 20 are <= 18 ms
    assert w.packet_loss_mean == pytest.approx(0.002)
    assert w.packet_loss_p95 == pytest.approx(0.004, rel=0.02)
    assert views["_none"].windows[0].mos_mean == pytest.approx(4.0)
    assert views["_none"].up is None


def test_a_trunks_state_and_count_each_stand_by_their_own_time(monitor: Monitor) -> None:
    # AMI sends a count at each channel's start and end and a qualify result on its own:
    # a state that arrives after a newer count still applies, and its stale count does not.
    m = monitor
    m.apply(event("trunk.status", NOW - 10, trunk_id="t1", channels_in_use=7))
    m.apply(event("trunk.status", NOW - 20, trunk_id="t1", state="down", channels_in_use=3))
    [t1] = m.trunk_views()
    assert (t1.up, t1.channels_in_use) == (False, 7)
    m.apply(event("trunk.status", NOW - 30, trunk_id="t1", state="up", channels_in_use=1))
    [t1] = m.trunk_views()
    assert (t1.up, t1.channels_in_use) == (False, 7)  # older than the state it would undo
    m.apply(event("trunk.status", NOW - 5, trunk_id="t1", channels_in_use=2))
    [t1] = m.trunk_views()
    assert (t1.up, t1.channels_in_use) == (False, 2)  # a count without a state keeps it


def test_component_status_heartbeat_age_and_staleness(make_monitor: Callable[..., Monitor]) -> None:
    m = make_monitor(component_stale_after=60.0)
    m.apply(event("component.health", NOW - 10, component="pbx-1", kind="pbx", status="degraded"))
    m.apply(event("component.health", NOW - 5, component="sbc-1", kind="sbc", status="up"))
    m.apply(event("component.health", NOW - 20, component="sbc-1", kind="sbc", status="down"))
    views = {v.component: v for v in m.component_views()}
    assert (views["pbx-1"].status, views["pbx-1"].heartbeat_age_seconds) == ("degraded", 10.0)
    assert views["sbc-1"].status == "up"  # the older "down" arrived late and changes nothing
    m.tick(NOW + 54)  # pbx-1 silent 64 s, sbc-1 59 s
    views = {v.component: v for v in m.component_views()}
    assert (views["pbx-1"].status, views["pbx-1"].stale) == ("down", True)
    assert views["pbx-1"].reported == "degraded"
    assert (views["sbc-1"].status, views["sbc-1"].stale) == ("up", False)


def test_ivr_applications_and_backends_age_out_and_give_their_names_back(
    make_monitor: Callable[..., Monitor],
) -> None:
    m = make_monitor(label_limits={"application": 2, "backend": 2})
    for name in ("a", "b"):
        m.apply(event("ivr.backend_error", NOW - 5, session_id="s", application=name,
                      backend=f"crm-{name}"))  # fmt: skip
    m.tick(NOW + 3600)
    assert m.ivr_views() == []
    m.apply(event("ivr.backend_error", NOW + 3600, session_id="s", application="c", backend="x"))
    [view] = m.ivr_views()
    assert view.application == "c"  # not _overflow: the cap had room again
    assert set(view.windows[0].backend_errors) == {"x"}


def test_each_media_measure_is_averaged_over_the_events_that_carry_it(monitor: Monitor) -> None:
    m = monitor
    # An E-model MOS with jitter and loss (a v1 producer), a FreeSWITCH hangup (loss and
    # its flaws score, no MOS, no jitter), and an Asterisk MES with jitter only.
    m.apply(event("media.quality", NOW - 5, trunk_id="t1", mos=4.0, jitter_ms=10.0,
                  packet_loss_ratio=0.01))  # fmt: skip
    m.apply(event("media.quality", NOW - 5, trunk_id="t1", packet_loss_ratio=0.03,
                  score=3.5, score_kind="freeswitch_flaws"))  # fmt: skip
    m.apply(event("media.quality", NOW - 5, trunk_id="t1", jitter_ms=20.0,
                  score=80.0, score_kind="asterisk_mes"))  # fmt: skip
    m.apply(event("media.quality", NOW - 5, trunk_id="t1", score=4.5,
                  score_kind="freeswitch_flaws"))  # fmt: skip
    [v] = m.trunk_views()
    w = v.windows[0]
    assert w.mos_mean == pytest.approx(4.0)  # the one E-model MOS; no score in it
    assert w.mos_p5 == pytest.approx(4.0, abs=0.005)
    assert w.jitter_mean == pytest.approx(0.015)  # (10 + 20) / 2 ms, not / 4
    assert w.packet_loss_mean == pytest.approx(0.02)  # (0.01 + 0.03) / 2
    assert w.score_means == pytest.approx({"freeswitch_flaws": 4.0, "asterisk_mes": 80.0})


def test_a_trunk_with_no_media_measure_of_a_kind_has_no_value_for_it(monitor: Monitor) -> None:
    monitor.apply(event("media.quality", NOW - 5, trunk_id="t1", score=2.0,
                        score_kind="connect_quality"))  # fmt: skip
    [v] = monitor.trunk_views()
    w = v.windows[0]
    assert (w.mos_mean, w.mos_p5, w.jitter_mean, w.packet_loss_mean) == (None, None, None, None)
    assert w.score_means == {"connect_quality": 2.0}


def test_a_platform_score_is_its_own_series_labelled_by_kind(monitor: Monitor) -> None:
    from callpulse.core.readings import collect

    monitor.apply(event("media.quality", NOW - 5, trunk_id="t1", score=3.0,
                        score_kind="freeswitch_flaws"))  # fmt: skip
    samples = {s.family.name: s.samples for s in collect(monitor, ["trunk"])}
    scores = dict(samples["callpulse_trunk_media_score_mean"])
    assert scores[("lon1", "t1", "freeswitch_flaws", "1m")] == pytest.approx(3.0)
    assert samples["callpulse_trunk_mos_mean"] == []  # a flaws score is no MOS


def test_a_trunks_run_counts_every_setup_since_the_start(monitor: Monitor) -> None:
    # What a replayed file's report prints per trunk: every setup since the start, one an
    # hour old (past every window) among them, in its classes and in its ratios alike.
    m = monitor
    m.trunks.keep_run()
    for code in (200, 302, 486, 503):
        m.apply(event("call.setup", NOW - 10, trunk_id="t1", sip_code=code))
    m.apply(event("call.setup", NOW - 3600, trunk_id="t1", sip_code=480))
    [v] = m.trunk_views()
    assert max(w.setups for w in v.windows) == 4
    [run] = m.trunks.run_kpis().values()
    assert sum(run.setups_by_class.values()) == 5
    assert run.asr == pytest.approx(1 / 5)
    assert run.ner == pytest.approx((1 + 2) / 4)  # 302 out of the denominator


def test_an_ivr_run_outlives_its_applications_release_and_is_capped(
    make_monitor: Callable[..., Monitor],
) -> None:
    m = make_monitor(label_limits={"application": 1})
    m.ivr.keep_run()
    ivr = {"session_id": "s", "outcome": "contained", "duration_seconds": 1.0}
    m.apply(event("ivr.session_ended", NOW - 5, application="main", **ivr))
    m.ivr.release_idle(NOW + 1)  # the name gives its place back, as in the daemon
    m.apply(event("ivr.session_ended", NOW - 4, application="other", **ivr))
    m.ivr.release_idle(NOW + 1)
    m.apply(event("ivr.session_ended", NOW - 3, application="main", **ivr))
    runs = m.ivr.run_kpis()
    # "main" kept its sums through its release; "other" came past the cap of runs kept.
    assert {key: run.ended for key, run in runs.items()} == {
        ("lon1", "main"): 2,
        ("lon1", "_overflow"): 1,
    }

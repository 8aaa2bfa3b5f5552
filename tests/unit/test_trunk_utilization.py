"""Trunk utilization: channels in use over the event's own total, else the configured capacity.

A platform that counts channels from its call records sends ``trunk.status`` with
``channels_in_use`` only: no state (it cannot see a trunk go down) and no total (it does not
know the carrier's capacity, ``kpi.trunk_channels`` does). A gateway's state event sends the
state only: the count stands."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from callpulse.core.ingest import DecodeError
from callpulse.core.monitor import Monitor
from callpulse.core.readings import collect
from callpulse.core.trunk_views import TrunkView

from .conftest import NOW
from .events import event


def trunk(m: Monitor, name: str, site: str = "lon1") -> TrunkView:
    [view] = [v for v in m.trunk_views() if (v.site, v.trunk) == (site, name)]
    return view


def counted(m: Monitor, when: float, name: str, in_use: int, site: str = "lon1") -> None:
    m.apply(event("trunk.status", when, site, trunk_id=name, channels_in_use=in_use))


def test_utilization_is_in_use_over_the_configured_capacity_on_any_site(
    make_monitor: Callable[..., Monitor],
) -> None:
    m = make_monitor(trunk_channels={"carrier-a": 30})
    counted(m, NOW - 2, "carrier-a", 12)
    counted(m, NOW - 2, "carrier-a", 3, site="par1")
    lon, par = trunk(m, "carrier-a"), trunk(m, "carrier-a", "par1")
    assert (lon.channels_in_use, lon.channels_total, lon.utilization) == (12, 30, 0.4)
    assert (par.channels_in_use, par.channels_total, par.utilization) == (3, 30, 0.1)


def test_the_total_an_event_carries_wins_over_the_configured_one(
    make_monitor: Callable[..., Monitor],
) -> None:
    m = make_monitor(trunk_channels={"carrier-a": 30})
    m.apply(
        event(
            "trunk.status",
            NOW - 2,
            trunk_id="carrier-a",
            state="up",
            channels_in_use=12,
            channels_total=48,
        )
    )
    view = trunk(m, "carrier-a")
    assert (view.channels_total, view.utilization) == (48, 0.25)


def test_without_a_total_anywhere_there_is_no_utilization(monitor: Monitor) -> None:
    counted(monitor, NOW - 2, "carrier-b", 7)
    view = trunk(monitor, "carrier-b")
    assert (view.channels_in_use, view.channels_total, view.utilization) == (7, None, None)


def test_a_configured_capacity_alone_gives_no_utilization(
    make_monitor: Callable[..., Monitor],
) -> None:
    # Setups say nothing of the channels in use: 0 % would be a number nobody measured.
    m = make_monitor(trunk_channels={"carrier-a": 30})
    m.apply(event("call.setup", NOW - 2, trunk_id="carrier-a", sip_code=200))
    view = trunk(m, "carrier-a")
    assert (view.channels_in_use, view.channels_total, view.utilization) == (None, 30, None)


def test_a_status_without_a_state_keeps_the_last_state(monitor: Monitor) -> None:
    monitor.apply(
        event(
            "trunk.status",
            NOW - 9,
            trunk_id="t1",
            state="down",
            channels_in_use=0,
            channels_total=40,
        )
    )
    counted(monitor, NOW - 5, "t1", 2)
    view = trunk(monitor, "t1")
    assert (view.up, view.channels_in_use, view.channels_total) == (False, 2, None)
    monitor.apply(event("trunk.status", NOW - 4, trunk_id="t1", state="up", channels_in_use=3))
    counted(monitor, NOW - 3, "t1", 4)
    assert (trunk(monitor, "t1").up, trunk(monitor, "t1").channels_in_use) == (True, 4)


def test_a_status_without_a_state_never_reads_as_down(monitor: Monitor) -> None:
    counted(monitor, NOW - 5, "t1", 0)
    assert trunk(monitor, "t1").up is None
    [up] = collect(monitor, ["trunk"], ["callpulse_trunk_up"])
    assert up.samples == []  # no sample: TrunkDown (trunk_up < 1) has nothing to fire on


def test_an_older_count_does_not_replace_a_newer_one(monitor: Monitor) -> None:
    counted(monitor, NOW - 3, "t1", 5)
    counted(monitor, NOW - 6, "t1", 9)
    assert trunk(monitor, "t1").channels_in_use == 5


def stated(m: Monitor, when: float, name: str, state: str) -> None:
    m.apply(event("trunk.status", when, trunk_id=name, state=state))


def test_a_status_without_a_count_keeps_the_last_count(
    make_monitor: Callable[..., Monitor],
) -> None:
    # A gateway's state event (FreeSWITCH sofia::gateway_state, an OpenSIPS gateway status,
    # AMI PeerStatus) says whether the carrier answers, not how many calls are up on it.
    m = make_monitor(trunk_channels={"carrier-a": 30})
    counted(m, NOW - 5, "carrier-a", 12)
    stated(m, NOW - 2, "carrier-a", "down")
    view = trunk(m, "carrier-a")
    assert (view.up, view.channels_in_use, view.utilization) == (False, 12, 0.4)


def test_a_count_stamped_before_a_newer_state_still_stands(monitor: Monitor) -> None:
    # A state stamped when it was read (OpenSIPS' status events carry no time) must not make
    # the counts of a backlog, stamped earlier and read later, stale.
    counted(monitor, NOW - 9, "t1", 2)
    stated(monitor, NOW - 1, "t1", "up")
    counted(monitor, NOW - 6, "t1", 5)
    counted(monitor, NOW - 4, "t1", 3)
    assert (trunk(monitor, "t1").up, trunk(monitor, "t1").channels_in_use) == (True, 3)


def test_a_state_before_any_count_gives_no_count(
    make_monitor: Callable[..., Monitor],
) -> None:
    m = make_monitor(trunk_channels={"carrier-a": 30})
    stated(m, NOW - 2, "carrier-a", "up")
    view = trunk(m, "carrier-a")
    assert (view.up, view.channels_in_use, view.channels_total, view.utilization) == (
        True,
        None,
        30,
        None,
    )
    [in_use] = collect(m, ["trunk"], ["callpulse_trunk_channels_in_use"])
    assert in_use.samples == []


def test_a_status_without_a_count_leaves_the_run_channel_figures(monitor: Monitor) -> None:
    m = monitor
    m.trunks.keep_run()
    counted(m, NOW - 100, "t1", 4)
    stated(m, NOW - 50, "t1", "down")
    stated(m, NOW - 40, "t1", "up")
    counted(m, NOW - 80, "t1", 6)  # older than the states, newer than the count: it stands
    [run] = m.trunks.run_kpis().values()
    assert run.channels_peak == 6
    assert run.channel_seconds == pytest.approx(4 * 20 + 6 * 80)


@pytest.mark.parametrize("fields", [{}, {"channels_total": 30}])
def test_a_status_that_says_neither_state_nor_count_is_refused(fields: dict[str, object]) -> None:
    with pytest.raises(DecodeError) as info:
        event("trunk.status", NOW, trunk_id="t1", **fields)
    assert info.value.reason == "invalid_schema"
    assert "nothing reported" in info.value.detail


def test_an_adapter_cannot_make_a_status_that_says_nothing() -> None:
    from callpulse.core.event_checks import InvalidEventError, make

    body = {
        "schema_version": 1,
        "event_id": "a-1",
        "type": "trunk.status",
        "occurred_at": "2026-11-22T14:06:30Z",
        "site": "lon1",
        "trunk_id": "t1",
    }
    with pytest.raises(InvalidEventError, match="nothing reported"):
        make(body)
    assert make(body | {"state": "down"}).channels_in_use is None  # type: ignore[union-attr]


@pytest.mark.parametrize("total", [0, -1, 1.5, "30"])
def test_a_total_that_is_no_channel_count_is_rejected(total: object) -> None:
    with pytest.raises(DecodeError):
        event("trunk.status", NOW, trunk_id="t1", channels_in_use=1, channels_total=total)


def test_a_run_keeps_the_peak_and_the_channel_seconds_of_the_counts(monitor: Monitor) -> None:
    # The whole-run channel figures a platform's counts are compared with: each count stands
    # until the next, and the last one until the end of the run (the grid's now).
    m = monitor
    m.trunks.keep_run()
    counted(m, NOW - 100, "t1", 2)
    counted(m, NOW - 60, "t1", 5)
    counted(m, NOW - 60, "t1", 4)  # same instant: the later one stands, the peak was 5
    counted(m, NOW - 70, "t1", 9)  # older than the standing one: neither the gauge's nor the run's
    counted(m, NOW - 10, "t1", 1)
    [run] = m.trunks.run_kpis().values()
    assert run.channels_peak == 5
    assert run.channel_seconds == pytest.approx(2 * 40 + 4 * 50 + 1 * 10)
    assert trunk(m, "t1").channels_in_use == 1


def test_a_run_without_a_count_has_no_channel_figures(monitor: Monitor) -> None:
    m = monitor
    m.trunks.keep_run()
    m.apply(event("call.setup", NOW - 10, trunk_id="t1", sip_code=200))
    [run] = m.trunks.run_kpis().values()
    assert (run.channels_peak, run.channel_seconds) == (None, None)


def test_channel_run_counts_a_leg_that_opened_and_closed_at_once_in_its_peak() -> None:
    # A refused leg (FreeSWITCH's CHANNEL_CREATE then its hangup at the same instant)
    # held a channel for no time: it is in the peak, not in the channel-seconds.
    from callpulse.core.trunk_run import ChannelRun

    run = ChannelRun()
    for at, in_use in ((0.0, 0), (5.0, 1), (5.0, 0), (8.0, 1)):
        run.said(at, in_use)
    assert run.peak == 1
    assert run.until(10.0) == pytest.approx(2.0)
    assert run.until(7.0) == pytest.approx(0.0)  # never before the last count
    assert ChannelRun().until(10.0) is None

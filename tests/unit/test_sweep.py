"""The sweep over contact centers: its grid, its truths, and the simulator parts it uses."""

from __future__ import annotations

import json
import math
import statistics
import subprocess
import sys
from collections import Counter
from datetime import datetime, timedelta
from pathlib import Path

import pytest

from callpulse.simulation import sweep_grid, truth
from callpulse.simulation.model import ContactCenter
from callpulse.simulation.scenario import Scenario
from callpulse.simulation.sweep import Forecast, Played
from callpulse.simulation.sweep_score import figures

START = 1_800_000_000.0


def one_queue(**queue: object) -> Scenario:
    spec = {"name": "q", "calls_per_hour": 600, "agents": 10, "hold_share": 0, **queue}
    return Scenario.model_validate(
        {
            "name": "t",
            "seed": 3,
            "late_share": 0,
            "duplicate_share": 0,
            "sites": [{"name": "s1", "queues": [spec]}],
        }
    )


# --- the grid -------------------------------------------------------------------------------


def test_the_grid_is_deterministic_and_covers_every_level_of_every_factor() -> None:
    cases = sweep_grid.grid()
    assert cases == sweep_grid.grid()
    kinds = Counter(c.kind for c in cases)
    assert kinds == {"window": 36, "normal": 4, "low": 4}
    windows = [c for c in cases if c.kind == "window"]
    for factor, levels in (
        ("agents", sweep_grid.AGENTS),
        ("aht", sweep_grid.AHT),
        ("lost", sweep_grid.LOST),
        ("window", sweep_grid.WINDOW),
        ("patience", sweep_grid.PATIENCE),
        ("occupancy", sweep_grid.OCCUPANCY),
        ("spread", sweep_grid.SPREAD),
    ):
        seen = Counter(getattr(c, factor) for c in windows)
        assert set(seen) == set(levels), factor
        assert min(seen.values()) >= 6, factor
    assert len({c.name for c in cases}) == len(cases)
    assert {c.name for c in sweep_grid.reduced()} == set(sweep_grid.REDUCED)
    assert len(sweep_grid.REDUCED) == 8


def test_a_case_is_a_one_queue_center_with_a_planned_window_and_the_mean_handle_time() -> None:
    case = next(c for c in sweep_grid.grid() if c.name == "w22-n80")
    scenario = case.scenario(7)
    (site,) = scenario.sites
    (queue,) = site.queues
    assert queue.talk * math.exp(0.18) + queue.acw * math.exp(0.08) == pytest.approx(case.aht)
    assert queue.acw * math.exp(0.08) == pytest.approx(0.2 * case.aht)
    assert queue.calls_per_hour == pytest.approx(case.occupancy * case.agents / case.aht * 3600)
    assert queue.patience is None
    assert site.ivr is None
    assert not site.trunks
    (window,) = scenario.incidents
    assert window.planned
    assert window.at >= 45 * 60
    assert window.components == [sweep_grid.PBX]
    assert scenario.duration == window.at + window.duration + 90 * 60
    assert scenario.seed == 7


def test_a_centers_yesterday_is_its_busy_hour_the_day_before_with_no_window() -> None:
    case = next(c for c in sweep_grid.grid() if c.name == "w22-n80")
    today, yesterday = case.scenario(7), case.yesterday(7)
    assert yesterday.start == datetime(2026, 11, 22, 14, 0) == today.start - timedelta(hours=19)
    assert (
        yesterday.duration
        == sweep_grid.BUSY_SPAN
        < today.start.timestamp() - (yesterday.start.timestamp())
    )
    assert yesterday.incidents == []
    (queue,) = yesterday.sites[0].queues
    (mine,) = today.sites[0].queues
    # The same callers and agents, busier: 95 % occupancy, so that some of them wait.
    assert queue.model_copy(update={"calls_per_hour": mine.calls_per_hour}) == mine
    assert queue.calls_per_hour == pytest.approx(0.95 * case.agents / case.aht * 3600)


# --- the truths -----------------------------------------------------------------------------


def path(*levels: tuple[float, float, int]) -> list[tuple[float, int]]:
    """Samples every 5 s: (from, to, waiting) pieces."""
    out = []
    for start, end, waiting in levels:
        t = start
        while t < end:
            out.append((t, waiting))
            t += 5
    return out


def test_the_baseline_is_the_mean_over_the_half_hour_before_the_window() -> None:
    p = path((0, 1800, 9), (1800, 2700, 2), (2700, 3600, 4), (3600, 4000, 50))
    assert truth.baseline(p, 3600) == pytest.approx(3.0)
    assert truth.drained_level(0.5) == 2.0
    assert truth.drained_level(3.0) == 3.0


def test_drained_needs_two_minutes_within_two_of_the_level() -> None:
    # At 2 after the window's end, back up to 5 (over 2 + 2) after 60 s: not yet drained;
    # then at 2 with a blip to 4 (within 2 + 2): drained from there.
    p = path((0, 1000, 30), (1000, 1060, 2), (1060, 1200, 5), (1200, 1250, 2), (1250, 1260, 4))
    p += path((1260, 1500, 1))
    assert truth.drained_at(p, after=900, level=2) == 1200
    assert truth.drained_at(p, after=1210, level=2) == 1210
    assert truth.drained_at(path((0, 1000, 30)), after=0, level=2) is None
    # The last two minutes cannot confirm it.
    assert truth.drained_at(path((0, 1000, 30), (1000, 1100, 0)), after=0, level=2) is None


def test_a_page_is_warranted_by_a_crowd_or_by_a_late_drain_and_not_by_a_small_backlog() -> None:
    # B = 1; the window 3600-5400 adds 29 callers, over 20 for 2 min; it drains at once.
    crowd = path((1800, 3600, 1), (3600, 5000, 10), (5000, 5120, 30), (5120, 8000, 1))
    got = truth.window_truth(crowd, 3600, 5400)
    assert got.baseline == 1
    assert got.peak == 30
    assert got.crowd_from == 5000
    assert got.drained == 5400
    assert got.warranted
    # Never over 20, but 40 min to drain after the window.
    late = path((1800, 3600, 0), (3600, 7800, 12), (7800, 9000, 0))
    got = truth.window_truth(late, 3600, 5400)
    assert got.crowd_from is None
    assert got.overhang == 2400
    assert got.warranted
    # Over 20 for 50 s only, drained within a quarter hour: no page.
    brief = path((1800, 3600, 0), (3600, 5000, 10), (5000, 5050, 25), (5050, 6000, 0))
    assert not truth.window_truth(brief, 3600, 5400).warranted
    # Big in time, small in size: 4 more than a baseline of 1 is under 5.
    small = path((1800, 3600, 1), (3600, 9000, 5), (9000, 9500, 1))
    got = truth.window_truth(small, 3600, 5400)
    assert not got.big
    assert not got.warranted
    # Relative to a busy baseline of 8: 3 x 8 = 24 more are needed.
    busy = path((1800, 3600, 8), (3600, 5400, 30), (5400, 9000, 8))
    assert not truth.window_truth(busy, 3600, 5400).warranted


def test_a_window_never_drained_by_the_end_is_warranted_when_big() -> None:
    p = path((1800, 3600, 0), (3600, 9000, 15))
    got = truth.window_truth(p, 3600, 5400)
    assert got.drained is None
    assert math.isinf(got.overhang)
    assert got.warranted


# --- the simulator ------------------------------------------------------------------------


def test_forecast_errors_are_told_apart_by_what_the_patience_rested_on() -> None:
    case = sweep_grid.grid()[0]

    def played(peak: float, patience_from: str) -> Played:
        window = truth.window_truth([(0.0, 0), (1.0, 0)], 0.5, 1.0)
        forecast = Forecast(0.0, peak, None, None, patience_from, truth=10.0)
        return Played(case, 1, 0.0, window, [], [], forecast, {})

    figs = figures(
        [
            played(12.0, "3 give-ups in 20 min of waiting over the last 0.8 h"),  # +20 %
            played(15.0, "0.5 give-ups in 40 min of waiting at 02:00 UTC over the last days"),
            played(30.0, "configured 600s (0 give-ups in 0 min of waiting is too little)"),
            played(40.0, ""),  # says nothing of its patience: neither
        ]
    )
    assert figs["forecasts"] == 4
    assert figs["forecast_median"] == pytest.approx(1.25)  # 20, 50, 200, 300 %
    assert (figs["forecasts_measured"], figs["forecasts_on_prior"]) == (2, 1)
    assert figs["forecast_measured_median"] == pytest.approx(0.35)


def test_a_fork_starts_where_the_center_is_goes_its_own_way_and_writes_nothing() -> None:
    scenario = one_queue(calls_per_hour=1200, agents=8, talk="30s", acw="5s", patience="5m")
    center = ContactCenter(scenario, START)
    center.advance(START + 1800)
    now = center.waiting("s1", "q")
    assert now > 0
    a, b, again = center.fork(1), center.fork(2), center.fork(1)
    assert a.waiting("s1", "q") == b.waiting("s1", "q") == now
    paths = []
    for fork in (a, b, again):
        seen = []
        for k in range(1, 121):
            assert fork.advance(START + 1800 + 10 * k) == []  # silent
            seen.append(fork.waiting("s1", "q"))
        paths.append(seen)
    assert paths[0] == paths[2]
    assert paths[0] != paths[1]
    # The original is untouched and still writes.
    assert center.waiting("s1", "q") == now
    assert center.advance(START + 1900)


def test_the_forecast_truth_is_the_mean_of_futures_and_leaves_the_center_alone() -> None:
    # 3 agents for 1,200 calls an hour, nobody gives up: the queue grows by ~ (1/3 - 3/35)
    # a second whatever chance does, so each future's last minute of ten is far above now.
    scenario = one_queue(calls_per_hour=1200, agents=3, talk="30s", acw="5s", patience=None)
    center = ContactCenter(scenario, START)
    center.advance(START + 600)
    now = center.waiting("s1", "q")
    futures = truth.forecast_truth(center, "s1", "q", 1200.0, 60.0, START, 11)
    assert len(futures) == truth.RESTARTS
    assert len(set(futures)) > 1  # each its own chance
    growth = (1200 / 3600 - 3 / 35) * 570  # to the middle of the last minute
    assert statistics.mean(futures) == pytest.approx(now + growth, rel=0.15)
    assert truth.forecast_truth(center, "s1", "q", 1200.0, 60.0, START, 11) == futures
    assert (center.now, center.waiting("s1", "q")) == (START + 600, now)


def test_patience_none_means_nobody_gives_up() -> None:
    scenario = one_queue(calls_per_hour=1200, agents=3, patience=None)
    assert (
        Scenario.model_validate(
            {
                **scenario.model_dump(),
                "sites": [
                    {
                        "name": "s1",
                        "queues": [
                            {"name": "q", "calls_per_hour": 10, "agents": 1, "patience": "none"}
                        ],
                    }
                ],
            }
        )
        .sites[0]
        .queues[0]
        .patience
        is None
    )
    center = ContactCenter(scenario, START)
    events = center.advance(START + 3600)
    kinds = Counter(e["type"] for e in events)
    assert kinds["call.queued"] > 500
    assert kinds["call.abandoned"] == kinds["call.callback_requested"] == 0
    assert center.waiting("s1", "q") > 100


def test_return_spread_brings_agents_back_over_the_spread() -> None:
    def returns(spread: str) -> list[float]:
        scenario = one_queue(calls_per_hour=60, agents=20, patience="5m")
        incident = {
            "at": 600,
            "duration": 600,
            "kind": "agent_shortage",
            "site": "s1",
            "agents_lost": 0.5,
            "return_spread": spread,
        }
        scenario = Scenario.model_validate({**scenario.model_dump(), "incidents": [incident]})
        center = ContactCenter(scenario, START, in_order=True)
        events = center.advance(START + 1800)
        taken = {
            e["agent_id"] for e in events if e["type"] == "agent.state" and e["state"] == "offline"
        }
        assert len(taken) == 10
        back: dict[str, float] = {}
        for e in events:
            if e["type"] == "agent.state" and e["agent_id"] in taken and e["state"] != "offline":
                at = _seconds(e["occurred_at"]) - START
                if at >= 1200:
                    back.setdefault(e["agent_id"], at)
        return sorted(back.values())

    assert returns("0s") == [1200.0] * 10
    spread = returns("120s")
    assert len(spread) == 10
    assert all(1200 <= t <= 1320 for t in spread)
    assert spread[-1] - spread[0] > 30


def _seconds(stamp: str) -> float:
    return datetime.fromisoformat(stamp.replace("Z", "+00:00")).timestamp()


# --- the command ----------------------------------------------------------------------------


def test_the_reduced_sweep_runs_end_to_end_and_meets_its_gates(tmp_path: Path) -> None:
    out = tmp_path / "sweep.json"
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "callpulse",
            "scenario",
            "check",
            "--sweep",
            "--reduced",
            "--json",
            str(out),
        ],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert result.returncode in (0, 1), result.stderr
    text = result.stdout
    assert text.startswith("reduced sweep: 8 contact centers x 1 seed = 8 runs")
    for heading in ("pages (MaintenanceBacklog episodes)", "drain ETA", "gates"):
        assert heading in text
    for group in ("all", "patience none", "patience 3m", "patience 10m", "N=5", "N=200"):
        assert f"\n{group} " in text
    verdicts = [line for line in text.splitlines() if line.startswith(("PASS  ", "FAIL  "))]
    assert len(verdicts) == 14
    # Every gate holds on the reduced sweep, as on the full one (docs/sweep.md).
    assert [v for v in verdicts if not v.startswith("PASS  ")] == [], text
    assert result.returncode == 0
    assert result.stderr == ""  # no progress when stderr is not a terminal
    data = json.loads(out.read_text())
    assert set(data) == {"summary", "gates", "runs", "checkpoints"}
    assert len(data["runs"]) == 8
    assert len(data["gates"]) == 14
    assert set(data["summary"]) == {"all", "patience", "agents"}
    for row in data["checkpoints"]:
        assert {"at", "eta", "low", "high", "truth", "futures", "case", "regime"} <= set(row)
        assert len(row["futures"]) == truth.RESTARTS


def test_sweep_options_go_together() -> None:
    def cli(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "callpulse", "scenario", "check", *args],
            capture_output=True,
            text=True,
            timeout=60,
        )

    assert cli("--reduced").returncode == 2
    assert cli("--no-history", "normal-day").returncode == 2
    assert cli("--sweep", "normal-day").returncode == 2
    assert cli("--sweep", "--seeds", "0").returncode == 2

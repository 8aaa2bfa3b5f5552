"""``callpulse scenario list`` and ``callpulse scenario check``: the shipped scenarios, and
playing them through the pipeline to score the alerts they raise."""

from __future__ import annotations

import statistics
import sys
import time
from pathlib import Path

from callpulse.config import ConfigError, Settings, load_settings
from callpulse.core.durations import format_duration
from callpulse.shipped import shipped
from callpulse.simulation import scenario as scenarios
from callpulse.simulation.runner import Report, run

_STEP = 1.0  # simulated seconds advanced per step when producing


def list_scenarios() -> int:
    """Print the shipped scenarios with their descriptions."""
    for name in scenarios.names():
        print(f"{name:<22} {scenarios.load(name).description}")
    return 0


def check(names: list[str], config: Path | None, seeds: int = 1) -> int:
    """Play each scenario through the pipeline (with ``seeds`` seeds from its own) and compare
    the alerts, their episodes and their forecasts with its ``expect``."""
    from callpulse import logs

    logs.configure("warning", "console")
    try:
        settings = load_settings(config) if config else Settings(rule_files=[shipped("rules.yaml")])
    except ConfigError as exc:
        print(f"callpulse: {exc}", file=sys.stderr)
        return 2
    failed = 0
    for name in names or scenarios.names():
        try:
            scenario = scenarios.load(name)
        except ValueError as exc:
            print(f"callpulse: {exc}", file=sys.stderr)
            return 2
        failed += not _check_one(scenario, settings, seeds)
    print("scenario checks failed" if failed else "scenario checks passed")
    return 1 if failed else 0


def _check_one(scenario: scenarios.Scenario, settings: Settings, seeds: int) -> bool:
    started = time.perf_counter()
    reports: list[tuple[int, Report]] = []
    problems: list[str] = []
    for k in range(seeds):
        seed = scenario.seed + k
        report = run(scenario.model_copy(update={"seed": seed}), settings)
        reports.append((seed, report))
        problems += [f"seed {seed}: {p}" for p in report.verdict(scenario)]
    took = time.perf_counter() - started
    for kind, scores, bound in (
        ("drain ETA", [s for _, r in reports for s in r.eta], scenario.expect.eta_error),
        (
            "forecast peak",
            [s for _, r in reports for s in r.forecasts],
            scenario.expect.forecast_error,
        ),
    ):
        errors = [e for s in scores if (e := s.error) is not None]
        if bound is not None and errors and statistics.median(errors) > bound.median:
            problems.append(
                f"median {kind} error {statistics.median(errors):.0%} > {bound.median:.0%}"
            )
    events = sum(r.events for _, r in reports)
    print(
        f"{'FAIL' if problems else 'PASS'}  {scenario.name}: {seeds} seed"
        f"{'s' if seeds > 1 else ''} x {format_duration(scenario.duration)} simulated in "
        f"{took:.1f} s, {events:,} events, {sum(r.rejected for _, r in reports)} rejected"
    )
    for line in _summary(reports):
        print("      " + line)
    for problem in problems:
        print(f"      ! {problem}")
    return not problems


def _summary(reports: list[tuple[int, Report]]) -> list[str]:
    """Per alert: episodes, flaps, time to detect; ETA and forecast errors; suppressions."""
    lines = []
    n = len(reports)
    names = sorted({e.alert for _, r in reports for e in r.episodes})
    for name in names:
        episodes = sum(r.fired[name] for _, r in reports)
        flaps = sum(1 for _, r in reports for e in r.flaps if e.alert == name)
        detect = [r.detect[name] for _, r in reports if name in r.detect]
        leads = [
            lead
            for _, r in reports
            for labels, lead in r.forecast_lead.items()
            if dict(labels)["alertname"] == name
        ]
        when = ""
        if leads:
            when = f", raised {statistics.median(leads) / 60:.1f} min before the window (median)"
        elif detect:
            median = statistics.median(detect)
            side = "after" if median >= 0 else "before"
            when = f", first {abs(median) / 60:.1f} min {side} the incident started (median)"
        lines.append(
            f"fired      {name}: {episodes} episode{'s' if episodes != 1 else ''} in {n} "
            f"run{'s' if n != 1 else ''}, {flaps} flap{'s' if flaps != 1 else ''}{when}"
        )
        scores = [s for _, r in reports for s in (r.eta + r.forecasts) if s.alert == name]
        errors = sorted(e for s in scores if (e := s.error) is not None)
        if scores:
            what = "drain ETA" if name == "MaintenanceBacklog" else "forecast peak"
            missing = len(scores) - len(errors)
            lines.append(
                f"           {what} error: median {statistics.median(errors):.0%}, worst "
                f"{errors[-1]:.0%} over {len(errors)}"
                + (f" ({missing} never reached)" if missing else "")
                if errors
                else f"           {what}: never reached in {missing}"
            )
    suppressed = sorted({a for _, r in reports for a in r.suppressed})
    lines += [f"suppressed {a} (maintenance)" for a in suppressed]
    return lines

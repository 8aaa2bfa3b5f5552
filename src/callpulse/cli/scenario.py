"""``callpulse scenario list`` and ``callpulse scenario check``: the shipped scenarios, and
playing them through the pipeline to score the alerts they raise."""

from __future__ import annotations

import functools
import statistics
import sys
import time
from collections import Counter
from pathlib import Path

from callpulse.config import ConfigError, Settings, load_settings
from callpulse.core.durations import format_duration
from callpulse.core.trunk_run import TrunkRun
from callpulse.shipped import shipped
from callpulse.simulation import scenario as scenarios
from callpulse.simulation.runner import Report, run
from callpulse.text import plain

_STEP = 1.0  # simulated seconds advanced per step when producing


def list_scenarios() -> int:
    """Print the shipped scenarios with their descriptions."""
    for name in scenarios.names():
        print(plain(f"{name:<22} {scenarios.load(name).description}"))
    return 0


def check(
    names: list[str], config: Path | None, seeds: int = 1, platform: str | None = None
) -> int:
    """Play each scenario through the pipeline (with ``seeds`` seeds from its own) and compare
    the alerts, their episodes and their forecasts with its ``expect``.

    ``platform``: also play it through that format's emitter and adapter, which must give
    the same queue counts (offered, answered, abandoned) as events v1 and the same alerts."""
    settings = _settings(config)
    if settings is None:
        return 2
    failed = 0
    for name in names or scenarios.names():
        try:
            scenario = scenarios.load(name)
        except ValueError as exc:
            print(f"callpulse: {plain(str(exc), newlines=True)}", file=sys.stderr)
            return 2
        failed += not _check_one(scenario, settings, seeds, platform)
    print("scenario checks failed" if failed else "scenario checks passed")
    return 1 if failed else 0


def check_sweep(
    config: Path | None,
    is_reduced: bool,
    seeds: int | None,
    json_path: Path | None,
    history: bool = True,
) -> int:
    """Score the maintenance alerts over the sweep's contact centers (docs/sweep.md):
    ``seeds`` per center (default 2, reduced 1), each after its yesterday unless not
    ``history``. 0: every gate passed; 1: one failed."""
    from callpulse.cli.sweep import run_sweep

    settings = _settings(config)
    if settings is None:
        return 2
    if seeds is None:
        seeds = 1 if is_reduced else 2
    return run_sweep(
        settings, is_reduced=is_reduced, seeds=seeds, json_path=json_path, history=history
    )


def _settings(config: Path | None) -> Settings | None:
    """The settings scenarios are played with: ``config``'s, else the defaults with the
    shipped rules; None (said on stderr) when the file is invalid. Logs warnings only."""
    from callpulse import logs

    logs.configure("warning", "console")
    try:
        return load_settings(config) if config else Settings(rule_files=[shipped("rules.yaml")])
    except ConfigError as exc:
        print(f"callpulse: {plain(str(exc), newlines=True)}", file=sys.stderr)
        return None


def _check_one(
    scenario: scenarios.Scenario, settings: Settings, seeds: int, platform: str | None
) -> bool:
    started = time.perf_counter()
    reports: list[tuple[int, Report]] = []
    problems: list[str] = []
    through: list[str] = []
    for k in range(seeds):
        seed = scenario.seed + k
        seeded = scenario.model_copy(update={"seed": seed})
        report = run(seeded, settings)
        reports.append((seed, report))
        problems += [f"seed {seed}: {p}" for p in report.verdict(scenario)]
        if platform is not None:
            adapted, differences = _through(platform, seeded, settings)
            problems += [f"seed {seed}, {platform}: {p}" for p in differences]
            through.append(
                f"{platform}: {adapted.platform_records:,} platform records, "
                f"{adapted.rejected} rejected; queue counts"
                + (", trunk figures" if _is_trunk_format(platform) else "")
                + (", IVR sessions" if _carries_ivr(platform) else "")
                + " and alerts "
                + ("as events v1's" if not differences else "DIFFER")
            )
            through += _through_details(adapted)
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
    # The scenario's names (its own, its sites', queues' and alerts') come from its file.
    print(
        f"{'FAIL' if problems else 'PASS'}  {plain(scenario.name)}: {seeds} seed"
        f"{'s' if seeds > 1 else ''} x {format_duration(scenario.duration)} simulated in "
        f"{took:.1f} s, {events:,} events, {sum(r.rejected for _, r in reports)} rejected"
    )
    for line in _summary(reports) + through:
        print("      " + plain(line))
    for problem in problems:
        print(f"      ! {plain(problem)}")
    return not problems


def _through(
    fmt: str, scenario: scenarios.Scenario, settings: Settings
) -> tuple[Report, list[str]]:
    """Play ``scenario`` through platform ``fmt`` and say how it differs from events v1 of
    the same day, as the format can carry it: the per-queue counts and the alerts.

    The day is the scenario's, each event delivered once and in order (late and duplicate
    delivery is a v1 producer's transport, which the scenario's own check plays). What the
    format cannot tell apart counts as one on both sides (``Emitter.merges``: a callback
    is an abandon in queue_log). Where the platform does not log when wrap-up ends, its
    adapter assumes ``wrapup_seconds``, and every wrap-up of the day lasts that long (the
    queues' mean after-call work); where it logs whole seconds, everything happens on one.

    A format that also carries trunk or IVR events (``trunk_emitter``: a trunk format, or an
    ACD format whose records hold them, as Connect's contact records do) says what it keeps
    of them (``as_kept``), and its trunks' and IVR applications' whole-day figures are
    compared too; the IVR sessions are compared for every format (where they stay events v1
    they agree by construction)."""
    from callpulse.cli.scenario_ivr import ivr_differences
    from callpulse.cli.scenario_trunks import trunk_differences
    from callpulse.config import FormatSettings
    from callpulse.simulation.emitters import emitter_for, trunk_emitter

    emitter = emitter_for(fmt, "-")
    trunks = trunk_emitter(emitter)
    wrapup = None
    if not emitter.acw_carried:
        wrapup = round(statistics.mean(q.acw for s in scenario.sites for q in s.queues))
    options = FormatSettings(
        format=fmt,
        site="-",
        wrapup_seconds=wrapup or 0.0,
        **(dict(trunks.adapter_options) if trunks else {}),
    )
    day = functools.partial(
        run, scenario, settings, wrapup=wrapup, whole_seconds=emitter.whole_seconds
    )
    keep = trunks.as_kept if trunks is not None else None
    reference = day(merges=emitter.merges, keep=keep, in_order=True)
    adapted = day(platform=options)
    problems = [
        f"{site}/{queue}: {what} {adapted.queues.get((site, queue), {}).get(what, 0)}, "
        f"events v1 {totals[what]}"
        for (site, queue), totals in sorted(reference.queues.items())
        for what in ("offered", "answered", "abandoned")
        if adapted.queues.get((site, queue), {}).get(what, 0) != totals[what]
    ]
    # The same episodes of the same alerts on the same series.
    got, want = _episodes(adapted), _episodes(reference)
    problems += [
        f"{alert} {dict(labels)}: {got[series]} episodes, events v1 {want[series]}"
        for series in sorted(got | want)
        if got[series] != want[series]
        for alert, labels in [series]
    ]
    if trunks is not None:  # the trunks went through the format
        problems += trunk_differences(adapted.trunks, reference.trunks)
    problems += ivr_differences(adapted.ivr, reference.ivr)
    if adapted.rejected:
        problems.append(f"{adapted.rejected} records rejected")
    if reference.rejected:  # events v1 as the format keeps them that ours would refuse
        problems.append(f"{reference.rejected} records of the reference rejected")
    return adapted, problems


def _is_trunk_format(fmt: str) -> bool:
    from callpulse.simulation.emitters import emitter_for, trunk_emitter

    return trunk_emitter(emitter_for(fmt, "-")) is not None


def _carries_ivr(fmt: str) -> bool:
    from callpulse.simulation.emitters import emitter_for

    return "ivr.session_ended" in emitter_for(fmt, "-").carries


def _through_details(adapted: Report) -> list[str]:
    """What the platform run gave: its trunks' setups, its IVR sessions, what its adapters
    skipped, and the alerts that fired through it."""
    lines = [
        (
            f"  trunk {site}/{trunk}: {sum(run.setups_by_class.values()):,} setups "
            + ", ".join(f"{k} {v:,}" for k, v in sorted(run.setups_by_class.items()) if v)
        ).rstrip()
        + _channels(run)
        for (site, trunk), run in sorted(adapted.trunks.items())
    ]
    # Applications with sessions (one named only by ivr.ports or an input error has none).
    lines += [
        f"  ivr {site}/{application}: {run.ended:,} sessions ended, "
        + ", ".join(f"{k} {v:,}" for k, v in sorted(run.outcomes.items()) if v)
        + f", containment {run.containment:.1%}"
        for (site, application), run in sorted(adapted.ivr.items())
        if run.containment is not None
    ]
    if adapted.ignored:
        lines.append(
            "  skipped " + ", ".join(f"{k} {v:,}" for k, v in sorted(adapted.ignored.items()))
        )
    fired = sorted(adapted.fired)
    lines.append("  fired through it: " + (", ".join(fired) if fired else "nothing"))
    return lines


def _channels(run: TrunkRun) -> str:
    """A trunk's channel figures, if its statuses counted any."""
    if run.channels_peak is None or run.channel_seconds is None:
        return ""
    return f"; channels peak {run.channels_peak}, {run.channel_seconds / 3600:,.1f} channel-hours"


def _episodes(report: Report) -> Counter[tuple[str, tuple[tuple[str, str], ...]]]:
    return Counter((e.alert, e.labels) for e in report.episodes)


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

"""``callpulse scenario check --sweep``: the maintenance alerts scored over a family of
contact centers (see docs/sweep.md), as a table, a verdict per gate and an exit status.

The cases are independent, so they are played in worker processes, one per CPU.
"""

from __future__ import annotations

import json
import math
import os
import sys
import time
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import asdict
from pathlib import Path
from typing import Any

from callpulse.config import Settings
from callpulse.simulation.sweep import Played, play
from callpulse.simulation.sweep_grid import Case, grid, reduced
from callpulse.simulation.sweep_score import Gate, gates, ordered, summary


def run_sweep(
    settings: Settings,
    *,
    is_reduced: bool,
    seeds: int,
    json_path: Path | None,
    jobs: int = 0,
    history: bool = True,
) -> int:
    """Play the sweep (or its reduced form) with ``seeds`` seeds per case; print the table
    and the gates; write the raw records to ``json_path``. 0 when every gate passes, else 1.

    ``jobs``: worker processes (0: one per CPU). ``history``: each center after its
    yesterday (docs/sweep.md); without, as a daemon on its first day."""
    cases = reduced() if is_reduced else grid()
    work = [(c, k) for c in cases for k in range(seeds)]
    # The heaviest first, so that no worker is left with a long one at the end.
    work.sort(key=lambda w: -_cost(w[0]))
    started = time.perf_counter()
    runs = ordered(_play_all(work, settings, jobs or os.cpu_count() or 1, history))
    took = time.perf_counter() - started
    figs = summary(runs)
    verdicts = gates(figs)
    name = "reduced sweep" if is_reduced else "sweep"
    if not history:
        name += " (no yesterday)"
    for line in table(figs, verdicts, runs, name, seeds, took):
        print(line)
    if json_path is not None:
        json_path.write_text(json.dumps(_jsonable(records(runs, figs, verdicts)), indent=1))
    return 0 if all(g.passed for g in verdicts) else 1


def _cost(case: Case) -> float:
    """Roughly how long a case takes: simulated calls, more for the drain ETA's futures."""
    return case.calls_per_hour * case.duration / 3600 * (1 + case.lost * case.window / 900)


def _play_all(
    work: list[tuple[Case, int]], settings: Settings, jobs: int, history: bool
) -> list[Played]:
    progress = sys.stderr.isatty()
    done: list[Played] = []
    if jobs <= 1:
        for case, k in work:
            done.append(play(case, k, settings, history=history))
            _progress(progress, done[-1], len(done), len(work))
        return done
    with ProcessPoolExecutor(max_workers=min(jobs, len(work))) as pool:
        futures = [pool.submit(play, case, k, settings, history=history) for case, k in work]
        for future in as_completed(futures):
            done.append(future.result())
            _progress(progress, done[-1], len(done), len(work))
    return done


def _progress(shown: bool, played: Played, count: int, total: int) -> None:
    if shown:
        print(
            f"[{count}/{total}] {played.case.name} seed {played.seed}: {played.seconds:.1f} s",
            file=sys.stderr,
        )


def _pct(value: float | None) -> str:
    if value is None:
        return "-"
    return "inf" if math.isinf(value) else f"{value:.0%}"


def _num(value: float | None, digits: int = 2) -> str:
    return "-" if value is None else f"{value:.{digits}f}"


def _secs(value: float | None) -> str:
    return "-" if value is None else f"{value:.0f}s"


_PAGES = (
    ("windows", "windows", str),
    ("warranted", "warr", str),
    ("pages_warranted", "pages", str),
    ("pages_false", "false", str),
    ("missed", "missed", str),
    ("precision", "prec", _num),
    ("recall", "recall", _num),
    ("flaps", "flaps", str),
    ("episodes_per_incident", "ep/inc", _num),
    ("ttd_median", "TTD p50", _secs),
    ("ttd_max", "TTD max", _secs),
)
_ESTIMATES = (
    ("eta_scored", "ETAs", str),
    ("eta_median", "ETA p50", _pct),
    ("eta_p90", "ETA p90", _pct),
    ("eta_bias", "bias", _pct),
    ("eta_inside", "in P10-90", _pct),
    ("eta_inf_drained", "inf/drained", str),
    ("eta_truth_never", "never", str),
    ("forecast_median", "fcst p50", _pct),
    ("forecast_bias", "fcst bias", _pct),
    ("forecast_path_median", "1 path", _pct),
    ("forecast_inside", "in range", _pct),
    ("forecast_missing", "no fcst", str),
    ("forecast_measured_median", "fcst seen", _pct),
    ("forecasts_measured", "seen", str),
    ("forecasts_on_prior", "on prior", str),
)


def _rows(figs: dict[str, Any], columns: tuple[tuple[str, str, Any], ...]) -> list[str]:
    groups = [("all", figs["all"])]
    groups += [(f"patience {k}", v) for k, v in figs["patience"].items()]
    groups += [(f"N={k}", v) for k, v in figs["agents"].items()]
    widths = [max(len(head), 6) for _, head, _ in columns]
    lines = [
        "".ljust(14) + " ".join(h.rjust(w) for (_, h, _), w in zip(columns, widths, strict=True))
    ]
    for label, values in groups:
        cells = [fmt(values[key]) for key, _, fmt in columns]
        lines.append(
            label.ljust(14) + " ".join(c.rjust(w) for c, w in zip(cells, widths, strict=True))
        )
    return lines


def table(
    figs: dict[str, Any],
    verdicts: list[Gate],
    runs: list[Played],
    name: str,
    seeds: int,
    took: float,
) -> list[str]:
    """The report: what was played, the pages, the estimates and the gates."""
    every = figs["all"]
    cases = len({r.case.name for r in runs})
    failed = [g for g in verdicts if not g.passed]
    lines = [
        f"{name}: {cases} contact centers x {seeds} seed{'s' if seeds != 1 else ''} = "
        f"{len(runs)} runs, {every['checkpoints']} drain ETA checkpoints, in {took:.1f} s",
        "",
        "pages (MaintenanceBacklog episodes)",
        *_rows(figs, _PAGES),
        "",
        "drain ETA (P50 against the median of the futures) and forecast peak",
        *_rows(figs, _ESTIMATES),
        "",
        f"normal days: {every['normal_day_pages']} pages; low-impact windows: "
        f"{every['low_impact_pages']} pages; ETA announced at {every['checkpoints']} "
        f"checkpoints, {every['eta_missing']} without one, {every['eta_ranges']} with a "
        f"P10-P90 range",
        "",
        "gates",
    ]
    for g in verdicts:
        value = "n/a (nothing to measure)" if g.value is None else _gate_value(g)
        lines.append(f"{'PASS' if g.passed else 'FAIL'}  {g.name}: {value}")
    lines.append(f"{name} failed ({len(failed)} gates)" if failed else f"{name} passed")
    return lines


def _gate_value(g: Gate) -> str:
    assert g.value is not None
    if "error" in g.name or "inside" in g.name:
        return f"{g.value:.0%}"
    if "time to detect" in g.name:
        return f"{g.value:.0f} s"
    if "precision" in g.name or "recall" in g.name:
        return f"{g.value:.2f}"
    return f"{g.value:g}"


def records(runs: list[Played], figs: dict[str, Any], verdicts: list[Gate]) -> dict[str, Any]:
    """Everything measured, to re-analyse: each run (case, truth, pages, forecast), each
    checkpoint, the summary and the gates. Times are seconds into the scenario."""
    out_runs = []
    checkpoints = []
    for r in runs:
        entry = asdict(r)
        entry.pop("checkpoints")
        entry["case"]["regime"] = r.case.regime
        out_runs.append(entry)
        for c in r.checkpoints:
            row = asdict(c)
            row |= {"case": r.case.name, "seed": r.seed, "regime": r.case.regime}
            row |= {"agents": r.case.agents, "error": c.error, "signed_error": c.signed}
            row["inside"] = c.inside
            checkpoints.append(row)
    return {
        "summary": figs,
        "gates": [asdict(g) for g in verdicts],
        "runs": out_runs,
        "checkpoints": checkpoints,
    }


def _jsonable(value: Any) -> Any:
    """``value`` with infinities as the strings "inf" / "-inf" and NaN as null: strict JSON."""
    if isinstance(value, float) and not math.isfinite(value):
        return None if math.isnan(value) else ("inf" if value > 0 else "-inf")
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_jsonable(v) for v in value]
    return value

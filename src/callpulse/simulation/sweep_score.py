"""The sweep's figures and acceptance gates, from the cases it played.

Pages are MaintenanceBacklog episodes. One on a window the truth warrants is a *warranted*
page; one on any other window or on a normal day is *false*. A warranted window with no page
is *missed*. Precision is warranted pages over all pages, recall paged warranted windows
over warranted windows. Time to detect is taken on the windows where more than 20 callers
waited for a minute (the page's time less that run's start). ETA and forecast errors are
relative to the truth; their bias is the median signed error (positive: announced too
long, forecast too high).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from callpulse.simulation.sweep import Played

PRECISION = 0.95
RECALL = 1.0
ETA_MEDIAN = 0.20
ETA_INSIDE = 0.70
FORECAST_MEDIAN = 0.25
TTD_MAX = 90.0
REGIMES = ("none", "3m", "10m")
ON_PRIOR = "configured"  # how MaintenanceImpactForecast's patience_from starts on the prior


def quantile(values: Sequence[float], q: float) -> float | None:
    """The ``q`` quantile of ``values``, interpolated between ranks (None: no value)."""
    ordered = sorted(values)
    if not ordered:
        return None
    pos = (len(ordered) - 1) * q
    low, high = math.floor(pos), math.ceil(pos)
    if low == high or ordered[low] == ordered[high]:
        return ordered[low]
    return ordered[low] + (ordered[high] - ordered[low]) * (pos - low)


def _share(flags: Iterable[bool | None]) -> float | None:
    known = [f for f in flags if f is not None]
    return sum(known) / len(known) if known else None


def figures(runs: Sequence[Played]) -> dict[str, Any]:
    """Every figure of the sweep over ``runs`` (None where there is nothing to measure)."""
    windows = [r for r in runs if r.truth is not None]
    warranted = [r for r in windows if r.truth is not None and r.truth.warranted]
    paged = [r for r in warranted if r.pages]
    good = sum(len(r.pages) for r in warranted)
    false = sum(len(r.pages) for r in runs if r not in warranted)
    ttd = [
        r.pages[0].fired_at - r.truth.crowd_from
        for r in paged
        if r.truth is not None and r.truth.crowd_from is not None
    ]
    checks = [c for r in runs for c in r.checkpoints]
    errors = [e for c in checks if (e := c.error) is not None]
    signed = [e for c in checks if (e := c.signed) is not None]
    forecasts = [r.forecast for r in windows if r.forecast is not None]
    fsigned = [e for f in forecasts if (e := f.signed) is not None]
    # A forecast whose patience is the configured one says so in patience_from: with too
    # little seen before the window to outweigh it, its error is the prior's, not the
    # model's. One that does not say what it used is counted with neither.
    on_prior = [f for f in forecasts if f.patience_from.startswith(ON_PRIOR)]
    fmeasured = [
        abs(e)
        for f in forecasts
        if f.patience_from and f not in on_prior and (e := f.signed) is not None
    ]
    return {
        "runs": len(runs),
        "windows": len(windows),
        "warranted": len(warranted),
        "pages_warranted": good,
        "pages_false": false,
        "missed": len(warranted) - len(paged),
        "precision": good / (good + false) if good + false else None,
        "recall": len(paged) / len(warranted) if warranted else None,
        "flaps": sum(p.flap for r in runs for p in r.pages),
        "episodes_per_incident": good / len(paged) if paged else None,
        "ttd_median": quantile(ttd, 0.5),
        "ttd_max": max(ttd, default=None),
        "ttd_count": len(ttd),
        "normal_day_pages": sum(len(r.pages) for r in runs if r.case.kind == "normal"),
        "low_impact_pages": sum(len(r.pages) for r in runs if r.case.kind == "low"),
        "checkpoints": len(checks),
        "eta_scored": len(errors),
        "eta_median": quantile(errors, 0.5),
        "eta_p90": quantile(errors, 0.9),
        "eta_bias": quantile(signed, 0.5),
        "eta_inside": _share(c.inside for c in checks),
        "eta_ranges": sum(c.inside is not None for c in checks),
        "eta_inf_drained": sum(
            c.eta is not None and math.isinf(c.eta) and math.isfinite(c.truth) for c in checks
        ),
        "eta_truth_never": sum(math.isinf(c.truth) for c in checks),
        "eta_missing": sum(c.eta is None for c in checks),
        "forecasts": len(forecasts),
        "forecast_median": quantile([abs(e) for e in fsigned], 0.5),
        "forecast_bias": quantile(fsigned, 0.5),
        # Against the one path played instead of the futures' mean: chance included.
        "forecast_path_median": quantile(
            [
                abs(f.peak - f.path) / f.path
                for f in forecasts
                if f.peak is not None and f.path is not None and f.path > 0
            ],
            0.5,
        ),
        "forecast_inside": _share(f.inside for f in forecasts),
        "forecast_missing": sum(r.forecast is None for r in warranted),
        "forecast_measured_median": quantile(fmeasured, 0.5),
        "forecasts_measured": len(fmeasured),
        "forecasts_on_prior": len(on_prior),
    }


def summary(runs: Sequence[Played]) -> dict[str, Any]:
    """The figures overall, by patience regime and by N."""
    by_regime = {k: figures([r for r in runs if r.case.regime == k]) for k in REGIMES}
    sizes = sorted({r.case.agents for r in runs})
    by_size = {str(n): figures([r for r in runs if r.case.agents == n]) for n in sizes}
    return {"all": figures(runs), "patience": by_regime, "agents": by_size}


@dataclass(frozen=True)
class Gate:
    """One acceptance gate: what it requires, the figure, and whether it holds."""

    name: str
    value: float | None  # None: nothing to measure, which fails
    passed: bool


def _at_least(limit: float) -> Callable[[float], bool]:
    return lambda v: v >= limit - 1e-12


def _at_most(limit: float) -> Callable[[float], bool]:
    return lambda v: v <= limit + 1e-12


def gates(figs: dict[str, Any]) -> list[Gate]:
    """The acceptance gates on :func:`summary`'s figures."""
    every = figs["all"]
    wanted: list[tuple[str, float | None, Callable[[float], bool]]] = [
        (f"precision >= {PRECISION:.2f}", every["precision"], _at_least(PRECISION)),
        (f"recall = {RECALL:.2f}", every["recall"], _at_least(RECALL)),
        ("flaps = 0", every["flaps"], _at_most(0)),
        (f"ETA median error <= {ETA_MEDIAN:.0%}", every["eta_median"], _at_most(ETA_MEDIAN)),
    ]
    wanted += [
        (
            f"ETA median error <= {ETA_MEDIAN:.0%}, patience {k}",
            figs["patience"][k]["eta_median"],
            _at_most(ETA_MEDIAN),
        )
        for k in REGIMES
    ]
    wanted.append(
        (f"truths inside P10-P90 >= {ETA_INSIDE:.0%}", every["eta_inside"], _at_least(ETA_INSIDE))
    )
    wanted += [
        (
            f"forecast median error <= {FORECAST_MEDIAN:.0%}, patience {k}",
            figs["patience"][k]["forecast_median"],
            _at_most(FORECAST_MEDIAN),
        )
        for k in REGIMES
    ]
    wanted += [
        ("pages on normal days = 0", every["normal_day_pages"], _at_most(0)),
        ("pages on low-impact windows = 0", every["low_impact_pages"], _at_most(0)),
        (f"time to detect max <= {TTD_MAX:.0f} s", every["ttd_max"], _at_most(TTD_MAX)),
    ]
    return [Gate(name, value, value is not None and check(value)) for name, value, check in wanted]


def ordered(runs: Iterable[Played]) -> list[Played]:
    """``runs`` in grid order, then by seed."""
    return sorted(runs, key=lambda r: (r.case.index, r.seed))

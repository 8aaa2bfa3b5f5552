"""What the built-in maintenance alerts say: their annotations, in plain words and numbers."""

from __future__ import annotations

import math

from callpulse.core.maintenance_state import BacklogState, ForecastState, OverrunState


def backlog_summary(b: BacklogState, target_eta: float) -> dict[str, str]:
    """Annotations of a MaintenanceBacklog alert, with the plain-words summary.

    While the alert is active it says how big the backlog is, when it will have drained and
    what staffing would drain it within ``target_eta``; once the backlog has drained (the
    values the alert resolves with) it says so.
    """
    if b.baseline is None:
        normal = "normal unknown"
    elif b.baseline >= 1:
        normal = f"{b.waiting / b.baseline:.0f}x normal"
    else:
        normal = "normal is ~0"
    notes = {
        "backlog": str(b.waiting),
        "baseline": "unknown" if b.baseline is None else f"{b.baseline:.1f}",
        "drain_eta": _seconds(b.drain_eta),
        "drain_eta_low": _seconds(b.drain_eta_low),
        "drain_eta_high": _seconds(b.drain_eta_high),
        "drain_overhang": _seconds(b.overhang),
        "drained_at": f"{b.drained_level:g}",
        "agents_serving": str(b.agents_serving),
        "agents_available": str(b.agents_available),
        "arrival_rate": f"{b.arrivals_per_second * 60:.2f}/min ({b.arrivals_over})",
        "aht": "unknown" if b.aht is None else f"{b.aht:.0f}s",
        "patience": _seconds(b.patience),
    }
    if not b.active:
        notes["summary"] = (
            f"{b.queue} at {b.site}: backlog drained, {b.waiting} waiting "
            f"(drained at {b.drained_level:g} or fewer)"
        )
        return notes
    if b.drain_eta is None:
        drains = "drain time unknown (no handle time yet)"
    elif math.isinf(b.drain_eta):
        drains = (
            "will not drain while the window lasts"
            if math.isinf(b.window_left) and b.window_left > 0
            else "will not drain at current staffing"
        )
    else:
        drains = f"drains in {_minutes(b.drain_eta)}{_range(b.drain_eta_low, b.drain_eta_high)}"
        if 0 < b.window_left < math.inf and b.overhang:
            drains += f", {_minutes(b.overhang)} after the window ends"
    advice = ""
    if b.agents_needed is not None and b.overhang is not None and b.overhang > target_eta:
        more = b.agents_needed - b.agents_after
        if more > 0:
            advice = f"; {more} more agents would drain it in {_minutes(target_eta)}"
    notes["summary"] = f"{b.queue} at {b.site}: {b.waiting} waiting ({normal}), {drains}{advice}"
    return notes


def forecast_summary(f: ForecastState) -> dict[str, str]:
    """Annotations of a MaintenanceImpactForecast alert."""
    drain = (
        "and will not drain afterwards"
        if math.isinf(f.drain_after)
        else f"draining {_minutes(f.drain_after)} after it ends"
    )
    keep = ""
    if f.agents_to_keep is not None and f.agents_to_keep > f.agents_serving - f.agents_lost:
        keep = (
            f"; keep {f.agents_to_keep} of {f.agents_serving} agents on {f.queue} during it "
            "to stay within the limits"
        )
    elif f.agents_to_keep is None:
        keep = "; even full staffing would not stay within the limits"
    return {
        "summary": (
            f"{f.maintenance} in {_minutes(f.starts_in)} takes {f.agents_lost} of "
            f"{f.agents_serving} agents from {f.queue} at {f.site}: expect ~{f.peak:.0f} "
            f"({f.peak_low:.0f}-{f.peak_high:.0f}) waiting by its end, {drain}{keep}"
        ),
        "forecast_peak": f"{f.peak:.0f}",
        "forecast_peak_low": f"{f.peak_low:.0f}",
        "forecast_peak_high": f"{f.peak_high:.0f}",
        "patience": _seconds(f.patience),
        "patience_from": f.patience_from,
        "forecast_drain": _seconds(f.drain_after),
        "starts_in": f"{f.starts_in:.0f}s",
        "agents_lost": str(f.agents_lost),
        "agents_to_keep": "" if f.agents_to_keep is None else str(f.agents_to_keep),
    }


def overrun_summary(o: OverrunState) -> dict[str, str]:
    """Annotations of a MaintenanceOverrun alert (or of its resolution)."""
    if o.active:
        text = (
            f"{o.component} at {o.site} is still {o.status} after maintenance {o.maintenance} ended"
        )
    else:
        text = f"{o.component} at {o.site} is {o.status or 'no longer reported down'} again"
    return {"summary": text, "status": o.status or "unknown"}


def _seconds(value: float | None) -> str:
    if value is None:
        return ""
    return "inf" if math.isinf(value) else f"{value:.0f}s"


def _range(low: float | None, high: float | None) -> str:
    """ " (12-26)": a drain's P10-P90 in minutes, to follow its median."""
    if low is None or high is None:
        return ""
    quick = max(1, round(low / 60))
    if math.isinf(high):
        return f" ({quick} min or far longer)"
    return f" ({quick}-{max(1, round(high / 60))})"


def _minutes(seconds: float) -> str:
    return f"{max(1, round(seconds / 60))} min"

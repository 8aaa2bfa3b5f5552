"""The judgements of the built-in maintenance alerts, pure: a backlog's drain and whether it
pages (MaintenanceBacklog), and a planned window's forecast (MaintenanceImpactForecast), on
the queue model of :mod:`callpulse.core.drain`. The tracker
(:mod:`callpulse.core.maintenance`) keeps what they need from one evaluation to the next.
"""

from __future__ import annotations

import math
from collections.abc import Callable

from callpulse.core.backlog import agents_to_drain, staff_back_in
from callpulse.core.calendar import Occurrence
from callpulse.core.drain import Z90, build_up, widened, window_outlook
from callpulse.core.flow_history import Estimate, FlowHistory, Reading
from callpulse.core.maintenance_policy import BacklogLimits
from callpulse.core.maintenance_state import (
    BacklogState,
    Baseline,
    ForecastState,
    QueueReading,
)
from callpulse.core.patience import estimate_patience
from callpulse.core.queues import QueueFlow

MIN_LIVE_ARRIVALS = 10
"""Below this many arrivals the live rate says too little: older readings are added until
it has them, and where even those fall short the backlog model takes the baseline's rate."""


def judge_backlog(
    now: float,
    occurrence: Occurrence,
    view: QueueReading,
    firing: bool,
    limits: BacklogLimits,
    base: Baseline | None,
    history: FlowHistory | None,
    after_drain: Callable[[], bool],
) -> BacklogState:
    """One affected queue's backlog at ``now``: its drain ETA and range, and whether
    MaintenanceBacklog is active on it. ``firing``: the alert fires (hysteresis holds it
    until drained); ``base``: the queue's baseline before the window; ``after_drain``: asked
    only when not firing, whether the queue has drained since the window ended (it keeps
    the tracker's count of how long)."""
    waiting = view.calls_waiting
    serving = view.agents_serving
    after = max(serving, round(base.serving)) if base is not None else serving
    flow = view.flow
    aht, aht_calls = flow.aht_seconds, flow.completed
    if base is not None and base.aht:
        aht, aht_calls = base.aht, base.aht_calls or flow.completed
    arrivals, arrived, over = _arrivals(now, flow, base, history, occurrence.end)
    patience = estimate_patience(flow.reneged, flow.exposure_seconds, limits.patience)
    calm = patience.mean_patience
    left = max(0.0, occurrence.end - now)
    # Agents still logging back in are staff: reading their absence as staffing from now
    # on would make the ETA infinite just as the queue starts to drain.
    back = staff_back_in(now, occurrence.end, limits.return_spread)
    fire = limits.fire_level(base.waiting if base else None)
    drained = limits.drained_level(base.waiting if base else None)
    back = max(back, left)
    forecast = window_outlook(waiting, drained, serving, after, back, arrivals, aht, patience.rate)
    if forecast is not None and aht:
        counts = ((arrivals, arrived), (aht, aht_calls))
        forecast = widened(forecast, waiting, drained, serving, after, back, *counts, patience.rate)
    if not view.agents_known:  # no agent stream: how fast it drains is unknown
        forecast = None
    eta = low = high = overhang = overhang_low = None
    if forecast is not None:
        eta, low, high = forecast.p50, forecast.p10, forecast.p90
        # After the window's end: from it, not from now (a drain that ends 20 minutes
        # after the window is as late 10 minutes in as at its end). A window with no
        # planned end leaves all of it behind, as far as is known.
        ahead = 0.0 if math.isinf(occurrence.end) else occurrence.end - now
        sure = eta - (eta - low) * _z(limits.page_confidence) / Z90 if low < eta else eta
        overhang, overhang_low = max(0.0, eta - ahead), max(0.0, sure - ahead)
    if firing:  # hysteresis: a page holds until the backlog has drained
        active = waiting > drained
    elif after_drain():
        # Drained after the window: what builds up later is the queue's own load, not
        # the window's doing (the queue's own alerts are there for it).
        active = False
    else:
        # Page on the quick end of the range: sure that it will not drain in time.
        active = waiting >= fire and (
            waiting > limits.max_calls_waiting
            or (overhang_low is not None and overhang_low > limits.max_drain_eta)
        )
    needed = None
    if aht and waiting > drained and view.agents_known:
        needed = agents_to_drain(
            waiting,
            drained,
            left,
            serving,
            arrivals,
            aht,
            calm,
            limits.max_drain_eta,
        )
    return BacklogState(
        site=view.site,
        queue=view.queue,
        maintenance=occurrence.name,
        waiting=waiting,
        baseline=base.waiting if base else None,
        drain_eta=eta,
        overhang=overhang,
        window_left=left,
        drain_eta_low=low,
        drain_eta_high=high,
        overhang_low=overhang_low,
        agents_available=view.agents["available"],
        agents_serving=serving,
        agents_after=after,
        arrivals_per_second=arrivals,
        arrivals_over=over,
        aht=aht,
        patience=calm,
        fire_level=fire,
        drained_level=drained,
        agents_needed=needed,
        active=active,
    )


def forecast_queue(
    now: float,
    occurrence: Occurrence,
    view: QueueReading,
    warned: bool,
    limits: BacklogLimits,
    recent: Baseline | None,
    history: FlowHistory,
) -> ForecastState | None:
    """What the planned ``occurrence`` is expected to do to ``view``'s queue: the backlog
    as it ends with its P10-P90, the drain after it, the fewest agents to keep, and whether
    MaintenanceImpactForecast warns (``warned``: it did, and stands until the window opens).
    None without a whole window of traffic (``recent``) or agents no stream describes."""
    impact = occurrence.agents_affected
    if impact is None or recent is None or not recent.aht or recent.arrivals is None:
        return None  # no forecast on less than a whole window of traffic
    if not view.agents_known:
        return None  # nor on agents no stream describes
    # Rates from enough calls where the last hours have them (see flow_history).
    handle = history.handle_time(now)
    aht = handle.value if handle is not None else recent.aht
    serving = view.agents_serving
    lost = impact.lost(view.queue, serving)
    found = history.arrivals(reading_of(now, view.flow))  # before any window: stationary
    arrivals = found.value if found.count >= MIN_LIVE_ARRIVALS else recent.arrivals
    patience, patience_from = history.patience(limits.patience, occurrence.start)
    duration = occurrence.end - occurrence.start
    # Agents on a call when the window opens finish it first: the staff loss lands about
    # half a handle time into the window.
    short = max(0.0, duration - aht / 2)
    drained = limits.drained_level(recent.waiting)
    fire = limits.fire_level(recent.waiting)
    back = max(1.0, limits.return_spread / 2)

    def outcome(kept: int, rate: float = patience.rate) -> tuple[float, float, float, bool]:
        peak, var = build_up(view.calls_waiting, short, kept, arrivals, aht, rate)
        drain = window_outlook(round(peak), drained, kept, serving, back, arrivals, aht, rate)
        after = math.inf if drain is None else max(0.0, drain.p50)
        limit = limits.max_drain_eta
        # A page is for a queue over the limit for a minute, and a queue at a level
        # fluctuates about it: a mean path a little under the limit still crosses it many
        # times in a long window. So the level judged is the path's upper quantile at the
        # window's end (page_confidence's, P75 by default), not its mean.
        level = peak + _z(limits.page_confidence) * math.sqrt(var)
        over = level >= fire and (level > limits.max_calls_waiting or after > limit)
        return peak, var, after, over

    peak, _, drain, over = outcome(serving - lost)
    # The range: chance (the normal spread around the path) and how patient the callers
    # may be (the estimate's own P10-P90; the patient end leaves the larger backlog).
    slow, slow_var, _, _ = outcome(serving - lost, patience.low)
    quick, quick_var, _, _ = outcome(serving - lost, patience.high)
    keep = _fewest(serving - lost, serving, lambda k: not outcome(k)[3])
    return ForecastState(
        site=view.site,
        queue=view.queue,
        maintenance=occurrence.name,
        starts_in=occurrence.start - now,
        duration=duration,
        agents_serving=serving,
        agents_lost=lost,
        peak=peak,
        drain_after=drain,
        agents_to_keep=keep,
        active=over or warned,  # once warned, the warning stands until the window opens
        peak_low=max(0.0, quick - Z90 * math.sqrt(quick_var)),
        peak_high=slow + Z90 * math.sqrt(slow_var),
        patience=patience.mean_patience,
        patience_from=patience_from,
    )


def _z(share: float) -> float:
    """The standard normal's ``share`` quantile, for shares from 0.5 to 0.9 (by bisection
    on ``math.erf``: a few microseconds, well within 1e-9)."""
    share = min(max(share, 0.5), 0.9)
    low, high = 0.0, Z90
    while high - low > 1e-9:
        middle = (low + high) / 2
        if 0.5 * (1 + math.erf(middle / math.sqrt(2))) < share:
            low = middle
        else:
            high = middle
    return (low + high) / 2


def _fewest(low: int, high: int, enough: Callable[[int], bool]) -> int | None:
    """The smallest ``k`` in ``low..high`` for which ``enough(k)`` holds (it holds for every
    larger ``k`` too), or None: a bisection, as each try is a drain forecast."""
    if low > high or not enough(high):
        return None
    while low < high:
        middle = (low + high) // 2
        if enough(middle):
            high = middle
        else:
            low = middle + 1
    return low


def reading_of(now: float, flow: QueueFlow) -> Reading:
    """What a :class:`FlowHistory` keeps of the longest window at ``now``: the waits of
    callers still waiting are left out, as they are counted whole once they are over."""
    return Reading(
        at=now,
        span=flow.span,
        arrivals=flow.arrivals,
        completed=flow.completed,
        handle_seconds=(flow.aht_seconds or 0.0) * flow.completed,
        reneged=flow.reneged,
        exposure_seconds=max(0.0, flow.exposure_seconds - flow.still_waiting_seconds),
    )


def _arrivals(
    now: float,
    live: QueueFlow,
    base: Baseline | None,
    history: FlowHistory | None,
    end: float = math.inf,
) -> tuple[float, int, str]:
    """The arrival rate the drain ETA assumes, the calls it rests on, and what it is
    measured over.

    The live rate over the longest window: arrivals change through the day (and around a
    window: callers retry, or stay away while the IVR is down), and a window's backlog
    drains at the rate callers come now, not the one before it. The longest window, not a
    shorter one holding enough calls, because the net drain is the small difference of
    capacity and arrivals: a few percent of noise in the rate is tens of percent in the ETA.
    For the same reason the readings before it are added, newest first: while it holds
    fewer than :data:`MIN_LIVE_ARRIVALS` (a small queue), then as long as the rate in them
    holds steady (:meth:`FlowHistory.arrivals`), and every reading since the window's
    ``end`` whatever it holds. The baseline's only while all of that holds too few
    (callpulse started during the window).
    """
    found = (history or FlowHistory()).arrivals(reading_of(now, live), MIN_LIVE_ARRIVALS, end)
    if found.count >= MIN_LIVE_ARRIVALS or base is None or base.arrivals is None:
        return found.value, found.count, _over(found, live)
    return base.arrivals, MIN_LIVE_ARRIVALS, "before the window"


def _over(found: Estimate, live: QueueFlow) -> str:
    """What an arrival rate is measured over, in words: "last 15m", "last 47m"."""
    if found.span == live.span or not live.window:
        return f"last {live.window}" if live.window else "live"
    return f"last {round(found.span / 60)}m"

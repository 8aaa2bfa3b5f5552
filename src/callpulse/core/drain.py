"""When a queue's backlog will have drained: the one model the drain gauge, MaintenanceBacklog,
the status page and MaintenanceImpactForecast all read.

The queue is Erlang A (:mod:`callpulse.core.erlang_a`): Poisson arrivals, agents finishing
calls at ``1 / aht`` each, every waiting caller giving up at the estimated rate
(:mod:`callpulse.core.patience`; 0 when nobody has been seen to). Its answer is a
distribution: the P10, P50 and P90 of the time until the calls waiting are down to the
target, from the chain's first passage.

Around a maintenance window staffing changes once: the agents serving now until the staff
the window took are back, then the staffing from before the window. Paths that drain before
that return read the first chain; the others the second, started from where the expected
queue (:func:`callpulse.core.backlog.queue_after`) stands when the staff are back.
:func:`widened` adds to that range the uncertainty of the estimated rates; :func:`build_up`
is the queue a planned window is expected to leave, with its spread, for the forecast; and
:func:`mean` is the gauge's cheap reading of the same chain.
"""

from __future__ import annotations

import math

from callpulse.core.backlog import drain_time, queue_after
from callpulse.core.erlang_a import (
    DRAINED,
    NEVER,
    DrainForecast,
    ErlangA,
    drain_forecast,
    drain_mean,
)

HORIZON = 4 * 3600.0
"""How far ahead a drain is looked for; beyond it a quantile reads ``math.inf``."""


def outlook(
    waiting: int,
    target: float,
    agents: int,
    arrivals: float,
    aht: float | None,
    abandon_rate: float,
) -> DrainForecast | None:
    """The drain at constant staffing: ``agents`` serving, ``arrivals`` per second.

    ``None`` when unknown (agents serving but no handle time seen yet); :data:`NEVER` with
    nobody serving, since callers giving up is not the queue being worked off.
    """
    level = math.floor(target)
    if waiting <= level:
        return DRAINED
    if agents <= 0:
        return NEVER
    if not aht:
        return None
    return drain_forecast(ErlangA(agents, arrivals, aht, abandon_rate), waiting, level, HORIZON)


def mean(
    waiting: int, agents: int, arrivals: float, aht: float | None, abandon_rate: float
) -> float | None:
    """The mean of :func:`outlook` down to an empty queue, for a gauge read for every queue
    with a caller waiting: exact, and 0.1 to 1 ms where its quantiles take up to tens of
    milliseconds (see :mod:`callpulse.core.erlang_a`)."""
    if waiting <= 0:
        return 0.0
    if agents <= 0:
        return math.inf
    if not aht:
        return None
    return drain_mean(ErlangA(agents, arrivals, aht, abandon_rate), waiting, 0, HORIZON)


def window_outlook(
    waiting: int,
    target: float,
    serving: int,
    after: int,
    back: float,
    arrivals: float,
    aht: float | None,
    abandon_rate: float,
) -> DrainForecast | None:
    """The drain of a window's backlog, in seconds from now.

    ``serving`` agents until the staff the window took are back, ``back`` seconds from now
    (``math.inf``: a window with no end yet; 0: staffing is as it is), then ``after``.
    ``None`` when unknown (no handle time seen yet), :data:`NEVER` when it will not drain.
    """
    if math.isinf(back) or back <= 0 or after <= serving:
        return outlook(waiting, target, serving, arrivals, aht, abandon_rate)
    level = math.floor(target)
    if waiting <= level:
        return DRAINED
    if not aht:
        return None
    patience = 1 / abandon_rate if abandon_rate > 0 else math.inf
    # The chain before the return only where the mean path gets near the target in time: a
    # queue growing through a window would be stepped to its end for nothing.
    early = NEVER
    if serving > 0 and drain_time(waiting, level, serving / aht, arrivals, patience) < 2 * back:
        early = drain_forecast(ErlangA(serving, arrivals, aht, abandon_rate), waiting, level, back)
    if early.p90 <= back:
        return early
    expected = queue_after(waiting, back, serving / aht, arrivals, patience)
    # The agents coming back are idle and each takes a caller at once. Their first calls
    # start together, so those finish later than a memoryless model's: about half a call
    # each is still to be worked when the chain starts.
    returning = after - serving
    rest = max(0.0, expected - returning) + min(expected, returning) / 2
    late = drain_forecast(ErlangA(after, arrivals, aht, abandon_rate), round(rest), level, HORIZON)

    def pick(early_q: float, late_q: float) -> float:
        # The paths that drain before the staff are back are the fast ones: a quantile the
        # first chain reaches in time is read from it.
        return early_q if early_q <= back else back + late_q

    return DrainForecast(
        pick(early.p10, late.p10),
        pick(early.p50, late.p50),
        pick(early.p90, late.p90),
        early.mean if early.p50 <= back else back + late.mean,
    )


def build_up(
    waiting: float, seconds: float, agents: int, arrivals: float, aht: float, abandon_rate: float
) -> tuple[float, float]:
    """The calls waiting ``seconds`` from now while ``agents`` serve: (mean, variance).

    The mean is the fluid path; the variance the linear-noise approximation around it (each
    arrival, completion and give-up a unit step): ``dV/dt = -2 theta V + (arrivals +
    capacity + theta m)`` while callers wait. A normal P10-P90 from these is how far chance
    alone moves the backlog a window leaves.
    """
    capacity = agents / aht
    steps = 60
    dt = max(0.0, seconds) / steps
    mean, var = max(0.0, waiting), 0.0
    for _ in range(steps):
        if mean <= 0 and arrivals <= capacity:
            return 0.0, var
        flow = arrivals + capacity + abandon_rate * mean
        var = max(0.0, var + (flow - 2 * abandon_rate * var) * dt)
        mean = max(0.0, mean + (arrivals - capacity - abandon_rate * mean) * dt)
    return mean, var


MOST_DEVIATION = 0.5
"""The largest relative deviation :func:`widened` moves an estimate by."""

Z90 = 1.2815515655446004
"""The standard normal's 0.9 quantile: a normal's P10 and P90 are its mean -+ this many
deviations."""


def widened(
    forecast: DrainForecast,
    waiting: int,
    target: float,
    serving: int,
    after: int,
    back: float,
    arrivals: tuple[float, int],
    aht: tuple[float, int],
    abandon_rate: float,
) -> DrainForecast:
    """``forecast`` (of :func:`window_outlook`, same arguments) with the uncertainty of its
    estimates added to its range.

    The chain's P10-P90 is the spread of a queue whose rates are known. They are estimated:
    ``arrivals`` and ``aht`` come with the number of calls they rest on, and a rate from
    ``n`` calls is off by about ``1 / sqrt(n)`` (handle times counted as exponential, the
    wider case). Near its load a queue's drain is the small difference of capacity and
    arrivals, so a few percent in either is tens of percent in the drain. Each estimate
    moved by its deviation moves the mean path's drain time; those and the chain's own
    spread are added in quadrature on either side of the median. A rate that could leave
    the queue undrained makes the high end infinite.
    """
    rate, arrived = arrivals
    handle, completed = aht
    if not math.isfinite(forecast.p50) or forecast.p50 <= 0 or handle <= 0:
        return forecast
    patience = 1 / abandon_rate if abandon_rate > 0 else math.inf
    returning = 0 < back < math.inf and after > serving
    staff = after if returning else serving

    def drain(lam: float, mean_handle: float) -> float:
        level = float(waiting)
        if returning:
            level = queue_after(waiting, back, serving / mean_handle, lam, patience)
        return drain_time(level, math.floor(target), staff / mean_handle, lam, patience)

    middle = drain(rate, handle)
    if staff <= 0 or not math.isfinite(middle):
        return forecast
    # Past half the rate itself (a handful of calls) the deviation says only "unknown": a
    # rate moved by all of it would be none at all, or a handle time of 0.
    by_arrivals = min(MOST_DEVIATION, 1 / math.sqrt(max(arrived, 1)))
    by_handle = min(MOST_DEVIATION, 1 / math.sqrt(max(completed, 1)))
    slow = (drain(rate * (1 + by_arrivals), handle), drain(rate, handle * (1 + by_handle)))
    quick = (drain(rate * (1 - by_arrivals), handle), drain(rate, handle * (1 - by_handle)))
    later = math.hypot(*(s - middle for s in slow))
    sooner = math.hypot(*(middle - q for q in quick))
    low = forecast.p50 - math.hypot(forecast.p50 - forecast.p10, Z90 * sooner)
    high = forecast.p50 + math.hypot(forecast.p90 - forecast.p50, Z90 * later)
    return DrainForecast(max(0.0, low), forecast.p50, high, forecast.mean)

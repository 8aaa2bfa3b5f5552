"""The fluid model of a queue under a backlog: how it grows, how it drains, and how patient
its callers are.

While callers wait, every agent serving the queue is busy, so the queue is worked off at
``capacity = N / AHT`` calls per second. Callers arrive at ``arrivals`` per second and each
waiting caller gives up at rate ``1 / patience`` (exponential patience, the Erlang A
assumption). The expected number waiting, ``Q``, then follows

    dQ/dt = arrivals - capacity - Q / patience        (while Q > 0)

whose solution is exponential. Without abandonment (``patience`` infinite) it is linear.
Everything here is that solution solved for a time or a level; no function reads a clock.
"""

from __future__ import annotations

import math

PATIENCE_WEIGHT = 20.0
"""How many callers' worth of evidence the configured patience counts as (see
:func:`patience`)."""


def queue_after(
    waiting: float, seconds: float, capacity: float, arrivals: float, patience: float
) -> float:
    """Expected calls waiting ``seconds`` from now, starting from ``waiting``.

    ``capacity`` and ``arrivals`` are in calls per second; ``patience`` is the callers' mean
    patience in seconds (``math.inf``: nobody gives up).
    """
    growth = arrivals - capacity
    if seconds <= 0:
        return max(0.0, waiting)
    if math.isinf(patience):
        return max(0.0, waiting + growth * seconds)
    level = growth * patience  # where the queue settles: growth balanced by abandonment
    if growth < 0:
        empty = drain_time(waiting, 0.0, capacity, arrivals, patience)
        if seconds >= empty:
            return 0.0
    return max(0.0, level + (waiting - level) * math.exp(-seconds / patience))


def drain_time(
    waiting: float, target: float, capacity: float, arrivals: float, patience: float
) -> float:
    """Seconds until the expected calls waiting fall to ``target``; ``math.inf`` if never.

    0 when ``waiting`` is at or below ``target`` already.
    """
    if waiting <= target:
        return 0.0
    growth = arrivals - capacity
    if math.isinf(patience):
        return (waiting - target) / -growth if growth < 0 else math.inf
    level = growth * patience
    if level >= target:
        return math.inf  # abandonment balances the inflow above the target
    return patience * math.log((waiting - level) / (target - level))


def patience(reneged: int, exposure_seconds: float, prior: float) -> float:
    """The callers' mean patience in seconds, estimated from what they did.

    The maximum-likelihood estimate for exponential patience is the total time callers
    waited (``exposure_seconds``, answered and still-waiting callers included: their
    patience outlasted their wait) over the callers who gave up (``reneged``). With few
    give-ups that estimate swings, so ``prior`` (the configured patience) is added as
    :data:`PATIENCE_WEIGHT` callers of evidence: it dominates in quiet hours and fades
    once a backlog produces real data.
    """
    return (exposure_seconds + PATIENCE_WEIGHT * prior) / (reneged + PATIENCE_WEIGHT)


def window_eta(
    waiting: int,
    drained: float,
    left: float,
    serving: int,
    after: int,
    arrivals: float,
    aht: float | None,
    calm: float,
    back: float | None = None,
) -> tuple[float | None, float | None]:
    """(seconds until ``waiting`` is down to ``drained``, of which after the window's end).

    The window ends ``left`` seconds from now (``math.inf``: no planned end; 0: it has
    ended). Staffing is ``serving`` until the staff it took are back, ``back`` seconds from
    now (by default at its end; 0: staffing is as it is), then ``after``. ``None`` when
    unknown (agents serving but no handle time seen yet), ``math.inf`` when it will not drain.
    """
    back = left if back is None else max(back, left)
    if waiting <= drained:
        return 0.0, 0.0
    if not aht or serving == 0:
        # With nobody to answer the backlog never drains (callers giving up is not draining),
        # whatever the handle time; with agents but no handle time yet, it is unknown.
        if serving == 0 and (math.isinf(back) or back <= 0 or after == 0):
            return math.inf, math.inf
        if not aht:
            return None, None
    assert aht is not None
    now_rate = serving / aht
    if math.isinf(back) or back <= 0:  # an event window with no end yet, or everyone is back
        eta = drain_time(waiting, drained, now_rate, arrivals, calm)
        return eta, eta
    before_back = drain_time(waiting, drained, now_rate, arrivals, calm) if serving else math.inf
    if before_back <= back:
        return before_back, max(0.0, before_back - left)
    at_back = queue_after(waiting, back, now_rate, arrivals, calm)
    eta = back + drain_after_return(at_back, drained, serving, after, arrivals, aht, calm)
    return eta, eta - left


def staff_back_in(now: float, end: float, spread: float) -> float:
    """Seconds from ``now`` until the staff a window took count as back, for the fluid model.

    Agents log back in over ``spread`` seconds from the window's ``end``, evenly: those still
    out at ``now`` are back, on average, halfway through what is left of it. 0 once the
    spread has passed (staffing is what is observed); ``math.inf`` for a window with no end.
    """
    if math.isinf(end):
        return math.inf
    if now >= end + spread:
        return 0.0
    return (max(now, end) + end + spread) / 2 - now


def drain_after_return(
    waiting: float,
    drained: float,
    stayed: int,
    after: int,
    arrivals: float,
    aht: float,
    calm: float,
) -> float:
    """Seconds until ``waiting`` callers are down to ``drained`` once staff goes from
    ``stayed`` agents to ``after`` (the window ends, or more agents are sent).

    The agents coming back are idle: each takes a caller at once. Their first calls all start
    together, so for about half a handle time only the agents who stayed finish calls; after
    that all of them work the rest off at their handle rate.
    """
    if after <= 0:
        return math.inf
    rest = max(0.0, waiting - max(0, after - stayed))
    lag = aht / 2
    early = drain_time(rest, drained, stayed / aht, arrivals, calm) if stayed else math.inf
    if early <= lag:
        return early
    later = queue_after(rest, lag, stayed / aht, arrivals, calm)
    return lag + drain_time(later, drained, after / aht, arrivals, calm)


def agents_to_drain(
    waiting: int,
    drained: float,
    left: float,
    serving: int,
    arrivals: float,
    aht: float,
    calm: float,
    target: float,
) -> int | None:
    """Agents serving the queue (from the window's end) that drain it within ``target``."""
    at_end = (
        waiting if math.isinf(left) else queue_after(waiting, left, serving / aht, arrivals, calm)
    )
    for agents in range(max(1, serving), serving + 1000):
        if drain_after_return(at_end, drained, serving, agents, arrivals, aht, calm) <= target:
            return agents
    return None

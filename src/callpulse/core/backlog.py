"""The fluid model of a queue under a backlog: the mean path of the Erlang A queue of
:mod:`callpulse.core.drain`, for where a level is what is asked (how many will wait as a
window ends, how many agents would drain a backlog in time) rather than a distribution.

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

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

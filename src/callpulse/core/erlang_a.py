"""Erlang A: how long a backlog takes to drain, as a distribution rather than one number.

Erlang A (Garnett, Mandelbaum & Reiman 2002) is the M/M/N queue with impatient callers:
callers arrive at ``arrivals`` per second, ``agents`` agents each finish a call at rate
``1 / aht``, and every waiting caller gives up at rate ``abandon_rate`` (``1 /`` mean
patience; 0: nobody gives up). While callers wait every agent is busy, so the number
waiting ``k`` is a birth-death chain: up at ``arrivals``, down at
``agents / aht + k * abandon_rate``. The time until it first falls to a target is that
chain's first passage, which only steps down one level at a time.

Two ways to its quantiles: :func:`chain_forecast` steps the chain's distribution by
uniformization (exact up to stated tolerances; its cost grows with the events a drain takes
times the spread of the queue), :func:`moment_forecast` fits a shifted Gamma distribution to
the passage's exact first three cumulants (about a millisecond; within 1 % of the chain's
quantiles once a few levels are to drain). :func:`drain_forecast` takes the chain unless it
would cost more than about 1 ms. The fluid model (``backlog.drain_time``) gives when the
mean path reaches the target; the queue's fluctuations reach it sooner, so the fluid reads
8-15 % above the chain's median from 5 to 200 agents.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from callpulse.core import gamma

TAIL = 1e-7
"""Chance of climbing to the chain's ceiling before draining that the ceiling may leave out."""

SETTLED = 1e-4
"""Chance still waiting at which the first-passage distribution counts as known: well below
the 0.1 a P90 reads."""

OVERRUN = 10
"""Deviations of the jump count the chain is stepped on once fewer than 10 % of paths are
still waiting: the Poisson mixture that reads the P90 needs no more, and a heavy tail (a
queue near its critical load) would otherwise be stepped to the horizon."""

TOLERANCE = 0.05
"""Seconds to which the quantiles are found, or 0.05 % of them if more (far below what a
forecast can mean)."""

WORK = 2_000
"""Level-steps (uniformization jumps times levels holding mass) above which
:func:`drain_forecast` takes the moment fit: about 1 ms of the chain in plain Python. Every
queue with callers waiting is forecast at every evaluation (the drain gauge), so the chain
is kept to the short passages of few levels where the fit is least exact."""

MOST_WORK = 100 * WORK
"""Level-steps past which the chain gives up for the moment fit whatever its shape: about
70 ms, what a passage of a few levels near the critical load can take. What a passage will
cost is known only roughly beforehand (a skewed one mostly ends early), so this is counted
as the chain steps."""

SHARES = (0.1, 0.5, 0.9)
"""The quantiles a forecast gives: P10, P50, P90."""


@dataclass(frozen=True)
class ErlangA:
    """A queue's rates: ``arrivals`` per second, ``agents`` serving with mean handle time
    ``aht`` seconds, each waiting caller giving up at ``abandon_rate`` per second."""

    agents: int
    arrivals: float
    aht: float
    abandon_rate: float

    def __post_init__(self) -> None:
        if self.agents < 0 or self.aht <= 0 or self.arrivals < 0 or self.abandon_rate < 0:
            raise ValueError("agents, arrivals and abandonment >= 0, handle time > 0")

    def down(self, waiting: int) -> float:
        """The rate at which ``waiting`` callers become fewer: calls finished plus give-ups."""
        return self.agents / self.aht + waiting * self.abandon_rate

    def drains(self) -> bool:
        """Whether a backlog falls at all: some agent serves or some caller gives up."""
        return self.agents > 0 or self.abandon_rate > 0


@dataclass(frozen=True)
class DrainForecast:
    """When the backlog will be down to the target: quantiles and mean, in seconds.

    A quantile is ``math.inf`` when it lies beyond the horizon asked for; ``mean`` is
    ``math.inf`` when the queue outgrows every ceiling (arrivals outpace service and nobody
    gives up).
    """

    p10: float
    p50: float
    p90: float
    mean: float


NEVER = DrainForecast(math.inf, math.inf, math.inf, math.inf)
"""The forecast of a queue that does not drain within any horizon."""

DRAINED = DrainForecast(0.0, 0.0, 0.0, 0.0)
"""The forecast of a queue at or below its target already."""


def ceiling(queue: ErlangA, waiting: int, target: int, horizon: float) -> int:
    """The highest number waiting the chain needs to hold.

    The lower of two bounds: where the chance of climbing there from ``waiting`` before
    draining is below :data:`TAIL` (the gambler's-ruin sum of a birth-death chain), and how
    many more callers could arrive within ``horizon`` (mean plus seven deviations).
    """
    if queue.arrivals <= 0:
        return waiting
    expected = queue.arrivals * horizon
    by_arrivals = waiting + math.ceil(expected + 7 * math.sqrt(expected) + 10)
    # h(w) = sum_{a<=j<w} rho_j / sum_{a<=j<K} rho_j, rho_j = prod_{a<i<=j} down_i / arrivals
    rho = 1.0
    below = 0.0
    for level in range(target, waiting):
        if level > target:
            rho *= queue.down(level) / queue.arrivals
        below += rho
    total = below
    level = waiting
    while level < by_arrivals:
        if level > target:
            rho *= queue.down(level) / queue.arrivals
        total += rho
        level += 1
        if below <= TAIL * total:
            return level
    return by_arrivals


def passage_moments(
    queue: ErlangA, waiting: int, target: int, top: int
) -> tuple[float, float, float]:
    """(mean, variance, third cumulant) of the time from ``waiting`` down to ``target``, the
    chain capped at ``top``.

    The passage is a sum of independent passages k -> k - 1, so its cumulants are their
    sums. Each starts with an exponential stay at rate ``r = arrivals + down_k``; an arrival
    (chance ``p = arrivals / r``) adds a passage k + 1 -> k and another k -> k - 1. Their
    first three raw moments follow from the top, where arrivals are not counted, down.
    """
    mean = variance = third = 0.0
    above = above_2 = above_3 = 0.0  # raw moments of the passage one level up
    for level in range(top, target, -1):
        born = queue.arrivals if level < top else 0.0
        down = queue.down(level)
        total = born + down
        chance = born / total
        m1 = (1 + born * above) / down
        m2 = (2 / total + 2 * chance * (above + m1) + born * (above_2 + 2 * above * m1)) / down
        m3 = (
            6 / total**2
            + 6 * chance * (above + m1) / total
            + 3 * chance * (above_2 + 2 * above * m1 + m2)
            + born * (above_3 + 3 * above_2 * m1 + 3 * above * m2)
        ) / down
        above, above_2, above_3 = m1, m2, m3
        if level <= waiting:
            mean += m1
            variance += m2 - m1 * m1
            third += m3 - 3 * m2 * m1 + 2 * m1**3
    return mean, variance, third


def _survival_by_jumps(
    queue: ErlangA, waiting: int, target: int, top: int, most: int, deepest: float = 0.9
) -> tuple[float, list[float]] | None:
    """(uniformization rate, chance still above ``target`` after each of its jumps), or
    None once it has cost :data:`MOST_WORK` level-steps.

    Uniformization: the chain jumps at one rate, the largest of its total rates, and a jump
    that would not happen leaves it where it is. Only the band of levels holding mass is
    stepped, so the cost follows the spread of the queue, not the ceiling. Past the jumps
    of the ``deepest`` quantile asked for and :data:`OVERRUN` deviations of them the chain
    stops (at most ``most`` jumps).
    """
    size = top - target  # levels target+1 .. top at 1 .. size; 0 and size+1 stay empty
    rate = queue.arrivals + queue.down(top)
    up = queue.arrivals / rate
    down = [0.0] + [queue.down(target + i) / rate for i in range(1, size + 1)] + [0.0]
    stay = [1.0 - up - d for d in down]
    stay[size] += up  # the ceiling reflects: an arrival there is not counted
    mass = [0.0] * (size + 2)
    low = high = waiting - target
    mass[low] = 1.0
    alive = [1.0]
    left = 1.0
    last = most
    work = 0
    while left > SETTLED and len(alive) <= last:
        low = max(1, low - 1)
        high = min(size, high + 1)
        work += high - low + 1
        if work > MOST_WORK:
            return None
        stepped = [
            a * here + up * below + b * above
            for a, here, below, b, above in zip(
                stay[low : high + 1],
                mass[low : high + 1],
                mass[low - 1 : high],
                down[low + 1 : high + 2],
                mass[low + 1 : high + 2],
                strict=True,
            )
        ]
        mass[low : high + 1] = stepped
        while high > low and mass[high] < 1e-16:  # mass the queue will not climb to
            mass[high] = 0.0
            high -= 1
        left = sum(stepped)
        alive.append(left)
        if left < 1 - deepest and last == most:
            jumps = len(alive)
            last = min(most, jumps + int(OVERRUN * math.sqrt(jumps)) + 20)
    return rate, alive


def _still_waiting(seconds: float, rate: float, alive: list[float]) -> float:
    """P(not drained by ``seconds``): the jump count is Poisson, a mixture over ``alive``."""
    mean = rate * seconds
    spread = 8 * math.sqrt(mean) + 8
    first = max(0, int(mean - spread))
    last = int(mean + spread) + 1
    weight = math.exp(-mean + first * math.log(mean) - math.lgamma(first + 1)) if mean > 0 else 1.0
    total = 0.0
    beyond = alive[-1]  # past the last jump computed: at most that many still wait
    for jumps in range(first, last + 1):
        total += weight * (alive[jumps] if jumps < len(alive) else beyond)
        weight *= mean / (jumps + 1)
    return total


def _quantile(share: float, rate: float, alive: list[float], horizon: float) -> float:
    """The time by which ``share`` of paths have drained; ``math.inf`` past ``horizon``."""
    if _still_waiting(horizon, rate, alive) > 1 - share:
        return math.inf
    low, high = 0.0, horizon
    while high - low > max(TOLERANCE, 5e-4 * high):
        middle = (low + high) / 2
        if _still_waiting(middle, rate, alive) > 1 - share:
            low = middle
        else:
            high = middle
    return (low + high) / 2


def _settled(queue: ErlangA, waiting: int, target: int) -> DrainForecast | None:
    """The forecast when it needs no model: drained already, or nothing takes callers off."""
    if waiting <= target:
        return DRAINED
    if not queue.drains() or target < 0:
        return NEVER
    return None


@dataclass(frozen=True)
class _Passage:
    top: int  # the chain's ceiling
    mean: float  # infinite when the queue outgrows the ceiling
    variance: float
    third: float  # the third cumulant

    def fit(self) -> tuple[float, float, float]:
        """(shape, scale, shift) of the shifted Gamma with these cumulants.

        Without skew to match (not seen in practice) the unshifted two-moment Gamma.
        """
        if self.third <= 0:
            return self.mean**2 / self.variance, self.variance / self.mean, 0.0
        scale = self.third / (2 * self.variance)
        shape = self.variance / scale**2
        return shape, scale, self.mean - shape * scale


def _passage(queue: ErlangA, waiting: int, target: int, horizon: float) -> _Passage:
    top = ceiling(queue, waiting, target, horizon)
    try:
        mean, variance, third = passage_moments(queue, waiting, target, top)
    except OverflowError:  # a passage beyond any float: longer than any horizon
        mean = variance = third = math.inf
    if not all(map(math.isfinite, (mean, variance, third))):
        return _Passage(top, math.inf, math.inf, math.inf)
    drains = queue.arrivals < queue.down(top)
    return _Passage(top, mean if drains else math.inf, variance, third)


def _chain_quantiles(
    queue: ErlangA,
    waiting: int,
    target: int,
    horizon: float,
    passage: _Passage,
    shares: tuple[float, ...],
) -> list[float] | None:
    """The quantiles ``shares`` (ascending) of the passage from the chain; None past
    :data:`MOST_WORK`."""
    rate = queue.arrivals + queue.down(passage.top)
    most = int(rate * horizon + 10 * math.sqrt(rate * horizon) + 20)
    stepped = _survival_by_jumps(queue, waiting, target, passage.top, most, shares[-1])
    if stepped is None:
        return None
    rate, alive = stepped
    return [_quantile(share, rate, alive, horizon) for share in shares]


def _by_chain(
    queue: ErlangA, waiting: int, target: int, horizon: float, passage: _Passage
) -> DrainForecast:
    found = _chain_quantiles(queue, waiting, target, horizon, passage, SHARES)
    if found is None:
        return _by_moments(passage, horizon)
    p10, p50, p90 = found
    return DrainForecast(p10, p50, p90, passage.mean)


def _by_moments(passage: _Passage, horizon: float) -> DrainForecast:
    """A Gamma distribution shifted to match the passage's first three cumulants.

    Two moments leave the left tail to the Gamma's shape, which put P10s up to 8 % early;
    the third (the skew the slow top levels give) and a shift bring all three within 1 %.
    """
    if math.isinf(passage.mean):
        return NEVER
    shape, scale, shift = passage.fit()
    found = (max(0.0, shift + gamma.quantile(share, shape, 1 / scale)) for share in SHARES)
    p10, p50, p90 = (value if value <= horizon else math.inf for value in found)
    return DrainForecast(p10, p50, p90, passage.mean)


def chain_forecast(
    queue: ErlangA, waiting: int, target: int, horizon: float = 3600.0
) -> DrainForecast:
    """The drain's quantiles from the chain itself (see :func:`drain_forecast`)."""
    if (settled := _settled(queue, waiting, target)) is not None:
        return settled
    return _by_chain(queue, waiting, target, horizon, _passage(queue, waiting, target, horizon))


def moment_forecast(
    queue: ErlangA, waiting: int, target: int, horizon: float = 3600.0
) -> DrainForecast:
    """The drain's quantiles from a shifted Gamma distribution with the passage's exact mean,
    variance and third cumulant."""
    if (settled := _settled(queue, waiting, target)) is not None:
        return settled
    return _by_moments(_passage(queue, waiting, target, horizon), horizon)


def drain_forecast(
    queue: ErlangA, waiting: int, target: int, horizon: float = 3600.0
) -> DrainForecast:
    """The distribution of the time until no more than ``target`` callers wait.

    From ``waiting`` callers with all agents busy. Quantiles beyond ``horizon`` seconds read
    ``math.inf``. The chain where it costs at most :data:`WORK` level-steps (small centers,
    short drains: where the spread and the fluid's error are largest), the moment fit beyond
    (many independent steps), unless its Gamma shape is below 1: a passage of a few levels
    near the critical load, whose quantiles a three-cumulant fit misses. Even then not past
    :data:`MOST_WORK` level-steps really stepped: a forecast is read at every evaluation,
    and a skewed fit is a better answer than a late one.
    """
    if (settled := _settled(queue, waiting, target)) is not None:
        return settled
    passage = _passage(queue, waiting, target, horizon)
    if not _chain_first(queue, waiting, target, horizon, passage):
        return _by_moments(passage, horizon)
    return _by_chain(queue, waiting, target, horizon, passage)


def _chain_first(
    queue: ErlangA, waiting: int, target: int, horizon: float, passage: _Passage
) -> bool:
    """Whether the chain is tried before the fit (see :func:`drain_forecast`)."""
    rate = queue.arrivals + queue.down(passage.top)
    jumps = rate * min(horizon, passage.mean + 4 * math.sqrt(passage.variance))
    band = min(passage.top - target, 2 * math.sqrt(jumps) + waiting - target)
    return jumps * band <= WORK or not (math.isinf(passage.mean) or passage.fit()[0] >= 1)


def drain_mean(queue: ErlangA, waiting: int, target: int, horizon: float = 3600.0) -> float:
    """The mean time until no more than ``target`` wait (``math.inf``: never): the exact
    first moment of the passage, in time linear in the levels the chain needs (0.1 to 1 ms
    from 5 to 200 agents)."""
    if (settled := _settled(queue, waiting, target)) is not None:
        return settled.mean
    return _passage(queue, waiting, target, horizon).mean

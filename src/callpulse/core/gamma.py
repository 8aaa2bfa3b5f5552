"""The Gamma distribution's CDF and quantiles, in plain floating point.

The regularized lower incomplete gamma function by its series below ``shape + 1`` and its
continued fraction above (the usual split: each converges fast on its side), and quantiles
by bisection on it, since only a few are asked for at a time. Both need about
``sqrt(shape)`` terms, so past :data:`LARGE_SHAPE` the Wilson-Hilferty transform (the cube
root of a Gamma variable is nearly normal) takes over, within 1e-4 of the quantile there.
"""

from __future__ import annotations

import math

_EPSILON = 1e-14
_ITERATIONS = 500

LARGE_SHAPE = 100.0
"""The shape from which the Wilson-Hilferty transform stands in for the exact functions."""


def _normal_cdf(z: float) -> float:
    return 0.5 * math.erfc(-z / math.sqrt(2))


def _wilson_hilferty(shape: float) -> tuple[float, float]:
    """(mean, deviation) of the cube root of Gamma(``shape``, 1) / ``shape``."""
    spread = 1 / (9 * shape)
    return 1 - spread, math.sqrt(spread)


def _series(shape: float, x: float) -> float:
    term = total = 1.0 / shape
    for n in range(1, _ITERATIONS):
        term *= x / (shape + n)
        total += term
        if abs(term) < abs(total) * _EPSILON:
            break
    return total * math.exp(-x + shape * math.log(x) - math.lgamma(shape))


def _upper_fraction(shape: float, x: float) -> float:
    """Q(shape, x) by Lentz's continued fraction (x > shape + 1)."""
    tiny = 1e-300
    b = x + 1.0 - shape
    c = 1.0 / tiny
    d = 1.0 / b
    h = d
    for n in range(1, _ITERATIONS):
        an = -n * (n - shape)
        b += 2.0
        d = an * d + b
        d = tiny if abs(d) < tiny else d
        c = b + an / c
        c = tiny if abs(c) < tiny else c
        d = 1.0 / d
        delta = d * c
        h *= delta
        if abs(delta - 1.0) < _EPSILON:
            break
    return h * math.exp(-x + shape * math.log(x) - math.lgamma(shape))


def cdf(x: float, shape: float, rate: float) -> float:
    """P(X <= x) for X ~ Gamma(``shape``, ``rate``) (mean ``shape / rate``)."""
    if shape <= 0 or rate <= 0:
        raise ValueError("shape and rate must be positive")
    scaled = x * rate
    if scaled <= 0:
        return 0.0
    if shape > LARGE_SHAPE:
        centre, deviation = _wilson_hilferty(shape)
        return _normal_cdf(((scaled / shape) ** (1 / 3) - centre) / deviation)
    if scaled < shape + 1:
        return min(1.0, _series(shape, scaled))
    return max(0.0, 1.0 - _upper_fraction(shape, scaled))


def quantile(share: float, shape: float, rate: float) -> float:
    """The ``share`` quantile (0 < share < 1) of Gamma(``shape``, ``rate``)."""
    if not 0 < share < 1:
        raise ValueError("share must be between 0 and 1")
    mean = shape / rate
    low, high = 0.0, mean
    while cdf(high, shape, rate) < share:
        low, high = high, high * 2
    while high - low > 1e-10 * high:
        middle = (low + high) / 2
        if cdf(middle, shape, rate) < share:
            low = middle
        else:
            high = middle
    return (low + high) / 2

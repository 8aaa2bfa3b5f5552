"""Durations as people write them in config: ``20s``, ``5m``, ``1h``, ``1d`` or plain seconds."""

from __future__ import annotations

import re

_UNITS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0}
_PLAIN = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*$")
_PART = re.compile(r"(\d+(?:\.\d+)?)(ms|s|m|h|d)")
_COMPOUND = re.compile(r"^(?:\d+(?:\.\d+)?(?:ms|s|m|h|d))+$")


class DurationError(ValueError):
    """A duration string that is not a number followed by an optional ms/s/m/h/d unit."""


def parse_duration(value: object) -> float:
    """Return ``value`` in seconds.

    Accepts a non-negative int or float (seconds) or a string such as ``"20s"``, ``"5m"``,
    ``"1.5h"``, ``"250ms"``, ``"1m30s"`` (units combine, as in Prometheus) or ``"30"``.
    Raises :class:`DurationError` otherwise.
    """
    if isinstance(value, bool):
        raise DurationError(f"expected a duration such as 20s, 5m or 1h, got {value!r}")
    if isinstance(value, int | float):
        if value < 0:
            raise DurationError(f"a duration cannot be negative, got {value!r}")
        return float(value)
    if isinstance(value, str):
        plain = _PLAIN.match(value)
        if plain:
            return float(plain.group(1))
        text = value.strip()
        if _COMPOUND.match(text):
            return sum(float(n) * _UNITS[unit] for n, unit in _PART.findall(text))
    raise DurationError(f"expected a duration such as 20s, 5m or 1h, got {value!r}")


def format_duration(seconds: float) -> str:
    """Return the shortest exact spelling of ``seconds``: 60 -> ``1m``, 90 -> ``90s``."""
    for unit in ("d", "h", "m"):
        size = _UNITS[unit]
        if seconds >= size and seconds % size == 0:
            return f"{int(seconds // size)}{unit}"
    if seconds == int(seconds):
        return f"{int(seconds)}s"
    return f"{round(seconds * 1000)}ms"

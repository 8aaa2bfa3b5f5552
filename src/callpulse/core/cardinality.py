"""Bounding what a misbehaving producer can make callpulse remember and expose.

Sites, queues, IVR applications, trunks, components and backends come from events, so a
producer that invents names would grow memory and Prometheus series without end. Each label
has a cap on its distinct values; for labels scoped by a site (a queue, a trunk...) the cap
counts distinct ``(site, value)`` pairs, i.e. series. A value past its cap is folded into
:data:`OVERFLOW` (one series per site collects everything that did not fit) and counted, so
totals stay right while memory stays bounded. A value whose series has aged out of every
window gives its place back (:meth:`LabelGuard.release`), so names a producer invented once do
not hold a cap for good.
"""

from __future__ import annotations

from collections.abc import Mapping

OVERFLOW = "_overflow"

DEFAULT_LIMITS: Mapping[str, int] = {
    "site": 200,
    "queue": 2000,
    "application": 500,
    "trunk": 1000,
    "component": 2000,
    "backend": 500,
    "agent": 50_000,
}


class LabelGuard:
    """Admits label values up to a cap per label and folds the rest into ``OVERFLOW``."""

    def __init__(self, limits: Mapping[str, int] | None = None) -> None:
        self.limits = dict(DEFAULT_LIMITS) | dict(limits or {})
        self._seen: dict[str, set[object]] = {label: set() for label in self.limits}
        self.overflow: dict[str, int] = dict.fromkeys(self.limits, 0)

    def admit(self, label: str, value: str, site: str | None = None) -> str:
        """``value`` if it fits under ``label``'s cap (counted per site if given), else OVERFLOW."""
        seen = self._seen[label]
        key: object = value if site is None else (site, value)
        if key in seen:
            return value
        if len(seen) < self.limits[label]:
            seen.add(key)
            return value
        self.overflow[label] += 1
        return OVERFLOW

    def release(self, label: str, value: str, site: str | None = None) -> None:
        """Give ``value``'s place under ``label``'s cap back (its series aged out)."""
        self._seen[label].discard(value if site is None else (site, value))

    def forget_site(self, site: str) -> None:
        """Release the values held for ``site`` (its partitions moved to another replica)."""
        for label, seen in self._seen.items():
            if label == "site":
                seen.discard(site)
            else:
                stale = {key for key in seen if isinstance(key, tuple) and key[0] == site}
                seen.difference_update(stale)

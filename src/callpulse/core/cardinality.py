"""Bounding what a misbehaving producer can make callpulse remember and expose.

Sites, queues, IVR applications, trunks, components and backends come from events, so a
producer that invents names would grow memory and Prometheus series without end. Each label
has a cap on its distinct values; for labels scoped by a site (a queue, a trunk...) the cap
counts distinct ``(site, value)`` pairs, i.e. series. A value past its cap is folded into
:data:`OVERFLOW` (one series per site collects everything that did not fit) and counted, so
totals stay right while memory stays bounded. Names a producer invented once must not hold
a cap for good, so places are given back (:meth:`LabelGuard.release`) in one of two ways:

- a queue, IVR application or backend whose series has aged out of every window is released
  periodically: nothing about it is left to show;
- a site, component or trunk is released only when its cap is full and a new name needs the
  place (:meth:`LabelGuard.reclaim_with`, :class:`IdleNames`): its silence is itself a
  signal (a silent site, a component gone stale, a trunk last reported down), which a
  release would turn into a resolved alert, so it keeps its place for as long as nobody
  needs it, and then only the name idle the longest, once idle past every window, gives way.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, MutableMapping
from typing import Generic, TypeVar

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
        self._reclaim: dict[str, Callable[[], bool]] = {}

    def reclaim_with(self, label: str, reclaim: Callable[[], bool]) -> None:
        """When ``label``'s cap is full, ask ``reclaim`` to release a value (through
        :meth:`release`) before folding a new one into OVERFLOW; it says whether it did."""
        self._reclaim[label] = reclaim

    def admit(self, label: str, value: str, site: str | None = None) -> str:
        """``value`` if it fits under ``label``'s cap (counted per site if given), else OVERFLOW."""
        seen = self._seen[label]
        key: object = value if site is None else (site, value)
        if key in seen:
            return value
        if len(seen) < self.limits[label]:
            seen.add(key)
            return value
        reclaim = self._reclaim.get(label)
        if reclaim is not None and reclaim() and len(seen) < self.limits[label]:
            seen.add(key)
            return value
        self.overflow[label] += 1
        return OVERFLOW

    def fill(self) -> dict[str, float]:
        """Each label's share of its cap in use, 0..1."""
        return {label: len(seen) / self.limits[label] for label, seen in self._seen.items()}

    def release(self, label: str, value: str, site: str | None = None) -> None:
        """Give ``value``'s place under ``label``'s cap back (its series aged out, or it gave
        way to a new value)."""
        self._seen[label].discard(value if site is None else (site, value))

    def forget_site(self, site: str) -> None:
        """Release the values held for ``site`` (its partitions moved to another replica)."""
        for label, seen in self._seen.items():
            if label == "site":
                seen.discard(site)
            else:
                stale = {key for key in seen if isinstance(key, tuple) and key[0] == site}
                seen.difference_update(stale)


K = TypeVar("K")
V = TypeVar("V")
S = TypeVar("S", bound=tuple[str, ...])


def without_sites(table: Mapping[S, V], sites: Iterable[str]) -> dict[S, V]:
    """The entries of ``table``, keyed by ``(site, ...)``, of sites other than ``sites``."""
    gone = set(sites)
    return {key: value for key, value in table.items() if key[0] not in gone}


class IdleNames(Generic[K, V]):
    """Finds, in a full cap's ``names`` (name -> state), the one idle the longest, once it has
    been idle longer than ``idle_after`` (:meth:`idlest`).

    A producer inventing names calls this once per name while the cap is full, so it must not
    scan the cap each time: a scan keeps every name found idle (the idlest first, used while
    they stay as idle as they were) and, when none is, the earliest time one could be, with
    no new scan before it; scans are also at least ``rescan_after`` apart.
    """

    def __init__(
        self, idle_after: float, rescan_after: float, last_seen: Callable[[V], float]
    ) -> None:
        self._idle_after = idle_after
        self._rescan_after = rescan_after
        self._last_seen = last_seen
        self._candidates: list[tuple[float, K]] = []  # idlest last
        self._next_scan = -float("inf")

    def idlest(self, now: float, names: Mapping[K, V]) -> K | None:
        """The name of ``names`` idle the longest if idle since before ``now - idle_after``,
        else None. A name folded into OVERFLOW holds no place, so it is never the one."""
        cutoff = now - self._idle_after
        candidates = self._candidates
        while candidates:
            seen, name = candidates.pop()
            state = names.get(name)
            if state is not None and self._last_seen(state) == seen and seen < cutoff:
                return name
        if now <= self._next_scan:
            return None
        earliest = float("inf")
        for name, state in names.items():
            if _holds_no_place(name):
                continue
            seen = self._last_seen(state)
            if seen < cutoff:
                candidates.append((seen, name))
            elif seen < earliest:
                earliest = seen
        candidates.sort(key=lambda c: c[0], reverse=True)
        self._next_scan = max(earliest + self._idle_after, now + self._rescan_after)
        return candidates.pop()[1] if candidates else None

    def release_idlest(
        self, now: float, names: MutableMapping[K, V], give_back: Callable[[K], None]
    ) -> bool:
        """Drop the :meth:`idlest` of ``names`` with its state and ``give_back`` its place in
        the cap; whether there was one."""
        name = self.idlest(now, names)
        if name is None:
            return False
        del names[name]
        give_back(name)
        return True


class SiteNames(Generic[V]):
    """The values of one capped label by ``(site, name)``, each with its state, that give the
    idlest name's place back when the cap needs it (the trunks, the components).

    ``entries`` is the table itself, read and written directly on the event path.
    """

    def __init__(
        self,
        label: str,
        guard: LabelGuard,
        idle_after: float,
        rescan_after: float,
        last_seen: Callable[[V], float],
    ) -> None:
        self.entries: dict[tuple[str, str], V] = {}
        self._label = label
        self._guard = guard
        self._idle = IdleNames[tuple[str, str], V](idle_after, rescan_after, last_seen)

    def admit(self, site: str, name: str) -> tuple[str, str]:
        """The key ``name`` of ``site`` is kept under: itself, or ``OVERFLOW`` past the cap."""
        return site, self._guard.admit(self._label, name, site)

    def release_idlest(self, now: float) -> bool:
        """Forget the name idle the longest, if idle for longer than ``idle_after`` at
        ``now``, giving its place back to the cap; whether one was."""
        guard, label = self._guard, self._label
        return self._idle.release_idlest(
            now, self.entries, lambda key: guard.release(label, key[1], key[0])
        )

    def forget_sites(self, sites: Iterable[str]) -> None:
        """Drop every name of ``sites``; the monitor gives their places back with the
        sites' (:meth:`LabelGuard.forget_site`)."""
        gone = set(sites)
        for key in [key for key in self.entries if key[0] in gone]:
            del self.entries[key]


def _holds_no_place(name: object) -> bool:
    return name == OVERFLOW or (isinstance(name, tuple) and name[-1] == OVERFLOW)

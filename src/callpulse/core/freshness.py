"""How fresh each site's data is: the age of its last event and, where the source is Kafka,
how far behind the partitions carrying it are consumed (the status page's Sites table)."""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import dataclass

Partition = tuple[str, int]


@dataclass(frozen=True)
class SiteLag:
    """The records of a site not yet consumed, summed over the partitions it came from
    (``None`` while none of them reports a lag), and those partitions as ``topic/N``."""

    lag: int | None
    partitions: tuple[str, ...]


def site_lag(
    sites_by_partition: Mapping[Partition, Collection[str]], lag: Mapping[Partition, int]
) -> dict[str, SiteLag]:
    """Each site's :class:`SiteLag`. A partition's lag counts for every site on it: a site
    waits behind the whole partition, not only its own records."""
    carrying: dict[str, list[Partition]] = {}
    for partition, sites in sites_by_partition.items():
        for site in sites:
            carrying.setdefault(site, []).append(partition)
    out = {}
    for site, partitions in carrying.items():
        known = [lag[p] for p in partitions if p in lag]
        out[site] = SiteLag(
            lag=sum(known) if known else None,
            partitions=tuple(f"{t}/{n}" for t, n in sorted(partitions)),
        )
    return out


def stale(age: float | None, after: float) -> bool:
    """Whether a site whose last event is ``age`` seconds old (``None``: never seen) is
    stale: silent longer than ``after``, the same limit that marks a component silent."""
    return age is None or age > after

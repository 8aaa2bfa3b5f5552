"""How many failed logins each client address may make: a token bucket per address.

An address starts with ``per_minute`` tokens and earns them back at ``per_minute`` a minute.
A password check takes one (given back when the password was right); with none left the
client is told when to come back, without any hashing. An IPv6 client counts by its /64,
which is what one host is usually given, so that it cannot draw a new budget per address.

The table holds at most ``max_addresses`` addresses: past that the one that failed least
recently is forgotten (it starts afresh if it comes back). An address is dropped anyway a
minute after its last failure, when its bucket would be full again.
"""

from __future__ import annotations

import ipaddress
import time
from collections.abc import Callable

from cachetools import TTLCache

_REFILL = 60.0  # seconds for an empty bucket to fill


def client_key(address: str) -> str:
    """The budget's key for a peer address: IPv4 as is, IPv6 by its /64."""
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return address  # not an IP (a Unix socket): one budget for the lot
    if isinstance(ip, ipaddress.IPv6Address):
        if ip.ipv4_mapped is not None:
            return str(ip.ipv4_mapped)
        return str(ipaddress.IPv6Network((ip, 64), strict=False))
    return str(ip)


class FailureBudget:
    """Per-address login failure budget (see the module)."""

    def __init__(
        self,
        per_minute: int,
        max_addresses: int,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if per_minute < 1 or max_addresses < 1:
            raise ValueError("per_minute and max_addresses must be at least 1")
        self._capacity = float(per_minute)
        self._rate = per_minute / _REFILL
        self._clock = clock
        # address -> (tokens, when they were counted)
        self._buckets: TTLCache[str, tuple[float, float]] = TTLCache(
            maxsize=max_addresses, ttl=_REFILL, timer=clock
        )

    def fill(self) -> float:
        """The share of ``max_addresses`` held."""
        return len(self._buckets) / self._buckets.maxsize

    def __len__(self) -> int:
        return len(self._buckets)

    def take(self, address: str) -> float:
        """Take a token for ``address``: 0 when it had one, else the seconds until it will."""
        key = client_key(address)
        tokens = self._tokens(key)
        if tokens < 1:
            return (1 - tokens) / self._rate
        self._buckets[key] = (tokens - 1, self._clock())
        return 0.0

    def give_back(self, address: str) -> None:
        """Return the token of a check that succeeded (or was never made)."""
        key = client_key(address)
        if key in self._buckets:
            tokens = min(self._capacity, self._tokens(key) + 1)
            self._buckets[key] = (tokens, self._clock())

    def _tokens(self, key: str) -> float:
        stored = self._buckets.get(key)
        if stored is None:
            return self._capacity
        tokens, since = stored
        return min(self._capacity, tokens + (self._clock() - since) * self._rate)


__all__ = ["FailureBudget", "client_key"]

"""Channels in use per trunk, counted from a platform's leg starts and ends, as
``trunk.status`` events with ``channels_in_use`` only (docs/metrics.md, "Trunk utilization").

A record that arrives at hangup (a CDR) cannot give a live count: when it arrives, the calls
still in progress are unknown, and a count made then undercounts by every one of them. So
only a format that says when a leg starts counts: the adapter calls :meth:`TrunkChannels.open`
at the start and :meth:`TrunkChannels.close` at the end, and writes a status whenever a
trunk's count changes. The status has no state (the records say which calls are up, not
whether the carrier is reachable) and no total (the capacity is configured,
``kpi.trunk_channels``).

Bounded whatever a producer sends:

- legs are kept by the digest of their call's id, at most ``max_legs`` of them; past it the
  oldest call's legs are dropped (counted in ``dropped``): a count that is low, never one
  that grows without end;
- a leg open longer than ``max_call_seconds`` expires (counted in ``expired``): a lost
  hangup must not hold a channel for ever;
- a call has at most :data:`MAX_LEGS_PER_CALL` legs (two trunks of one call, a spiral through
  a proxy), and a trunk is forgotten once its count is back to 0.
"""

from __future__ import annotations

import heapq
from dataclasses import dataclass, field

from callpulse.adapters.base import Writer
from callpulse.adapters.bounds import digest

MAX_LEGS = 20_000
MAX_CALL_SECONDS = 4 * 3600.0  # longer than any contact-center call that is still a call
MAX_LEGS_PER_CALL = 8


@dataclass(slots=True)
class _Trunk:
    name: str
    in_use: int = 0


@dataclass(slots=True)
class _Call:
    legs: dict[str, tuple[_Trunk, float]] = field(default_factory=dict)  # trunk -> (.., opened)


class TrunkChannels:
    """Per trunk, the legs open now; each change of a count is one ``trunk.status``."""

    def __init__(self, max_legs: int = MAX_LEGS, max_call_seconds: float = MAX_CALL_SECONDS):
        self.max_legs = max_legs
        self.max_call_seconds = max_call_seconds
        self._calls: dict[bytes, _Call] = {}  # in the order they opened: the oldest first
        self._trunks: dict[str, _Trunk] = {}
        self._held = 0
        # (opened, call) of every leg opened: what expires next, however the records' times
        # are ordered (a far-future time sinks to the bottom instead of blocking the rest).
        self._expiry: list[tuple[float, bytes]] = []
        self.dropped = 0  # legs forgotten for the cap
        self.expired = 0  # legs open past max_call_seconds

    def open(self, call: str, trunk: str, at: float, out: Writer) -> None:
        """Leg of ``call`` on ``trunk`` started at ``at``; a leg already open is left as it
        is (a record read twice, a retransmitted response)."""
        key = digest(call)
        found = self._calls.get(key)
        if found is not None and (trunk in found.legs or len(found.legs) >= MAX_LEGS_PER_CALL):
            return
        changed: list[_Trunk] = []
        if self._held >= self.max_legs:
            oldest = next(iter(self._calls))
            self.dropped += self._end(oldest, changed)
        found = self._calls.setdefault(key, _Call())
        counted = self._trunks.setdefault(trunk, _Trunk(trunk))
        counted.in_use += 1
        found.legs[counted.name] = (counted, at)
        self._held += 1
        heapq.heappush(self._expiry, (at, key))
        self._compact()
        self._report([*changed, counted], out)

    def holds(self, call: str) -> bool:
        """Whether ``call`` has a leg open."""
        return digest(call) in self._calls

    def close(self, call: str, out: Writer) -> bool:
        """Every leg of ``call`` ended (a hangup, a BYE); whether any was open (one that
        started before the adapter read its start, or already closed, changes no count)."""
        key = digest(call)
        if key not in self._calls:
            return False
        changed: list[_Trunk] = []
        self._end(key, changed)
        self._report(changed, out)
        return True

    def expire(self, now: float, out: Writer) -> None:
        """End the legs open for longer than ``max_call_seconds`` at ``now``."""
        changed: list[_Trunk] = []
        limit = now - self.max_call_seconds
        while self._expiry and self._expiry[0][0] <= limit:
            opened, key = heapq.heappop(self._expiry)
            call = self._calls.get(key)
            if call is None:
                continue
            stale = [t for t, (_, at) in call.legs.items() if at == opened]
            for name in stale:
                self.expired += 1
                self._drop(key, call, name, changed)
        self._report(changed, out)

    def _compact(self) -> None:
        # Closed legs' entries stay until they come due: rebuilt from the open legs once
        # they are most of it, so the table is bounded by the cap even with no clock tick.
        if len(self._expiry) > 2 * self._held + 1024:
            self._expiry = [(at, k) for k, c in self._calls.items() for _, at in c.legs.values()]
            heapq.heapify(self._expiry)

    def fill(self) -> float:
        """How full the cap on legs is, 0 to 1."""
        return self._held / self.max_legs

    def in_use(self) -> dict[str, int]:
        """Channels in use now, by trunk (those with none are not kept)."""
        return {name: t.in_use for name, t in self._trunks.items()}

    def _end(self, key: bytes, changed: list[_Trunk]) -> int:
        call = self._calls[key]
        legs = list(call.legs)
        for name in legs:
            self._drop(key, call, name, changed)
        return len(legs)

    def _drop(self, key: bytes, call: _Call, name: str, changed: list[_Trunk]) -> None:
        trunk, _ = call.legs.pop(name)
        trunk.in_use -= 1
        self._held -= 1
        changed.append(trunk)
        if not call.legs:
            del self._calls[key]

    def _report(self, changed: list[_Trunk], out: Writer) -> None:
        # One status per trunk whose count changed, with its count after every change.
        for trunk in dict.fromkeys(t.name for t in changed):
            counted = self._trunks[trunk]
            out.add("trunk.status", trunk_id=trunk, channels_in_use=counted.in_use)
            if counted.in_use == 0:
                del self._trunks[trunk]

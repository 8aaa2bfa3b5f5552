"""The HTTP server's connection table: which connections it holds, what each is doing, and
which one makes room when a new one comes at the cap.

A connection is *waiting* from the moment it is accepted until its request's headers are in
(under TLS this includes the handshake), *busy* while a request is answered and *idle*
between requests on a keep-alive connection. At the cap the oldest waiting connection goes
first: a client that has sent no complete request in all that time is the likeliest to be one
holding the slot on purpose, and a silent one would otherwise keep its slot until the header
timeout. Then the oldest idle one. A new connection is turned away only when every slot is
busy answering a request.

Pure: no sockets and no clock. The server tells the table what happens and closes whatever
the table names.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Hashable
from dataclasses import dataclass
from typing import Generic, TypeVar

C = TypeVar("C", bound=Hashable)


@dataclass(frozen=True)
class Admission(Generic[C]):
    """What admitting a connection decided: whether it is in, and whom it displaced."""

    admitted: bool
    evicted: C | None = None


class ConnectionTable(Generic[C]):
    """At most ``capacity`` connections, each waiting, busy or idle (see the module)."""

    def __init__(self, capacity: int) -> None:
        if capacity < 1:
            raise ValueError("capacity must be at least 1")
        self.capacity = capacity
        # Oldest first: by the time each entered its state.
        self._waiting: OrderedDict[C, None] = OrderedDict()
        self._idle: OrderedDict[C, None] = OrderedDict()
        self._busy: set[C] = set()

    def __len__(self) -> int:
        return len(self._waiting) + len(self._idle) + len(self._busy)

    def __contains__(self, connection: object) -> bool:
        return connection in self._waiting or connection in self._idle or connection in self._busy

    def admit(self, connection: C) -> Admission[C]:
        """Take a new connection in, waiting; at the cap, displace the oldest waiting or else
        the oldest idle connection, or refuse the new one when all are busy."""
        evicted: C | None = None
        if len(self) >= self.capacity:
            if self._waiting:
                evicted, _ = self._waiting.popitem(last=False)
            elif self._idle:
                evicted, _ = self._idle.popitem(last=False)
            else:
                return Admission(admitted=False)
        self._waiting[connection] = None
        return Admission(admitted=True, evicted=evicted)

    def waiting(self, connection: C) -> None:
        """``connection`` started a request (its first byte): its headers are now due."""
        if self._take(connection):
            self._waiting[connection] = None

    def busy(self, connection: C) -> None:
        """``connection``'s request is complete and being answered."""
        if self._take(connection):
            self._busy.add(connection)

    def idle(self, connection: C) -> None:
        """``connection`` answered its request and waits for another."""
        if self._take(connection):
            self._idle[connection] = None

    def remove(self, connection: C) -> None:
        """``connection`` is closed (nothing happens if it was already displaced)."""
        self._take(connection)

    def connections(self) -> list[C]:
        """Every connection held, in no particular order."""
        return [*self._waiting, *self._idle, *self._busy]

    def _take(self, connection: C) -> bool:
        # Out of whichever state it is in; False for one the table no longer holds.
        for ordered in (self._waiting, self._idle):
            if connection in ordered:
                del ordered[connection]
                return True
        if connection in self._busy:
            self._busy.remove(connection)
            return True
        return False


__all__ = ["Admission", "ConnectionTable"]

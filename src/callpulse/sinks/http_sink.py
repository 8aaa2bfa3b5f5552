"""The part every sink that POSTs JSON to one receiver shares: its target, its name, its
connection pool and closing it. Subclasses say what the body is."""

from __future__ import annotations

from callpulse.sinks.delivery import Sink
from callpulse.sinks.http_client import HttpClient, HttpTarget


class HttpSink(Sink):
    """A :class:`Sink` that delivers to ``target``, named by its label."""

    def __init__(self, target: HttpTarget, capacity: int, max_age: float) -> None:
        super().__init__(capacity, max_age)
        self.target = target
        self.name = target.label
        self._client = HttpClient(target.http)

    async def close(self) -> None:
        await self._client.close()

"""Prometheus Alertmanager, API v2: ``POST /api/v2/alerts`` with a JSON list of alerts."""

from __future__ import annotations

import json
import time
from collections.abc import Sequence

from callpulse.core.alert_state import Notification
from callpulse.sinks.delivery import Sink
from callpulse.sinks.http_client import HttpClient, HttpConfig
from callpulse.sinks.naming import sink_name


class AlertmanagerSink(Sink):
    """One Alertmanager; callpulse sends to each configured one, as Prometheus does.

    ``label`` is its ``sink`` label (:func:`~callpulse.sinks.naming.sink_labels`), by default
    its origin's.
    """

    def __init__(
        self,
        url: str,
        timeout: float,
        capacity: int,
        max_age: float,
        label: str | None = None,
        http: HttpConfig | None = None,
    ) -> None:
        super().__init__(capacity, max_age)
        self.url = url.rstrip("/") + "/api/v2/alerts"
        self.name = label or sink_name("alertmanager", url)
        self._timeout = timeout
        self._client = HttpClient(http)

    async def send(self, batch: Sequence[Notification]) -> None:
        # Alertmanager reads the times against its own clock (see Notification.on_wall_clock).
        now = time.time()
        body = json.dumps([n.to_alertmanager(now) for n in batch]).encode()
        await self._client.post_json(self.url, body, self._timeout, "Alertmanager")

    async def close(self) -> None:
        await self._client.close()

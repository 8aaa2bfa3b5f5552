"""Prometheus Alertmanager, API v2: ``POST /api/v2/alerts`` with a JSON list of alerts."""

from __future__ import annotations

import json
import time
from collections.abc import Sequence

from callpulse.core.alert_state import Notification
from callpulse.sinks.http_sink import HttpSink


class AlertmanagerSink(HttpSink):
    """One Alertmanager; callpulse sends to each configured one, as Prometheus does."""

    async def send(self, batch: Sequence[Notification]) -> None:
        # Alertmanager reads the times against its own clock (see Notification.on_wall_clock).
        now = time.time()
        body = json.dumps([n.to_alertmanager(now) for n in batch]).encode()
        url = self.target.url.rstrip("/") + "/api/v2/alerts"
        await self._client.post_json(url, body, self.target.timeout, "Alertmanager")

"""A generic webhook: the JSON Alertmanager's own webhook receiver posts (version 4)."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Sequence
from typing import Any

from callpulse.core.alert_state import Notification
from callpulse.sinks.delivery import Sink
from callpulse.sinks.http_client import HttpClient, HttpConfig
from callpulse.sinks.naming import sink_name


def webhook_payload(batch: Sequence[Notification], now: float, external_url: str) -> dict[str, Any]:
    """Alertmanager's webhook body for ``batch``: one group of everything sent together."""
    alerts = []
    for n in batch:
        resolved = n.ends_at <= now
        alert = n.to_alertmanager()
        alert["status"] = "resolved" if resolved else "firing"
        if not resolved:
            alert["endsAt"] = "0001-01-01T00:00:00Z"  # as Alertmanager writes an open end
        fingerprint = json.dumps(sorted(n.labels.items())).encode()
        alert["fingerprint"] = hashlib.sha256(fingerprint).hexdigest()[:16]
        alerts.append(alert)
    common = set.intersection(*(set(n.labels.items()) for n in batch)) if batch else set()
    common_annotations = (
        set.intersection(*(set(n.annotations.items()) for n in batch)) if batch else set()
    )
    return {
        "version": "4",
        "groupKey": "{}:{}",
        "truncatedAlerts": 0,
        "status": "firing" if any(a["status"] == "firing" for a in alerts) else "resolved",
        "receiver": "callpulse",
        "groupLabels": {},
        "commonLabels": dict(common),
        "commonAnnotations": dict(common_annotations),
        "externalURL": external_url,
        "alerts": alerts,
    }


class WebhookSink(Sink):
    """POSTs each batch to ``url``; ``label`` as :class:`AlertmanagerSink`'s."""

    def __init__(
        self,
        url: str,
        timeout: float,
        capacity: int,
        max_age: float,
        external_url: str,
        clock: Callable[[], float],
        label: str | None = None,
        http: HttpConfig | None = None,
    ) -> None:
        super().__init__(capacity, max_age)
        self.url = url
        self.name = label or sink_name("webhook", url)
        self._client = HttpClient(http)
        self._timeout = timeout
        self._external_url = external_url
        self._clock = clock

    async def send(self, batch: Sequence[Notification]) -> None:
        payload = webhook_payload(batch, self._clock(), self._external_url)
        await self._client.post_json(
            self.url, json.dumps(payload).encode(), self._timeout, "webhook"
        )

    async def close(self) -> None:
        await self._client.close()

"""A generic webhook: the JSON Alertmanager's own webhook receiver posts (version 4)."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Sequence
from typing import Any

from callpulse.core.alert_state import Notification
from callpulse.sinks.http_client import HttpTarget
from callpulse.sinks.http_sink import HttpSink


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


class WebhookSink(HttpSink):
    """POSTs each batch to its target's URL as Alertmanager's webhook body; ``clock`` tells
    what has resolved, ``external_url`` where the alerts came from."""

    def __init__(
        self,
        target: HttpTarget,
        capacity: int,
        max_age: float,
        external_url: str,
        clock: Callable[[], float],
    ) -> None:
        super().__init__(target, capacity, max_age)
        self._external_url = external_url
        self._clock = clock

    async def send(self, batch: Sequence[Notification]) -> None:
        payload = webhook_payload(batch, self._clock(), self._external_url)
        body = json.dumps(payload).encode()
        await self._client.post_json(self.target.url, body, self.target.timeout, "webhook")

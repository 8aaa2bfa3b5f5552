"""Alerts as log lines: the sink that always works, and the newcomer's first view."""

from __future__ import annotations

from collections.abc import Callable, Sequence

import structlog

from callpulse.core.alert_state import Notification
from callpulse.sinks.delivery import Sink

log = structlog.get_logger("callpulse.alerts")


class LogSink(Sink):
    """Logs ``alert_firing`` when an alert starts firing and ``alert_resolved`` when it ends.

    Re-sends of an unchanged alert (every ``resend_delay``) are not logged again.
    """

    name = "log"

    def __init__(self, clock: Callable[[], float]) -> None:
        super().__init__()
        self._clock = clock
        self._firing: set[tuple[tuple[str, str], ...]] = set()

    async def send(self, batch: Sequence[Notification]) -> None:
        now = self._clock()
        for n in batch:
            key = tuple(sorted(n.labels.items()))
            if n.ends_at <= now:
                if key in self._firing:
                    self._firing.discard(key)
                    log.warning(
                        "alert_resolved", labels=dict(n.labels), annotations=dict(n.annotations)
                    )
            elif key not in self._firing:
                self._firing.add(key)
                log.warning("alert_firing", labels=dict(n.labels), annotations=dict(n.annotations))

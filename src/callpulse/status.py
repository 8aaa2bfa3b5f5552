"""The status view: a small JSON document for ``/``, ``/api/v1/status`` and ``callpulse
status``. For a glance, not a Grafana: sites, queues with short histories, trunks, IVR,
components, open maintenance windows, and alerts."""

from __future__ import annotations

import math
from collections import deque
from typing import TYPE_CHECKING, Any

from callpulse.core.monitor import Monitor

if TYPE_CHECKING:
    from callpulse.alerts import Alerting
from callpulse.core.timefmt import rfc3339

HISTORY = 60  # samples kept per queue for the sparklines


class StatusBoard:
    """Builds the status document; :meth:`sample` keeps the queues' recent history."""

    def __init__(self, monitor: Monitor, alerting: Alerting) -> None:
        self._monitor = monitor
        self._alerting = alerting
        self._history: dict[tuple[str, str], tuple[deque[float], deque[float | None]]] = {}

    def sample(self) -> None:
        """Record each queue's calls waiting and 5m service level now."""
        seen = set()
        for view in self._monitor.queue_views():
            key = (view.site, view.queue)
            seen.add(key)
            waiting, level = self._history.setdefault(
                key, (deque(maxlen=HISTORY), deque(maxlen=HISTORY))
            )
            waiting.append(float(view.calls_waiting))
            level.append(_window(view.windows, "5m", "service_level"))
        for key in [k for k in self._history if k not in seen]:
            del self._history[key]

    def document(self) -> dict[str, Any]:
        """The whole status, JSON-ready (no infinities: a drain that never ends is null with
        ``drains: false``)."""
        monitor = self._monitor
        now = monitor.now
        queues = []
        for v in sorted(monitor.queue_views(), key=lambda v: (v.site, v.queue)):
            waiting, level = self._history.get((v.site, v.queue), ((), ()))
            eta = v.drain_eta_seconds
            queues.append(
                {
                    "site": v.site,
                    "queue": v.queue,
                    "calls_waiting": v.calls_waiting,
                    "oldest_wait_seconds": round(v.oldest_wait_seconds, 1),
                    "service_level_5m": _window(v.windows, "5m", "service_level"),
                    "abandon_ratio_5m": _window(v.windows, "5m", "abandon_ratio"),
                    "asa_seconds_5m": _window(v.windows, "5m", "asa_seconds"),
                    "agents": dict(v.agents),
                    "drain_eta_seconds": None if eta is None or math.isinf(eta) else round(eta),
                    "drains": eta is None or not math.isinf(eta),
                    "history": {"calls_waiting": list(waiting), "service_level": list(level)},
                }
            )
        components = [
            {
                "site": c.site,
                "component": c.component,
                "kind": c.kind,
                "status": c.status,
                "heartbeat_age_seconds": round(c.heartbeat_age_seconds, 1),
                "stale": c.stale,
            }
            for c in sorted(monitor.component_views(), key=lambda c: (c.site, c.component))
        ]
        trunks = [
            {
                "site": t.site,
                "trunk": t.trunk,
                "up": t.up,
                "utilization": t.utilization,
                "asr_5m": _window(t.windows, "5m", "asr"),
            }
            for t in sorted(monitor.trunk_views(), key=lambda t: (t.site, t.trunk))
        ]
        ivr = [
            {
                "site": i.site,
                "application": i.application,
                "containment_15m": _window(i.windows, "15m", "containment"),
                "backend_errors_per_session_5m": _window(
                    i.windows, "5m", "backend_errors_per_session"
                ),
            }
            for i in sorted(monitor.ivr_views(), key=lambda i: (i.site, i.application))
        ]
        windows = [
            {
                "name": w.name,
                "sites": list(w.sites),
                "components": list(w.components),
                "start": rfc3339(w.start),
                "end": None if math.isinf(w.end) else rfc3339(w.end),
                "source": w.source,
            }
            for w in monitor.maintenance.windows(now)
        ]
        alerts: dict[str, list[dict[str, Any]]] = {"firing": [], "pending": [], "suppressed": []}
        for a in self._alerting.describe():
            if a["state"] == "inactive":
                continue
            bucket = (
                "suppressed" if a.get("suppressedBy") and a["state"] == "firing" else a["state"]
            )
            alerts[bucket].append(a)
        seen = monitor.site_last_event
        sites: list[str] = sorted({str(q["site"]) for q in queues} | set(seen))
        return {
            "now": rfc3339(now) if now else None,
            "sites": [
                {
                    "site": s,
                    "last_event_age_seconds": round(now - monitor.site_last_event[s], 1)
                    if s in monitor.site_last_event
                    else None,
                }
                for s in sites
            ],
            "queues": queues,
            "trunks": trunks,
            "ivr": ivr,
            "components": components,
            "maintenance": windows,
            "alerts": alerts,
        }


def _window(windows: Any, label: str, attr: str) -> float | None:
    for w in windows:
        if w.window == label:
            value = getattr(w, attr)
            return None if value is None else round(float(value), 4)
    return None

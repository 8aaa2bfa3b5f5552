"""Which alerts a maintenance window explains, and so withholds from the sinks.

An alert is explained when, at some evaluation since it became active, an open window (or a
firing MaintenanceBacklog on its queue, after the window) explains it
(:meth:`MaintenanceTracker.explaining <callpulse.core.maintenance.MaintenanceTracker.explaining>`)
and it became active after the window opened. It is then withheld for its whole episode,
resolution included, even after the window has closed: the slow answers a window caused are
part of its incident. An alert active before the window opened is not the window's doing and
keeps being sent.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Protocol

from callpulse.core.alert_state import Alert, Labels, Notification
from callpulse.core.calendar import Occurrence


class Explains(Protocol):
    """What knows the maintenance windows open at a time (the maintenance tracker)."""

    def explaining(self, labels: Mapping[str, str], now: float) -> Occurrence | None:
        """An open window that explains an alert with ``labels`` at ``now``, if any."""
        ...


class Suppressor:
    """The alerts withheld from the sinks, each with the window that explains it, and how
    many were withheld by (alertname, window) (``callpulse_alerts_suppressed_total``)."""

    def __init__(self, windows: Explains) -> None:
        self._windows = windows
        self.counts: dict[tuple[str, str], int] = {}
        # (labels, active since) of each alert withheld, and the window that explained it:
        # an episode is withheld whole, so it is kept until the alert is gone.
        self._withheld: dict[tuple[Labels, float], str] = {}

    def suppressed_by(self, alert: Alert, now: float) -> str | None:
        """The window withholding ``alert`` from the sinks at ``now``, if any: the one that
        explained it earlier in its episode, else one that explains it now."""
        withheld = self._withheld.get((alert.labels, alert.active_at))
        if withheld is not None:
            return withheld
        window = self._windows.explaining(alert.label_dict(), now)
        return window.name if window is not None and alert.active_at >= window.start else None

    def explain(self, alerts: Iterable[Alert], now: float) -> list[tuple[Alert, str]]:
        """Mark the alerts an open window explains at ``now`` (every alert there is: those
        no longer listed are forgotten); return the ones newly withheld, with their window."""
        alerts = list(alerts)
        current = {(a.labels, a.active_at) for a in alerts}
        self._withheld = {k: v for k, v in self._withheld.items() if k in current}
        found = []
        for alert in alerts:
            key = (alert.labels, alert.active_at)
            if alert.state == "resolved" or key in self._withheld:
                continue
            window = self._windows.explaining(alert.label_dict(), now)
            if window is None or alert.active_at < window.start:
                continue
            self._withheld[key] = window.name
            counted = (alert.rule, window.name)
            self.counts[counted] = self.counts.get(counted, 0) + 1
            found.append((alert, window.name))
        return found

    def withhold(self, due: Iterable[Notification]) -> list[Notification]:
        """``due`` without the notifications of withheld alerts."""
        withheld = {labels for labels, _ in self._withheld}
        return [n for n in due if tuple(sorted(n.labels.items())) not in withheld]

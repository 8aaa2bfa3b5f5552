"""The alert state file: pending and firing alerts on disk, so that a restart neither pages
again before ``resend_delay`` nor restarts ``for`` timers. Beside it, each queue's flow
history (:class:`~callpulse.core.flow_history.FlowHistory`: ``alerts.json`` has
``alerts.history.json``), so that what callpulse has learnt of its callers' patience at each
hour of the day survives a rollout. Two files, because the alerts change at any evaluation
and are small, while the histories change once per queue every 15 minutes and at 10,000
queues are 14 MB."""

from __future__ import annotations

import json
import os
from pathlib import Path

import structlog

from callpulse.core.alerting import AlertEvaluator
from callpulse.core.maintenance import MaintenanceTracker

log = structlog.get_logger("callpulse.alerts")

HISTORY_EVERY = 900.0
"""Seconds between two writes of the flow histories: a queue's changes once per reading, every
15 minutes, and serialising 10,000 queues' takes about 0.3 s of the event loop."""


class StateFile:
    """``alerting.state_file``, or nothing when it is unset. Written atomically, and only when
    the state changed; a file that cannot be read or written is logged, never fatal."""

    def __init__(self, path: Path | None) -> None:
        self.path = path
        self.history_path = path.with_name(f"{path.stem}.history.json") if path else None
        self._saved = ""
        self._history_saved = ""
        self._history_at = -float("inf")

    def restore(
        self, evaluator: AlertEvaluator, maintenance: MaintenanceTracker, now: float
    ) -> None:
        """Load the saved alerts of rules that still exist into ``evaluator``, and the flow
        histories into ``maintenance``. Either file unreadable is logged and left out."""
        path, history = self.path, self.history_path
        if path is not None and path.exists():
            try:
                restored = evaluator.import_state(json.loads(path.read_text()))
            except (OSError, ValueError, KeyError, TypeError) as exc:
                log.warning("alert_state_unreadable", path=str(path), error=str(exc))
            else:
                log.info("alert_state_restored", path=str(path), alerts=restored)
        if history is not None and history.exists():
            try:
                queues = maintenance.baselines.restore_history(json.loads(history.read_text()), now)
            except (OSError, ValueError) as exc:
                log.warning("flow_history_unreadable", path=str(history), error=str(exc))
            else:
                log.info("flow_history_restored", path=str(history), queues=queues)

    def save(
        self,
        evaluator: AlertEvaluator,
        maintenance: MaintenanceTracker,
        now: float,
        *,
        final: bool = False,
    ) -> None:
        """Write ``evaluator``'s alerts if they changed since the last save, and
        ``maintenance``'s flow histories every :data:`HISTORY_EVERY` and when ``final``
        (callpulse is stopping)."""
        path, history = self.path, self.history_path
        if path is None or history is None:
            return
        text = json.dumps(evaluator.export_state())
        if text != self._saved and _written(path, text, "alert_state_not_saved"):
            self._saved = text
        if not final and self._history_at <= now < self._history_at + HISTORY_EVERY:
            return
        self._history_at = now
        text = json.dumps(maintenance.baselines.export_history())
        if text != self._history_saved and _written(history, text, "flow_history_not_saved"):
            self._history_saved = text


def _written(path: Path, text: str, failure: str) -> bool:
    try:
        _write_atomically(path, text)
    except OSError as exc:
        log.warning(failure, path=str(path), error=str(exc))
        return False
    return True


def _write_atomically(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    temporary.write_text(text)
    os.replace(temporary, path)

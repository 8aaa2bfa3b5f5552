"""The alert state file: pending and firing alerts on disk, so that a restart neither pages
again before ``resend_delay`` nor restarts ``for`` timers."""

from __future__ import annotations

import json
import os
from pathlib import Path

import structlog

from callpulse.core.alerting import AlertEvaluator

log = structlog.get_logger("callpulse.alerts")


class StateFile:
    """``alerting.state_file``, or nothing when it is unset. Written atomically, and only when
    the state changed; a file that cannot be read or written is logged, never fatal."""

    def __init__(self, path: Path | None) -> None:
        self.path = path
        self._saved = ""

    def restore(self, evaluator: AlertEvaluator) -> None:
        """Load the saved alerts of rules that still exist into ``evaluator``."""
        path = self.path
        if path is None or not path.exists():
            return
        try:
            rows = json.loads(path.read_text())
            restored = evaluator.import_state(rows)
        except (OSError, ValueError, KeyError, TypeError) as exc:
            log.warning("alert_state_unreadable", path=str(path), error=str(exc))
            return
        log.info("alert_state_restored", path=str(path), alerts=restored)

    def save(self, evaluator: AlertEvaluator) -> None:
        """Write ``evaluator``'s alerts if they changed since the last save."""
        path = self.path
        if path is None:
            return
        text = json.dumps(evaluator.export_state())
        if text == self._saved:
            return
        try:
            _write_atomically(path, text)
        except OSError as exc:
            log.warning("alert_state_not_saved", path=str(path), error=str(exc))
            return
        self._saved = text


def _write_atomically(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    temporary.write_text(text)
    os.replace(temporary, path)

"""Reloading a running daemon's rules and maintenance windows, on SIGHUP or when the config
file or a rule file changes (a Kubernetes ConfigMap update).

It drives the running parts (the alerting, the monitor), so it sits beside the composition
root that made them rather than in ``config/``, which only reads and converts settings."""

from __future__ import annotations

import asyncio
import dataclasses
import hashlib
from collections.abc import Callable
from pathlib import Path

import structlog

from callpulse.alerting import Alerting
from callpulse.config.convert import maintenance_policy
from callpulse.config.errors import ConfigError
from callpulse.config.loading import load_config
from callpulse.config.schema import Settings
from callpulse.core.monitor import Monitor, MonitorConfig

log = structlog.get_logger("callpulse")

POLL_SECONDS = 5.0
_RELOADABLE = {"rules", "rule_files", "maintenance"}


class Reloader:
    """Swaps a new config's rules and maintenance into the running parts, all or nothing.

    ``monitor_config`` turns settings into the monitor's configuration (the App adds what its
    source knows, such as the simulator's planned windows). ``counts`` holds successes and
    failures for ``callpulse_config_reload_total``.
    """

    def __init__(
        self,
        path: Path | None,
        settings: Settings,
        alerting: Alerting,
        monitor: Monitor,
        monitor_config: Callable[[Settings], MonitorConfig],
    ) -> None:
        self.path = path
        self.counts = {"success": 0, "failure": 0}
        self._settings = settings
        self._alerting = alerting
        self._monitor = monitor
        self._monitor_config = monitor_config

    def reload(self, cause: str) -> bool:
        """Re-read the config file; swap in its rules and maintenance windows at once.

        An invalid new config is rejected with its reason logged and the running one kept.
        Other sections take effect at the next restart (and the log says which changed).
        """
        if self.path is None:
            log.warning("config_reload_skipped", cause=cause, reason="started without --config")
            return False
        try:
            loaded = load_config(self.path)
        except ConfigError as exc:
            self.counts["failure"] += 1
            log.error("config_reload_rejected", cause=cause, error=str(exc))
            return False
        old, new, rules = self._settings, loaded.settings, list(loaded.rules)
        # Every reloadable key reaches the running parts through these two calls, each from
        # the whole new section: the rules with the built-in ones as the new maintenance
        # policy sends them, and the monitor's calendar, event policy and that policy's
        # limits. One policy, converted once, so its two halves cannot come from two configs.
        policy = maintenance_policy(new.maintenance.backlog)
        self._alerting.replace_rules(rules, policy.paging)
        self._monitor.replace_maintenance(
            dataclasses.replace(self._monitor_config(new), backlog=policy.limits)
        )
        restart = sorted(
            key
            for key in Settings.model_fields
            if key not in _RELOADABLE and getattr(old, key) != getattr(new, key)
        )
        old.rules, old.rule_files, old.maintenance = new.rules, new.rule_files, new.maintenance
        self.counts["success"] += 1
        log.info(
            "config_reloaded",
            cause=cause,
            rules=len(rules),
            maintenance_windows=len(new.maintenance.windows),
            restart_needed_for=restart,
        )
        return True

    async def watch(self) -> None:
        """Reload when the config file or a rule file changes."""
        if self.path is None:
            return
        seen = self._fingerprint()
        while True:
            await asyncio.sleep(POLL_SECONDS)
            now = self._fingerprint()
            if now != seen:
                seen = now
                self.reload("file changed")

    def _fingerprint(self) -> bytes:
        parts = []
        for path in [self.path, *self._settings.rule_files]:
            try:
                parts.append(Path(str(path)).read_bytes())
            except OSError:
                parts.append(b"(unreadable)")
        return hashlib.sha256(b"\0".join(parts)).digest()

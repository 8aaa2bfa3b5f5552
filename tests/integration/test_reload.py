"""Hot reload of rules and maintenance windows: SIGHUP and a changed file, valid and not."""

from __future__ import annotations

import signal
from pathlib import Path

import pytest
import yaml

from .helpers import Daemon, wait_until

pytestmark = pytest.mark.integration

ONE_RULE = "rules:\n  - {alert: Waiting, kpi: queue_calls_waiting, op: '>', threshold: 1000}\n"
TWO_RULES = (
    ONE_RULE + "  - {alert: Offered, kpi: queue_offered_calls, window: 1m, op: '>', "
    "threshold: 100000}\n"
)


def reloads(daemon: Daemon, result: str) -> float:
    return daemon.value("callpulse_config_reload_total", result=result) or 0.0


def test_sighup_and_file_changes_reload_and_a_bad_config_is_refused(tmp_path: Path) -> None:
    (tmp_path / "rules.yaml").write_text(ONE_RULE)
    config = {
        "rule_files": [str(tmp_path / "rules.yaml")],
        "source": {"kind": "simulator", "simulator": {"scenario": "normal-day"}},
    }
    daemon = Daemon(tmp_path, config).start()
    try:
        daemon.wait_ready()
        assert daemon.process is not None

        # A changed rule file is picked up by itself.
        (tmp_path / "rules.yaml").write_text(TWO_RULES)
        wait_until(lambda: reloads(daemon, "success") == 1, 20, "the file change to reload")
        [loaded] = daemon.log_events("config_reloaded")
        assert (loaded["rules"], loaded["cause"]) == (2, "file changed")

        # SIGHUP with maintenance windows added to the config file.
        config["maintenance"] = {
            "timezone": "Europe/London",
            "windows": [
                {
                    "name": "patching",
                    "sites": ["lon1"],
                    "start": "2026-11-29T02:00",
                    "duration": "30m",
                    "rrule": "FREQ=WEEKLY;BYDAY=SU",
                }
            ],
        }
        daemon.config_path.write_text(yaml.safe_dump(daemon.config | config))
        daemon.process.send_signal(signal.SIGHUP)
        wait_until(lambda: reloads(daemon, "success") >= 2, 20, "SIGHUP to reload")
        last = daemon.log_events("config_reloaded")[-1]
        assert last["maintenance_windows"] == 1

        # A broken rule: refused, logged, the running rules keep working.
        (tmp_path / "rules.yaml").write_text(TWO_RULES.replace("queue_offered_calls", "nope"))
        daemon.process.send_signal(signal.SIGHUP)
        wait_until(lambda: reloads(daemon, "failure") >= 1, 20, "the bad config to be refused")
        [refused] = daemon.log_events("config_reload_rejected")[:1]
        assert "unknown KPI 'nope'" in refused["error"]
        daemon.assert_running()
        assert daemon.get("/readyz")[0] == 200
    finally:
        assert daemon.stop() == 0

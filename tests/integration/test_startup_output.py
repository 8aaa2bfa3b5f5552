"""What start-up says and does with a config file that names no rule files: the shipped rules
page on the demo's backlog, the log says which rules were loaded and where callpulse listens,
and the exporter flags override their keys."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from callpulse.shipped import shipped

from .helpers import Daemon, free_port, wait_until

pytestmark = pytest.mark.integration
SHIPPED = {rule["alert"] for rule in yaml.safe_load(shipped("rules.yaml").read_text())["rules"]}


@pytest.mark.waits
def test_a_config_without_rule_files_pages_with_the_shipped_rules(tmp_path: Path) -> None:
    # The demo (the simulator's maintenance-backlog scenario at 30x) from a config file that
    # names no rule_files: before, it had no rules at all and nothing but the built-in
    # maintenance alerts could fire.
    daemon = Daemon(tmp_path, {"alerting": {"evaluation_interval": "1s"}}).start()
    try:
        daemon.wait_ready(60)

        def shipped_rule_fired() -> set[str]:
            daemon.assert_running()
            status, body = daemon.get("/api/v1/alerts")
            assert status == 200
            return {a["labels"]["alertname"] for a in json.loads(body)["data"]["alerts"]} & SHIPPED

        fired = wait_until(shipped_rule_fired, 170, "a shipped rule to fire", every=1.0)
        assert fired
        (started,) = daemon.log_events("callpulse_started")
        assert (
            started["rules"] == f"{len(SHIPPED)} rules: {len(SHIPPED)} from {shipped('rules.yaml')}"
        )
        assert started["config"] == str(daemon.config_path)
        assert "settings" not in started  # the dump is for debug level
        assert not daemon.log_events("settings_loaded")
        (listening,) = daemon.log_events("listening_on")
        assert listening["url"] == f"http://127.0.0.1:{daemon.port}"
    finally:
        daemon.stop()


def test_the_exporter_flags_override_the_config(tmp_path: Path) -> None:
    port = free_port()
    daemon = Daemon(
        tmp_path,
        {"rule_files": [], "log": {"level": "info", "format": "console"}},
        args=(
            "run",
            "--web.listen-address",
            f"127.0.0.1:{port}",
            "--log.level",
            "debug",
            "--log.format",
            "json",
        ),
    )
    daemon.port = port  # the flag's, not the config's
    daemon.start()
    try:
        daemon.wait_ready(60)
        (started,) = daemon.log_events("callpulse_started")  # JSON: --log.format won
        assert started["rules"] == "0 rules (rule_files: []): nothing will page"
        (loaded,) = daemon.log_events("settings_loaded")  # debug: --log.level won
        assert loaded["settings"]["http"]["port"] == port
        (listening,) = daemon.log_events("listening_on")
        assert listening["url"] == f"http://127.0.0.1:{port}"
    finally:
        daemon.stop()

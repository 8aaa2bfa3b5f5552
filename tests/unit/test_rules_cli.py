"""`callpulse rules test`: the shipped rule tests pass; a wrong expectation fails with a diff."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

CONFIG = Path(__file__).resolve().parents[2] / "config"


def rules_test(path: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "callpulse", "rules", "test", str(path)],
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_shipped_rule_tests_pass() -> None:
    result = rules_test(CONFIG / "rules.test.yaml")
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.count("PASS") == 7
    assert "rule tests passed" in result.stdout


def test_a_wrong_expectation_fails_with_a_diff(tmp_path: Path) -> None:
    broken = tmp_path / "broken.test.yaml"
    broken.write_text(f"""
rule_files: [{CONFIG / "rules.yaml"}]
tests:
  - name: expects the page 15 s too early, and the wrong trunk
    events:
      - {{at: 30s, type: trunk.status, site: lon1, trunk_id: bt-1, state: down,
         channels_in_use: 0, channels_total: 30}}
    expect:
      - at: 15s
        firing: [{{alertname: TrunkDown, trunk: bt-1}}]
      - at: 45s
        firing: [{{alertname: TrunkDown, trunk: bt-2}}]
""")
    result = rules_test(broken)
    assert result.returncode == 1
    out = result.stdout
    assert "FAIL" in out
    assert "at 15s, firing:" in out
    assert "- expected, not firing: {alertname='TrunkDown', trunk='bt-1'}" in out
    assert "at 45s, firing:" in out
    assert "+ firing, not expected: {" in out
    assert "trunk='bt-1'" in out.split("at 45s")[1]


def test_a_rule_file_with_an_unknown_kpi_is_a_config_error(tmp_path: Path) -> None:
    rules = tmp_path / "rules.yaml"
    rules.write_text("rules:\n  - {alert: X, kpi: queue_nope, op: '<', threshold: 1}\n")
    tests = tmp_path / "t.yaml"
    tests.write_text("rule_files: [rules.yaml]\ntests: []\n")
    result = rules_test(tests)
    assert result.returncode == 2
    assert "rules[0]: rule 'X': kpi: unknown KPI 'queue_nope'" in result.stderr

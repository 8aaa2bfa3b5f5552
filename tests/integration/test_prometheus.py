"""A real Prometheus scrapes a running callpulse; the shipped dashboards and meta-alert rules
name only what callpulse really exposes, and load in that Prometheus."""

from __future__ import annotations

import json
import re
import runpy
import subprocess
import urllib.parse
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from prometheus_client.parser import text_string_to_metric_families

from .helpers import Daemon, start_prometheus, wait_until

pytestmark = pytest.mark.integration
ROOT = Path(__file__).resolve().parents[2]
CHART = ROOT / "helm" / "callpulse"


@pytest.fixture
def daemon(tmp_path: Path) -> Iterator[Daemon]:
    d = Daemon(tmp_path, None)  # the embedded default: every family appears
    d.start()
    try:
        wait_until(lambda: d.get("/readyz")[0] == 200, 30, "callpulse ready")
        yield d
    finally:
        d.stop()


def exposed_names(text: str) -> set[str]:
    names = set()
    for family in text_string_to_metric_families(text):
        names.add(family.name)
        if family.type == "counter":
            names.add(family.name + "_total")
        names.update(sample.name for sample in family.samples)
    return names


def query(base: str, promql: str) -> list[dict[str, Any]]:
    url = f"{base}/api/v1/query?{urllib.parse.urlencode({'query': promql})}"
    with urllib.request.urlopen(url, timeout=5) as response:
        return list(json.load(response)["data"]["result"])


def test_prometheus_scrapes_callpulse_and_loads_the_meta_alerts(
    daemon: Daemon, tmp_path: Path
) -> None:
    prometheus, base = start_prometheus(
        tmp_path,
        f"""
global: {{scrape_interval: 1s, evaluation_interval: 1s}}
rule_files: ["{CHART / "files" / "callpulse-rules.yaml"}"]
scrape_configs:
  - job_name: callpulse
    static_configs: [{{targets: ["127.0.0.1:{daemon.port}"]}}]
""",
    )
    try:
        series = wait_until(
            lambda: _safe(query, base, "callpulse_queue_calls_waiting"),
            60,
            "queue KPIs in Prometheus",
        )
        labels = {(s["metric"]["site"], s["metric"]["queue"]) for s in series}
        assert labels == {
            ("lon1", "billing"),
            ("lon1", "sales"),
            ("nyc1", "billing"),
            ("nyc1", "sales"),
        }
        assert {s["metric"]["job"] for s in series} == {"callpulse"}
        windows = wait_until(
            lambda: _safe(query, base, 'callpulse_queue_offered_calls{window="5m"}'),
            30,
            "windowed KPIs in Prometheus",
        )
        assert len(windows) == 4

        def rules_evaluated() -> list[dict[str, Any]]:
            with urllib.request.urlopen(f"{base}/api/v1/rules", timeout=5) as response:
                groups = json.load(response)["data"]["groups"]
            rules = [r for g in groups for r in g["rules"]]
            return rules if rules and all(r.get("health") == "ok" for r in rules) else []

        rules = wait_until(rules_evaluated, 30, "the meta-alert rules to evaluate")
        assert {r["name"] for r in rules} == {
            "CallpulseDown",
            "CallpulseNotReady",
            "CallpulseConsumerLagGrowing",
            "CallpulseDeadLetters",
            "CallpulseAlertDeliveryFailing",
        }
    finally:
        prometheus.terminate()
        prometheus.wait(timeout=30)


def _safe(fn: Any, *args: Any) -> Any:
    try:
        return fn(*args)
    except OSError:
        return None


def test_every_dashboard_query_names_a_metric_callpulse_exposes(daemon: Daemon) -> None:
    exposed = exposed_names(daemon.metrics_text()) | {"up"}
    wanted: dict[str, set[str]] = {}
    for path in sorted((CHART / "dashboards").glob("*.json")):
        board = json.loads(path.read_text())
        exprs = [t["expr"] for p in board["panels"] for t in p["targets"]]
        exprs += [a["expr"] for a in board["annotations"]["list"]]
        exprs += [v["query"] for v in board["templating"]["list"] if v["type"] == "query"]
        names = {n for e in exprs for n in re.findall(r"\b((?:callpulse|process)_[a-z0-9_]+)", e)}
        wanted[path.name] = names - exposed
    assert wanted == {name: set() for name in wanted}
    assert len(wanted) == 3


def test_dashboards_are_the_generators_output(tmp_path: Path) -> None:
    committed = {p.name: p.read_text() for p in (CHART / "dashboards").glob("*.json")}
    module = runpy.run_path(str(ROOT / "scripts" / "dashboards.py"))
    module["OUT"] = tmp_path
    generated_dir = tmp_path
    # Re-run the generator into a temporary directory.
    for name, board in (
        ("overview", module["overview"]),
        ("infrastructure", module["infrastructure"]),
        ("health", module["health"]),
    ):
        (generated_dir / f"callpulse-{name}.json").write_text(json.dumps(board, indent=2) + "\n")
    generated = {p.name: p.read_text() for p in generated_dir.glob("*.json")}
    assert generated == committed, "dashboards are stale: run scripts/dashboards.py"


def test_meta_alert_rules_pass_promtool() -> None:
    rules = CHART / "files" / "callpulse-rules.yaml"
    checked = subprocess.run(
        ["promtool", "check", "rules", str(rules)], capture_output=True, text=True, timeout=60
    )
    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert "SUCCESS: 5 rules found" in checked.stdout
    tested = subprocess.run(
        ["promtool", "test", "rules", str(CHART / "files" / "callpulse-rules.test.yaml")],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert tested.returncode == 0, tested.stdout + tested.stderr

"""The Helm chart, checked by the real tools: helm (built from the Go module proxy by
scripts/install-helm) lints and renders it; every rendered Kubernetes manifest validates
against the JSON schemas of a current Kubernetes release; the rendered settings and rules
pass callpulse's own check and the PrometheusRule passes promtool."""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Any

import kubernetes_validate
import pytest
import yaml

pytestmark = pytest.mark.integration
ROOT = Path(__file__).resolve().parents[2]
CHART = ROOT / "helm" / "callpulse"
FIXTURES = ROOT / "tests" / "fixtures"
KUBERNETES = "1.33.0"
CRDS = {"ServiceMonitor", "PrometheusRule"}


@pytest.fixture(scope="module")
def helm() -> str:
    built = subprocess.run(
        [str(ROOT / "scripts" / "install-helm")],
        capture_output=True,
        text=True,
        check=True,
        timeout=1500,
    )
    return built.stdout.strip()


def render(helm: str, *values: Path) -> list[dict[str, Any]]:
    args = [a for v in values for a in ("-f", str(v))]
    out = subprocess.run(
        [helm, "template", "cp", str(CHART), "--namespace", "voice", *args],
        capture_output=True,
        text=True,
        check=True,
        timeout=120,
    )
    return [d for d in yaml.safe_load_all(out.stdout) if d]


@pytest.mark.parametrize(
    "values", [(), (FIXTURES / "helm-all-features.yaml",)], ids=["defaults", "all-features"]
)
def test_chart_lints_renders_and_validates(
    helm: str, values: tuple[Path, ...], tmp_path: Path
) -> None:
    args = [a for v in values for a in ("-f", str(v))]
    lint = subprocess.run(
        [helm, "lint", "--strict", str(CHART), *args], capture_output=True, text=True, timeout=120
    )
    assert lint.returncode == 0, lint.stdout + lint.stderr
    docs = render(helm, *values)
    kinds = sorted(d["kind"] for d in docs)
    for doc in docs:
        if doc["kind"] in CRDS:
            continue
        kubernetes_validate.validate(doc, KUBERNETES, strict=True)
    [deployment] = [d for d in docs if d["kind"] == "Deployment"]
    pod = deployment["spec"]["template"]["spec"]
    [container] = pod["containers"]
    security = container["securityContext"]
    assert security["readOnlyRootFilesystem"] is True
    assert security["allowPrivilegeEscalation"] is False
    assert security["capabilities"]["drop"] == ["ALL"]
    assert pod["securityContext"]["runAsNonRoot"] is True
    assert pod["securityContext"]["seccompProfile"]["type"] == "RuntimeDefault"
    assert container["readinessProbe"]["httpGet"]["path"] == "/readyz"
    assert container["livenessProbe"]["httpGet"]["path"] == "/healthz"
    assert "checksum/config" in deployment["spec"]["template"]["metadata"]["annotations"]

    # The settings and rules the chart renders are ones callpulse accepts.
    [config] = [d for d in docs if d["kind"] == "ConfigMap" and "callpulse.yaml" in d["data"]]
    (tmp_path / "callpulse.yaml").write_text(config["data"]["callpulse.yaml"])
    (tmp_path / "rules.yaml").write_text(config["data"]["rules.yaml"])
    check = subprocess.run(
        [
            str(ROOT / ".venv" / "bin" / "callpulse"),
            "check-config",
            str(tmp_path / "callpulse.yaml"),
        ],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert check.returncode == 0, check.stderr

    if values:
        assert {
            "HorizontalPodAutoscaler",
            "NetworkPolicy",
            "ServiceMonitor",
            "PrometheusRule",
            "Secret",
        } <= set(kinds)
        [rule] = [d for d in docs if d["kind"] == "PrometheusRule"]
        (tmp_path / "meta.yaml").write_text(yaml.safe_dump(rule["spec"]))
        promtool = subprocess.run(
            ["promtool", "check", "rules", str(tmp_path / "meta.yaml")],
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert promtool.returncode == 0, promtool.stdout + promtool.stderr
        # Kafka certificates and the web config come from Secrets, mounted read-only.
        mounts = {m["name"]: m for m in container["volumeMounts"]}
        assert mounts["kafka-tls"]["mountPath"] == "/etc/callpulse-kafka-tls"
        assert mounts["web"]["readOnly"] is True
        assert container["args"][-2:] == ["--web.config.file", "/etc/callpulse-web/web.yml"]
        assert container["readinessProbe"]["httpGet"]["scheme"] == "HTTPS"
        [monitor] = [d for d in docs if d["kind"] == "ServiceMonitor"]
        assert monitor["spec"]["endpoints"][0]["port"] == "http-metrics"
        dashboards = [
            d
            for d in docs
            if d["kind"] == "ConfigMap" and d["metadata"]["name"].endswith("-dashboards")
        ]
        assert dashboards[0]["metadata"]["labels"]["grafana_dashboard"] == "1"
        assert len(dashboards[0]["data"]) == 3
    else:
        assert set(kinds) == {
            "ConfigMap",
            "Deployment",
            "NetworkPolicy",
            "PodDisruptionBudget",
            "Service",
            "ServiceAccount",
        }
    # On by default: scraping from this namespace only, and out to DNS, Kafka and
    # Alertmanager ports only.
    [policy] = [d for d in docs if d["kind"] == "NetworkPolicy"]
    spec = policy["spec"]
    assert spec["policyTypes"] == ["Ingress", "Egress"]
    [ingress] = spec["ingress"]
    assert ingress["from"]
    assert ingress["ports"] == [{"port": "http-metrics", "protocol": "TCP"}]
    egress_ports = sorted(p["port"] for rule in spec["egress"] for p in rule["ports"])
    assert egress_ports == [53, 53, 9092, 9093, 9093]


def test_values_of_the_wrong_type_are_rejected_at_install_time(helm: str) -> None:
    bad = subprocess.run(
        [helm, "template", "cp", str(CHART), "-f", str(FIXTURES / "helm-bad-values.yaml")],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert bad.returncode != 0
    assert "/replicaCount" in bad.stderr
    assert "got string, want integer" in bad.stderr


def test_the_charts_default_rules_are_the_shipped_ones() -> None:
    assert (CHART / "files" / "rules.yaml").read_text() == (
        ROOT / "config" / "rules.yaml"
    ).read_text()


def test_the_chart_readme_lists_every_value() -> None:
    readme = (CHART / "README.md").read_text()
    values = yaml.safe_load((CHART / "values.yaml").read_text())
    missing = []

    def walk(node: dict[str, Any], prefix: str = "") -> None:
        for key, value in node.items():
            name = prefix + key
            if (
                isinstance(value, dict)
                and value
                and name not in ("config", "resources", "grafanaDashboards.labels")
            ):
                walk(value, name + ".")
            elif f"`{name}`" not in readme:
                missing.append(name)

    walk(values)
    assert missing == []

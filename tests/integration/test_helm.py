"""The Helm chart, checked by the real tools: helm (built from the Go module proxy by
scripts/install-helm) lints and renders it; every rendered Kubernetes manifest validates
against the JSON schemas of a current Kubernetes release; the rendered pod, laid out as files
with the Secrets it mounts, passes callpulse's own check; the PrometheusRule passes promtool."""

from __future__ import annotations

import os
import re
import runpy
import subprocess
import sys
import uuid
from pathlib import Path
from typing import Any

import bcrypt
import kubernetes_validate
import pytest
import yaml

from callpulse.core.durations import DurationError, parse_duration

from .helpers import SECRETS
from .rendered_pod import Pod, lay_out, one
from .test_kafka_security import make_certificates

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


def render(helm: str, *values: Path, sets: tuple[str, ...] = ()) -> list[dict[str, Any]]:
    args = [a for v in values for a in ("-f", str(v))]
    args += [a for s in sets for a in ("--set", s)]
    out = subprocess.run(
        [helm, "template", "cp", str(CHART), "--namespace", "voice", *args],
        capture_output=True,
        text=True,
        check=True,
        timeout=120,
    )
    return [d for d in yaml.safe_load_all(out.stdout) if d]


SCRAPE_PASSWORD = "scrape-" + uuid.uuid4().hex
SECRETS.add(SCRAPE_PASSWORD)


@pytest.fixture(scope="module")
def existing_secrets(tmp_path_factory: pytest.TempPathFactory) -> dict[str, dict[str, str]]:
    """The Secrets helm-all-features.yaml names and an operator creates: the Kafka CA and
    client certificate (as cert-manager writes them), callpulse's web.yml with its serving
    certificate, and the user Prometheus scrapes as."""
    tls = tmp_path_factory.mktemp("tls")
    make_certificates(tls)
    pem = {name: (tls / name).read_text() for name in ("ca.crt", "broker.crt", "broker.key")}
    hashed = bcrypt.hashpw(SCRAPE_PASSWORD.encode(), bcrypt.gensalt(rounds=4)).decode()
    web_yml = yaml.safe_dump(
        {
            "tls_server_config": {
                "cert_file": "/etc/callpulse-web/tls.crt",
                "key_file": "/etc/callpulse-web/tls.key",
            },
            "basic_auth_users": {"prometheus": hashed},
        }
    )
    return {
        "kafka-tls": {
            "ca.crt": pem["ca.crt"],
            "tls.crt": (tls / "client.crt").read_text(),
            "tls.key": (tls / "client.key").read_text(),
        },
        # The broker's certificate (for 127.0.0.1, by the same CA) serves callpulse's port.
        "callpulse-web": {
            "web.yml": web_yml,
            "tls.crt": pem["broker.crt"],
            "tls.key": pem["broker.key"],
            "ca.crt": pem["ca.crt"],
        },
        "callpulse-scrape": {"username": "prometheus", "password": SCRAPE_PASSWORD},
    }


def check_config(pod: Pod) -> subprocess.CompletedProcess[str]:
    """callpulse check-config on the laid-out pod, with its environment; --web.config.file
    (which check-config does not take) becomes the setting it overrides."""
    env = os.environ | pod.env
    if "--web.config.file" in pod.args:
        web = pod.args[pod.args.index("--web.config.file") + 1]
        env["CALLPULSE_HTTP__WEB_CONFIG_FILE"] = web
    return subprocess.run(
        [sys.executable, "-m", "callpulse", "check-config", str(pod.config)],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
    )


@pytest.mark.parametrize(
    "values", [(), (FIXTURES / "helm-all-features.yaml",)], ids=["defaults", "all-features"]
)
def test_chart_lints_renders_and_validates(
    helm: str,
    values: tuple[Path, ...],
    tmp_path: Path,
    existing_secrets: dict[str, dict[str, str]],
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

    # The pod the chart renders, with the Secrets it mounts, starts from settings and rules
    # callpulse accepts.
    pod = lay_out(docs, tmp_path, existing_secrets)
    check = check_config(pod)
    assert check.returncode == 0, check.stderr
    assert check.stdout.startswith(f"{pod.config}: OK (source: kafka)")

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
        assert all(mounts[n]["readOnly"] for n in ("kafka-tls", "kafka-sasl", "web"))
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
    # On by default: out to DNS, Kafka and Alertmanager ports only; scrapes from the peers
    # test_network_policy_admits_the_monitoring_namespace_or_the_peers_given names.
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


def settings_of(docs: list[dict[str, Any]]) -> dict[str, Any]:
    config = one(docs, "ConfigMap", "cp-callpulse")
    return dict(yaml.safe_load(config["data"]["callpulse.yaml"]))


def in_volume(pod: dict[str, Any], path: str) -> tuple[str, dict[str, Any]]:
    """The file ``path`` of the pod: (its volume's name, the volume), checking the volume
    projects that file."""
    [container] = pod["containers"]
    for mount in container["volumeMounts"]:
        prefix = mount["mountPath"] + "/"
        if path.startswith(prefix):
            [volume] = [v for v in pod["volumes"] if v["name"] == mount["name"]]
            items = [i["path"] for i in volume["secret"]["items"]]
            assert path.removeprefix(prefix) in items, (path, items)
            return mount["name"], volume
    raise AssertionError(f"{path} is in no volume of the pod")


def test_secure_kafka_and_web_settings_match_the_mounts(helm: str) -> None:
    docs = render(helm, FIXTURES / "helm-all-features.yaml")
    pod = one(docs, "Deployment")["spec"]["template"]["spec"]
    [container] = pod["containers"]
    kafka = settings_of(docs)["source"]["kafka"]

    # SASL over the TLS the CA Secret sets up, the password a file from the chart's Secret.
    assert kafka["security_protocol"] == "SASL_SSL"
    assert kafka["sasl_mechanism"] == "SCRAM-SHA-512"
    _, volume = in_volume(pod, kafka["sasl_password_file"])
    assert volume["secret"]["secretName"] == "cp-callpulse-kafka"
    assert volume["secret"]["items"] == [{"key": "password", "path": "password"}]
    assert one(docs, "Secret")["stringData"]["password"] == "not-a-real-secret"
    env = {v["name"]: v for v in container["env"]}
    assert not [n for n in env if "PASSWORD" in n]
    assert env["CALLPULSE_SOURCE__KAFKA__SASL_USERNAME"]["valueFrom"]["secretKeyRef"] == {
        "name": "cp-callpulse-kafka",
        "key": "username",
    }
    # The CA and the client's certificate and key: the Secret's keys, where the config says.
    for setting, key in (
        ("ssl_cafile", "ca.crt"),
        ("ssl_certfile", "tls.crt"),
        ("ssl_keyfile", "tls.key"),
    ):
        _, volume = in_volume(pod, kafka[setting])
        assert volume["secret"]["secretName"] == "kafka-tls"
        assert {"key": key, "path": Path(kafka[setting]).name} in volume["secret"]["items"]

    # Prometheus scrapes over HTTPS, checks callpulse's certificate and logs in.
    [endpoint] = one(docs, "ServiceMonitor")["spec"]["endpoints"]
    assert endpoint["scheme"] == "https"
    assert endpoint["tlsConfig"] == {
        "ca": {"secret": {"name": "callpulse-web", "key": "ca.crt"}},
        "serverName": "cp-callpulse.voice.svc",
    }
    assert endpoint["basicAuth"] == {
        "username": {"name": "callpulse-scrape", "key": "username"},
        "password": {"name": "callpulse-scrape", "key": "password"},
    }
    service = one(docs, "Service")
    assert service["metadata"]["name"] + ".voice.svc" == endpoint["tlsConfig"]["serverName"]

    # Liveness waits for the first ready, for at least the rebuild budget (10 minutes)...
    startup = container["startupProbe"]
    assert startup["httpGet"] == {"path": "/readyz", "port": "http-metrics", "scheme": "HTTPS"}
    assert startup["failureThreshold"] * startup["periodSeconds"] >= 600
    # ...and the pod's grace is callpulse's own (45s here) and the margin.
    grace = parse_duration(settings_of(docs)["shutdown_grace"])
    assert pod["terminationGracePeriodSeconds"] == grace + 15


@pytest.mark.parametrize(
    ("sets", "expected"),
    [
        # An existing Secret without a CA: SASL in the clear, its own Secret mounted.
        (("kafka.existingSecret=kafka-users",), {"security_protocol": "SASL_PLAINTEXT"}),
        # A broker with a publicly signed certificate: the config's own key wins.
        (
            (
                "kafka.existingSecret=kafka-users",
                "kafka.sasl.mechanism=PLAIN",
                "config.source.kafka.security_protocol=SASL_SSL",
            ),
            {"security_protocol": "SASL_SSL", "sasl_mechanism": "PLAIN"},
        ),
        # TLS alone.
        (("kafka.tls.secretName=kafka-ca",), {"security_protocol": "SSL", "ssl_certfile": None}),
    ],
    ids=["sasl-plaintext", "config-wins", "tls-only"],
)
def test_kafka_security_follows_the_secrets_given(
    helm: str, sets: tuple[str, ...], expected: dict[str, Any]
) -> None:
    docs = render(helm, sets=sets)
    kafka = settings_of(docs)["source"]["kafka"]
    assert {k: kafka.get(k) for k in expected} == expected
    pod = one(docs, "Deployment")["spec"]["template"]["spec"]
    volumes = {v["name"]: v["secret"]["secretName"] for v in pod["volumes"] if "secret" in v}
    if "kafka.existingSecret=kafka-users" in sets:
        assert volumes["kafka-sasl"] == "kafka-users"
        assert kafka["sasl_password_file"] == "/etc/callpulse-kafka-sasl/password"
        assert not [d for d in docs if d["kind"] == "Secret"]
    else:
        assert "kafka-sasl" not in volumes
        assert "sasl_password_file" not in kafka


def test_network_policy_admits_the_monitoring_namespace_or_the_peers_given(
    helm: str, tmp_path: Path
) -> None:
    def peers(*values: Path) -> list[dict[str, Any]]:
        [ingress] = one(render(helm, *values), "NetworkPolicy")["spec"]["ingress"]
        return list(ingress["from"])

    assert peers() == [
        {"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "monitoring"}}}
    ]
    given = yaml.safe_load((FIXTURES / "helm-all-features.yaml").read_text())
    assert peers(FIXTURES / "helm-all-features.yaml") == given["networkPolicy"]["metricsFrom"]
    (tmp_path / "none.yaml").write_text("networkPolicy: {metricsFrom: []}\n")
    assert peers(tmp_path / "none.yaml") == [{"podSelector": {}}]


def test_grace_follows_shutdown_grace(helm: str) -> None:
    for grace, seconds in (("1m30s", 105), ("250ms", 16), ("60", 75)):
        docs = render(helm, sets=(f"config.shutdown_grace={grace}",))
        pod = one(docs, "Deployment")["spec"]["template"]["spec"]
        assert pod["terminationGracePeriodSeconds"] == seconds, grace


def test_settings_typos_are_rejected_at_install_time(helm: str) -> None:
    bad = FIXTURES / "helm-bad-config.yaml"
    for command in (["template", "cp"], ["lint", "--strict"]):
        out = subprocess.run(
            [helm, *command, str(CHART), "-f", str(bad)],
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert out.returncode != 0
        said = out.stdout + out.stderr
        assert "at '/config/kpi': additional properties 'windws' not allowed" in said
        assert "'sasl_mechansim' not allowed" in said
        assert "at '/config/shutdown_grace'" in said


def test_every_setting_callpulse_documents_passes_the_chart(helm: str, tmp_path: Path) -> None:
    # config/callpulse.yaml sets every key callpulse takes, in the spellings people write.
    example = yaml.safe_load((ROOT / "config" / "callpulse.yaml").read_text())
    (tmp_path / "values.yaml").write_text(yaml.safe_dump({"config": example}))
    docs = render(helm, tmp_path / "values.yaml")
    assert settings_of(docs)["kpi"] == example["kpi"]


@pytest.mark.parametrize(
    "text", ["20s", "1m30s", "250ms", " 30 ", "1.5h", "5", "1d", "soon", "-1s", "1x", "", "m"]
)
def test_the_schemas_duration_is_callpulses(text: str) -> None:
    schema = runpy.run_path(str(ROOT / "scripts" / "values_schema.py"))
    try:
        parse_duration(text)
        accepted = True
    except DurationError:
        accepted = False
    assert bool(re.match(schema["DURATION_PATTERN"], text)) == accepted


def test_the_values_schema_is_generated_from_the_settings() -> None:
    script = runpy.run_path(str(ROOT / "scripts" / "values_schema.py"))
    committed = (CHART / "values.schema.json").read_text()
    fresh = script["render"](script["generate"](yaml.safe_load(committed)))
    assert fresh == committed, "values.schema.json is stale: run scripts/values_schema.py"

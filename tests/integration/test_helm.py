"""The Helm chart, checked by the real tools: helm (built from the Go module proxy by
scripts/install-helm) lints and renders it; every rendered Kubernetes manifest validates
against the JSON schemas of a current Kubernetes release; the rendered pod, laid out as files
with the Secrets it mounts, passes callpulse's own check; the PrometheusRule passes promtool."""

from __future__ import annotations

import os
import re
import runpy
import signal
import ssl
import subprocess
import sys
import time
import urllib.error
import urllib.request
import uuid
from pathlib import Path
from typing import Any

import bcrypt
import jsonschema
import kubernetes_validate
import pytest
import yaml

from callpulse.core.durations import DurationError, parse_duration
from tests.unit.events import raw

from .helpers import SECRETS, free_port, kcat_produce, start_prometheus, wait_until
from .rendered_pod import Pod, lay_out, one
from .test_kafka_security import SECRET as KAFKA_SECRET
from .test_kafka_security import SecureBroker, make_certificates, openssl
from .test_kafka_security import secure_broker as kafka_broker  # noqa: F401 (a fixture)
from .test_prometheus import query

pytestmark = pytest.mark.integration
ROOT = Path(__file__).resolve().parents[2]
CHART = ROOT / "helm" / "callpulse"
FIXTURES = ROOT / "tests" / "fixtures"
KUBERNETES = "1.33.0"
CRDS = {"ServiceMonitor", "PrometheusRule"}


def installed(script: str) -> Path:
    """Run one of scripts/install-* (cached after the first) and take the path it prints."""
    run = subprocess.run(
        [str(ROOT / "scripts" / script)], capture_output=True, text=True, check=True, timeout=1500
    )
    return Path(run.stdout.strip())


@pytest.fixture(scope="module")
def helm() -> str:
    return str(installed("install-helm"))


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


SERVICE_NAME = "cp-callpulse.voice.svc"  # release cp in namespace voice
SCRAPE_PASSWORD = "scrape-" + uuid.uuid4().hex
SECRETS.add(SCRAPE_PASSWORD)


def secrets_from(tls: Path) -> dict[str, dict[str, str]]:
    """The Secrets helm-all-features.yaml names and an operator creates, from the CA, client
    certificate and key in ``tls`` (test_kafka_security's make_certificates): the Kafka CA and
    client certificate (as cert-manager writes them), callpulse's web.yml with a serving
    certificate for the Service's name, and the user Prometheus scrapes as."""
    if not (tls / "web.crt").exists():
        (tls / "web.ext").write_text(f"subjectAltName=DNS:{SERVICE_NAME},IP:127.0.0.1\n")
        openssl("req", "-newkey", "rsa:2048", "-nodes", "-subj", f"/CN={SERVICE_NAME}",
                "-keyout", str(tls / "web.key"), "-out", str(tls / "web.csr"))  # fmt: skip
        openssl("x509", "-req", "-in", str(tls / "web.csr"), "-CA", str(tls / "ca.crt"),
                "-CAkey", str(tls / "ca.key"), "-CAcreateserial", "-days", "1",
                "-extfile", str(tls / "web.ext"), "-out", str(tls / "web.crt"))  # fmt: skip
    pem = {p.name: p.read_text() for p in tls.iterdir() if p.suffix in (".crt", ".key")}
    hashed = bcrypt.hashpw(SCRAPE_PASSWORD.encode(), bcrypt.gensalt(rounds=4)).decode()
    web_yml = yaml.safe_dump(
        {
            "tls_server_config": {
                "cert_file": "/etc/callpulse-web/tls.crt",
                "key_file": "/etc/callpulse-web/tls.key",
                "client_ca_file": "/etc/callpulse-web/ca.crt",
            },
            "basic_auth_users": {"prometheus": hashed},
        }
    )
    return {
        "kafka-tls": {
            "ca.crt": pem["ca.crt"],
            "tls.crt": pem["client.crt"],
            "tls.key": pem["client.key"],
        },
        "callpulse-web": {
            "web.yml": web_yml,
            "tls.crt": pem["web.crt"],
            "tls.key": pem["web.key"],
            "ca.crt": pem["ca.crt"],
        },
        "callpulse-scrape": {"username": "prometheus", "password": SCRAPE_PASSWORD},
        # The client certificate (by the same CA) is the one Prometheus presents too.
        "prometheus-client": {"tls.crt": pem["client.crt"], "tls.key": pem["client.key"]},
    }


@pytest.fixture(scope="module")
def existing_secrets(tmp_path_factory: pytest.TempPathFactory) -> dict[str, dict[str, str]]:
    tls = tmp_path_factory.mktemp("tls")
    make_certificates(tls)
    return secrets_from(tls)


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
            continue  # test_the_operators_resources_match_its_crds
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
    laid_out = lay_out(docs, tmp_path, existing_secrets)
    check = check_config(laid_out)
    assert check.returncode == 0, check.stderr
    assert check.stdout.startswith(f"{laid_out.config}: OK (source: kafka)")

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
        "cert": {"secret": {"name": "prometheus-client", "key": "tls.crt"}},
        "keySecret": {"name": "prometheus-client", "key": "tls.key"},
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


def scrape_config(
    endpoint: dict[str, Any], secrets: dict[str, dict[str, str]], out: Path, target: str
) -> dict[str, Any]:
    """The ServiceMonitor ``endpoint`` as the Prometheus Operator makes it a scrape config:
    the Secret keys it names are copied out for Prometheus (under ``out`` here)."""

    def secret_file(ref: dict[str, str]) -> str:
        path = out / ref["name"] / ref["key"]
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(secrets[ref["name"]][ref["key"]])
        return str(path)

    job: dict[str, Any] = {
        "job_name": "callpulse",
        "metrics_path": endpoint["path"],
        "scheme": endpoint.get("scheme", "http"),
        "static_configs": [{"targets": [target]}],
    }
    if "tlsConfig" in endpoint:
        tls = endpoint["tlsConfig"]
        job["tls_config"] = {
            "ca_file": secret_file(tls["ca"]["secret"]),
            "server_name": tls["serverName"],
        }
        if "cert" in tls:
            job["tls_config"] |= {
                "cert_file": secret_file(tls["cert"]["secret"]),
                "key_file": secret_file(tls["keySecret"]),
            }
    if "basicAuth" in endpoint:
        auth = endpoint["basicAuth"]
        job["basic_auth"] = {
            "username": secrets[auth["username"]["name"]][auth["username"]["key"]],
            "password_file": secret_file(auth["password"]),
        }
    return job


def run_pod(pod: Pod, log: Path) -> subprocess.Popen[bytes]:
    """``callpulse run`` as the container would, with its arguments and environment."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("CALLPULSE_")} | pod.env
    with log.open("ab") as out:
        return subprocess.Popen(
            [sys.executable, "-m", "callpulse", *pod.args],
            stdout=out,
            stderr=subprocess.STDOUT,
            env=env,
            cwd=pod.root,
        )


def get(port: int, path: str, ca: Path | None, client: tuple[Path, Path] | None = None) -> int:
    """The status of a GET without a user, as the kubelet's probe sends it; HTTPS checked
    against ``ca`` when given, presenting ``client`` (certificate, key) when given."""
    context = ssl.create_default_context(cafile=str(ca)) if ca else None
    if context and client:
        context.load_cert_chain(*client)
    scheme = "https" if ca else "http"
    try:
        with urllib.request.urlopen(
            f"{scheme}://127.0.0.1:{port}{path}", timeout=5, context=context
        ) as response:
            return int(response.status)
    except urllib.error.HTTPError as exc:
        return exc.code
    except OSError:
        return 0


def ready(process: subprocess.Popen[bytes], port: int, ca: Path | None, log: Path) -> bool:
    if process.poll() is not None:
        raise AssertionError(f"callpulse exited with {process.returncode}:\n{log.read_text()}")
    return get(port, "/readyz", ca) == 200


def test_the_rendered_pod_consumes_from_a_secure_broker_and_is_scraped(
    helm: str, request: pytest.FixtureRequest, tmp_path: Path
) -> None:
    """The cluster-like step: the chart rendered with SASL (SCRAM-SHA-512) over TLS, a client
    certificate, web TLS and basic auth; the pod laid out as files runs against a real broker
    that demands those credentials, and a real Prometheus scrapes it with what the
    ServiceMonitor says."""
    broker: SecureBroker = request.getfixturevalue("kafka_broker")
    topic = f"helm-{uuid.uuid4().hex[:8]}"
    port = free_port()
    values = tmp_path / "values.yaml"
    values.write_text(
        yaml.safe_dump(
            {
                "service": {"port": port},
                "kafka": {
                    "sasl": {"username": "callpulse", "password": KAFKA_SECRET},
                    "tls": {"secretName": "kafka-tls", "clientCertificate": True},
                },
                "web": {
                    "configSecret": "callpulse-web",
                    "tls": True,
                    "basicAuth": {"secretName": "callpulse-scrape"},
                    "clientCertificate": {"secretName": "prometheus-client"},
                },
                "serviceMonitor": {"enabled": True},
                "config": {
                    "source": {
                        "kafka": {
                            "bootstrap_servers": broker.sasl_ssl,
                            "topics": [topic],
                            "group_id": f"g-{uuid.uuid4().hex}",
                            "dead_letter_topic": f"{topic}.dlq",
                        }
                    }
                },
            }
        )
    )
    docs = render(helm, values)
    secrets = secrets_from(broker.tls)
    pod = lay_out(docs, tmp_path / "pod", secrets)
    ca = pod.path("/etc/callpulse-kafka-tls/ca.crt")
    log = tmp_path / "callpulse.log"
    process = run_pod(pod, log)
    prometheus = None
    try:
        wait_until(lambda: ready(process, port, ca, log), 90, "/readyz over HTTPS")
        events = [raw("call.queued", time.time(), call_id=f"c{i}", queue="q") for i in range(5)]
        kcat_produce(broker.plaintext, topic, [("lon1", e) for e in events], tmp_path)
        # /metrics needs a client certificate the CA signed, then a user: the scrape below
        # presents both.
        assert get(port, "/metrics", ca) == 403
        client = (broker.tls / "client.crt", broker.tls / "client.key")
        assert get(port, "/metrics", ca, client) == 401

        [endpoint] = one(docs, "ServiceMonitor")["spec"]["endpoints"]
        job = scrape_config(endpoint, secrets, tmp_path / "operator", f"127.0.0.1:{port}")
        config = {"global": {"scrape_interval": "1s"}, "scrape_configs": [job]}
        prometheus, base = start_prometheus(tmp_path, yaml.safe_dump(config))

        def scraped() -> float:
            try:
                result = query(base, 'sum(callpulse_events_total{job="callpulse"})')
            except OSError:
                return 0.0
            return float(result[0]["value"][1]) if result else 0.0

        assert wait_until(lambda: scraped() == 5, 90, "5 events scraped by Prometheus")
        [up] = query(base, 'up{job="callpulse"}')
        assert up["value"][1] == "1"
    finally:
        if prometheus is not None:
            prometheus.terminate()
            prometheus.wait(timeout=30)
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
        code = process.wait(timeout=60)
    assert code == 0, log.read_text()
    assert KAFKA_SECRET not in log.read_text()


def test_the_rendered_pod_plain_consumes_and_is_scraped(
    helm: str, request: pytest.FixtureRequest, tmp_path: Path
) -> None:
    """The cluster-like step with the chart's defaults: no Kafka security, plain HTTP; the
    pod laid out as files consumes from the broker's plaintext listener and a real Prometheus
    scrapes it as the ServiceMonitor says."""
    broker: SecureBroker = request.getfixturevalue("kafka_broker")
    topic = f"helm-plain-{uuid.uuid4().hex[:8]}"
    port = free_port()
    sets = (
        f"service.port={port}",
        "serviceMonitor.enabled=true",
        f"config.source.kafka.bootstrap_servers={broker.plaintext}",
        f"config.source.kafka.topics[0]={topic}",
        f"config.source.kafka.group_id=g-{uuid.uuid4().hex}",
    )
    docs = render(helm, sets=sets)
    assert "security_protocol" not in settings_of(docs)["source"]["kafka"]
    pod = lay_out(docs, tmp_path / "pod", {})
    log = tmp_path / "callpulse.log"
    process = run_pod(pod, log)
    prometheus = None
    try:
        wait_until(lambda: ready(process, port, None, log), 90, "/readyz")
        events = [raw("call.queued", time.time(), call_id=f"c{i}", queue="q") for i in range(3)]
        kcat_produce(broker.plaintext, topic, [("lon1", e) for e in events], tmp_path)
        [endpoint] = one(docs, "ServiceMonitor")["spec"]["endpoints"]
        assert endpoint.get("scheme", "http") == "http"
        job = scrape_config(endpoint, {}, tmp_path / "operator", f"127.0.0.1:{port}")
        config = {"global": {"scrape_interval": "1s"}, "scrape_configs": [job]}
        prometheus, base = start_prometheus(tmp_path, yaml.safe_dump(config))

        def scraped() -> float:
            try:
                result = query(base, 'sum(callpulse_events_total{job="callpulse"})')
            except OSError:
                return 0.0
            return float(result[0]["value"][1]) if result else 0.0

        assert wait_until(lambda: scraped() == 3, 90, "3 events scraped by Prometheus")
    finally:
        if prometheus is not None:
            prometheus.terminate()
            prometheus.wait(timeout=30)
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
        code = process.wait(timeout=60)
    assert code == 0, log.read_text()


def test_the_rendered_pod_connects_with_mutual_tls_alone(
    helm: str, request: pytest.FixtureRequest, tmp_path: Path
) -> None:
    """kafka.tls alone, with the client certificate: the broker's SSL listener demands one."""
    broker: SecureBroker = request.getfixturevalue("kafka_broker")
    topic = f"helm-mtls-{uuid.uuid4().hex[:8]}"
    port = free_port()
    sets = (
        f"service.port={port}",
        "kafka.tls.secretName=kafka-tls",
        "kafka.tls.clientCertificate=true",
        f"config.source.kafka.bootstrap_servers={broker.ssl}",
        f"config.source.kafka.topics[0]={topic}",
        f"config.source.kafka.group_id=g-{uuid.uuid4().hex}",
    )
    docs = render(helm, sets=sets)
    assert settings_of(docs)["source"]["kafka"]["security_protocol"] == "SSL"
    pod = lay_out(docs, tmp_path / "pod", secrets_from(broker.tls))
    log = tmp_path / "callpulse.log"
    process = run_pod(pod, log)
    try:
        wait_until(lambda: ready(process, port, None, log), 90, "/readyz")
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
        code = process.wait(timeout=60)
    assert code == 0, log.read_text()


def closed(schema: Any) -> Any:
    """``schema`` with every object that lists its properties closed to others, as kubeconform
    -strict does: the API server would drop a misspelled field silently."""
    if isinstance(schema, list):
        return [closed(s) for s in schema]
    if not isinstance(schema, dict):
        return schema
    out = {k: closed(v) for k, v in schema.items()}
    if "(?i)" in out.get("pattern", ""):
        # Go takes a flag anywhere in a pattern; Python only at its start.
        out["pattern"] = "(?i)" + out["pattern"].replace("(?i)", "")
    if "properties" in schema and not schema.get("x-kubernetes-preserve-unknown-fields"):
        out.setdefault("additionalProperties", False)
    return out


@pytest.fixture(scope="module")
def crd_schemas() -> dict[str, dict[str, Any]]:
    """The Prometheus Operator's CRD schemas (v1), by kind: scripts/install-crds fetches them
    from a release on the Go module proxy."""
    schemas = {}
    for path in installed("install-crds").glob("*.yaml"):
        crd = yaml.safe_load(path.read_text())
        [v1] = [v for v in crd["spec"]["versions"] if v["name"] == "v1"]
        schemas[crd["spec"]["names"]["kind"]] = closed(v1["schema"]["openAPIV3Schema"])
    return schemas


def test_the_operators_resources_match_its_crds(
    helm: str, crd_schemas: dict[str, dict[str, Any]]
) -> None:
    docs = render(helm, FIXTURES / "helm-all-features.yaml")
    for kind in sorted(CRDS):
        jsonschema.validate(one(docs, kind), crd_schemas[kind])
    # A field the operator does not know is caught, not dropped.
    monitor = one(docs, "ServiceMonitor")
    monitor["spec"]["endpoints"][0]["tlsconfig"] = monitor["spec"]["endpoints"][0]["tlsConfig"]
    with pytest.raises(jsonschema.ValidationError, match="tlsconfig"):
        jsonschema.validate(monitor, crd_schemas["ServiceMonitor"])


def test_the_pod_gets_no_service_link_variables(helm: str) -> None:
    # Kubernetes would put CALLPULSE_PORT, CALLPULSE_SERVICE_HOST and the like in the pod for
    # a Service named callpulse: variables in the prefix callpulse reads its settings from.
    pod = one(render(helm), "Deployment")["spec"]["template"]["spec"]
    assert pod["enableServiceLinks"] is False

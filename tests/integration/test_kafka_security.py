"""callpulse against a real broker that demands credentials: SCRAM-SHA-512 and PLAIN over TLS,
and mutual TLS. The keys and certificates are made by the test with openssl; the broker is
Apache Kafka from scripts/kafka-local with its secure listeners on."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.unit.events import raw

from .helpers import SECRETS, Daemon, kcat_produce, wait_until

pytestmark = pytest.mark.integration
ROOT = Path(__file__).resolve().parents[2]
SECRET = "scram-" + uuid.uuid4().hex
SECRETS.add(SECRET)


@dataclass
class SecureBroker:
    plaintext: str  # for the test's own producing
    sasl_ssl: str
    ssl: str
    tls: Path  # ca.crt, client.crt, client.key, other.crt, other.key


def openssl(*args: str) -> None:
    subprocess.run(["openssl", *args], check=True, capture_output=True, timeout=60)


def make_certificates(tls: Path) -> None:
    def key_and_csr(name: str, subject: str) -> None:
        openssl("req", "-newkey", "rsa:2048", "-nodes", "-subj", subject,
                "-keyout", str(tls / f"{name}.key"), "-out", str(tls / f"{name}.csr"))  # fmt: skip

    openssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj", "/CN=test-ca",
            "-keyout", str(tls / "ca.key"), "-out", str(tls / "ca.crt"))  # fmt: skip
    (tls / "san.ext").write_text("subjectAltName=IP:127.0.0.1\n")
    for name, subject in (("broker", "/CN=127.0.0.1"), ("client", "/CN=callpulse")):
        key_and_csr(name, subject)
        openssl("x509", "-req", "-in", str(tls / f"{name}.csr"), "-CA", str(tls / "ca.crt"),
                "-CAkey", str(tls / "ca.key"), "-CAcreateserial", "-days", "1",
                "-extfile", str(tls / "san.ext"), "-out", str(tls / f"{name}.crt"))  # fmt: skip
    openssl("pkcs8", "-topk8", "-nocrypt", "-in", str(tls / "broker.key"),
            "-out", str(tls / "broker.pk8"))  # fmt: skip
    (tls / "broker.pem").write_text(
        (tls / "broker.pk8").read_text() + (tls / "broker.crt").read_text()
    )
    # A certificate from another CA: what a client the broker must refuse presents.
    openssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj", "/CN=other",
            "-keyout", str(tls / "other.key"), "-out", str(tls / "other.crt"))  # fmt: skip


def four_free_ports() -> int:
    for _ in range(50):
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            base = int(s.getsockname()[1])
        if base > 65000:
            continue
        try:
            for offset in range(1, 4):
                with socket.socket() as s:
                    s.bind(("127.0.0.1", base + offset))
        except OSError:
            continue
        return base
    raise AssertionError("no four free ports in a row")


@pytest.fixture(scope="module")
def secure_broker(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SecureBroker]:
    tls = tmp_path_factory.mktemp("tls")
    make_certificates(tls)
    port = four_free_ports()
    env = os.environ | {
        "KAFKA_PORT": str(port),
        "KAFKA_DATA_DIR": str(tmp_path_factory.mktemp("kafka-secure")),
        "KAFKA_TLS_DIR": str(tls),
        "KAFKA_SCRAM_USERS": f"callpulse:{SECRET}",
    }
    script = ROOT / "scripts" / "kafka-local"
    subprocess.run([str(script), "start"], env=env, check=True, timeout=600)
    try:
        yield SecureBroker(
            f"127.0.0.1:{port}", f"127.0.0.1:{port + 2}", f"127.0.0.1:{port + 3}", tls
        )
    finally:
        subprocess.run([str(script), "stop"], env=env, check=False, timeout=120)


def daemon_for(tmp_path: Path, kafka: dict[str, Any], topic: str) -> Daemon:
    config = {
        "source": {
            "kind": "kafka",
            "kafka": {
                "topics": [topic],
                "group_id": f"g-{uuid.uuid4().hex}",
                "dead_letter_topic": f"{topic}.dlq",
                **kafka,
            },
        }
    }
    return Daemon(tmp_path, config)


def consumes(daemon: Daemon, broker: SecureBroker, topic: str, tmp_path: Path) -> None:
    daemon.start()
    daemon.wait_ready(90)
    events = [raw("call.queued", time.time(), call_id=f"c{i}", queue="q") for i in range(5)]
    kcat_produce(broker.plaintext, topic, [("lon1", e) for e in events], tmp_path)
    wait_until(lambda: daemon.total("callpulse_events_total") == 5, 60, "the events applied")
    assert daemon.stop() == 0


def refused_fast(daemon: Daemon, *needles: str) -> str:
    started = time.monotonic()
    daemon.start()
    assert daemon.process is not None
    code = daemon.process.wait(timeout=60)
    took = time.monotonic() - started
    assert code == 1
    assert took < 30  # once, not a retry loop
    [refused] = daemon.log_events("source_refused")
    for needle in needles:
        assert needle in refused["error"]
    assert len(daemon.log_events("source_unavailable")) == 0
    return daemon.log_text()


def sasl_ssl(broker: SecureBroker, mechanism: str) -> dict[str, Any]:
    return {
        "bootstrap_servers": broker.sasl_ssl,
        "security_protocol": "SASL_SSL",
        "sasl_mechanism": mechanism,
        "sasl_username": "callpulse",
        "ssl_cafile": str(broker.tls / "ca.crt"),
    }


def refuses_wrong_password(settings: dict[str, Any], tmp_path: Path) -> None:
    (tmp_path / "bad").mkdir()
    wrong = "wrong-" + uuid.uuid4().hex
    SECRETS.add(wrong)
    bad = daemon_for(tmp_path / "bad", settings | {"sasl_password": wrong}, "refused")
    text = refused_fast(bad, f"refused SASL {settings['sasl_mechanism']}", "'callpulse'")
    assert wrong not in text
    assert SECRET not in text


def test_scram_sha_512_over_tls(secure_broker: SecureBroker, tmp_path: Path) -> None:
    password = tmp_path / "kafka-password"
    password.write_text(SECRET + "\n")
    topic = f"secure-{uuid.uuid4().hex[:8]}"
    scram = sasl_ssl(secure_broker, "SCRAM-SHA-512")
    good = daemon_for(tmp_path / "good", scram | {"sasl_password_file": str(password)}, topic)
    (tmp_path / "good").mkdir()
    consumes(good, secure_broker, topic, tmp_path)
    assert SECRET not in good.log_text()

    # The simulator's producer takes the same settings.
    settings = tmp_path / "producer.yaml"
    settings.write_text(
        yaml.safe_dump({"source": {"kafka": scram | {"sasl_password_file": str(password)}}})
    )
    produced = subprocess.run(
        [sys.executable, "-m", "callpulse", "simulate", "--scenario", "normal-day",
         "--duration", "1m", "--speed", "0", "--kafka", secure_broker.sasl_ssl,
         "--topic", topic, "-c", str(settings)],
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert produced.returncode == 0, produced.stderr
    assert "events produced to" in produced.stdout

    refuses_wrong_password(scram, tmp_path)


def test_plain_over_tls(secure_broker: SecureBroker, tmp_path: Path) -> None:
    topic = f"plain-{uuid.uuid4().hex[:8]}"
    plain = sasl_ssl(secure_broker, "PLAIN")
    (tmp_path / "good").mkdir()
    good = daemon_for(tmp_path / "good", plain | {"sasl_password": SECRET}, topic)
    consumes(good, secure_broker, topic, tmp_path)
    assert SECRET not in good.log_text()

    refuses_wrong_password(plain, tmp_path)


def test_mutual_tls(secure_broker: SecureBroker, tmp_path: Path) -> None:
    tls = secure_broker.tls
    topic = f"mtls-{uuid.uuid4().hex[:8]}"
    mtls = {
        "bootstrap_servers": secure_broker.ssl,
        "security_protocol": "SSL",
        "ssl_cafile": str(tls / "ca.crt"),
    }
    (tmp_path / "good").mkdir()
    good = daemon_for(
        tmp_path / "good",
        mtls | {"ssl_certfile": str(tls / "client.crt"), "ssl_keyfile": str(tls / "client.key")},
        topic,
    )
    consumes(good, secure_broker, topic, tmp_path)

    (tmp_path / "stranger").mkdir()
    stranger = daemon_for(
        tmp_path / "stranger",
        mtls | {"ssl_certfile": str(tls / "other.crt"), "ssl_keyfile": str(tls / "other.key")},
        topic,
    )
    refused_fast(stranger, "closed the connection after the TLS handshake")

    (tmp_path / "untrusting").mkdir()
    untrusting = daemon_for(
        tmp_path / "untrusting", mtls | {"ssl_cafile": str(tls / "other.crt")}, topic
    )
    refused_fast(untrusting, "certificate is not trusted")

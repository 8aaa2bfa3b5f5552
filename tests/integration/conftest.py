"""Real services for the integration tests: one Apache Kafka broker for the whole session.

The broker is, in order: the one ``KAFKA_BOOTSTRAP_SERVERS`` names; a testcontainers Kafka
where a Docker engine answers; else one started by ``scripts/kafka-local`` on a free loopback
port with its data in a temporary directory (the jars are fetched with Maven once, cached).
"""

from __future__ import annotations

import os
import subprocess
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
from aiokafka.admin import AIOKafkaAdminClient, NewTopic

from .alertmanager import Alertmanager
from .helpers import ANSWERS, SECRETS, free_port

ROOT = Path(__file__).resolve().parents[2]


def _docker_answers() -> bool:
    try:
        import docker

        docker.from_env(timeout=3).ping()
    except Exception:
        return False
    return True


@pytest.fixture(scope="session", autouse=True)
def no_secret_escapes(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """At the end of the session: no callpulse log line and no HTTP answer a test read holds a
    secret a test gave callpulse (helpers.SECRETS)."""
    yield
    leaks = [
        f"{path}: {secret[:6]}..."
        for path in tmp_path_factory.getbasetemp().rglob("callpulse*.log")
        for secret in SECRETS
        if secret in path.read_text(errors="replace")
    ]
    leaks += [f"an HTTP answer: {s[:6]}..." for s in SECRETS for a in ANSWERS if s in a]
    assert leaks == []


@pytest.fixture(scope="session")
def kafka_bootstrap(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    configured = os.environ.get("KAFKA_BOOTSTRAP_SERVERS")
    if configured:
        yield configured
        return
    if _docker_answers():
        from testcontainers.kafka import KafkaContainer

        with KafkaContainer().with_kraft() as container:
            yield container.get_bootstrap_server()
        return
    port = free_port(pair=True)
    env = os.environ | {
        "KAFKA_PORT": str(port),
        "KAFKA_DATA_DIR": str(tmp_path_factory.mktemp("kafka")),
    }
    script = ROOT / "scripts" / "kafka-local"
    subprocess.run([str(script), "start"], env=env, check=True, timeout=600)
    try:
        yield f"127.0.0.1:{port}"
    finally:
        subprocess.run([str(script), "stop"], env=env, check=False, timeout=120)


@pytest.fixture
async def topics(kafka_bootstrap: str) -> AsyncIterator[tuple[str, str]]:
    """A fresh events topic (3 partitions) and its dead-letter topic, uniquely named."""
    name = f"events-{uuid.uuid4().hex[:10]}"
    dlq = f"{name}.dlq"
    admin = AIOKafkaAdminClient(bootstrap_servers=kafka_bootstrap)
    await admin.start()
    try:
        await admin.create_topics(
            [
                NewTopic(name, num_partitions=3, replication_factor=1),
                NewTopic(dlq, num_partitions=1, replication_factor=1),
            ]
        )
        yield name, dlq
        await admin.delete_topics([name, dlq])
    finally:
        await admin.close()


@pytest.fixture
def alertmanager(tmp_path: Path) -> Iterator[Alertmanager]:
    """A real Alertmanager on a free loopback port, for one test."""
    am = Alertmanager(tmp_path).start()
    try:
        yield am
    finally:
        am.stop()

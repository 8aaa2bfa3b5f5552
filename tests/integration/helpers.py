"""Running the real daemon as a process, scraping it, and talking to Kafka with kcat."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

import pytest
import yaml
from prometheus_client.parser import text_string_to_metric_families

Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]

# Secrets the tests hand to callpulse (passwords, tokens), and every HTTP answer a test read
# from it: at the end of the session no daemon log line and no answer may contain one.
SECRETS: set[str] = set()
ANSWERS: list[str] = []


def free_port(pair: bool = False) -> int:
    """A loopback port that is free now (and, with ``pair``, the one after it too)."""
    while True:
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = int(s.getsockname()[1])
        if not pair:
            return port
        with socket.socket() as s:
            try:
                s.bind(("127.0.0.1", port + 1))
            except OSError:
                continue
        return port


def wait_until(check: Callable[[], Any], timeout: float, what: str, every: float = 0.2) -> Any:
    """Poll ``check`` until it returns something truthy; fail after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    last: Any = None
    while time.monotonic() < deadline:
        last = check()
        if last:
            return last
        time.sleep(every)
    raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what} (last: {last!r})")


def parse(text: str) -> Samples:
    return {
        (s.name, frozenset(s.labels.items())): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


class Daemon:
    """``python -m callpulse run`` with a config written from ``config``."""

    def __init__(
        self,
        workdir: Path,
        config: dict[str, Any] | None,
        name: str = "callpulse",
        args: tuple[str, ...] = ("run",),
    ) -> None:
        """``config`` None: no config file at all (the embedded default), HTTP port and JSON
        logs set through the environment instead."""
        self.port = free_port()
        self.args = args
        self.use_file = config is not None
        self.config = (config or {}) | {"http": {"host": "127.0.0.1", "port": self.port}}
        self.config.setdefault("log", {"format": "json"})
        self.config_path = workdir / f"{name}.yaml"
        self.log_path = workdir / f"{name}.log"
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> Daemon:
        env = {k: v for k, v in os.environ.items() if not k.startswith("CALLPULSE_")}
        command = [sys.executable, "-m", "callpulse", *self.args]
        if self.use_file:
            self.config_path.write_text(yaml.safe_dump(self.config))
            command += ["--config", str(self.config_path)]
        else:
            env |= {
                "CALLPULSE_HTTP__HOST": "127.0.0.1",
                "CALLPULSE_HTTP__PORT": str(self.port),
                "CALLPULSE_LOG__FORMAT": "json",
            }
        with self.log_path.open("ab") as log:
            self.process = subprocess.Popen(
                command,
                stdout=log,
                stderr=subprocess.STDOUT,
                env=env,
            )
        return self

    def get(self, path: str) -> tuple[int, str]:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{self.port}{path}", timeout=5) as r:
                status, body = r.status, r.read().decode()
        except urllib.error.HTTPError as exc:
            status, body = exc.code, exc.read().decode()
        except OSError:
            return 0, ""
        ANSWERS.append(body)
        return status, body

    def wait_ready(self, timeout: float = 60) -> None:
        def ready() -> bool:
            self.assert_running()
            return self.get("/readyz")[0] == 200

        wait_until(ready, timeout, "/readyz to answer 200")

    def assert_running(self) -> None:
        assert self.process is not None
        if self.process.poll() is not None:
            raise AssertionError(
                f"callpulse exited with {self.process.returncode}:\n{self.log_text()[-3000:]}"
            )

    def metrics_text(self) -> str:
        status, body = self.get("/metrics")
        assert status == 200, f"/metrics answered {status}"
        return body

    def samples(self) -> Samples:
        return parse(self.metrics_text())

    def value(self, name: str, **labels: str) -> float | None:
        return self.samples().get((name, frozenset(labels.items())))

    def total(self, name: str, samples: Samples | None = None) -> float:
        """Sum of every series of ``name``."""
        samples = self.samples() if samples is None else samples
        return sum(v for (n, _), v in samples.items() if n == name)

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 30) -> int:
        assert self.process is not None
        if self.process.poll() is None:
            self.process.send_signal(sig)
        return self.process.wait(timeout=timeout)

    def kill(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait(timeout=10)

    def log_text(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def log_events(self, event: str | None = None) -> list[dict[str, Any]]:
        out = []
        for line in self.log_text().splitlines():
            try:
                entry = json.loads(line)
            except ValueError:
                continue
            if event is None or entry.get("event") == event:
                out.append(entry)
        return out


def kafka_config(bootstrap: str, topic: str, dlq: str, group: str, **kafka: Any) -> dict[str, Any]:
    return {
        "source": {
            "kind": "kafka",
            "kafka": {
                "bootstrap_servers": bootstrap,
                "topics": [topic],
                "group_id": group,
                "dead_letter_topic": dlq,
                **kafka,
            },
        }
    }


def kcat_produce(
    bootstrap: str, topic: str, records: Iterable[tuple[str, bytes]], tmp: Path
) -> None:
    """Produce ``(key, value)`` records with kcat, an independent Kafka client, in order: the
    producer is idempotent, so a batch retried on a busy broker cannot land after the next."""
    path = tmp / f"produce-{time.monotonic_ns()}.txt"
    with path.open("wb") as f:
        for key, value in records:
            assert b"\n" not in value
            assert b"\t" not in value
            f.write(key.encode() + b"\t" + value + b"\n")
    subprocess.run(
        [
            "kcat",
            "-P",
            "-b",
            bootstrap,
            "-t",
            topic,
            "-K",
            "\t",
            "-z",
            "none",
            "-X",
            "message.max.bytes=2000000",
            "-X",
            "enable.idempotence=true",
            "-l",
            str(path),
        ],
        check=True,
        timeout=60,
    )


def kcat_consume(bootstrap: str, topic: str, count: int) -> list[dict[str, Any]]:
    """Read ``count`` records from the start of ``topic`` with kcat, as JSON envelopes."""
    result = subprocess.run(
        [
            "kcat",
            "-C",
            "-b",
            bootstrap,
            "-t",
            topic,
            "-o",
            "beginning",
            "-c",
            str(count),
            "-e",
            "-J",
            "-X",
            "fetch.message.max.bytes=2000000",
        ],
        check=True,
        capture_output=True,
        timeout=60,
    )
    records = []
    # A dead letter's payload is whatever its producer sent, UTF-8 or not: kept as it is.
    for line in result.stdout.decode(errors="surrogateescape").splitlines():
        envelope = json.loads(line)
        pairs = envelope.get("headers") or []
        envelope["headers"] = dict(zip(pairs[::2], pairs[1::2], strict=True))
        records.append(envelope)
    return records


def start_prometheus(workdir: Path, config: str) -> tuple[subprocess.Popen[bytes], str]:
    """A real Prometheus (Debian's package) on a free loopback port with ``config`` as its
    prometheus.yml; returns the process and its base URL. Stop it with terminate()."""
    port = free_port()
    path = workdir / "prometheus.yml"
    path.write_text(config)
    with (workdir / "prometheus.log").open("wb") as log:
        process = subprocess.Popen(
            [
                "prometheus",
                f"--config.file={path}",
                f"--storage.tsdb.path={workdir / 'tsdb'}",
                f"--web.listen-address=127.0.0.1:{port}",
            ],
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    return process, f"http://127.0.0.1:{port}"


# One rule file the end-to-end tests share: a component reported down pages at once.
COMPONENT_DOWN_RULES = """
rules:
  - alert: ComponentDown
    kpi: component_status
    match: {status: down}
    op: "=="
    threshold: 1
    severity: critical
    annotations: {summary: "{{ labels.component }} at {{ labels.site }} is down"}
"""


def offered_15m(daemon: Daemon) -> float:
    """Calls offered over the 15m window, every queue's."""
    return sum(
        v
        for (n, labels), v in daemon.samples().items()
        if n == "callpulse_queue_offered_calls" and ("window", "15m") in labels
    )


class OwnBroker:
    """A Kafka broker of the test's own (scripts/kafka-local on a free loopback port, its
    data under ``workdir``), for a test that kills or freezes it. Started at once; the test
    is skipped where KAFKA_BOOTSTRAP_SERVERS names a shared broker."""

    def __init__(self, workdir: Path, doing: str) -> None:
        if os.environ.get("KAFKA_BOOTSTRAP_SERVERS"):
            pytest.skip(
                f"needs a broker of its own to {doing}; KAFKA_BOOTSTRAP_SERVERS names a shared one"
            )
        port = free_port(pair=True)
        self.env = os.environ | {"KAFKA_PORT": str(port), "KAFKA_DATA_DIR": str(workdir / "kafka")}
        self.bootstrap = f"127.0.0.1:{port}"
        self.pid_file = workdir / "kafka" / "broker.pid"
        self.start()

    def start(self) -> None:
        subprocess.run([_KAFKA_LOCAL, "start"], env=self.env, check=True, timeout=300)

    def stop(self) -> None:
        subprocess.run([_KAFKA_LOCAL, "stop"], env=self.env, check=False, timeout=120)

    @property
    def pid(self) -> int:
        return int(self.pid_file.read_text())


_KAFKA_LOCAL = str(Path(__file__).resolve().parents[2] / "scripts" / "kafka-local")


def simulate_to_kafka(
    bootstrap: str, topic: str, scenario: str, minutes: int, fmt: str, sites: Iterable[str]
) -> dict[str, str]:
    """Run ``callpulse simulate --format fmt`` of ``scenario``'s first ``minutes`` to the
    broker, as fast as it goes; each site's topic of platform records, by site."""
    produced = subprocess.run(
        [sys.executable, "-m", "callpulse", "simulate", "--scenario", scenario,
         "--duration", f"{minutes}m", "--speed", "0", "--format", fmt,
         "--kafka", bootstrap, "--topic", topic],
        capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert produced.returncode == 0, produced.stderr
    return {site: f"{topic}.{fmt}.{site}" for site in sites}

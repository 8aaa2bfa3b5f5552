"""The broker killed for a minute and restarted: callpulse stays up, says it is not ready,
does not flood its log, reconnects, catches up, and loses or double-counts nothing."""

from __future__ import annotations

import os
import signal
import subprocess
import time
import uuid
from pathlib import Path

import pytest

from tests.unit.events import raw

from .helpers import Daemon, free_port, kafka_config, kcat_produce, wait_until

pytestmark = pytest.mark.integration
ROOT = Path(__file__).resolve().parents[2]


def offered_15m(daemon: Daemon) -> float:
    return sum(
        v
        for (n, labels), v in daemon.samples().items()
        if n == "callpulse_queue_offered_calls" and ("window", "15m") in labels
    )


def calls(prefix: str, count: int) -> list[tuple[str, bytes]]:
    now = time.time()
    return [
        (site, raw("call.queued", now, site=site, call_id=f"{prefix}{i}", queue="billing"))
        for i in range(count)
        for site in [("lon1", "nyc1", "sgp1")[i % 3]]
    ]


@pytest.mark.timeout(300)
def test_broker_killed_for_a_minute_then_restarted(tmp_path: Path) -> None:
    if os.environ.get("KAFKA_BOOTSTRAP_SERVERS"):
        pytest.skip("needs a broker of its own to kill; KAFKA_BOOTSTRAP_SERVERS names a shared one")
    port = free_port(pair=True)
    env = os.environ | {"KAFKA_PORT": str(port), "KAFKA_DATA_DIR": str(tmp_path / "kafka")}
    script = str(ROOT / "scripts" / "kafka-local")
    subprocess.run([script, "start"], env=env, check=True, timeout=300)
    bootstrap = f"127.0.0.1:{port}"
    topic = f"events-{uuid.uuid4().hex[:8]}"
    config = kafka_config(
        bootstrap, topic, f"{topic}.dlq", f"g-{uuid.uuid4().hex}", stall_timeout="10s"
    )
    daemon = None
    try:
        kcat_produce(bootstrap, topic, calls("before-", 3000), tmp_path)
        daemon = Daemon(tmp_path, config).start()
        daemon.wait_ready()
        wait_until(lambda: offered_15m(daemon) == 3000, 30, "the first calls")

        pid = int((tmp_path / "kafka" / "broker.pid").read_text())
        os.kill(pid, signal.SIGKILL)
        lines_before = len(daemon.log_text().splitlines())
        wait_until(lambda: daemon.get("/readyz")[0] == 503, 60, "/readyz to report the outage")
        _, body = daemon.get("/readyz")
        assert "Kafka unreachable" in body or "stalled" in body
        time.sleep(max(0.0, 60 - 15))  # the broker stays down for about a minute
        daemon.assert_running()
        assert daemon.get("/healthz")[0] == 200
        outage_lines = len(daemon.log_text().splitlines()) - lines_before
        assert outage_lines < 60, f"{outage_lines} log lines in a minute of outage"
        assert len(daemon.log_events("kafka_unreachable")) == 1

        subprocess.run([script, "start"], env=env, check=True, timeout=300)
        kcat_produce(bootstrap, topic, calls("after-", 3000), tmp_path)
        wait_until(lambda: offered_15m(daemon) >= 6000, 120, "catching up after the outage")
        wait_until(lambda: daemon.get("/readyz")[0] == 200, 60, "ready again")
        time.sleep(1)
        assert offered_15m(daemon) == 6000
        assert daemon.value("callpulse_events_duplicate_total") == 0
        assert daemon.log_events("kafka_reachable_again")
    finally:
        if daemon is not None:
            daemon.stop()
        subprocess.run([script, "stop"], env=env, check=False, timeout=120)

"""The broker killed for a minute and restarted: callpulse stays up, says it is not ready,
does not flood its log, reconnects, catches up, and loses or double-counts nothing."""

from __future__ import annotations

import os
import signal
import time
import uuid
from pathlib import Path

import pytest

from tests.unit.events import raw

from .helpers import Daemon, OwnBroker, kafka_config, kcat_produce, offered_15m, wait_until

pytestmark = pytest.mark.integration


def calls(prefix: str, count: int) -> list[tuple[str, bytes]]:
    now = time.time()
    return [
        (site, raw("call.queued", now, site=site, call_id=f"{prefix}{i}", queue="billing"))
        for i in range(count)
        for site in [("lon1", "nyc1", "sgp1")[i % 3]]
    ]


@pytest.mark.timeout(300)
def test_broker_killed_for_a_minute_then_restarted(tmp_path: Path) -> None:
    broker = OwnBroker(tmp_path, "kill")
    bootstrap = broker.bootstrap
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

        os.kill(broker.pid, signal.SIGKILL)
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

        broker.start()
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
        broker.stop()

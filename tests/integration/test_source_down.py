"""The broker frozen for 200 s (SIGSTOP, as a network partition leaves it) under five busy
sites: one page about the source, no SiteSilent and no wait page, and after the thaw
(SIGCONT) the source page resolves and nothing new pages."""

from __future__ import annotations

import os
import signal
import subprocess
import threading
import time
import uuid
from pathlib import Path
from typing import Any

import pytest

from tests.unit.events import raw

from .helpers import Daemon, OwnBroker, kafka_config, offered_15m, wait_until

pytestmark = [pytest.mark.integration, pytest.mark.waits]
SITES = ("lon1", "nyc1", "sgp1", "par1", "syd1")
FREEZE = 200.0


class Producer:
    """Five busy sites: each second a call queued and the previous one answered, through one
    kcat that holds what it cannot deliver while the broker is frozen (for up to 10 minutes,
    not exiting when the broker stops answering), as a producer does."""

    def __init__(self, bootstrap: str, topic: str) -> None:
        self._command = [
            *("kcat", "-P", "-E", "-b", bootstrap, "-t", topic, "-K", "\t", "-z", "none"),
            *("-X", "enable.idempotence=true", "-X", "message.timeout.ms=600000"),
        ]
        self._kcat = subprocess.Popen(self._command, stdin=subprocess.PIPE)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def start(self) -> Producer:
        self._thread.start()
        return self

    def _run(self) -> None:
        n = 0
        while not self._stop.wait(1.0):
            now = time.time()
            n += 1
            lines = []
            for site in SITES:
                key = site.encode() + b"\t"
                call = raw("call.queued", now, site=site, call_id=f"{site}-{n}", queue="q")
                lines.append(key + call + b"\n")
                if n > 1:
                    answer = {"call_id": f"{site}-{n - 1}", "agent_id": "a1", "wait_seconds": 1}
                    lines.append(key + raw("call.answered", now, site=site, queue="q", **answer))
                    lines[-1] += b"\n"
            stdin = self._kcat.stdin
            assert stdin is not None
            stdin.write(b"".join(lines))
            stdin.flush()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=10)
        if self._kcat.stdin is not None:
            self._kcat.stdin.close()
        try:
            self._kcat.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self._kcat.kill()


def pages(daemon: Daemon, kind: str) -> list[dict[str, Any]]:
    """What the log sink was handed: alert_firing or alert_resolved, one line per change."""
    return [e["labels"] | e["annotations"] for e in daemon.log_events(kind)]


@pytest.mark.timeout(600)
def test_a_frozen_broker_is_one_page_about_the_source_and_none_per_site(
    tmp_path: Path,
) -> None:
    broker = OwnBroker(tmp_path, "freeze")
    bootstrap = broker.bootstrap
    topic = f"events-{uuid.uuid4().hex[:8]}"
    config = kafka_config(
        bootstrap, topic, f"{topic}.dlq", f"g-{uuid.uuid4().hex}", stall_timeout="10s"
    )
    # Shorter than the shipped rules so that the test sees them fire if they were not held:
    # a site silent 30 s, a caller waiting over 60 s.
    config |= {
        "alerting": {"evaluation_interval": "2s", "resend_delay": "30s", "log": True},
        "rules": [
            {
                "alert": "SiteSilent",
                "absent": {"scope": "site", "for": "30s"},
                "severity": "critical",
            },
            {
                "alert": "QueueOldestWaitHigh",
                "kpi": "queue_oldest_wait_seconds",
                "op": ">",
                "threshold": 60,
                "severity": "warning",
            },
        ],
    }
    daemon = producer = None
    frozen = False
    try:
        producer = Producer(bootstrap, topic).start()
        daemon = Daemon(tmp_path, config).start()
        daemon.wait_ready()
        wait_until(
            lambda: offered_15m(daemon) >= 5 * len(SITES),
            60,
            "the five sites' calls",
        )
        time.sleep(10)
        assert pages(daemon, "alert_firing") == []

        pid = broker.pid
        os.kill(pid, signal.SIGSTOP)
        frozen = True
        frozen_at = time.monotonic()
        wait_until(lambda: daemon.get("/readyz")[0] == 503, 60, "/readyz to report the outage")
        wait_until(lambda: pages(daemon, "alert_firing"), 60, "the source page")
        time.sleep(max(0.0, FREEZE - (time.monotonic() - frozen_at)))
        os.kill(pid, signal.SIGCONT)
        frozen = False
        daemon.assert_running()

        wait_until(lambda: daemon.get("/readyz")[0] == 200, 120, "ready again")
        wait_until(lambda: pages(daemon, "alert_resolved"), 120, "the source page to resolve")
        time.sleep(40)  # past SiteSilent's 30 s: a silence judged after the thaw would page now

        [fired] = pages(daemon, "alert_firing")
        assert fired["alertname"] == "CallpulseSourceDown"
        assert fired["source"] == "kafka"
        assert bootstrap in fired["summary"]
        [resolved] = pages(daemon, "alert_resolved")
        assert resolved["alertname"] == "CallpulseSourceDown"
        # The sites were producing all along: what they held during the freeze came through.
        assert offered_15m(daemon) >= len(SITES) * FREEZE
    finally:
        if frozen:
            os.kill(broker.pid, signal.SIGCONT)
        if producer is not None:
            producer.stop()
        if daemon is not None:
            daemon.stop()
        broker.stop()

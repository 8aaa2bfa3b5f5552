"""Asterisk queue_log lines, produced to a real broker by kcat, to exact queue KPIs on
/metrics. The lines are the shipped sample (docs/examples/asterisk-queue_log), written from
the formats app_queue.c logs, moved to the last ten minutes."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from .platforms import (
    EXAMPLES,
    check_dead_letter,
    ignored_kinds,
    platform_daemon,
    settled,
)

pytestmark = pytest.mark.integration
SAMPLE = EXAMPLES / "asterisk-queue_log"
AGENTS = {"PJSIP/1001": "Alice", "PJSIP/1002": "Bob", "PJSIP/1003": "Carol"}


def recent_sample(now: float) -> list[bytes]:
    lines = SAMPLE.read_text().splitlines()
    shift = int(now) - 600 - int(lines[0].split("|")[0])
    return [f"{int(line.split('|')[0]) + shift}|{line.split('|', 1)[1]}".encode() for line in lines]


def test_queue_log_through_kafka_gives_exact_kpis(
    kafka_bootstrap: str, topics: tuple[str, str], tmp_path: Path
) -> None:
    sample = recent_sample(time.time())
    fmt = {"format": "asterisk-queue-log", "site": "lon1", "agent_names": AGENTS}
    with platform_daemon(kafka_bootstrap, topics, tmp_path, sample, fmt) as daemon:
        # By hand: 7 callers; Alice answers after 8 s, Bob after 25 s (T = 20 s); one abandons
        # after 30 s, one times out after 300 s, one leaves by key after 1 s (a short abandon,
        # under S = 5 s); two still wait.
        s = settled(daemon, "lon1", "billing", {
            "offered": 7, "answered": 2, "abandoned": 2, "service_level": pytest.approx(1 / 4),
            "asa": pytest.approx(16.5), "aht": pytest.approx(110.0), "waiting": 2,
            "agents": {"available": 2, "not_ready": 1},  # Alice and Bob; Carol, paused
        })  # fmt: skip
        assert ignored_kinds(s) == {"DID": 1, "RINGNOANSWER": 1}
        [truncated] = [line for line in sample if line.endswith(b"|billing")]
        check_dead_letter(kafka_bootstrap, topics[1], s, "asterisk-queue-log", truncated,
                          "expected time|callid|queue|agent|event")  # fmt: skip

"""Twilio TaskRouter events, produced to a real broker by kcat, to exact queue KPIs on
/metrics. The records are the shipped sample (docs/examples/twilio-taskrouter.jsonl), Event
Streams CloudEvents written from Twilio's event reference, moved to the last ten minutes."""

from __future__ import annotations

import re
import time
from datetime import UTC, datetime
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
SAMPLE = EXAMPLES / "twilio-taskrouter.jsonl"
INSTANT = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z")


def _parse(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def recent_sample(now: float) -> list[bytes]:
    """Every instant in the sample (CloudEvent time, timestamps, task_date_created) moved so
    that the first record is ten minutes old; the cut record is moved like the others."""
    lines = SAMPLE.read_text().splitlines()
    first = _parse(INSTANT.findall(lines[0])[0])
    shift = datetime.fromtimestamp(int(now) - 600, UTC) - first

    def moved(match: re.Match[str]) -> str:
        moment = _parse(match.group(0)) + shift
        return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"

    return [INSTANT.sub(moved, line).encode() for line in lines]


def test_taskrouter_events_through_kafka_give_exact_kpis(
    kafka_bootstrap: str, topics: tuple[str, str], tmp_path: Path
) -> None:
    sample = recent_sample(time.time())
    # One key: a Workspace's events stay in one partition, in order (the adapter joins them).
    fmt = {"format": "twilio-taskrouter", "site": "lon1"}
    with platform_daemon(kafka_bootstrap, topics, tmp_path, sample, fmt) as daemon:
        # By hand, from the sample: 8 tasks enter billing. Alice accepts after 8 s, Bob after
        # 25 s, Carol after 50 s (T = 20 s: one within). One caller hangs up after 30 s, one
        # after 1 s (a short abandon, under S = 5 s), one leaves on the workflow timeout
        # after 120 s (an abandon: timeouts_are_abandons); two still wait. SL = 1 / (3 + 2);
        # ASA = (8 + 25 + 50) / 3. Alice: talk 100 s (wrap-up - accepted) + ACW 30 s
        # (completed - wrap-up); Bob: 120 s + 20 s: AHT = (130 + 140) / 2. Carol is still on
        # her call, Bob went on Break, Alice is Available.
        s = settled(daemon, "lon1", "billing", {
            "offered": 8, "answered": 3, "abandoned": 2, "service_level": pytest.approx(1 / 5),
            "asa": pytest.approx(83 / 3), "aht": pytest.approx(135.0), "waiting": 2,
            # Alice is Available, Carol still on her call, Bob on Break.
            "agents": {"available": 1, "on_call": 1, "not_ready": 1},
        })  # fmt: skip
        assert ignored_kinds(s) == {"task.created": 8, "reservation.created": 3}
        [cut] = [line for line in sample if not line.endswith(b"}")]
        check_dead_letter(kafka_bootstrap, topics[1], s, "twilio-taskrouter", cut,
                          "expected a JSON CloudEvent")  # fmt: skip

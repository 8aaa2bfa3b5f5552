"""FreeSWITCH mod_callcenter events (JSON), produced to a real broker by kcat, to exact queue
KPIs on /metrics. The records are the shipped sample (docs/examples/freeswitch-callcenter.jsonl),
written from the headers mod_callcenter.c and switch_event.c write, moved to the last ten
minutes."""

from __future__ import annotations

import json
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
SAMPLE = EXAMPLES / "freeswitch-callcenter.jsonl"
AGENTS = {"1001@default": "Alice", "1002@default": "Bob", "1003@default": "Carol"}
QUEUES = {"support@default": "support"}


def recent_sample(now: float) -> list[bytes]:
    """The sample with its times moved so that its first event is ten minutes ago: the
    microsecond Event-Date-Timestamp and every CC-*-Time (epoch seconds). The malformed record
    is kept as it is. (Event-Date-Local and -GMT are left: nothing reads them.)"""
    lines = SAMPLE.read_text().splitlines()
    shift = int(now) - 600 - int(json.loads(lines[0])["Event-Date-Timestamp"]) // 1_000_000
    out = []
    for line in lines:
        try:
            event = json.loads(line)
        except ValueError:
            out.append(line.encode())
            continue
        for name, value in event.items():
            if name == "Event-Date-Timestamp":
                event[name] = str(int(value) + shift * 1_000_000)
            elif name.startswith("CC-") and name.endswith("-Time"):
                event[name] = str(int(value) + shift)
        out.append(json.dumps(event, separators=(",", ":")).encode())
    return out


def test_callcenter_events_through_kafka_give_exact_kpis(
    kafka_bootstrap: str, topics: tuple[str, str], tmp_path: Path
) -> None:
    sample = recent_sample(time.time())
    fmt = {
        "format": "freeswitch-callcenter",
        "site": "lon1",
        "agent_names": AGENTS,
        "queue_names": QUEUES,
        "wrapup_seconds": 10,
    }
    with platform_daemon(kafka_bootstrap, topics, tmp_path, sample, fmt) as daemon:
        # By hand: 7 callers (member-queue-start); Alice answers after 8 s, Bob after 25 s
        # (T = 20 s); one hangs up after 30 s (BREAK_OUT), one times out after 60 s (TIMEOUT,
        # an abandon by default), one leaves by key after 1 s (a short abandon, under S = 5 s);
        # two still wait. Talk 120 s and 100 s plus the 10 s wrap-up each: AHT 120 s. Waits
        # are timed from the events' microsecond Event-Date-Timestamp, not the whole-second
        # CC-*-Time headers: Alice's is 18.006078 - 10.003039 = 8.003039 s, Bob's 45.001013 -
        # 20.002026 = 24.998987 s, so the ASA is 16.501013 s, not (8 + 25) / 2.
        # Alice (ringing again) and Bob, wrap-ups over; Carol went On Break on max-no-answer.
        s = settled(daemon, "lon1", "support", {
            "offered": 7, "answered": 2, "abandoned": 2, "service_level": pytest.approx(1 / 4),
            "asa": pytest.approx(16.501, abs=1e-3), "aht": pytest.approx(120.0), "waiting": 2,
            "agents": {"available": 2, "not_ready": 1},
        })  # fmt: skip
        assert ignored_kinds(s) == {
            "members-count": 12,  # one each time a caller joins or leaves the waiting list
            "member-queue-end:Terminated": 2,  # after bridge-agent-end, which told it
            "agent-max-no-answer": 1,  # its agent-status-change follows
        }
        [original] = [r for r in sample if not r.endswith(b"}")]
        check_dead_letter(kafka_bootstrap, topics[1], s, "freeswitch-callcenter", original,
                          "expected a FreeSWITCH event as JSON")  # fmt: skip

"""A hostile producer on every topic of a real broker: the daemon stays up and ready, every
hostile record reaches the dead-letter topic with a reason, the good events between them give
exact KPIs, and memory comes back to where it was.

The corpus is ``tests/hostile.py``: records nested 10^3 to 10^6 deep, huge strings and
numbers, NaN and Infinity, bad UTF-8 and lone surrogates, empty values, a wrong type in each
field, unknown types; in events v1 and broken the same ways in each platform's format.
"""

from __future__ import annotations

import asyncio
import subprocess
import sys
import time
import uuid
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
from aiokafka import AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient, NewTopic

from tests.hostile import FORMATS, Hostile, corpus
from tests.unit.events import raw

from .helpers import Daemon, Samples, kcat_consume, wait_until

pytestmark = pytest.mark.integration

MAX_RECORD_BYTES = 8 * 1024 * 1024  # so the 10^6-deep records reach the decoders
TOPIC_BYTES = 16 * 1024 * 1024
RSS_SLACK = 20 * 1024 * 1024


def good_calls(now: float, first: int, count: int) -> list[bytes]:
    """``count`` calls to billing at lon1, answered by a1 after 10 s (odd) or 30 s (even),
    each talked 60 s, held 0 and wrapped up 10 s."""
    events = []
    for i in range(first, first + count):
        at = now - 400 + i * 20
        wait = 10.0 if i % 2 else 30.0
        call = {"call_id": f"good-{i}", "queue": "billing"}
        events += [
            raw("call.queued", at, **call),
            raw("call.answered", at + wait, agent_id="a1", wait_seconds=wait, **call),
            raw("call.completed", at + wait + 70, agent_id="a1", talk_seconds=60.0,
                hold_seconds=0.0, acw_seconds=10.0, **call),
        ]  # fmt: skip
    return events


async def produce(bootstrap: str, topic: str, values: list[bytes | None], key: bytes) -> None:
    producer = AIOKafkaProducer(
        bootstrap_servers=bootstrap,
        compression_type="gzip",  # 10^6 brackets are a few KB on the wire
        max_request_size=TOPIC_BYTES,
        enable_idempotence=True,
    )
    await producer.start()
    try:
        for value in values:
            await producer.send_and_wait(topic, value=value, key=key)
    finally:
        await producer.stop()


async def create_topics(bootstrap: str, names: list[str]) -> None:
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        await admin.create_topics(
            [
                NewTopic(n, 1, 1, topic_configs={"max.message.bytes": str(TOPIC_BYTES)})
                for n in names
            ]
        )
    finally:
        await admin.close()


def invalid_by_reason(samples: Samples) -> dict[str, float]:
    return {
        dict(labels)["reason"]: v
        for (name, labels), v in samples.items()
        if name == "callpulse_events_invalid_total" and v
    }


def rss(daemon: Daemon) -> float:
    value = daemon.value("process_resident_memory_bytes")
    assert value is not None
    return value


@pytest.mark.timeout(400)
def test_a_hostile_producer_cannot_stop_bloat_or_mislead_the_daemon(
    kafka_bootstrap: str, tmp_path: Path
) -> None:
    run = uuid.uuid4().hex[:8]
    topics = {fmt: f"hostile-{run}-{fmt}" for fmt in FORMATS}
    dlq = f"hostile-{run}.dlq"
    asyncio.run(create_topics(kafka_bootstrap, [*topics.values(), dlq]))
    now = time.time()
    corpora = {fmt: corpus(fmt, now, site="lon1") for fmt in FORMATS}
    formats = {
        topics[fmt]: {"format": fmt, "site": "pbx1"} for fmt in FORMATS if fmt != "events-v1"
    }
    config: dict[str, Any] = {
        "source": {
            "kind": "kafka",
            "kafka": {
                "bootstrap_servers": kafka_bootstrap,
                "topics": list(topics.values()),
                "group_id": f"g-{run}",
                "dead_letter_topic": dlq,
                "max_record_bytes": MAX_RECORD_BYTES,
                "formats": formats,
            },
        }
    }
    asyncio.run(produce(kafka_bootstrap, topics["events-v1"], [*good_calls(now, 0, 6)], b"lon1"))
    daemon = Daemon(tmp_path, config).start()
    try:
        daemon.wait_ready()
        wait_until(
            lambda: daemon.value("callpulse_events_total", type="call.completed") == 6,
            30,
            "the first good calls",
        )
        before = rss(daemon)

        # The v1 corpus between good calls, one partition: the good ones after it must count.
        later = good_calls(now, 6, 6)
        interleaved: list[tuple[bytes | None, Hostile | None]] = []
        for i, hostile in enumerate(corpora["events-v1"]):
            interleaved.append((hostile.value, hostile))
            if i % 4 == 3 and later:
                interleaved.append((later.pop(0), None))
        interleaved += [(value, None) for value in later]
        values = [value for value, _ in interleaved]
        asyncio.run(produce(kafka_bootstrap, topics["events-v1"], values, b"lon1"))
        # Six good calls (18 events) came first.
        expected = {
            "events-v1": [
                18 + i for i, (_, h) in enumerate(interleaved) if h and h.fate == "rejected"
            ]
        } | {
            fmt: [i for i, h in enumerate(corpora[fmt]) if h.fate == "rejected"]
            for fmt in FORMATS[1:]
        }
        for fmt in FORMATS[1:]:
            values = [h.value for h in corpora[fmt]]
            asyncio.run(produce(kafka_bootstrap, topics[fmt], values, b"pbx1"))

        rejected = sum(h.fate == "rejected" for c in corpora.values() for h in c)
        seen: dict[str, float] = {}

        def all_dead_lettered() -> bool:
            daemon.assert_running()
            samples = daemon.samples()
            seen.update(invalid_by_reason(samples))
            return samples.get(("callpulse_dead_letter_records_total", frozenset())) == rejected

        wait_until(all_dead_lettered, 180, f"{rejected} dead letters (rejected so far: {seen})")
        daemon.assert_running()
        assert daemon.get("/readyz")[0] == 200
        samples = daemon.samples()

        # The good calls' figures, by hand: 12 calls, half answered in 10 s and half in 30 s
        # (T = 20 s), each handled 60 + 0 + 10 s.
        site = {"site": "lon1", "queue": "billing", "window": "15m"}

        def kpi(name: str) -> float:
            return samples[(name, frozenset(site.items()))]

        assert kpi("callpulse_queue_offered_calls") == 12
        assert kpi("callpulse_queue_answered_calls") == 12
        assert kpi("callpulse_queue_service_level_ratio") == pytest.approx(0.5)
        assert kpi("callpulse_queue_asa_seconds") == pytest.approx(20.0)
        assert kpi("callpulse_queue_aht_seconds") == pytest.approx(70.0)
        assert daemon.total("callpulse_processing_errors_total", samples) == 0

        # Every hostile record is on the dead-letter topic, with its reason, in order.
        dead = kcat_consume(kafka_bootstrap, dlq, rejected)
        by_topic: dict[str, list[int]] = {}
        for record in dead:
            headers = record["headers"]
            assert headers["callpulse.reason"], headers
            assert headers["callpulse.error"], headers
            by_topic.setdefault(headers["callpulse.source.topic"], []).append(
                int(headers["callpulse.source.offset"])
            )
        for fmt, topic in topics.items():
            assert sorted(by_topic.get(topic, [])) == expected[fmt], fmt
        # A value larger than a produce request keeps its head and says how long it was.
        truncated = sorted(
            int(r["headers"]["callpulse.truncated_from"])
            for r in dead
            if "callpulse.truncated_from" in r["headers"]
        )
        assert truncated == sorted(
            len(h.value) for c in corpora.values() for h in c if h.value and len(h.value) > 2**20
        )
        ignored = daemon.total("callpulse_adapter_events_ignored_total", samples)
        assert ignored == sum(h.fate == "ignored" for c in corpora.values() for h in c)
        assert sum(invalid_by_reason(samples).values()) == rejected

        # Memory: nothing of the corpus is kept (a few MiB of warm-up aside).
        grown = rss(daemon) - before
        assert grown < RSS_SLACK, f"RSS grew {grown / 2**20:.1f} MiB"
    finally:
        assert daemon.stop() == 0


@pytest.mark.parametrize("fmt", FORMATS)
def test_the_corpus_replayed_from_a_file_is_counted_and_the_daemon_stays_up(
    fmt: str, tmp_path: Path
) -> None:
    lines = file_corpus(fmt)
    path = tmp_path / f"{fmt}.log"
    path.write_bytes(b"\n".join(h.value for h in lines if h.value is not None) + b"\n")
    config = {"source": {"kind": "replay", "kafka": {"max_record_bytes": MAX_RECORD_BYTES}}}
    args = ("replay", str(path), "--format", fmt, "--site", "pbx1")
    daemon = Daemon(tmp_path, config, args=args).start()
    try:
        wait_until(lambda: "replay finished" in daemon.get("/readyz")[1], 120, "the file replayed")
        daemon.assert_running()
        samples = daemon.samples()
        assert sum(invalid_by_reason(samples).values()) == sum(h.fate == "rejected" for h in lines)
        assert daemon.total("callpulse_processing_errors_total", samples) == 0
    finally:
        assert daemon.stop() == 0


@pytest.mark.parametrize("fmt", FORMATS)
def test_the_corpus_reported_from_a_file_is_counted(fmt: str, tmp_path: Path) -> None:
    lines = file_corpus(fmt)
    path = tmp_path / f"{fmt}.log"
    path.write_bytes(b"\n".join(h.value for h in lines if h.value is not None) + b"\n")
    config = tmp_path / "callpulse.yaml"
    config.write_text(f"source: {{kafka: {{max_record_bytes: {MAX_RECORD_BYTES}}}}}\n")
    result = subprocess.run(
        [sys.executable, "-m", "callpulse", "replay", str(path), "--report", "--format", fmt,
         "--site", "pbx1", "--config", str(config)],
        capture_output=True, timeout=300, check=False,
    )  # fmt: skip
    # Counted, never a crash: every record is rejected or ignored, so none was applied (1).
    assert result.returncode == 1, result.stderr.decode(errors="replace")[-2000:]
    out = result.stdout.decode()
    [rejected_line] = [line for line in out.splitlines() if line.startswith("rejected: ")]
    counts = Counter(
        {r: int(n) for r, n in (p.rsplit(" ", 1) for p in rejected_line[10:].split(", "))}
    )
    assert sum(counts.values()) == sum(h.fate == "rejected" for h in lines)
    assert "processing_error" not in counts


def file_corpus(fmt: str) -> list[Hostile]:
    """The corpus as a file can hold it: one record a line, so no tombstone and no empty
    record (a replay skips blank lines, as it always has)."""
    return [h for h in corpus(fmt, time.time()) if h.value and h.value.strip()]

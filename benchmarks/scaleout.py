"""Scale-out: one replica, then two replicas in one consumer group, on a 12-partition topic.

    .venv/bin/python -m benchmarks.scaleout [--events 200000] [--full]

``--events`` simulator events (e2e_kafka's traffic: 200 queues at 20 sites, the site as the
Kafka key) are produced once, by a separate process, to a fresh 12-partition topic. Then:

1. one replica consumes them all in a consumer group of its own;
2. two replicas, started together, consume them all in one new group.

Each replica is a process of its own running e2e_kafka's pipeline (KafkaSource -> Ingest ->
Monitor, a commit after every batch, a /metrics render every second) and prints one JSON line:
events consumed, the wall times (``time.time()``) of its first and last record, and its KPI
sums: the cumulative per-queue totals of ``monitor.queue_views()`` (offered, answered, ...)
summed over its queues, and per (site, queue).

Start and stop are coordinated by this process, so that neither a start-up rebalance nor an
idle timeout is in the figures:

- start: each replica starts its source (joining the group) and says it is ready, but fetches
  nothing until told to go. This process waits until the broker reports the group Stable
  with every replica a member, then tells all of them to go at once. A replica that had to
  give partitions up mid-run would have applied records its successor re-reads from the last
  commit (at-least-once), so a partition moving after "go" is reported
  (``moved_while_consuming``) and explains a KPI mismatch if one follows.
- stop: this process polls the group's committed offsets; once they add up to the topic's
  end offsets (every record applied and committed, whichever replica held it, however
  unevenly the sites hash onto partitions) it tells the replicas to stop. The stop signal's
  delay is not measured: each replica's span ends at its last record's commit.

Reported: single-replica events/s; two-replica events/s as all events / (latest last record -
earliest first record); each replica's share and own rate (the busier replica's share bounds
the speed-up: 20 sites hash unevenly onto 12 partitions); whether the two replicas' KPI sums
and per-queue totals added together equal the single replica's exactly (MATCH, or a diff);
and that no site was seen by both replicas (a site is a key, so all its events are in one
partition). The phases must end within about five minutes of producing: the simulated
traffic spans the ten minutes before it, and the longest window is fifteen.

The broker is the one KAFKA_BOOTSTRAP_SERVERS names, else one started with scripts/kafka-local
(and stopped after). ``--full`` prints the replicas' lines whole (with per-queue totals).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import statistics
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from typing import Any

from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from prometheus_client import generate_latest

from benchmarks.e2e_kafka import ROOT, Pipeline, producer_process

PARTITIONS = 12
START_TIMEOUT = 60.0


# --- one replica (runs in its own process) -------------------------------------------------


async def replica(bootstrap: str, topic: str, group: str) -> None:
    """Consume in ``group`` between "go" and "stop" on stdin; print one JSON line."""
    from callpulse import logs

    logs.configure("warning", "json")  # to stderr: stdout carries the JSON lines alone
    loop = asyncio.get_running_loop()
    go, stop = asyncio.Event(), asyncio.Event()

    def read_commands() -> None:
        for line in sys.stdin:
            command = line.strip()
            if command == "go":
                loop.call_soon_threadsafe(go.set)
            elif command == "stop":
                break
        loop.call_soon_threadsafe(stop.set)  # "stop", or the parent is gone
        loop.call_soon_threadsafe(go.set)

    pipeline = Pipeline(bootstrap, topic, group)
    source, monitor, ingest = pipeline.source, pipeline.monitor, pipeline.ingest
    consuming = False
    moved: list[int] = []

    def revoked(partitions: Any) -> None:
        if consuming:
            moved.extend(p for _, p in partitions)

    source.on_revoke = revoked
    await source.start()
    threading.Thread(target=read_commands, daemon=True).start()
    print(json.dumps({"ready": True}), flush=True)
    await go.wait()
    consuming = True
    seen = 0
    first = last = 0.0
    scrapes: list[float] = []
    next_scrape = time.monotonic() + 1.0
    try:
        while not stop.is_set():
            records = await pipeline.step()
            if records:
                # Wall-clock times: the orchestrator compares the two replicas' spans.
                first = first or time.time() - (time.monotonic() - pipeline.fetched_at)
                seen += len(records)
                last = time.time()
            if time.monotonic() >= next_scrape:
                began = time.perf_counter()
                generate_latest(pipeline.registry)
                scrapes.append(time.perf_counter() - began)
                next_scrape = time.monotonic() + 1.0
    finally:
        await source.stop()

    totals: dict[str, int] = {}
    queues: dict[str, dict[str, int]] = {}
    for view in monitor.queue_views():
        queues[f"{view.site}/{view.queue}"] = dict(view.totals)
        for name, value in view.totals.items():
            totals[name] = totals.get(name, 0) + value
    by_partition = {
        str(partition): sorted(sites)
        for (_, partition), sites in sorted(ingest.sites_by_partition.items())
    }
    result = {
        "events": seen,
        "first": first,
        "last": last,
        "seconds": round(last - first, 3),
        "events_per_second": round(seen / (last - first)) if last > first else None,
        **pipeline.counts(),
        "scrape_ms_p50": round(statistics.median(scrapes) * 1000, 2) if scrapes else None,
        "moved_while_consuming": sorted(set(moved)),
        "sites_by_partition": by_partition,
        "events_by_type": dict(sorted(monitor.stats.events_by_type.items())),
        "kpi_totals": totals,
        "queues": dict(sorted(queues.items())),
    }
    print(json.dumps(result), flush=True)


# --- orchestration (this process) ----------------------------------------------------------


async def create_topic(bootstrap: str, partitions: int) -> str:
    """A fresh topic of ``partitions`` partitions, and its one-partition dead-letter topic."""
    name = f"scaleout-{uuid.uuid4().hex[:8]}"
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        await admin.create_topics([NewTopic(name, partitions, 1), NewTopic(f"{name}.dlq", 1, 1)])
    finally:
        await admin.close()
    return name


async def end_offsets(bootstrap: str, topic: str) -> dict[int, int]:
    """Records per partition of ``topic`` (offsets start at 0; nothing is deleted)."""
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap)
    await consumer.start()
    try:
        partitions = [TopicPartition(topic, p) for p in range(PARTITIONS)]
        ends = await consumer.end_offsets(partitions)
    finally:
        await consumer.stop()
    return {tp.partition: offset for tp, offset in sorted(ends.items())}


async def _read_json(proc: asyncio.subprocess.Process) -> dict[str, Any]:
    assert proc.stdout is not None
    while True:
        line = await proc.stdout.readline()
        if not line:
            raise RuntimeError(f"replica {proc.pid} exited ({await proc.wait()}) early")
        try:
            parsed = json.loads(line)
        except ValueError:
            print(line.decode(errors="replace").rstrip(), flush=True)
            continue
        if isinstance(parsed, dict):
            return parsed


async def _send(procs: list[asyncio.subprocess.Process], command: str) -> None:
    for proc in procs:
        assert proc.stdin is not None
        proc.stdin.write(command.encode() + b"\n")
        await proc.stdin.drain()


async def _wait_stable(admin: AIOKafkaAdminClient, group: str, members: int) -> None:
    """Until the broker says ``group`` is Stable with ``members`` members."""
    deadline = time.monotonic() + START_TIMEOUT
    state, count = "?", 0
    while time.monotonic() < deadline:
        for response in await admin.describe_consumer_groups([group]):
            for described in response.groups:
                # (error_code, group_id, state, protocol_type, protocol, members, ...)
                state, count = described[2], len(described[5])
        if state == "Stable" and count == members:
            return
        await asyncio.sleep(0.1)
    raise RuntimeError(f"group {group}: {state} with {count} of {members} members")


async def _wait_committed(
    admin: AIOKafkaAdminClient,
    group: str,
    topic: str,
    total: int,
    procs: list[asyncio.subprocess.Process],
) -> None:
    """Until the group's committed offsets on ``topic`` add up to ``total``."""
    while True:
        offsets = await admin.list_consumer_group_offsets(group)
        committed = sum(o.offset for tp, o in offsets.items() if tp.topic == topic and o.offset > 0)
        if committed >= total:
            return
        if any(p.returncode is not None for p in procs):
            raise RuntimeError(f"a replica exited with {committed} of {total} committed")
        await asyncio.sleep(0.2)


async def phase(bootstrap: str, topic: str, replicas: int, total: int) -> list[dict[str, Any]]:
    """``replicas`` replica processes in one new group until ``total`` records are committed."""
    group = f"scaleout-{replicas}-{uuid.uuid4().hex[:8]}"
    command = [sys.executable, "-m", "benchmarks.scaleout", "replica", bootstrap, topic, group]
    procs = [
        await asyncio.create_subprocess_exec(
            *command, cwd=ROOT, stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE
        )
        for _ in range(replicas)
    ]
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        for proc in procs:
            await asyncio.wait_for(_read_json(proc), START_TIMEOUT)  # {"ready": true}
        await _wait_stable(admin, group, replicas)
        await _send(procs, "go")
        limit = 120 + total / 1000
        try:
            async with asyncio.timeout(limit):
                await _wait_committed(admin, group, topic, total, procs)
        except TimeoutError:
            raise RuntimeError(f"not all {total} records committed in {limit:.0f} s") from None
        await _send(procs, "stop")
        results = [await asyncio.wait_for(_read_json(p), 60) for p in procs]
        for proc in procs:
            await proc.wait()
        return results
    finally:
        await admin.close()
        for proc in procs:
            if proc.returncode is None:
                proc.kill()
                await proc.wait()


# --- comparing -----------------------------------------------------------------------------


def _brief(result: dict[str, Any]) -> dict[str, Any]:
    """A replica's line without its per-queue totals (their count instead)."""
    shown = {k: v for k, v in result.items() if k != "queues"}
    shown["queues"] = len(result["queues"])
    return shown


def _diff(single: dict[str, int], combined: dict[str, int]) -> dict[str, list[int]]:
    """{key: [single, combined]} where they differ (a missing key counts as 0)."""
    return {
        k: [single.get(k, 0), combined.get(k, 0)]
        for k in sorted(set(single) | set(combined))
        if single.get(k, 0) != combined.get(k, 0)
    }


def _added(dicts: list[dict[str, int]]) -> dict[str, int]:
    out: dict[str, int] = {}
    for d in dicts:
        for k, v in d.items():
            out[k] = out.get(k, 0) + v
    return out


def compare(single: dict[str, Any], parts: list[dict[str, Any]]) -> bool:
    """Print whether ``parts`` add up to ``single``; True when everything matches."""
    ok = True
    for name in ("kpi_totals", "events_by_type"):
        diff = _diff(single[name], _added([p[name] for p in parts]))
        print(f"{name}: " + ("MATCH" if not diff else "DIFF " + json.dumps(diff)), flush=True)
        ok &= not diff
    per_queue: dict[str, dict[str, int]] = {}
    shared: set[str] = set()
    for part in parts:
        for key, totals in part["queues"].items():
            if key in per_queue:
                shared.add(key)
            per_queue[key] = _added([per_queue.get(key, {}), totals])
    diffs = {
        key: diff
        for key in sorted(set(single["queues"]) | set(per_queue))
        if (diff := _diff(single["queues"].get(key, {}), per_queue.get(key, {})))
    }
    if diffs:
        shown = dict(list(diffs.items())[:20])
        print(
            f"per-queue totals: DIFF in {len(diffs)} of {len(single['queues'])} queues "
            f"(key: [single, replicas added]): {json.dumps(shown)}",
            flush=True,
        )
    else:
        print(f"per-queue totals: MATCH ({len(single['queues'])} queues)", flush=True)
    ok &= not diffs
    sites = [{site for sites in p["sites_by_partition"].values() for site in sites} for p in parts]
    both = set.intersection(*sites) if len(sites) > 1 else set()
    print(
        "sites seen by more than one replica: "
        + (", ".join(sorted(both)) if both else "none")
        + f" ({' + '.join(str(len(s)) for s in sites)} sites)",
        flush=True,
    )
    moved = [p["moved_while_consuming"] for p in parts if p["moved_while_consuming"]]
    if moved:
        print(f"partitions moved while consuming: {moved} (re-delivery expected)", flush=True)
    return ok and not both


# --- main ----------------------------------------------------------------------------------


@contextlib.contextmanager
def broker() -> Iterator[str]:
    """KAFKA_BOOTSTRAP_SERVERS, else a broker started with scripts/kafka-local (stopped after)."""
    bootstrap = os.environ.get("KAFKA_BOOTSTRAP_SERVERS")
    if bootstrap:
        yield bootstrap
        return
    port = os.environ.get("KAFKA_PORT", "19192")
    env = os.environ | {"KAFKA_PORT": port, "KAFKA_DATA_DIR": f"/tmp/callpulse-bench-kafka-{port}"}
    script = str(ROOT / "scripts" / "kafka-local")
    subprocess.run([script, "start"], env=env, check=True)
    try:
        yield f"127.0.0.1:{port}"
    finally:
        subprocess.run([script, "stop"], env=env, check=False)


def main() -> None:
    if len(sys.argv) > 1 and sys.argv[1] == "replica":
        _, _, bootstrap, topic, group = sys.argv
        asyncio.run(replica(bootstrap, topic, group))
        return
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--events", type=int, default=200_000)
    parser.add_argument("--full", action="store_true", help="print the replicas' lines whole")
    args = parser.parse_args()

    def show(label: str, result: dict[str, Any]) -> None:
        print(f"{label}:", json.dumps(result if args.full else _brief(result)), flush=True)

    with broker() as bootstrap:
        topic = asyncio.run(create_topic(bootstrap, PARTITIONS))
        print(f"producing {args.events} events to {topic} ({PARTITIONS} partitions) ...")
        sys.stdout.flush()
        producer_process(bootstrap, topic, args.events, 0).wait()
        produced = time.time()
        ends = asyncio.run(end_offsets(bootstrap, topic))
        total = sum(ends.values())
        print(f"records per partition: {json.dumps(ends)} (total {total})", flush=True)

        [single] = asyncio.run(phase(bootstrap, topic, 1, total))
        show("1 replica", single)
        parts = asyncio.run(phase(bootstrap, topic, 2, total))
        for i, part in enumerate(parts):
            show(f"2 replicas, #{i + 1}", part)
        print(f"both phases ended {time.time() - produced:.0f} s after producing", flush=True)

        seconds = max(p["last"] for p in parts) - min(p["first"] for p in parts)
        scaled = round(total / seconds) if seconds > 0 else None
        summary = {
            "events": total,
            "single_events_per_second": single["events_per_second"],
            "two_replicas_seconds": round(seconds, 3),
            "two_replicas_events_per_second": scaled,
            "speedup": round(scaled / single["events_per_second"], 2)
            if scaled and single["events_per_second"]
            else None,
            "shares": [round(p["events"] / total, 3) for p in parts],
            # What the split alone allows: the busier replica's records at the single rate.
            "speedup_bound_by_split": round(total / max(p["events"] for p in parts), 2),
            "replica_events_per_second": [p["events_per_second"] for p in parts],
            "replica_partitions": [sorted(map(int, p["sites_by_partition"])) for p in parts],
        }
        print("scale-out:", json.dumps(summary), flush=True)
        if sum(p["events"] for p in parts) != total or single["events"] != total:
            print(
                f"events consumed: single {single['events']}, replicas "
                f"{[p['events'] for p in parts]}, produced {total}",
                flush=True,
            )
        ok = compare(single, parts)
        print("KPI sums of the two replicas vs one: " + ("MATCH" if ok else "MISMATCH"), flush=True)


if __name__ == "__main__":
    main()

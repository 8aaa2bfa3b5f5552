"""Scale: how scrape time, ingest blocking and memory grow with the number of queues.

    .venv/bin/python -m benchmarks.scale [--queues 1000 10000 50000] [--sites 200] \
        [--scrapes 5] [--seconds 20] [--profile]

Each size runs in a fresh process, so that its RSS is its own. That process runs the real
daemon, ``callpulse.app.App``: the shipped rules (``config/rules.yaml``, evaluated every
``alerting.evaluation_interval``, 5 s as shipped), the default windows (1m, 5m, 15m), HTTP on
127.0.0.1 on a free port, and the label caps raised to exactly the queues and agents sent. Its
source is in memory: events v1 stamped with the current time, fetched by the daemon's own
consume loop, applied and committed as Kafka's would be. /metrics is whatever the daemon
serves, over real HTTP.

1. Fill: per queue two agents serving it (available, on_call, available again), three calls
   queued, two answered within T and completed, one abandoned within S; per site a
   component, a trunk and an IVR application, once 14.5 minutes ago (so the windows span
   what they would in a daemon running for a while) and once now. ``--fill-batch`` records
   a batch.
2. Quiet scrapes: ``--scrapes`` GETs of /metrics, one at a time, ``--pause`` apart, the source
   idle (the sites' infrastructure reports in every 15 s). Before a scrape, when the calls
   are over 30 s old, each queue gets one more call (queued, answered, completed) so that the
   1-minute window keeps every series. Wall time is from sending the request to reading its
   last byte; also bytes on the wire and uncompressed, and sample lines. The client sends
   what Prometheus does (``--accept``, by default ``application/openmetrics-text;
   version=1.0.0,text/plain;version=0.0.4;q=0.5``, and ``Accept-Encoding: gzip``) from a
   separate process, so that it shares neither the daemon's loop nor its GIL; both sides
   read CLOCK_MONOTONIC, so their times compare.
3. Steady: the source hands out ``--batch`` records as fast as the daemon takes them (a call
   is five events: queued, answered, agent on_call, completed, agent available; round-robin
   over the queues, and one site's infrastructure events in each batch) while the client
   GETs /metrics every ``--interval`` s (``--interval`` after the end of one that overran),
   for ``--seconds`` and at least three scrapes, starting 2 s into the stream.

   Ingest blocking, on the daemon's loop: a probe task sleeps 1 ms again and again and
   records how late it wakes (the loop's longest stall), and the source records the gap
   between handing a batch over and being asked for the next (applying it, plus whatever
   else the loop ran meanwhile). Each is put down to the daemon's own loop work if one piece
   of it covers at least half of it (an alert evaluation, the status page's 5 s sample, the
   1 s tick, a full (generation 2) garbage collection, fill or refresh batches), else to a
   scrape in flight (client side), else to ``none`` (the stream's own batches). The
   durations of that loop work are reported too. An alert evaluation runs in steps with
   batches between them (``Consumer.evaluation_steps``): ``alert_evaluation_ms`` is each
   hold of the loop by its steps (``alert_evaluation_cpu_ms``: the CPU time of each), and
   ``alert_evaluation_span_ms`` each evaluation whole.
4. Memory: VmRSS before and after the fill and after each phase; peak is ``ru_maxrss``. The
   steady stream's event ids are remembered for the longest window (de-duplication), so RSS
   after it also grows with ``--seconds``. Where the daemon renders /metrics in a forked
   child, a thread samples that child every 20 ms: the pages it holds of its own (copied on
   write from the daemon, or new) add to the daemon's RSS while it lives.

One JSON line per size on stdout, then a table; progress and the daemon's warnings go to
stderr. ``--profile`` adds to stderr, once all is measured, a cProfile of the registry
rendered in-process with the writer the daemon picks for ``--accept``, and one of an alert
evaluation. ``--set KEY=VALUE`` changes a
setting (e.g. ``alerting.evaluation_interval=1s``). Nothing is asserted: the targets (a full
scrape within 300 ms at 10k queues, ingest never blocked by a scrape for more than 20 ms,
RSS at most 300 MB at 10k queues) are checked by hand.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import math
import os
import resource
import signal
import statistics
import subprocess
import sys
import threading
import time
from array import array
from bisect import bisect_left
from collections.abc import Callable, Generator, Iterator, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from callpulse.core.clock import WALL_TIME

if TYPE_CHECKING:
    from callpulse.app import App
    from callpulse.core.ingest import RawRecord
    from callpulse.protocols import Batch

ROOT = Path(__file__).resolve().parents[1]
PROMETHEUS_ACCEPT = "application/openmetrics-text; version=1.0.0,text/plain;version=0.0.4;q=0.5"
TOPIC = "contact-center.events"
PARTITIONS = 6
AGENTS_PER_QUEUE = 2
HISTORY_SECONDS = 870.0  # how long ago the sites first reported: within the 15m window
REFRESH_AFTER = 30.0  # s: older calls are topped up before a quiet scrape
KEEPALIVE_SECONDS = 15.0
PROBE_SECONDS = 0.001
STALL_KEPT = 0.001  # probe wake-ups later than this are kept, with their times
STALL_TARGET_MS = 20.0
STEADY_LEAD = 2.0  # s of stream before the first loaded scrape, and after the last
MIN_LOADED_SCRAPES = 3
SCRAPE_TIMEOUT = 900.0
LOOP_WORK = ("alert_evaluation", "status_sample", "tick", "gc", "feed")
CAUSES = (*LOOP_WORK, "scrape", "none")


# --- events --------------------------------------------------------------------------------


def stamp(t: float) -> str:
    """RFC 3339 in UTC with milliseconds, as a producer writes ``occurred_at``."""
    return datetime.fromtimestamp(t, UTC).isoformat(timespec="milliseconds")[:-6] + "Z"


class Traffic:
    """Events v1 for ``queues`` queues spread over ``sites`` sites, as raw records."""

    def __init__(self, queues: int, sites: int) -> None:
        from callpulse.core.ingest import RawRecord

        self._record = RawRecord
        self.queues, self.sites = queues, sites
        self.site_names = [f"site-{s:03d}" for s in range(sites)]
        self._keys = [name.encode() for name in self.site_names]
        self.queue_names = [f"queue-{j:05d}" for j in range(queues)]
        self._seq = 0
        self._offset = 0
        self._cursor = 0  # the steady stream's next queue (and, past a round, agent)
        self._site_cursor = 0

    def _add(self, out: list[RawRecord], site: int, kind: str, at: str, fields: str) -> None:
        self._seq += 1
        self._offset += 1
        value = (
            f'{{"schema_version":1,"event_id":"b{self._seq}","type":"{kind}",'
            f'"occurred_at":"{at}","site":"{self.site_names[site]}",{fields}}}'
        )
        out.append(
            self._record(
                value.encode(),
                key=self._keys[site],
                topic=TOPIC,
                partition=site % PARTITIONS,
                offset=self._offset,
            )
        )

    def infrastructure(self, out: list[RawRecord], site: int, at: str) -> None:
        """A site's component, trunk and IVR application report in (7 events)."""
        s, n = f"{site:03d}", self._seq
        trunk, ivr = f'"trunk_id":"trunk-{s}"', f'"application":"ivr-{s}"'
        for kind, fields in (
            ("component.health", f'"component":"sbc-{s}","kind":"sbc","status":"up"'),
            ("trunk.status", f'{trunk},"state":"up","channels_in_use":12,"channels_total":120'),
            ("call.setup", f'{trunk},"call_id":"t{n}","sip_code":200,"post_dial_delay_ms":850'),
            (
                "media.quality",
                f'{trunk},"call_id":"t{n}","mos":4.3,"jitter_ms":3.5,'
                '"packet_loss_ratio":0.001,"rtt_ms":40',
            ),
            ("ivr.session_started", f'"session_id":"i{n}",{ivr},"call_id":"t{n}"'),
            (
                "ivr.session_ended",
                f'"session_id":"i{n}",{ivr},"outcome":"contained","duration_seconds":42.0',
            ),
            ("ivr.ports", f'{ivr},"ports_in_use":20,"ports_total":120'),
        ):
            self._add(out, site, kind, at, fields)

    def _agent(self, out: list[RawRecord], j: int, agent: int, state: str, at: str) -> None:
        queue = self.queue_names[j]
        fields = f'"agent_id":"agent-{j}-{agent}","state":"{state}","queues":["{queue}"]'
        self._add(out, j % self.sites, "agent.state", at, fields)

    def _call(self, out: list[RawRecord], j: int, kind: str, at: str, call: str, tail: str) -> None:
        fields = f'"call_id":"{call}","queue":"{self.queue_names[j]}"{tail}'
        self._add(out, j % self.sites, kind, at, fields)

    def _queue_fill(self, out: list[RawRecord], j: int, at: Callable[[float], str]) -> None:
        """Every series of queue ``j``: 14 events over the last 10 s."""
        self._agent(out, j, 0, "available", at(10))
        self._agent(out, j, 1, "available", at(10))
        for k in range(3):
            self._call(out, j, "call.queued", at(9), f"f{j}-{k}", "")
        self._call(out, j, "call.abandoned", at(6), f"f{j}-2", ',"wait_seconds":3.0')
        for agent, wait in ((0, 4.0), (1, 5.0)):
            answered = f',"agent_id":"agent-{j}-{agent}","wait_seconds":{wait}'
            self._call(out, j, "call.answered", at(9 - wait), f"f{j}-{agent}", answered)
            self._agent(out, j, agent, "on_call", at(9 - wait))
        for agent in (0, 1):
            done = (
                f',"agent_id":"agent-{j}-{agent}","talk_seconds":30.0,"hold_seconds":0.0,'
                '"acw_seconds":3.0'
            )
            self._call(out, j, "call.completed", at(1), f"f{j}-{agent}", done)
            self._agent(out, j, agent, "available", at(1))

    def _queue_refresh(self, out: list[RawRecord], j: int, at: Callable[[float], str]) -> None:
        """One more call on queue ``j`` (3 events), answered and completed by its agent 0."""
        call, who = f"r{self._seq}", f',"agent_id":"agent-{j}-0"'
        self._call(out, j, "call.queued", at(6), call, "")
        self._call(out, j, "call.answered", at(3), call, f'{who},"wait_seconds":3.0')
        done = f'{who},"talk_seconds":2.0,"hold_seconds":0.0,"acw_seconds":0.5'
        self._call(out, j, "call.completed", at(0.5), call, done)

    def _batches(
        self, batch: int, per_queue: Callable[[list[RawRecord], int, Callable[[float], str]], None]
    ) -> Iterator[list[RawRecord]]:
        """Batches of at least ``batch`` records of ``per_queue`` over every queue, each
        stamped when it is made (a queue's events stay in one batch)."""
        now = time.time()
        stamps: dict[float, str] = {}

        def at(ago: float) -> str:
            text = stamps.get(ago)
            if text is None:
                text = stamps[ago] = stamp(now - ago)
            return text

        out: list[RawRecord] = []
        for j in range(self.queues):
            if len(out) >= batch:
                yield out
                out, now = [], time.time()
                stamps.clear()
            per_queue(out, j, at)
        if out:
            yield out

    def fill(self, batch: int) -> Iterator[list[RawRecord]]:
        """Every series of every site and queue."""
        then, now = stamp(time.time() - HISTORY_SECONDS), stamp(time.time() - 10)
        sites: list[RawRecord] = []
        for site in range(self.sites):
            self.infrastructure(sites, site, then)
        for site in range(self.sites):
            self.infrastructure(sites, site, now)
        yield sites
        yield from self._batches(batch, self._queue_fill)

    def refresh(self, batch: int) -> Iterator[list[RawRecord]]:
        """One more call on every queue."""
        return self._batches(batch, self._queue_refresh)

    def steady(self, size: int) -> list[RawRecord]:
        """About ``size`` records at the current time: a site's infrastructure, then whole
        calls (5 events each) on the next queues round-robin."""
        at = stamp(time.time())
        out: list[RawRecord] = []
        self.infrastructure(out, self._site_cursor % self.sites, at)
        self._site_cursor += 1
        while len(out) < size:
            j = self._cursor % self.queues
            agent = (self._cursor // self.queues) % AGENTS_PER_QUEUE
            self._cursor += 1
            call, who = f"s{self._seq}", f',"agent_id":"agent-{j}-{agent}"'
            self._call(out, j, "call.queued", at, call, "")
            self._call(out, j, "call.answered", at, call, f'{who},"wait_seconds":2.0')
            self._agent(out, j, agent, "on_call", at)
            done = f'{who},"talk_seconds":20.0,"hold_seconds":0.0,"acw_seconds":3.0'
            self._call(out, j, "call.completed", at, call, done)
            self._agent(out, j, agent, "available", at)
        return out

    def keepalive(self) -> list[RawRecord]:
        """Every site's infrastructure reports in (a quiet system is not a silent one)."""
        at = stamp(time.time())
        out: list[RawRecord] = []
        for site in range(self.sites):
            self.infrastructure(out, site, at)
        return out


# --- timing ----------------------------------------------------------------------------------


class Intervals:
    """(start, end) monotonic times of something that happened, one after the other."""

    def __init__(self) -> None:
        self.starts = array("d")
        self.ends = array("d")
        self.cpu = array("d")  # the thread's CPU seconds within each, where timed

    def add(self, start: float, end: float, cpu: float = math.nan) -> None:
        self.starts.append(start)
        self.ends.append(end)
        self.cpu.append(cpu)

    def add_run(self, start: float, end: float, cpu: float, joined: bool) -> None:
        """:meth:`add`, or, ``joined``, the last interval carried on to ``end`` (the pieces
        of one hold of the loop)."""
        if joined and self.ends:
            self.ends[-1] = end
            self.cpu[-1] += cpu
        else:
            self.add(start, end, cpu)

    def durations_ms(self, since: float = 0.0, until: float = math.inf) -> list[float]:
        return [
            (e - s) * 1000
            for s, e in zip(self.starts, self.ends, strict=True)
            if since <= s and e <= until
        ]

    def cpu_ms(self, since: float = 0.0) -> list[float]:
        """The CPU time of those timed with it: a hold longer on the wall than in CPU was
        the process waiting for a core (two cores shared with the render child, the
        scraping client and the records' maker) or for memory."""
        return [
            c * 1000
            for s, c in zip(self.starts, self.cpu, strict=True)
            if since <= s and not math.isnan(c)
        ]

    def overlap(self) -> Callable[[float, float], float]:
        """How long (t0, t1) overlaps them, in s (they must not overlap each other)."""
        pairs = sorted(zip(self.starts, self.ends, strict=True))
        starts = [s for s, _ in pairs]
        ends = [e for _, e in pairs]

        def measure(t0: float, t1: float) -> float:
            total, i = 0.0, bisect_left(starts, t1) - 1
            while i >= 0 and ends[i] > t0:
                total += min(ends[i], t1) - max(starts[i], t0)
                i -= 1
            return total

        return measure


class Marks:
    """When the daemon's periodic work, its renders, full collections and feeds ran."""

    def __init__(self) -> None:
        self.ticks = Intervals()
        self.evaluations = Intervals()  # each hold of the loop by an evaluation
        self.evaluation_spans = Intervals()  # each evaluation, from start to end
        self.status_samples = Intervals()
        self.renders = Intervals()
        self.gcs = Intervals()
        self.feeds = Intervals()


def instrument(app: App, marks: Marks) -> None:
    """Time the daemon's periodic work where it runs: its objects' methods are wrapped on the
    instances; nothing in the package changes."""

    def timed(call: Callable[..., Any], into: Intervals, task: str | None = None) -> Any:
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            start = time.monotonic()
            try:
                return call(*args, **kwargs)
            finally:
                current = asyncio.current_task() if task else None
                if task is None or (current is not None and current.get_name() == task):
                    into.add(start, time.monotonic())

        return wrapper

    # The 1 s tick only (the consume loop's tick before each batch is part of the batch).
    # Wrapped on the consumer, not the monitor: a compiled Monitor's methods cannot be
    # replaced on the instance.
    app.runtime.consumer.tick = timed(  # type: ignore[method-assign]
        app.runtime.consumer.tick, marks.ticks, "callpulse-tick"
    )
    # An evaluation runs in steps with batches between them: each run of steps the loop
    # makes without a pause is one hold (marks.evaluations), the whole evaluation a span.
    steps_of = app.runtime.consumer.evaluation_steps

    def timed_steps() -> Generator[None, None, Any]:
        # A step joins the hold of the one before unless the loop has run a callback since:
        # two steps a few microseconds apart may still have an idle loop's turn between them.
        loop = asyncio.get_running_loop()
        turns = [0]

        def turn() -> None:
            turns[0] += 1

        steps = steps_of()
        first = time.monotonic()
        seen = -1
        try:
            while True:
                start, cpu = time.monotonic(), time.thread_time()
                joined = turns[0] == seen
                try:
                    next(steps)
                except StopIteration as done:
                    return done.value
                finally:
                    took = time.thread_time() - cpu
                    marks.evaluations.add_run(start, time.monotonic(), took, joined)
                    seen = turns[0]
                    loop.call_soon(turn)
                yield
        finally:
            marks.evaluation_spans.add(first, time.monotonic())

    app.runtime.consumer.evaluation_steps = timed_steps  # type: ignore[method-assign,assignment]
    # A status sample runs in steps, in a task of its own: each step one interval.
    sample_steps = app.runtime.status.sample_in_steps

    def timed_sample_steps(*args: Any) -> Generator[None, None, None]:
        steps = sample_steps(*args)
        while True:
            start = time.monotonic()
            try:
                next(steps)
            except StopIteration:
                return
            finally:
                marks.status_samples.add(start, time.monotonic())
            yield

    app.runtime.status.sample_in_steps = timed_sample_steps  # type: ignore[method-assign]

    # A scrape's reading of the registry (the families computed, and formatted as they come),
    # as long as the renderer goes through CollectorRegistry.collect.
    collect = app.runtime.registry.collect

    def timed_collect() -> Iterator[Any]:
        start = time.monotonic()
        try:
            yield from collect()
        finally:
            marks.renders.add(start, time.monotonic())

    app.runtime.registry.collect = timed_collect  # type: ignore[method-assign]

    began = [0.0]

    def on_gc(phase: str, info: dict[str, int]) -> None:
        if phase == "start":
            began[0] = time.monotonic()
        elif info["generation"] == 2:
            marks.gcs.add(began[0], time.monotonic())

    gc.callbacks.append(on_gc)


class Probe:
    """Sleeps 1 ms on the loop again and again; keeps the wake-ups over 1 ms late."""

    def __init__(self) -> None:
        self.wakeups = 0
        self.late = Intervals()

    async def run(self) -> None:
        clock, sleep = time.monotonic, asyncio.sleep
        while True:
            start = clock()
            await sleep(PROBE_SECONDS)
            end = clock()
            self.wakeups += 1
            if end - start - PROBE_SECONDS > STALL_KEPT:
                self.late.add(start, end)


class RenderChildren(threading.Thread):
    """Samples, every 20 ms, the memory of this process's forked copies (children running
    this same command: a /metrics rendered in a child, if the daemon does that), and this
    process's RSS at that moment. What a child has copied of the daemon (Private_Dirty) is
    memory the two need together, on top of the daemon's RSS."""

    def __init__(self) -> None:
        super().__init__(name="bench-render-children", daemon=True)
        self.done = threading.Event()
        self.seen: set[int] = set()
        self.private_kib = 0  # the most a child held of its own (copied or new pages)
        self.rss_kib = 0  # the largest child RSS (mostly pages shared with the daemon)
        self.together_kib = 0  # daemon RSS + that child's private pages, at the worst moment

    def run(self) -> None:
        me = os.getpid()
        mine = Path(f"/proc/{me}/cmdline").read_bytes()
        children = Path(f"/proc/{me}/task/{me}/children")
        clients: set[int] = set()
        while not self.done.wait(0.02):
            try:
                pids = [int(pid) for pid in children.read_text().split()]
            except OSError:
                return  # no /proc children listing here
            for pid in pids:
                if pid in clients:
                    continue
                try:
                    if Path(f"/proc/{pid}/cmdline").read_bytes() != mine:
                        clients.add(pid)  # the scraping client, once it has started
                        continue
                    rollup = Path(f"/proc/{pid}/smaps_rollup").read_text().split("\n")
                except OSError:
                    continue  # gone already
                self.seen.add(pid)
                kib = {f[0]: int(f[1]) for f in (line.split() for line in rollup) if len(f) == 3}
                private = kib.get("Private_Dirty:", 0) + kib.get("Private_Clean:", 0)
                self.private_kib = max(self.private_kib, private)
                self.rss_kib = max(self.rss_kib, kib.get("Rss:", 0))
                self.together_kib = max(self.together_kib, round(rss_mib() * 1024) + private)

    def report(self) -> dict[str, Any]:
        mib = 1024
        return {
            "seen": len(self.seen),
            "private_mib_max": round(self.private_kib / mib, 1),
            "rss_mib_max": round(self.rss_kib / mib, 1),
            "daemon_rss_plus_child_private_mib_max": round(self.together_kib / mib, 1),
        }


# --- the source --------------------------------------------------------------------------------


class BenchSource:
    """A Source in memory (rejects counted, as DeadLettering): batches fed as told, then idle,
    or a steady stream."""

    name = "bench"
    clock = WALL_TIME

    def __init__(self, traffic: Traffic, batch: int, marks: Marks) -> None:
        from callpulse.protocols import DeadLetterStats

        self.dead_letters = DeadLetterStats()
        self.traffic = traffic
        self.batch = batch
        self.marks = marks
        self.mode = "idle"  # feed | idle | steady
        self.started = asyncio.Event()
        self._feed: Iterator[list[RawRecord]] = iter(())
        self._fed = asyncio.Event()
        self._feed_began = 0.0
        self.gaps = Intervals()  # steady: a batch handed over -> the next one asked for
        self._handed: float | None = None
        self.steady_records = 0
        self.steady_make_seconds = 0.0
        self._keepalive_at = time.monotonic() + KEEPALIVE_SECONDS

    async def feed(self, batches: Iterator[list[RawRecord]]) -> float:
        """Hand ``batches`` to the daemon; return once all are applied, with the seconds."""
        self._feed, self._fed = batches, asyncio.Event()
        self._feed_began = time.monotonic()
        self.mode = "feed"
        await self._fed.wait()
        return time.monotonic() - self._feed_began

    async def start(self) -> None:
        """Nothing to connect to (the daemon starts its source once HTTP is up)."""
        self.started.set()

    async def fetch(self) -> Batch:
        from callpulse.protocols import Batch

        now = time.monotonic()
        if self.mode == "steady":
            if self._handed is not None:
                self.gaps.add(self._handed, now)
            records = self.traffic.steady(self.batch)
            self.steady_records += len(records)
            self._handed = time.monotonic()
            self.steady_make_seconds += self._handed - now
            return Batch(records)
        self._handed = None
        if self.mode == "feed":
            # The loop applies and commits a batch before it asks for the next one: when
            # there is no next one, all of them have been applied.
            chunk = next(self._feed, None)
            if chunk is not None:
                return Batch(chunk)
            self.marks.feeds.add(self._feed_began, now)
            self.mode = "idle"
            self._fed.set()
        if now >= self._keepalive_at:
            self._keepalive_at = now + KEEPALIVE_SECONDS
            return Batch(self.traffic.keepalive())
        await asyncio.sleep(0.05)
        return Batch(())

    async def commit(self, batch: Batch) -> None:
        """Nothing to commit."""

    async def dead_letter(self, rejections: Sequence[Any]) -> None:
        self.dead_letters.written += len(rejections)

    async def stop(self) -> None:
        """Nothing to close."""

    def readiness(self) -> tuple[bool, str]:
        return True, "in-memory source"


# --- the scraping client (its own process) ---------------------------------------------------


async def client_main(url: str, accept: str, seconds: float, interval: float) -> None:
    """Print "ready", then one JSON line per scrape: with ``seconds``, every ``interval``
    for that long (and at least MIN_LOADED_SCRAPES times); else one per "go" on stdin."""
    import aiohttp

    timeout = aiohttp.ClientTimeout(total=SCRAPE_TIMEOUT)
    headers = {"Accept": accept, "Accept-Encoding": "gzip"}
    loop = asyncio.get_running_loop()
    async with aiohttp.ClientSession(timeout=timeout, auto_decompress=False) as session:
        print("ready", flush=True)
        if not seconds:
            while (await loop.run_in_executor(None, sys.stdin.readline)).strip() == "go":
                print(json.dumps(await get(session, url, headers)), flush=True)
            return
        await asyncio.sleep(STEADY_LEAD)
        began = next_at = time.monotonic()
        done = 0
        while time.monotonic() - began < seconds or done < MIN_LOADED_SCRAPES:
            delay = next_at - time.monotonic()
            if delay > 0:
                await asyncio.sleep(delay)
            result = await get(session, url, headers)
            print(json.dumps(result), flush=True)
            done += 1
            start, end = result["start"], result["end"]
            next_at = start + interval if end < start + interval else end + interval


async def get(session: Any, url: str, headers: dict[str, str]) -> dict[str, Any]:
    import gzip

    start = time.monotonic()
    async with session.get(url, headers=headers) as response:
        wire = await response.read()
    end = time.monotonic()
    encoding = response.headers.get("Content-Encoding", "")
    body = gzip.decompress(wire) if encoding == "gzip" else wire
    comments = body.count(b"\n#") + body.startswith(b"#")
    marker = b"\ncallpulse_collect_duration_seconds "
    at = body.find(marker)
    collect = float(body[at + len(marker) : body.index(b"\n", at + 1)]) if at >= 0 else None
    return {
        "start": start,
        "end": end,
        "status": response.status,
        "encoding": encoding,
        "content_type": response.headers.get("Content-Type", ""),
        "wire_bytes": len(wire),
        "bytes": len(body),
        "samples": body.count(b"\n") - comments,
        "collect_seconds": collect,
    }


class Client:
    """The daemon's side of the scraping client."""

    def __init__(self, proc: asyncio.subprocess.Process) -> None:
        self._proc = proc

    @classmethod
    async def start(cls, url: str, accept: str, *options: str) -> Client:
        proc = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "benchmarks.scale",
            "client",
            url,
            "--accept",
            accept,
            *options,
            cwd=ROOT,
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
        )
        client = cls(proc)
        assert proc.stdout is not None
        line = await proc.stdout.readline()
        if line.strip() != b"ready":
            await client.close()
            raise RuntimeError(f"the client did not start: {line!r}")
        return client

    async def scrape(self) -> dict[str, Any]:
        """One scrape now."""
        stdin, stdout = self._proc.stdin, self._proc.stdout
        assert stdin is not None
        assert stdout is not None
        stdin.write(b"go\n")
        await stdin.drain()
        return self._checked(await stdout.readline())

    async def results(self) -> list[dict[str, Any]]:
        """Every scrape of a timed client, once it is done."""
        assert self._proc.stdout is not None
        return [self._checked(line) async for line in self._proc.stdout]

    @staticmethod
    def _checked(line: bytes) -> dict[str, Any]:
        if not line:
            raise RuntimeError("the client ended early")
        result: dict[str, Any] = json.loads(line)
        if result["status"] != 200:
            raise RuntimeError(f"/metrics answered {result['status']}")
        return result

    async def close(self) -> None:
        proc = self._proc
        if proc.stdin is not None:
            proc.stdin.close()  # a quiet client stops at the end of its input
        try:
            await asyncio.wait_for(proc.wait(), timeout=10)
        except TimeoutError:
            proc.kill()
            await proc.wait()


# --- one size (its own process) --------------------------------------------------------------


def rss_mib() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return round(int(line.split()[1]) / 1024, 1)
    return 0.0


def spread(values: Sequence[float]) -> dict[str, Any]:
    """n, p50, p99 and max of ``values`` (milliseconds), rounded."""
    if not values:
        return {"n": 0}
    ordered = sorted(values)
    return {
        "n": len(ordered),
        "p50": round(statistics.median(ordered), 2),
        "p99": round(ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))], 2),
        "max": round(ordered[-1], 2),
    }


def attribute(
    spans: Intervals, since: float, until: float, causes: dict[str, Callable[[float, float], float]]
) -> dict[str, list[float]]:
    """``spans`` between ``since`` and ``until`` in ms, by cause: the daemon's own loop work
    that covers at least half of one (the longest such), else a scrape in flight, else none.
    So an alert evaluation that runs while a scrape is in flight is not the scrape's."""
    out: dict[str, list[float]] = {name: [] for name in CAUSES}
    for t0, t1 in zip(spans.starts, spans.ends, strict=True):
        if since <= t0 and t1 <= until:
            covered = {name: causes[name](t0, t1) for name in LOOP_WORK}
            cause = max(covered, key=covered.__getitem__)
            if covered[cause] < (t1 - t0) / 2:
                cause = "scrape" if causes["scrape"](t0, t1) > 0 else "none"
            out[cause].append((t1 - t0) * 1000)
    return out


def worst(by_cause: dict[str, list[float]]) -> dict[str, Any]:
    """The longest, and how many exceeded the target, by cause."""
    return {
        name: {
            "max": round(max(v), 1),
            f"over_{STALL_TARGET_MS:g}ms": sum(1 for x in v if x > STALL_TARGET_MS),
        }
        for name, v in by_cause.items()
        if v
    }


def scrape_summary(scrapes: list[dict[str, Any]], marks: Marks) -> dict[str, Any]:
    walls = [(s["end"] - s["start"]) * 1000 for s in scrapes]
    collects = [s["collect_seconds"] * 1000 for s in scrapes if s["collect_seconds"] is not None]
    renders = marks.renders.durations_ms(scrapes[0]["start"], scrapes[-1]["end"])
    last = scrapes[-1]
    return {
        "n": len(scrapes),
        "ms_p50": round(statistics.median(walls), 1),
        "ms_max": round(max(walls), 1),
        # The daemon's side: CollectorRegistry.collect iterated (if the renderer uses it),
        # and callpulse_collect_duration_seconds as the scrape's body reports it.
        "registry_collect_ms_p50": round(statistics.median(renders), 1) if renders else None,
        "collect_duration_metric_ms_p50": round(statistics.median(collects), 1)
        if collects
        else None,
        "samples": last["samples"],
        "samples_min": min(s["samples"] for s in scrapes),
        "bytes": last["bytes"],
        "wire_bytes": last["wire_bytes"],
        "encoding": last["encoding"],
        "content_type": last["content_type"],
    }


def settings_for(queues: int, sites: int, overrides: Sequence[str]) -> Any:
    from callpulse.config import Settings
    from callpulse.core.cardinality import DEFAULT_LIMITS
    from callpulse.shipped import shipped

    caps = {
        "site": max(DEFAULT_LIMITS["site"], sites),
        "queue": queues,  # (site, queue) pairs: exactly the queues sent
        "agent": AGENTS_PER_QUEUE * queues,
        **{k: max(DEFAULT_LIMITS[k], sites) for k in ("application", "trunk", "component")},
    }
    data: dict[str, Any] = {
        "http": {"host": "127.0.0.1", "port": 0},
        "kpi": {"max_label_values": caps},
    }
    for override in overrides:  # KEY.PATH=VALUE, the value as JSON if it is JSON
        path, _, text = override.partition("=")
        *parents, key = path.split(".")
        section = data
        for name in parents:
            section = section.setdefault(name, {})
        try:
            section[key] = json.loads(text)
        except ValueError:
            section[key] = text
    settings = Settings.model_validate(data)
    settings.rule_files = [shipped("rules.yaml")]  # what the daemon evaluates by default
    return settings


def progress(queues: int, message: str) -> None:
    print(f"[{queues} queues] {message}", file=sys.stderr, flush=True)


async def one_size(args: argparse.Namespace) -> dict[str, Any]:
    from callpulse.app import App
    from callpulse.config import compile_config
    from callpulse.runtime import compose

    queues = args.queues[0]
    rss = {"start": rss_mib()}
    marks = Marks()
    source = BenchSource(Traffic(queues, args.sites), args.batch, marks)
    app = App(compose(compile_config(settings_for(queues, args.sites, args.set)), source))
    instrument(app, marks)
    run = asyncio.create_task(app.run(), name="bench-daemon")
    bench = asyncio.create_task(measure(app, source, marks, rss, args), name="bench-measure")
    done, _ = await asyncio.wait({run, bench}, return_when=asyncio.FIRST_COMPLETED)
    if bench not in done:
        bench.cancel()
        await asyncio.gather(bench, return_exceptions=True)
        raise SystemExit(f"the daemon stopped before the benchmark ended (status {run.result()})")
    app.request_stop()
    status = await run
    result = bench.result()  # raises what the benchmark raised, once the daemon has stopped
    result["rss_mib"] = rss
    result["daemon_exit_status"] = status
    return result


async def measure(
    app: App, source: BenchSource, marks: Marks, rss: dict[str, float], args: argparse.Namespace
) -> dict[str, Any]:
    queues, traffic, monitor = args.queues[0], source.traffic, app.runtime.pipeline.monitor
    await source.started.wait()
    url = f"http://127.0.0.1:{app.runtime.http.port}/metrics"
    rss["before_fill"] = rss_mib()

    # 1. Fill.
    progress(queues, "filling ...")
    fresh_since = time.monotonic()
    seconds = await source.feed(traffic.fill(args.fill_batch))
    rss["after_fill"] = rss_mib()
    events = sum(monitor.stats.events_by_type.values())
    fill = {
        "events": events,
        "seconds": round(seconds, 2),
        "events_per_second": round(events / seconds),
        "queues_tracked": len(monitor.queues),
        "invalid": sum(app.runtime.pipeline.ingest.invalid.values()),
        "overflow": {k: v for k, v in monitor.guard.overflow.items() if v},
    }
    progress(queues, f"filled: {json.dumps(fill)}")
    if fill["queues_tracked"] != queues or fill["invalid"] or fill["overflow"]:
        progress(queues, "WARNING: the queues tracked are not the queues sent")

    probe = Probe()
    probing = asyncio.create_task(probe.run(), name="bench-probe")
    children = RenderChildren()
    children.start()
    try:
        # 2. Quiet scrapes.
        progress(queues, f"{args.scrapes} quiet scrapes ...")
        quiet_from = time.monotonic()
        quiet: list[dict[str, Any]] = []
        refreshes: list[float] = []
        client = await Client.start(url, args.accept)
        try:
            for _ in range(args.scrapes):
                if time.monotonic() - fresh_since > REFRESH_AFTER:
                    fresh_since = time.monotonic()
                    refreshes.append(await source.feed(traffic.refresh(args.fill_batch)))
                await asyncio.sleep(args.pause)
                quiet.append(await client.scrape())
        finally:
            await client.close()
        quiet_until = time.monotonic()
        rss["after_quiet_scrapes"] = rss_mib()

        # 3. Steady stream, scraped every interval.
        progress(queues, f"steady stream for {args.seconds:g} s, scraped every {args.interval:g} s")
        client = await Client.start(
            url, args.accept, "--seconds", str(args.seconds), "--interval", str(args.interval)
        )
        steady_from = time.monotonic()
        source.mode = "steady"
        try:
            loaded = await client.results()
        finally:
            await client.close()
        await asyncio.sleep(STEADY_LEAD)
        source.mode = "idle"
        steady_until = time.monotonic()
        rss["after_steady"] = rss_mib()
    finally:
        probing.cancel()
        await asyncio.gather(probing, return_exceptions=True)
        children.done.set()
        children.join()
    # The daemon's renderer's own counts, if it keeps any (whatever it names them).
    renderer = {
        k: v
        for k, v in vars(app.runtime.renderer).items()
        if not k.startswith("_") and isinstance(v, int | float)
    }
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    rss["peak"] = round(max(peak, *rss.values()), 1)
    if args.profile:  # once all is measured: it holds the loop for a whole slow render
        profile_render(app, args.accept, queues)
        profile_evaluation(app, queues)

    scrapes = Intervals()
    for s in [*quiet, *loaded]:
        scrapes.add(s["start"], s["end"])
    causes = {
        "alert_evaluation": marks.evaluations.overlap(),
        "status_sample": marks.status_samples.overlap(),
        "tick": marks.ticks.overlap(),
        "gc": marks.gcs.overlap(),
        "feed": marks.feeds.overlap(),
        "scrape": scrapes.overlap(),
    }
    steady_seconds = steady_until - steady_from
    return {
        "queues": queues,
        "sites": args.sites,
        "agents": AGENTS_PER_QUEUE * queues,
        "windows": list(monitor.window_labels),
        "evaluation_interval_s": app.runtime.settings.alerting.evaluation_interval,
        "fill": fill,
        "refreshes_s": [round(r, 2) for r in refreshes],
        "scrape_quiet": scrape_summary(quiet, marks),
        "scrape_loaded": scrape_summary(loaded, marks),
        "steady": {
            "seconds": round(steady_seconds, 1),
            "records": source.steady_records,
            "records_per_second": round(source.steady_records / steady_seconds),
            "batch": args.batch,
            "make_us_per_record": round(
                source.steady_make_seconds / max(1, source.steady_records) * 1e6, 2
            ),
        },
        # How late the 1 ms probe woke (the loop's stall) in ms, by what overlapped it;
        # wake-ups at most 1 ms late are not kept.
        "loop_stall_quiet_ms": worst(attribute(probe.late, quiet_from, quiet_until, causes)),
        "loop_stall_ms": worst(attribute(probe.late, steady_from, steady_until, causes)),
        "probe_wakeups": probe.wakeups,
        # From handing a steady batch over to being asked for the next, in ms.
        "fetch_gap_ms": {
            name: spread(v)
            for name, v in attribute(source.gaps, steady_from, steady_until, causes).items()
            if v
        },
        "alert_evaluation_ms": spread(marks.evaluations.durations_ms(quiet_from)),
        "alert_evaluation_cpu_ms": spread(marks.evaluations.cpu_ms(quiet_from)),
        "alert_evaluation_span_ms": spread(marks.evaluation_spans.durations_ms(quiet_from)),
        "status_sample_ms": spread(marks.status_samples.durations_ms(quiet_from)),
        "tick_ms": spread(marks.ticks.durations_ms(quiet_from)),
        "gc_gen2_ms": spread(marks.gcs.durations_ms()),
        "render_children": children.report(),
        "renderer": renderer,
    }


def profile_render(app: App, accept: str, queues: int) -> None:
    """To stderr: cProfile of the registry rendered right here, with the writer the daemon
    picks for ``accept``: what a scrape costs wherever the daemon runs it.
    (Not the daemon's thread during a scrape: a child forked then would inherit the
    profiler and render several times slower.)"""
    import cProfile

    from prometheus_client.exposition import choose_encoder

    from callpulse.web.textformat import fast_encoder

    library, content_type = choose_encoder(accept)
    encode = fast_encoder(library)
    profiler = cProfile.Profile()
    began = time.perf_counter()
    profiler.runcall(encode, app.runtime.registry)
    took = (time.perf_counter() - began) * 1000
    progress(queues, f"profile of the registry rendered as {content_type} ({took:.0f} ms):")
    print_profile(profiler, 25)


def profile_evaluation(app: App, queues: int) -> None:
    """To stderr: cProfile of one alert evaluation (the shipped rules), which runs on the
    event loop."""
    import cProfile

    profiler = cProfile.Profile()
    began = time.perf_counter()
    profiler.runcall(app.runtime.pipeline.alerting.evaluate)
    took = (time.perf_counter() - began) * 1000
    progress(queues, f"profile of one alert evaluation ({took:.0f} ms):")
    print_profile(profiler, 25)


def print_profile(profiler: Any, top: int) -> None:
    import pstats

    stats = pstats.Stats(profiler, stream=sys.stderr)
    stats.sort_stats("tottime").print_stats(top)
    stats.sort_stats("cumulative").print_stats(top)
    sys.stderr.flush()


# --- all sizes -------------------------------------------------------------------------------


def table(results: list[dict[str, Any]]) -> str:
    head = (
        "| queues | samples | MB (gzip) | quiet scrape p50 / max ms | loaded p50 / max ms "
        "| stall in scrape max ms | stall otherwise max ms (cause) "
        "| alert eval: loop held p50 / max, whole p50 ms "
        "| RSS after fill MiB | KiB / queue | peak RSS MiB | fill events/s |"
    )
    rows = [head, "|" + "---|" * (head.count("|") - 1)]
    for r in results:
        quiet, loaded, stalls = r["scrape_quiet"], r["scrape_loaded"], r["loop_stall_ms"]
        in_scrape = stalls.get("scrape", {}).get("max", 0.0)
        others = {k: v["max"] for k, v in stalls.items() if k != "scrape"}
        cause = max(others, key=others.__getitem__) if others else "-"
        rss, evaluation = r["rss_mib"], r["alert_evaluation_ms"]
        whole = r["alert_evaluation_span_ms"].get("p50", 0)
        per_queue = (rss["after_fill"] - rss["before_fill"]) * 1024 / r["queues"]
        rows.append(
            f"| {r['queues']:,} | {quiet['samples']:,} | {quiet['bytes'] / 1e6:.1f} "
            f"({quiet['wire_bytes'] / 1e6:.1f}) | {quiet['ms_p50']:,.0f} / {quiet['ms_max']:,.0f} "
            f"| {loaded['ms_p50']:,.0f} / {loaded['ms_max']:,.0f} | {in_scrape:,.0f} "
            f"| {others.get(cause, 0.0):,.0f} ({cause}) "
            f"| {evaluation.get('p50', 0):,.0f} / {evaluation.get('max', 0):,.0f}, {whole:,.0f} "
            f"| {rss['after_fill']:,.0f} | {per_queue:.1f} | {rss['peak']:,.0f} "
            f"| {r['fill']['events_per_second']:,} |"
        )
    return "\n".join(rows)


def run_size(queues: int, options: list[str], timeout: float) -> dict[str, Any] | None:
    """One size in a fresh process: its JSON line, or None if it failed."""
    command = [sys.executable, "-m", "benchmarks.scale", "size", *options, "--queues", str(queues)]
    proc = subprocess.Popen(command, cwd=ROOT, stdout=subprocess.PIPE, text=True)
    try:
        out, _ = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        progress(queues, f"still running after {timeout:g} s: stopping it")
        proc.send_signal(signal.SIGTERM)  # the daemon shuts down; the client is closed
        try:
            proc.communicate(timeout=60)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.communicate()
        return None
    except BaseException:
        proc.kill()
        proc.wait()
        raise
    lines = [line for line in out.splitlines() if line.startswith("{")]
    if proc.returncode != 0 or not lines:
        progress(queues, f"failed (exit status {proc.returncode})")
        return None
    result: dict[str, Any] = json.loads(lines[-1])
    return result


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="python -m benchmarks.scale", description=__doc__.split("\n\n")[0]
    )
    p.add_argument("--queues", type=int, nargs="+", default=[1_000, 10_000, 50_000])
    p.add_argument("--sites", type=int, default=200)
    p.add_argument("--scrapes", type=int, default=5, help="quiet scrapes (5)")
    p.add_argument("--pause", type=float, default=0.5, help="s before each quiet scrape (0.5)")
    p.add_argument("--seconds", type=float, default=20.0, help="s of loaded scrapes (20)")
    p.add_argument("--interval", type=float, default=1.0, help="s between loaded scrapes (1)")
    p.add_argument("--batch", type=int, default=500, help="records per steady batch (500)")
    p.add_argument("--fill-batch", type=int, default=5000, help="records per fill batch (5000)")
    p.add_argument("--accept", default=PROMETHEUS_ACCEPT, help="the scrapes' Accept header")
    p.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="a setting, e.g. alerting.evaluation_interval=1s (repeatable)",
    )
    p.add_argument("--profile", action="store_true", help="then cProfile a render of the registry")
    p.add_argument("--log-level", default="warning", help="the daemon's, to stderr (warning)")
    p.add_argument("--timeout", type=float, default=3600.0, help="s allowed per size (3600)")
    return p


def main() -> int:
    argv = sys.argv[1:]
    if argv[:1] == ["client"]:
        client = argparse.ArgumentParser()
        client.add_argument("url")
        client.add_argument("--accept", default=PROMETHEUS_ACCEPT)
        client.add_argument("--seconds", type=float, default=0.0)
        client.add_argument("--interval", type=float, default=1.0)
        c = client.parse_args(argv[1:])
        asyncio.run(client_main(c.url, c.accept, c.seconds, c.interval))
        return 0
    if argv[:1] == ["size"]:
        args = parser().parse_args(argv[1:])
        from callpulse import logs

        logs.configure(args.log_level, "json")
        print(json.dumps(asyncio.run(one_size(args))), flush=True)
        return 0
    args = parser().parse_args(argv)
    if min(args.queues) < 1 or args.sites < 1:
        raise SystemExit("--queues and --sites must be positive")
    options = [  # every option but --queues, for each size's process
        *("--sites", str(args.sites), "--scrapes", str(args.scrapes)),
        *("--pause", str(args.pause), "--seconds", str(args.seconds)),
        *("--interval", str(args.interval), "--batch", str(args.batch)),
        *("--fill-batch", str(args.fill_batch), "--accept", args.accept),
        *("--log-level", args.log_level),
        *(f"--set={override}" for override in args.set),
        *(("--profile",) if args.profile else ()),
    ]
    results = []
    for queues in args.queues:
        result = run_size(queues, options, args.timeout)
        if result is not None:
            print(json.dumps(result), flush=True)
            results.append(result)
    if results:
        print()
        print(table(results))
    return 0 if len(results) == len(args.queues) else 1


if __name__ == "__main__":
    sys.exit(main())

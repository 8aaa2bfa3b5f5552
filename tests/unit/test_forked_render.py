"""/metrics rendered in a forked child: the same text as on the event loop, taken at the
moment of the fork (so never half a batch), the parent's process figures, and a fallback
to the event loop when the child fails, and a 503 when it is too slow."""

from __future__ import annotations

import asyncio
import os
import signal
import time
from collections.abc import Iterator

import pytest
from prometheus_client import generate_latest
from prometheus_client.parser import text_string_to_metric_families

from callpulse.core.ingest import Ingest, RawRecord
from callpulse.core.monitor import Monitor, MonitorConfig
from callpulse.protocols import DeadLetterStats
from callpulse.web.exposition import CallpulseCollector, SourceMetrics, build_registry
from callpulse.web.forked import ForkedRenderer, RenderTimeoutError

from .events import raw


def pipeline() -> tuple[Ingest, ForkedRenderer]:
    ingest = Ingest(Monitor(MonitorConfig(), now=time.time()))
    collector = CallpulseCollector(
        ingest,
        SourceMetrics(lag=dict, dead_letters=DeadLetterStats(0, 0)),
        ready=lambda: True,
        wall_clock=lambda: 1_800_000_000.0,
    )
    return ingest, ForkedRenderer(build_registry(collector), timeout=5.0)


def library(registry: object) -> tuple[bytes]:
    """prometheus_client's body, in one part."""
    return (generate_latest(registry),)  # type: ignore[arg-type]


def queued(ingest: Ingest, count: int, first: int = 0) -> None:
    now = time.time()
    ingest.process(
        [
            RawRecord(raw("call.queued", now - 1, call_id=f"c{i}", queue="billing"))
            for i in range(first, first + count)
        ]
    )


def value(text: bytes, name: str, **labels: str) -> float:
    for family in text_string_to_metric_families(text.decode()):
        for sample in family.samples:
            if sample.name == name and labels.items() <= sample.labels.items():
                return sample.value
    raise KeyError(name)


def steady(text: bytes) -> list[str]:
    """The lines that do not change from one scrape to the next."""
    moving = ("process_", "callpulse_collect_duration_seconds")
    return [line for line in text.decode().splitlines() if not line.startswith(moving)]


async def test_a_forked_render_is_the_event_loops_render() -> None:
    ingest, renderer = pipeline()
    queued(ingest, 5)
    forked = await renderer.render(library)
    assert renderer.forked == 1
    assert renderer.inline == 0
    assert steady(forked) == steady(generate_latest(renderer._registry))
    assert value(forked, "callpulse_queue_calls_offered_total", queue="billing") == 5


async def test_a_scrape_sees_the_state_at_its_fork_not_what_came_after() -> None:
    ingest, renderer = pipeline()
    queued(ingest, 5)
    scrape = asyncio.create_task(renderer.render(library))
    await asyncio.sleep(0)  # the task forks before its first wait
    assert renderer.fork_seconds > 0
    queued(ingest, 100, first=5)  # the next batch, while the child renders
    before = await scrape
    assert value(before, "callpulse_queue_calls_offered_total", queue="billing") == 5
    after = await renderer.render(library)
    assert value(after, "callpulse_queue_calls_offered_total", queue="billing") == 105


async def test_process_families_describe_the_parent_not_the_child() -> None:
    _, renderer = pipeline()
    forked = await renderer.render(library)
    here = generate_latest(renderer._registry)
    assert value(forked, "process_start_time_seconds") == value(here, "process_start_time_seconds")


async def test_a_body_in_parts_arrives_whole_and_a_child_failing_midway_sends_none() -> None:
    _, renderer = pipeline()
    parts = [bytes([65 + n]) * (300_000 + n) for n in range(5)]  # more than a pipe holds
    assert await renderer.render(lambda registry: iter(parts)) == b"".join(parts)
    parent = os.getpid()

    def fails_after_a_part(registry: object) -> Iterator[bytes]:
        yield b"half a body "
        if os.getpid() != parent:
            raise RuntimeError("boom")
        yield b"inline\n"

    assert await renderer.render(fails_after_a_part) == b"half a body inline\n"
    assert (renderer.forked, renderer.inline) == (1, 1)


async def test_a_failing_child_falls_back_to_the_event_loop_a_slow_one_is_given_up() -> None:
    _, renderer = pipeline()
    parent = os.getpid()

    def fails_in_child(registry: object) -> tuple[bytes]:
        if os.getpid() != parent:
            raise RuntimeError("boom")
        return (b"inline\n",)

    assert await renderer.render(fails_in_child) == b"inline\n"
    assert (renderer.forked, renderer.inline) == (0, 1)

    renderer._timeout = 0.3

    def hangs_in_child(registry: object) -> tuple[bytes]:
        if os.getpid() != parent:
            time.sleep(30)
        return (b"inline\n",)

    began = time.monotonic()
    with pytest.raises(RenderTimeoutError):
        await renderer.render(hangs_in_child)
    assert time.monotonic() - began < 5  # killed, not waited for
    assert (renderer.forked, renderer.inline, renderer.timeouts) == (0, 1, 1)


@pytest.mark.skipif(not os.path.exists("/proc/self/oom_score_adj"), reason="no /proc here")
async def test_the_render_child_is_the_first_the_kernel_kills_for_memory() -> None:
    _, renderer = pipeline()

    def score(registry: object) -> tuple[bytes]:
        with open("/proc/self/oom_score_adj", "rb") as adj:
            return (adj.read(),)

    before = score(None)
    assert await renderer.render(score) == b"1000\n"
    assert renderer.forked == 1
    assert score(None) == before  # the daemon keeps its own


async def test_off_renders_on_the_event_loop() -> None:
    ingest, renderer = pipeline()
    renderer._enabled = False
    queued(ingest, 2)
    text = await renderer.render(library)
    assert value(text, "callpulse_queue_calls_offered_total", queue="billing") == 2
    assert (renderer.forked, renderer.inline) == (0, 1)


async def test_a_scrape_slower_than_the_render_timeout_is_answered_503() -> None:
    from prometheus_client import CollectorRegistry
    from prometheus_client.core import GaugeMetricFamily
    from prometheus_client.registry import Collector

    from callpulse.web.routes import routes
    from callpulse.web.server import Request

    class Slow(Collector):
        def collect(self) -> list[GaugeMetricFamily]:
            time.sleep(30)  # in the child, which is killed at the timeout
            return []

    registry = CollectorRegistry(auto_describe=False)
    registry.register(Slow())
    renderer = ForkedRenderer(registry, timeout=0.3)
    metrics = routes(renderer, lambda: (True, "ok"), None, None)["/metrics"]  # type: ignore[arg-type]
    began = time.monotonic()
    answer = await metrics(Request("GET", "/metrics", "", {"accept": "text/plain"}))
    assert answer.status == 503
    assert time.monotonic() - began < 5


async def test_a_child_killed_from_outside_is_answered_503_not_rendered_on_the_loop() -> None:
    # The kernel's OOM killer sends SIGKILL: the same render on the loop would take the memory
    # the child could not have, in the daemon.
    from prometheus_client import CollectorRegistry
    from prometheus_client.core import GaugeMetricFamily
    from prometheus_client.registry import Collector

    from callpulse.web.routes import routes
    from callpulse.web.server import Request

    parent = os.getpid()
    collected_here = []

    class Killed(Collector):
        def collect(self) -> list[GaugeMetricFamily]:
            if os.getpid() != parent:
                os.kill(os.getpid(), signal.SIGKILL)
            collected_here.append(1)
            return []

    registry = CollectorRegistry(auto_describe=False)
    registry.register(Killed())
    renderer = ForkedRenderer(registry, timeout=5.0)
    metrics = routes(renderer, lambda: (True, "ok"), None, None)["/metrics"]  # type: ignore[arg-type]
    answer = await metrics(Request("GET", "/metrics", "", {"accept": "text/plain"}))
    assert answer.status == 503
    assert (renderer.forked, renderer.inline, renderer.killed) == (0, 0, 1)
    assert not collected_here

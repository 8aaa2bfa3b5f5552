"""The daemon's alert evaluation reads the queues in slices, letting batches in between, and
judges what it read as the evaluation that reads them at once does."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from callpulse import build, consumer
from callpulse.config import Settings, compile_config
from callpulse.core.ingest import RawRecord
from callpulse.core.queues import QueueView
from callpulse.core.steps import finish
from callpulse.runtime import Runtime, compose
from callpulse.shipped import shipped
from callpulse.web import sampler
from tests.unit.conftest import NOW
from tests.unit.events import raw
from tests.unit.test_app import HangingSource

QUEUES = 300


def daemon(queues: int = QUEUES) -> Runtime:
    """A daemon on the shipped rules whose wall clock stands at NOW, with ``queues`` queues
    over three sites: in every queue a caller waiting since 400 s ago and an agent on a
    call."""
    settings = Settings.model_validate(
        {"rule_files": [str(shipped("rules.yaml"))], "alerting": {"log": False}}
    )
    runtime = compose(compile_config(settings), HangingSource(), clock=lambda: NOW)
    runtime.consumer.started = True  # as once the source has started: the alerts hold till then
    records = []
    for i in range(queues):
        site, queue = f"site{i % 3}", f"q{i}"
        records.append(raw("call.queued", NOW - 400, site, call_id=f"c{i}", queue=queue))
        records.append(
            raw("agent.state", NOW - 500, site, agent_id=f"a{i}", state="on_call", queues=[queue])
        )
    assert runtime.pipeline.feed([RawRecord(r) for r in records], NOW) == []
    return runtime


def judged(runtime: Runtime) -> list[tuple[object, ...]]:
    alerts = runtime.pipeline.alerting.alerts()
    return sorted((a.rule_id, a.labels, a.state, a.value) for a in alerts)


async def test_a_read_in_slices_judges_as_a_read_at_once(monkeypatch) -> None:
    monkeypatch.setattr(consumer, "SLICE_SECONDS", 0.0)  # a slice per hundred queues
    at_once, sliced = daemon(), daemon()
    at_once.consumer.evaluate()
    await sliced.consumer.evaluate_in_slices()
    expected = judged(at_once)
    # The shipped rules see every queue's caller waiting with no agent available.
    names = {dict(labels)["alertname"] for _, labels, _, _ in expected}
    assert {"QueueNoAgentAvailable", "QueueOldestWaitHigh"} <= names
    assert len(expected) >= 2 * QUEUES
    assert judged(sliced) == expected
    views = sliced.pipeline.monitor.queue_views()
    assert len(views) == QUEUES
    assert views == at_once.pipeline.monitor.queue_views()


async def test_batches_are_applied_between_the_slices_and_the_read_keeps_its_queues(
    monkeypatch,
) -> None:
    monkeypatch.setattr(consumer, "SLICE_SECONDS", 0.0)
    runtime = daemon()
    monitor = runtime.pipeline.monitor
    read_before: list[int] = []

    async def meanwhile() -> None:
        await asyncio.sleep(0)  # the evaluation has read its first slice
        read_before.append(1)
        record = raw("call.queued", NOW - 1, "site9", call_id="new", queue="new-queue")
        assert runtime.pipeline.feed([RawRecord(record)], NOW) == []

    other = asyncio.create_task(meanwhile())
    await runtime.consumer.evaluate_in_slices()
    await other
    assert read_before == [1]  # it ran while the evaluation was reading
    # The evaluation judged the queues its read began with; the next read has the new one.
    assert len(monitor.queue_views()) == QUEUES
    monitor.tick(NOW + 1)
    assert len(monitor.queue_views()) == QUEUES + 1


def test_views_of_skips_a_queue_released_meanwhile() -> None:
    runtime = daemon()
    monitor = runtime.pipeline.monitor
    keys = monitor.queues.keys()
    assert len(keys) == QUEUES
    views = monitor.queues.views_of([*keys[:2], ("nowhere", "gone")])
    assert [(v.site, v.queue) for v in views] == keys[:2]


@pytest.mark.skipif(
    build.compiled(), reason="compiled, the queue tracker's methods cannot be patched on it"
)
async def test_the_status_sample_after_a_sliced_evaluation_reads_its_views(monkeypatch) -> None:
    monkeypatch.setattr(consumer, "SLICE_SECONDS", 0.0)
    runtime = daemon()
    queues = runtime.pipeline.monitor.queues
    reads: list[int] = []
    views = queues.views

    def counted() -> list[QueueView]:
        reads.append(1)
        return views()

    queues.views = counted  # type: ignore[method-assign]

    async def meanwhile() -> None:  # a batch between two of the rules' steps
        for _ in range(8):
            await asyncio.sleep(0)
        record = raw("call.queued", NOW - 1, "site0", call_id="late", queue="q0")
        assert runtime.pipeline.feed([RawRecord(record)], NOW) == []

    other = asyncio.create_task(meanwhile())
    await runtime.consumer.evaluate_in_slices()
    await other
    runtime.sampler.due()  # as the alerting loop calls it, right after
    await runtime.sampler.idle()
    assert reads == []  # neither the evaluation nor the sample read every queue at once
    assert len(runtime.status.document()["queues"]) == QUEUES


async def test_a_site_revoked_during_the_read_is_not_kept_in_the_views(monkeypatch) -> None:
    monkeypatch.setattr(consumer, "SLICE_SECONDS", 0.0)
    runtime = daemon()
    monitor = runtime.pipeline.monitor

    async def meanwhile() -> None:
        await asyncio.sleep(0)  # the evaluation has read its first slice
        monitor.forget_sites({"site0"})  # as a revoke does: another replica owns it now

    other = asyncio.create_task(meanwhile())
    await runtime.consumer.evaluate_in_slices()
    await other
    sites = {v.site for v in monitor.queue_views()}
    assert sites == {"site1", "site2"}  # not exported beside its new owner's
    # Nor judged: its alerts are its new owner's.
    assert {dict(labels)["site"] for _, labels, _, _ in judged(runtime)} == {"site1", "site2"}


@pytest.mark.parametrize(
    "change",
    [
        lambda runtime: runtime.pipeline.alerting.release_sites({"site0"}, "revoked"),
        lambda runtime: runtime.pipeline.alerting.adopt_sites({"site1": []}),
        lambda runtime: runtime.pipeline.alerting.replace_rules([]),
    ],
    ids=["revoke", "adopt", "reload"],
)
def test_a_change_while_the_rules_samples_are_read_voids_the_evaluation(change: Any) -> None:
    runtime = daemon(1200)
    runtime.consumer.evaluate()  # every queue's alerts pending
    before = judged(runtime)
    steps = runtime.consumer.evaluation_steps()
    for _ in range(14):  # 12 slices of views, then into the samples' read (500 queues a step)
        next(steps)
    change(runtime)
    after_change = judged(runtime)
    assert finish(steps) == []
    assert judged(runtime) == after_change  # as the change left them, none judged on old reads
    assert after_change != before


async def test_a_status_sample_on_its_own_clock_reads_the_queues_in_slices() -> None:
    # With no evaluation's views kept (the first sample after a start, evaluations held),
    # a read at once would hold the event loop for half a second at 10k queues.
    runtime = daemon()
    status = runtime.status
    ran_between: list[int] = []

    async def meanwhile() -> None:
        await asyncio.sleep(0)  # the sample has read its first slice
        ran_between.append(len(status.document()["queues"][0]["history"]["calls_waiting"]))

    other = asyncio.create_task(meanwhile())
    steps = 0
    for _ in status.sample_in_steps():
        steps += 1
        await asyncio.sleep(0)
    await other
    assert steps == QUEUES // 100
    assert ran_between == [0]  # it ran while the sample was reading, before it was taken
    queues = status.document()["queues"]
    assert len(queues) == QUEUES
    assert {tuple(q["history"]["calls_waiting"]) for q in queues} == {(1.0,)}


async def test_a_status_sample_after_an_evaluation_reads_its_views_at_once() -> None:
    runtime = daemon()
    await runtime.consumer.evaluate_in_slices()
    assert list(runtime.status.sample_in_steps()) == []  # no step: the views were kept
    queues = runtime.status.document()["queues"]
    assert {tuple(q["history"]["calls_waiting"]) for q in queues} == {(1.0,)}


async def test_the_sample_after_an_evaluation_is_recorded_in_slices_of_its_views(
    monkeypatch,
) -> None:
    # At 50k queues recording a sample at once held the event loop 0.2-0.3 s.
    monkeypatch.setattr(sampler, "SLICE_SECONDS", 0.0)  # a slice per thousand queues
    runtime = daemon(1500)
    await runtime.consumer.evaluate_in_slices()
    ran_between: list[int] = []

    async def meanwhile() -> None:  # runs after the sample's first slice
        queues = runtime.status.document()["queues"]
        ran_between.append(sum(1 for q in queues if q["history"]["calls_waiting"]))
        record = raw("call.queued", NOW - 1, "site9", call_id="new", queue="new-queue")
        assert runtime.pipeline.feed([RawRecord(record)], NOW) == []

    runtime.sampler.due()
    other = asyncio.create_task(meanwhile())
    await runtime.sampler.idle()
    await other
    [recorded] = ran_between
    assert 0 < recorded < 1500  # it ran while the sample was being recorded
    # The evaluation's queues were sampled, each once; the one that came meanwhile was not.
    queues = runtime.status.document()["queues"]
    waiting = {(q["site"], q["queue"]): q["history"]["calls_waiting"] for q in queues}
    assert len(waiting) == 1501
    assert waiting.pop(("site9", "new-queue")) == []
    assert set(map(tuple, waiting.values())) == {(1.0,)}


async def test_an_evaluation_that_ends_after_the_sampler_stopped_starts_no_sample() -> None:
    # At shutdown the sampler stops before alerting does: a sample started then would be
    # a task nobody waits for.
    runtime = daemon(10)
    await runtime.consumer.evaluate_in_slices()
    await runtime.sampler.stop()
    runtime.sampler.due()
    await runtime.sampler.idle()
    queues = runtime.status.document()["queues"]
    assert len(queues) == 10
    assert all(q["history"]["calls_waiting"] == [] for q in queues)

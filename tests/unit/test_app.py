"""Shutdown control of the App: grace period and the second signal, with a source that hangs.

The source here is a stand-in on purpose: it plays a broker that never answers on close,
which a real broker cannot be made to do on cue.
"""

from __future__ import annotations

import asyncio
import signal
import socket

import pytest

from callpulse import build
from callpulse.app import App
from callpulse.config import Settings, compile_config
from callpulse.core.clock import EVENT_TIME, WALL_TIME, Clock
from callpulse.core.ingest import RawRecord
from callpulse.core.queues import QueueView
from callpulse.protocols import Batch
from callpulse.runtime import compose


class HangingSource:
    name = "hanging"
    clock = WALL_TIME

    def __init__(self) -> None:
        self.committed: list[Batch] = []
        self.sent = False

    async def start(self) -> None:
        return None

    async def fetch(self) -> Batch:
        if not self.sent:
            self.sent = True
            return Batch(records=[RawRecord(b"{}", offset=0)], next_offsets={("t", 0): 1})
        await asyncio.sleep(0.05)
        return Batch(records=())

    async def commit(self, batch: Batch) -> None:
        self.committed.append(batch)

    async def stop(self) -> None:
        await asyncio.sleep(3600)  # a broker that never answers

    def readiness(self) -> tuple[bool, str]:
        return True, "ok"


def settings(grace: str) -> Settings:
    return Settings.model_validate(
        {"http": {"host": "127.0.0.1", "port": 0}, "shutdown_grace": grace}
    )


async def test_shutdown_past_the_grace_period_is_forced() -> None:
    source = HangingSource()
    app = App(compose(compile_config(settings("300ms")), source))
    run = asyncio.create_task(app.run())
    await asyncio.sleep(0.3)
    assert app.runtime.readiness() == (True, "ok")
    app.request_stop()
    assert app.runtime.readiness() == (False, "shutting down")
    assert await asyncio.wait_for(run, timeout=5) == 1
    assert len(source.committed) == 1  # the batch it had was applied and committed


async def test_second_signal_exits_at_once() -> None:
    app = App(compose(compile_config(settings("60s")), HangingSource()))
    run = asyncio.create_task(app.run())
    await asyncio.sleep(0.3)
    app._on_signal(signal.SIGTERM)
    await asyncio.sleep(0.1)
    assert not run.done()  # still waiting for the hanging source, within its grace
    app._on_signal(signal.SIGTERM)
    assert await asyncio.wait_for(run, timeout=5) == 1


async def test_signal_handlers_are_restored_when_start_up_fails() -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        app = App(
            compose(
                compile_config(
                    Settings.model_validate({"http": {"host": "127.0.0.1", "port": port}})
                ),
                HangingSource(),
            )
        )
        with pytest.raises(OSError, match=r"(?i)address already in use"):
            await app.run()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
        assert loop.remove_signal_handler(sig) is False  # nothing left behind


def app_after_a_call_with_wrapup() -> tuple[App, int]:
    """A daemon reading Asterisk queue_log from "pbx" (30 s of assumed wrap-up) that has
    read, from partition 2, Alice's call ending at t + 60."""
    pbx = {"format": "asterisk-queue-log", "site": "lon1", "wrapup_seconds": 30}
    settings = Settings.model_validate(
        {"source": {"kind": "kafka", "kafka": {"topics": ["pbx"], "formats": {"pbx": pbx}}}}
    )
    app = App(compose(compile_config(settings), HangingSource()))
    t = int(app.runtime.pipeline.monitor.now) - 100
    lines = [
        f"{t}|NONE|billing|Alice|ADDMEMBER|",
        f"{t + 5}|c1|billing|Alice|CONNECT|4|c1.2|1",
        f"{t + 60}|c1|billing|Alice|COMPLETECALLER|4|55|1",
    ]
    read = [RawRecord(x.encode(), b"lon1", "pbx", 2, i) for i, x in enumerate(lines)]
    app.runtime.pipeline.ingest.process(read)
    return app, t


def test_the_clock_ends_an_assumed_wrapup_for_the_partitions_this_replica_owns() -> None:
    app, t = app_after_a_call_with_wrapup()
    [view] = app.runtime.pipeline.monitor.queue_views()
    assert view.agents["acw"] == 1
    app.runtime.pipeline.flush(t + 95)  # the wrap-up ended at t + 90, with no line since
    [view] = app.runtime.pipeline.monitor.queue_views()
    assert (view.agents["acw"], view.agents["available"]) == (0, 1)


def test_a_revoked_site_gets_no_flushed_events() -> None:
    app, t = app_after_a_call_with_wrapup()
    app.runtime.consumer.on_revoke([("pbx", 2)])  # lon1 now belongs to another replica
    app.runtime.pipeline.flush(t + 95)
    assert app.runtime.pipeline.monitor.queue_views() == []


@pytest.mark.skipif(
    build.compiled(), reason="compiled, the queue tracker's methods cannot be patched on it"
)
async def test_the_status_sample_after_an_evaluation_reads_the_evaluations_queue_views() -> None:
    app, _ = app_after_a_call_with_wrapup()
    reads = []
    views = app.runtime.pipeline.monitor.queues.views

    def counted() -> list[QueueView]:
        reads.append(1)
        return views()

    app.runtime.pipeline.monitor.queues.views = counted  # type: ignore[method-assign]
    app.runtime.pipeline.alerting.evaluate()
    app.runtime.sampler.due()  # as the alerting loop calls it, right after
    await app.runtime.sampler.idle()
    assert len(reads) == 1  # one computation for both
    app.runtime.sampler.due()  # a second within 5 s takes no sample
    await app.runtime.sampler.idle()
    [queue] = app.runtime.status.document()["queues"]
    assert queue["history"]["calls_waiting"] == [0.0]


async def test_the_fill_of_an_adapters_caps_and_the_http_servers_is_exposed(tmp_path) -> None:
    path = tmp_path / "queue_log"
    replay = {"path": str(path), "format": {"format": "asterisk-queue-log", "site": "lon1"}}
    settings = Settings.model_validate(
        {"source": {"kind": "replay", "replay": replay}, "http": {"port": 0}}
    )
    app = App(compose(compile_config(settings)))
    line = b"1764147600|NONE|billing|PJSIP/1001|ADDMEMBER|"
    assert app.runtime.pipeline.ingest.process([RawRecord(line, topic=str(path))]) == []
    await app.runtime.http.start()
    try:
        fill = {
            s.labels["cap"]: s.value
            for family in app.runtime.registry.collect()
            if family.name == "callpulse_cap_fill_ratio"
            for s in family.samples
        }
    finally:
        await app.runtime.http.stop()
    assert fill["asterisk_queue_log_agents"] == pytest.approx(1 / 10_000)
    assert 0 < fill["asterisk_queue_log_memberships"] < 1
    assert fill["http_connections"] == 0
    assert fill["http_auth_addresses"] == 0
    assert "site" in fill  # the monitor's own, beside them


@pytest.mark.parametrize(("clock", "moves"), [(WALL_TIME, True), (EVENT_TIME, False)])
def test_the_alerting_loop_evaluates_through_the_pipeline_on_its_clock(
    clock: Clock, moves: bool
) -> None:
    source = HangingSource()
    source.clock = clock  # type: ignore[misc]
    wall = [1_800_000_000.0]
    runtime = compose(compile_config(settings("1s")), source, clock=lambda: wall[0])
    start = runtime.pipeline.monitor.now
    wall[0] += 3600  # an hour later, with no record and no tick of the consumer's
    runtime.consumer.evaluate()
    # On the wall clock the evaluation's now is the wall clock's; on event time alone (a
    # time-compressed simulation) it is the events', which no wall clock moves.
    assert runtime.pipeline.monitor.now == (wall[0] if moves else start)

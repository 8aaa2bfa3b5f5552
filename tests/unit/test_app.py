"""Shutdown control of the App: grace period and the second signal, with a source that hangs.

The source here is a stand-in on purpose: it plays a broker that never answers on close,
which a real broker cannot be made to do on cue.
"""

from __future__ import annotations

import asyncio
import signal
import socket
from collections.abc import Mapping, Sequence

import pytest

from callpulse.app import App
from callpulse.config import Settings
from callpulse.core.ingest import RawRecord, Rejection
from callpulse.sources.base import Batch, DeadLetterStats


class HangingSource:
    name = "hanging"
    event_time_clock = False
    wall_clock_bound = True

    def __init__(self) -> None:
        self.dead_letters = DeadLetterStats()
        self.on_revoke = None
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

    async def dead_letter(self, rejections: Sequence[Rejection]) -> None:
        return None

    async def stop(self) -> None:
        await asyncio.sleep(3600)  # a broker that never answers

    def readiness(self) -> tuple[bool, str]:
        return True, "ok"

    def rebuilding(self) -> bool:
        return False

    def health(self) -> Mapping[tuple[str, int], str]:
        return {}

    def exhausted(self) -> bool:
        return False

    def lag(self) -> Mapping[tuple[str, int], int]:
        return {}


def settings(grace: str) -> Settings:
    return Settings.model_validate(
        {"http": {"host": "127.0.0.1", "port": 0}, "shutdown_grace": grace}
    )


async def test_shutdown_past_the_grace_period_is_forced() -> None:
    source = HangingSource()
    app = App(settings("300ms"), source=source)
    run = asyncio.create_task(app.run())
    await asyncio.sleep(0.3)
    assert app.readiness() == (True, "ok")
    app.request_stop()
    assert app.readiness() == (False, "shutting down")
    assert await asyncio.wait_for(run, timeout=5) == 1
    assert len(source.committed) == 1  # the batch it had was applied and committed


async def test_second_signal_exits_at_once() -> None:
    app = App(settings("60s"), source=HangingSource())
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
            Settings.model_validate({"http": {"host": "127.0.0.1", "port": port}}),
            source=HangingSource(),
        )
        with pytest.raises(OSError, match=r"(?i)address already in use"):
            await app.run()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
        assert loop.remove_signal_handler(sig) is False  # nothing left behind

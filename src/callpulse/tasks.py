"""Small helpers for the daemon's background tasks."""

from __future__ import annotations

import asyncio
import time
from contextlib import suppress
from typing import TypeVar

from callpulse.core.steps import Steps

R = TypeVar("R")

# How long work in steps (an alert evaluation, a status sample) may hold the event loop
# before it lets the batches waiting meanwhile in.
SLICE_SECONDS = 0.01


async def cancel(task: asyncio.Task[None] | None) -> None:
    """Cancel ``task`` (if any) and wait until it has ended."""
    if task is None:
        return
    task.cancel()
    with suppress(asyncio.CancelledError):
        await task


async def in_slices(steps: Steps[R], seconds: float) -> R:
    """Run ``steps`` to its end in slices of about ``seconds`` each, letting the other
    tasks run between them (a batch applied, a scrape forked); its result."""
    result: list[R] = []

    def kept() -> Steps[None]:
        result.append((yield from steps))

    began = time.perf_counter()
    for _ in kept():
        if time.perf_counter() - began > seconds:
            await asyncio.sleep(0)
            began = time.perf_counter()
    return result[0]

"""The frozen heap: what a refreeze collects and freezes, when a sweep comes, and that a cycle
of frozen objects that became garbage is found by the next sweep and by nothing before it."""

from __future__ import annotations

import gc
import weakref
from collections.abc import Iterator

import pytest

from callpulse.heap import FrozenHeap


class Node:
    """An object in a reference cycle."""

    def __init__(self) -> None:
        self.other: Node | None = None


def cycle() -> tuple[Node, weakref.ref[Node]]:
    a, b = Node(), Node()
    a.other, b.other = b, a
    return a, weakref.ref(a)


@pytest.fixture(autouse=True)
def unfrozen() -> Iterator[None]:
    gc.unfreeze()
    yield
    gc.unfreeze()


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_the_first_refreeze_sweeps_then_refreezes_freeze_what_is_alive() -> None:
    clock = Clock()
    heap = FrozenHeap(sweep_seconds=3600, growth=10.0, clock=clock)
    first = heap.refreeze()
    assert first is not None
    assert gc.get_freeze_count() > 0
    kept = [Node() for _ in range(1000)]
    before = gc.get_freeze_count()
    clock.now = 10
    assert heap.refreeze() is None
    assert gc.get_freeze_count() >= before + 1000
    assert heap.refreezes == 1
    del kept


def test_a_cycle_already_garbage_is_collected_by_a_refreeze_not_frozen() -> None:
    clock = Clock()
    heap = FrozenHeap(sweep_seconds=3600, growth=10.0, clock=clock)
    heap.refreeze()
    a, ref = cycle()
    del a  # garbage now, before the refreeze: collected by it
    clock.now = 10
    assert heap.refreeze() is None
    assert ref() is None


def test_a_frozen_cycle_that_became_garbage_waits_for_the_sweep() -> None:
    clock = Clock()
    heap = FrozenHeap(sweep_seconds=3600, growth=10.0, clock=clock)
    heap.refreeze()
    a, ref = cycle()
    clock.now = 10
    heap.refreeze()  # alive: frozen
    del a
    gc.collect()
    assert ref() is not None  # no pass finds a frozen cycle
    clock.now = 3000
    heap.refreeze()
    assert ref() is not None
    clock.now = 3610  # an hour since the last sweep
    sweep = heap.refreeze()
    assert sweep is not None
    assert sweep.collected >= 2
    assert ref() is None
    assert heap.sweeps[-1] is sweep


def test_a_heap_grown_by_a_quarter_is_swept_once_the_last_sweep_is_old_enough() -> None:
    clock = Clock()
    heap = FrozenHeap(sweep_seconds=3600, growth=0.25, clock=clock, sweep_min_seconds=300)
    heap.refreeze()
    clock.now = 10
    kept = [Node() for _ in range(10)]
    assert heap.refreeze() is None  # a little more: a refreeze
    grown = [[Node()] for _ in range(gc.get_freeze_count())]  # twice as many: a sweep
    clock.now = 20
    assert heap.refreeze() is None  # frozen now; the growth shows at the next one
    clock.now = 30
    assert heap.refreeze() is None  # grown, but swept 30 s ago: a state still growing
    clock.now = 299
    assert heap.refreeze() is None
    clock.now = 300
    assert heap.refreeze() is not None
    clock.now = 310
    assert heap.refreeze() is None  # not grown since
    del kept, grown


def test_release_unfreezes_everything() -> None:
    heap = FrozenHeap()
    heap.refreeze()
    assert gc.get_freeze_count() > 0
    heap.release()
    assert gc.get_freeze_count() == 0


async def test_while_it_runs_the_young_generation_waits_for_more_and_is_given_back() -> None:
    import asyncio

    from callpulse.heap import YOUNG_THRESHOLD

    before = gc.get_threshold()
    heap = FrozenHeap(refreeze_seconds=3600)
    task = asyncio.create_task(heap.run())
    await asyncio.sleep(0)
    assert gc.get_threshold() == (YOUNG_THRESHOLD, *before[1:])
    # What start-up made is swept and frozen at once, before any traffic.
    assert len(heap.sweeps) == 1
    assert gc.get_freeze_count() > 0
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    heap.release()
    assert gc.get_threshold() == before

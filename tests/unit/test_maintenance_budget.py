"""What maintenance events leave behind stays within one byte budget
(``maintenance.event_windows.max_bytes``), counted honestly, and ``events: off`` keeps nothing.

The first two tests measure what the tracker retains with tracemalloc before they read its
own count, so that they fail on memory, not on a missing attribute, where nothing is bounded.
"""

from __future__ import annotations

import gc
import math
import tracemalloc
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any

import pytest
from msgspec import structs

from callpulse.core.calendar import Calendar, Occurrence
from callpulse.core.ingest import decode
from callpulse.core.maintenance import MaintenanceTracker
from callpulse.core.maintenance_policy import BacklogLimits, EventPolicy

from .events import event, raw
from .test_maintenance import utc, window

if TYPE_CHECKING:
    from callpulse.core.event_windows import EventWindows

NOW = utc("2026-11-22T14:00")
MIB = 1024 * 1024
BUDGET = 8 * MIB  # maintenance.event_windows.max_bytes by default
SLACK = 256 * 1024  # what a test's own bookkeeping may retain beside the tracker


def retained(feed: Callable[[], None]) -> int:
    """Bytes still allocated after ``feed`` ran (and everything it dropped was collected)."""
    gc.collect()
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        feed()
        gc.collect()
        return tracemalloc.get_traced_memory()[0] - before
    finally:
        tracemalloc.stop()


def big_start(i: int, names: int) -> bytes:
    """A 42 KB ``maintenance.started``: ``names`` components of 256 characters, the rest of
    it a ``reason``. Decoded one at a time, as records arrive, so that no string is shared."""
    components = [f"{i:08d}-{j:03d}".ljust(256, "c") for j in range(names)]
    reason = "r" * max(0, 42 * 1024 - names * 259)
    body = raw("maintenance.started", NOW + i, maintenance_id=f"chg-{i}", components=components,
               reason=reason)  # fmt: skip
    assert len(body) >= 42 * 1024
    return body


def accounted(store: EventWindows) -> int:
    """The bytes of every entry, counted afresh."""
    from callpulse.core.event_windows import entry_bytes

    return sum(entry_bytes(e.key, e.window, e.ended) for e in store._entries.values())


@pytest.mark.parametrize("names", [160, 64], ids=["160-long-names", "64-and-a-long-reason"])
def test_four_thousand_pairs_with_42_kb_starts_stay_within_the_budget(names: int) -> None:
    tracker = MaintenanceTracker(None, BacklogLimits())

    def feed() -> None:
        for i in range(4000):
            start = decode(big_start(i, names), max_bytes=1 << 20)
            tracker.apply(start, NOW + i, 0, False)
            end = event("maintenance.ended", NOW + i + 1, maintenance_id=f"chg-{i}")
            tracker.apply(end, NOW + i + 1, 0, False)

    grew = retained(feed)
    assert grew <= BUDGET + SLACK  # it was ~246 MiB with 160 names
    store = tracker.event_windows
    assert store.max_bytes == BUDGET
    assert store.used <= BUDGET
    assert store.used == accounted(store)
    # The newest pairs are kept (the oldest forgotten first), or every start was refused.
    if names > tracker.policy.max_names:
        assert tracker.refused == 4000
    else:
        assert tracker.event_windows.forgotten > 0
        assert tracker.event_windows.window(("lon1", "chg-3999")) is not None
        assert tracker.event_windows.window(("lon1", "chg-0")) is None


def ends(count: int) -> Iterator[tuple[Any, float]]:
    template = event("maintenance.ended", NOW, maintenance_id="x")
    for i in range(count):
        yield structs.replace(template, maintenance_id=f"unknown-{i:012d}"), NOW + i * 0.001


@pytest.mark.parametrize("mode", ["accept", "off"])
def test_two_hundred_thousand_unknown_ends_stay_within_the_budget(mode: str) -> None:
    tracker = MaintenanceTracker(None, BacklogLimits(), EventPolicy(mode=mode))

    def feed() -> None:
        for end, ts in ends(200_000):
            tracker.apply(end, ts, 0, False)

    grew = retained(feed)
    assert grew <= (SLACK if mode == "off" else BUDGET + SLACK)  # it was ~116 MiB
    store = tracker.event_windows
    assert store.used == accounted(store)
    if mode == "off":
        assert store.used == 0  # nothing remembered
    else:
        assert 0 < store.used <= BUDGET
        assert store.ended(("lon1", f"unknown-{199_999:012d}")) is not None  # newest kept


def occurrence(mid: str, start: float, site: str = "lon1") -> Occurrence:
    return Occurrence(mid, start, math.inf, (site,), ("pbx-2",), source="event")


def test_closed_windows_and_ends_are_forgotten_oldest_first_and_open_ones_never() -> None:
    from callpulse.core.event_windows import EventWindows

    store = EventWindows(max_bytes=10_000)
    assert store.open(("lon1", "open-1"), occurrence("open-1", NOW))
    for i in range(40):
        key = ("lon1", f"chg-{i}")
        store.open(key, occurrence(f"chg-{i}", NOW + i))
        store.close(key, NOW + i + 1)
        store.close(("nyc1", f"end-{i}"), NOW + i)
        assert store.used <= store.max_bytes
    assert store.window(("lon1", "open-1")) is not None
    assert store.window(("lon1", "chg-39")) is not None
    assert store.window(("lon1", "chg-0")) is None
    assert store.ended(("nyc1", "end-0")) is None
    assert store.forgotten > 0
    assert store.used == accounted(store)


def test_a_start_that_cannot_fit_beside_the_open_windows_is_refused_and_counted() -> None:
    policy = EventPolicy(max_bytes=64 * 1024)
    tracker = MaintenanceTracker(None, BacklogLimits(), policy)
    sites = [f"s{i}" for i in range(200)]
    for n, site in enumerate(sites):
        e = event("maintenance.started", NOW, site=site, maintenance_id=f"m{n}", components=["x"])
        tracker.apply(e, NOW, 0, False)
    store = tracker.event_windows
    opened = len(store)
    assert 0 < opened < 200
    assert tracker.refused == 200 - opened
    assert store.used <= store.max_bytes
    # Open windows hold their place: the windows opened first are all still open.
    assert {w.sites[0] for w in tracker.windows(NOW + 1)} == set(sites[:opened])


def test_a_start_naming_more_than_max_names_is_refused() -> None:
    tracker = MaintenanceTracker(None, BacklogLimits(), EventPolicy(max_names=3))
    many = event("maintenance.started", NOW, maintenance_id="m", components=["a", "b"],
                 queues=["q1", "q2"])  # fmt: skip
    tracker.apply(many, NOW, 0, False)
    assert (tracker.refused, tracker.windows(NOW + 1)) == (1, [])


def test_an_end_no_start_could_follow_is_not_remembered() -> None:
    calendar = Calendar([window("2026-11-22T16:00", name="planned")], "UTC")
    for policy in (EventPolicy(mode="calendar_only"), EventPolicy(sites=("nyc1",))):
        tracker = MaintenanceTracker(calendar, BacklogLimits(), policy)
        tracker.apply(event("maintenance.ended", NOW, maintenance_id="adhoc"), NOW, 0, False)
        assert len(tracker.event_windows) == 0
    tracker = MaintenanceTracker(calendar, BacklogLimits(), EventPolicy(mode="calendar_only"))
    tracker.apply(event("maintenance.ended", NOW, maintenance_id="planned"), NOW, 0, False)
    assert tracker.event_windows.ended(("lon1", "planned")) == NOW


def test_a_window_opened_before_a_reload_to_off_still_closes() -> None:
    tracker = MaintenanceTracker(None, BacklogLimits())
    tracker.apply(event("maintenance.started", NOW, maintenance_id="m", components=["x"]),
                  NOW, 0, False)  # fmt: skip
    tracker.replace(None, BacklogLimits(), EventPolicy(mode="off"))
    tracker.apply(event("maintenance.ended", NOW + 60, maintenance_id="m"), NOW + 60, 0, False)
    assert tracker.windows(NOW + 61) == []


def test_a_smaller_budget_on_reload_forgets_what_no_longer_fits() -> None:
    tracker = MaintenanceTracker(None, BacklogLimits())
    for end, ts in ends(1000):
        tracker.apply(end, ts, 0, False)
    tracker.replace(None, BacklogLimits(), EventPolicy(max_bytes=64 * 1024))
    store = tracker.event_windows
    assert store.used <= 64 * 1024
    assert store.used == accounted(store)


def test_prune_and_forgetting_sites_keep_the_count_of_bytes() -> None:
    tracker = MaintenanceTracker(None, BacklogLimits(grace=600), EventPolicy(max_duration=3600))
    for i, site in enumerate(("lon1", "nyc1", "par1")):
        tracker.apply(event("maintenance.started", NOW, site=site, maintenance_id=f"m{i}",
                            components=["x"]), NOW, 0, False)  # fmt: skip
    tracker.apply(event("maintenance.ended", NOW + 5, maintenance_id="m0"), NOW + 5, 0, False)
    tracker.apply(event("maintenance.ended", NOW + 5, maintenance_id="zz"), NOW + 5, 0, False)
    store = tracker.event_windows
    tracker.forget_sites({"nyc1"})
    assert store.used == accounted(store)
    assert [w.name for w in tracker.windows(NOW + 10)] == ["m2"]
    tracker.prune(NOW + 3600)  # m2 expires: closed, kept through the grace period
    assert [w.name for w in tracker.expired] == ["m2"]
    assert store.used == accounted(store)
    tracker.prune(NOW + 3600 + 601)
    assert (len(store), store.used) == (0, 0)

"""The monitor: decides what each valid event counts for, and hands it to its tracker.

Pure and synchronous. Two clocks:

- the *wall clock* is whatever :meth:`Monitor.tick` was last told; it bounds how far in the
  future an event may be (``max_clock_skew``);
- *now*, where windows end, is the wall clock when consuming live, or with
  ``event_time_clock`` the newest ``occurred_at`` applied so far (replaying a file), so the
  same events and ticks always give the same KPIs.

What happens to an event, by its ``occurred_at``:

- more than ``max_clock_skew`` ahead of the wall clock: :attr:`Outcome.FUTURE`, rejected (it
  goes to the dead-letter topic); up to that, it is counted as if it occurred *now*;
- inside the longest window: counted in every window that still covers it, however late it
  arrived, once per ``event_id``;
- older than the longest window: :attr:`Outcome.LATE`, counted in the cumulative totals (once
  per ``event_id`` for as long as the longest window after it arrived) but in no window.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Mapping

from msgspec import structs
from mypy_extensions import mypyc_attr

from callpulse.core import events as ev
from callpulse.core.calendar import Calendar
from callpulse.core.cardinality import IdleNames, LabelGuard
from callpulse.core.components import ComponentTracker, ComponentView
from callpulse.core.dedup import recent_ids
from callpulse.core.instants import EPOCH_SECONDS
from callpulse.core.ivr import IvrTracker, IvrView
from callpulse.core.maintenance import MaintenanceTracker
from callpulse.core.monitor_config import (
    MonitorConfig,
    MonitorStats,
    Outcome,
    ServiceLevelPolicy,
    Tracker,
)
from callpulse.core.queue_tracker import QueueTracker
from callpulse.core.queues import QueueView
from callpulse.core.silence import SiteActivity
from callpulse.core.steps import Steps
from callpulse.core.timegrid import TimeGrid
from callpulse.core.trunk_views import TrunkView
from callpulse.core.trunks import TrunkTracker

__all__ = [
    "Monitor",
    "MonitorConfig",
    "MonitorStats",
    "Outcome",
    "ServiceLevelPolicy",
]


VIEWS_A_STEP = 100
"""Queues :meth:`Monitor.queue_views_in_steps` reads a step unless told: a few milliseconds,
so that an alert evaluation's or the status page's read lets ingest run between steps."""


_RELEASE_EVERY = 12  # buckets between looks for series that aged out (a minute at 5 s)


# Tests stand a monitor that raises in for the real one, to check that the ingest keeps a
# defect to the record that met it; a compiled class takes interpreted subclasses only so.
@mypyc_attr(allow_interpreted_subclasses=True)
class Monitor:
    """Per-site state and rolling KPIs of queues, IVR, trunks and components."""

    def __init__(self, config: MonitorConfig, now: float) -> None:
        self.config = config
        self.stats = MonitorStats()
        live = not config.event_time_clock
        self.grid = TimeGrid(config.bucket, config.windows, now if live else 0.0)
        # A replay learns the wall clock from tick(); until then nothing is "future".
        self._wall = now if live else math.inf
        self.guard = LabelGuard(config.label_limits)
        horizon = self.grid.longest + 1
        self._ids = recent_ids(horizon, config.dedup_capacity)
        # Late events are remembered by when they arrived, not when they occurred.
        self._late_ids = recent_ids(horizon, max(1000, config.dedup_capacity // 10))
        self._latest_event = 0.0
        # How often each site was forgotten: ids seen before that are no duplicates after it.
        self._site_epochs: dict[str, int] = {}
        self._site_last_event: dict[str, float] = {}
        self._site_activity: dict[str, SiteActivity] = {}
        # queue_views() of the current state, until an event, a tick or a release: an alert
        # evaluation reads them twice (its own checks, then the rules' samples), and at 10k
        # queues a read is most of a second on the event loop.
        self._changes = 0
        self._views: tuple[int, list[QueueView]] | None = None
        self._settled = -1  # the head the series were last moved to (settle)
        windows = config.windows
        erlang_window = (
            windows.index(config.erlang_window)
            if config.erlang_window in windows
            else windows.index(max(windows))
        )
        self.queues = QueueTracker(
            self.grid,
            self.guard,
            config.service_level,
            config.service_level_overrides,
            erlang_window,
            config.backlog.patience,
        )
        self.ivr = IvrTracker(self.grid, self.guard)
        # A site, trunk or component gives its place only to a new name, when its cap is
        # full, and only once idle past every window (see cardinality's docstring).
        idle_after = max(config.windows) + config.bucket
        self.trunks = TrunkTracker(self.grid, self.guard, idle_after, config.trunk_channels)
        self.components = ComponentTracker(
            self.grid, self.guard, config.component_stale_after, idle_after
        )
        self._idle_sites = IdleNames[str, float](idle_after, config.bucket, float)
        self.guard.reclaim_with("site", self._counted(self._release_idlest_site))
        self.guard.reclaim_with("trunk", self._counted(self.trunks.release_idlest))
        self.guard.reclaim_with("component", self._counted(self.components.release_idlest))
        calendar = (
            Calendar(config.maintenance_windows, config.maintenance_timezone)
            if config.maintenance_windows
            else None
        )
        self.maintenance = MaintenanceTracker(calendar, config.backlog, config.maintenance_events)
        self._trackers: tuple[Tracker, ...] = (
            self.queues,
            self.ivr,
            self.trunks,
            self.components,
            self.maintenance,
        )
        self._routes = {t: tracker for tracker in self._trackers for t in tracker.event_types}

    # --- time --------------------------------------------------------------------------

    @property
    def now(self) -> float:
        """The instant windows end at, in epoch seconds."""
        return self.grid.now

    @property
    def latest_event_time(self) -> float:
        """The newest ``occurred_at`` applied so far (0 before any)."""
        return self._latest_event

    @property
    def site_last_event(self) -> Mapping[str, float]:
        """The newest ``occurred_at`` applied per site: what absent rules watch."""
        return self._site_last_event

    @property
    def site_activity(self) -> Mapping[str, SiteActivity]:
        """Each site's arrivals per hour and heartbeats: how absent rules judge a silence."""
        return self._site_activity

    @property
    def window_labels(self) -> tuple[str, ...]:
        """The windows' labels, e.g. ``("1m", "5m", "15m")``."""
        return self.grid.labels

    def tick(self, wall_clock: float) -> None:
        """Tell the monitor the wall clock; live, that is also where windows end."""
        self._wall = wall_clock
        self._changes += 1
        self._views = None  # not kept past a tick: at 10k queues they hold tens of MiB
        if not self.config.event_time_clock:
            self._advance(wall_clock)

    def advance(self, now: float) -> None:
        """Move an event-time clock on to ``now`` with no event: a report evaluating the
        rules between two events of a file, as a live daemon's clock would. Live, tick()
        moves the windows; this does nothing then."""
        if self.config.event_time_clock:
            self._advance(now)

    def _advance(self, now: float) -> None:
        self._changes += 1
        if self.grid.advance(now):
            head = self.grid.head
            self._ids.expire(head)
            self._late_ids.expire(head)
            if head % _RELEASE_EVERY == 0:
                # Series no event named for longer than every window have aged out of all of
                # them: their names go back to the label caps.
                before = now - max(self.config.windows) - self.config.bucket
                self.stats.released += self.queues.release_idle(before)
                self.stats.released += self.ivr.release_idle(before)
            if self.config.event_time_clock and self.maintenance.baselines.sample_due(now):
                # On event time the maintenance baselines cannot wait for an evaluation on
                # the wall clock: a replay at full speed would leave them without a sample.
                # What a sample reads, not the views: events applied next change the state,
                # and the evaluation after them would read every view again. On the wall
                # clock the evaluations sample, in steps (here: 0.9 s at once at 50k queues).
                self.maintenance.sample(now, self.queues.loads())

    def _counted(self, release: Callable[[], bool]) -> Callable[[], bool]:
        def reclaim() -> bool:
            released = release()
            self.stats.released += released
            return released

        return reclaim

    def _release_idlest_site(self) -> bool:
        """Forget the site silent the longest, if silent past every window: an absent rule
        stops watching it, and its name goes back to the cap."""
        guard = self.guard

        def give_back(site: str) -> None:
            self._site_activity.pop(site, None)
            guard.release("site", site)

        return self._idle_sites.release_idlest(self.grid.now, self._site_last_event, give_back)

    # --- events ------------------------------------------------------------------------

    def apply(self, event: ev.Event, replay: bool = False) -> Outcome:
        """Apply one valid event and say what became of it.

        ``replay``: the event is re-read to rebuild state after a restart or rebalance; it
        counts in windows and live state but not again in the cumulative totals.
        """
        self._changes += 1
        ts = EPOCH_SECONDS(event.occurred_at)
        config = self.config
        if ts > self._wall + config.max_clock_skew:
            self.stats.future += 1
            return Outcome.FUTURE
        grid = self.grid
        if config.event_time_clock:
            self._advance(ts)
        bucket = grid.bucket_for(ts)
        late = not grid.covers(bucket)
        # Each field read once: an event is a msgspec Struct, and every read of one of its
        # fields here is a generic attribute lookup.
        named, kind, event_id = event.site, event.type, event.event_id
        epoch = self._site_epochs.get(named) if self._site_epochs else None
        if epoch is not None:
            # The site was forgotten with its state since: a partition that came back is
            # re-read to rebuild it, and what was seen before must count again.
            event_id = f"{event_id}\x00{epoch}"
        fresh = self._late_ids.add(event_id, grid.head) if late else self._ids.add(event_id, bucket)
        if not fresh:
            self.stats.duplicates += 1
            return Outcome.DUPLICATE
        if replay:
            self.stats.replayed += 1
        else:
            by_type = self.stats.events_by_type
            by_type[kind] = by_type.get(kind, 0) + 1
        if ts > self._latest_event:
            self._latest_event = ts
        site = self.guard.admit("site", named)
        last_event = self._site_last_event
        if ts > last_event.get(site, 0.0):
            last_event[site] = ts
        activity = self._site_activity.get(site)
        if activity is None:
            without = config.silence.judged_by_rate(site)
            activity = self._site_activity[site] = SiteActivity(ts, ts, without)
        activity.note(ts, kind)
        tracker = self._routes.get(kind)
        if tracker is not None:
            if site != named:
                event = structs.replace(event, site=site)
            tracker.apply(event, ts, bucket, late, replay)
        if late:
            self.stats.late += 1
            return Outcome.LATE
        grid.note(bucket)
        return Outcome.APPLIED

    def replace_maintenance(self, config: MonitorConfig) -> None:
        """Swap in ``config``'s maintenance windows and backlog limits (a config reload)."""
        calendar = (
            Calendar(config.maintenance_windows, config.maintenance_timezone)
            if config.maintenance_windows
            else None
        )
        self.maintenance.replace(calendar, config.backlog, config.maintenance_events)

    def forget_sites(self, sites: Iterable[str]) -> None:
        """Drop all state of ``sites`` (their partitions now belong to another replica)."""
        self._changes += 1
        gone = set(sites)
        for tracker in self._trackers:
            tracker.forget_sites(gone)
        for site in gone:
            self._site_epochs[site] = self._site_epochs.get(site, 0) + 1
            self.guard.forget_site(site)
            self._site_last_event.pop(site, None)
            self._site_activity.pop(site, None)

    # --- reading -----------------------------------------------------------------------

    def queue_views(self) -> list[QueueView]:
        """Every queue's state and KPIs at :attr:`now`. The list is shared by the readers of
        one state: do not change it."""
        memo = self._views
        if memo is not None and memo[0] == self._changes:
            return memo[1]
        views = self.queues.views()
        self._views = (self._changes, views)
        return views

    def settle(self, at_a_time: int = VIEWS_A_STEP) -> Steps[None]:
        """Move every series' windows to the grid's head, as reading them would, unless
        they are there already; ``at_a_time`` queues a step. Live, once a bucket, between
        batches: a render child forked from this process reads every queue, and what it
        would move is memory the kernel copies for it (at 10k queues, ~50 MB of counters
        and 50 ms of page faults a scrape)."""
        head = self.grid.head
        if head == self._settled:
            return
        yield from self.queues.settle(head, at_a_time)
        self.ivr.settle()
        self.trunks.settle()
        self._settled = head

    def each_queue_view(self) -> Iterable[QueueView]:
        """:meth:`queue_views` for a reader that takes each in turn, the state unchanged
        meanwhile: the kept list if there is one, else each view read as it is asked for
        and not kept (a scrape's render child holds one at a time, not 10k)."""
        memo = self._views
        if memo is not None and memo[0] == self._changes:
            return memo[1]
        return self.queues.each_view()

    def queue_views_in_steps(self, at_a_time: int = VIEWS_A_STEP) -> Steps[list[QueueView]]:
        """:meth:`queue_views`, read ``at_a_time`` queues a step, the events applied between
        the steps (a queue dropped meanwhile is skipped), and then kept
        (:meth:`keep_queue_views`: those of a queue dropped since left out); at once when
        they are kept already."""
        memo = self._views
        if memo is not None and memo[0] == self._changes:
            return memo[1]
        keys = self.queues.keys()
        views: list[QueueView] = []
        for start in range(0, len(keys), at_a_time):
            views += self.queues.views_of(keys[start : start + at_a_time])
            yield
        self.keep_queue_views(views)
        return self.queue_views()

    def keep_queue_views(self, views: list[QueueView]) -> None:
        """Take ``views``, read in slices (:meth:`queue_views_in_steps`) up to now, as the
        current state's: :meth:`queue_views` returns them until the next event, tick or
        release.

        The slices were read at the moments between the batches applied since the first,
        so a view can be that much older than :attr:`now` (under a second at 10k queues):
        the price of a read that never holds ingest for long. A queue dropped meanwhile (its
        site revoked, its name released) is left out: exported, a revoked site's stale
        counts would double those of the replica that owns it now."""
        self._views = (self._changes, self.queues.still_tracked(views))

    def ivr_views(self) -> list[IvrView]:
        """Every IVR application's KPIs at :attr:`now`."""
        return self.ivr.views()

    def trunk_views(self) -> list[TrunkView]:
        """Every trunk's KPIs at :attr:`now`."""
        return self.trunks.views()

    def component_views(self) -> list[ComponentView]:
        """Every component's effective status at :attr:`now`."""
        return self.components.views()

    def cap_fill(self) -> dict[str, float]:
        """How full each cap a producer can fill is, 0..1, by name: each label's
        (``kpi.max_label_values``), de-duplication's (``dedup``, and ``dedup_late`` for late
        events), the fullest queue's waiting calls (``waiting_calls``) and the maintenance
        events' bytes (``maintenance_event_bytes``). At 1, what comes next is folded into
        ``_overflow``, forgotten early or refused."""
        return self.guard.fill() | {
            "dedup": self._ids.fill,
            "dedup_late": self._late_ids.fill,
            "waiting_calls": self.queues.waiting_fill(),
            "maintenance_event_bytes": self.maintenance.event_windows.fill,
        }

"""When ``replay --report`` evaluates the rules, on the file's own time.

Live, the daemon evaluates every ``alerting.evaluation_interval``; the report does so at each
multiple of the interval of the file's time (the *cadence*) from its first record on. Across
a gap in the file (a night, a month of silence, a clock at 1970) that would be one
evaluation per interval of silence: days of work for a file that spans years. So once values
can only change by growing with time, the report leaps to shortly before the next record and
takes up the cadence there.

Values can only change by growing with time when, at an evaluation:

- every window has aged out since the newest record (and since the wrap-ups its adapter
  assumed, which end ``wrapup_seconds`` after it);
- no maintenance window is open or in its grace period, nor about to open (a forecast).

From then until the next record what changes is a caller's wait, a site's silence, a
component's heartbeat age: each grows, so a rule's condition turns at most once. The leap
lands on an instant of the cadence that leaves before the next record (and before the lead
of the next planned window) the longest ``for`` or ``keep_firing_for`` of any rule and two
intervals more: a condition that turned during the leap is seen at the landing, and the
alert fires or resolves before the record as it would have at the cadence; a timer already
running does the same. The episodes are the same; only when a firing alert was re-sent
differs, which the report does not count. Before the landing the monitor is moved through
the cadence's last instants without evaluating, so that what it does on its own clock
(giving idle names back to the label caps) happens as at the cadence.
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Sequence

from callpulse.config import Settings
from callpulse.core.monitor import Monitor
from callpulse.core.rules import Rule

_DAY = 86400.0
# The monitor's own clock work (releasing idle names) comes round every dozen buckets; the
# lead-in covers a dozen of those rounds, whatever the interval and the bucket.
_LEAD_IN_ROUNDS = 144


class Timeline:
    """The instants the report evaluates at: the cadence, with leaps over quiet gaps."""

    def __init__(self, settings: Settings, monitor: Monitor, rules: Sequence[Rule]) -> None:
        """Timing from ``settings`` and the timers of ``rules`` (the built-in ones included);
        ``monitor`` is read to judge a gap, and moved to each instant."""
        self._monitor = monitor
        kpi = settings.kpi
        self.interval = interval = settings.alerting.evaluation_interval
        # After the newest record, the time until no window holds anything of it.
        self.settle = settings.source.replay.format.wrapup_seconds + max(kpi.windows) + kpi.bucket
        timers = (max(r.spec.for_seconds, r.spec.keep_firing_for) for r in rules)
        self.margin = max(timers, default=0.0) + 2 * interval
        self.lead_in = math.ceil(_LEAD_IN_ROUNDS * max(interval, kpi.bucket) / interval)
        self._step: int | None = None  # the next instant is _step * interval
        self._newest = -math.inf

    def moves_before(self, moment: float) -> bool:
        """Whether :meth:`until` moves the monitor before a record of time ``moment``."""
        return self._step is not None and self._step * self.interval <= moment

    def saw(self, moment: float) -> bool:
        """Note a record of time ``moment`` that :meth:`moves_before` says no instant is due
        before, as :meth:`until` would, without a generator per record (most records);
        False, and nothing noted, before the first record: its :meth:`until` sets the
        cadence."""
        if self._step is None:
            return False
        self._newest = max(self._newest, moment)
        return True

    def until(self, moment: float) -> Iterator[float]:
        """The instants to evaluate at before a record of time ``moment``, each once the
        monitor has been moved to it. The caller evaluates at each before asking for the
        next: what the evaluation found decides whether the next one may leap."""
        if self._step is None:
            self._step = math.floor(moment / self.interval) + 1
        while (now := self._step * self.interval) <= moment:
            self._monitor.advance(now)
            yield now
            self._step = self._after(self._step, moment)
        self._newest = max(self._newest, moment)

    def _after(self, current: int, record: float) -> int:
        """The step after the evaluation at step ``current``, the next record being at
        ``record``."""
        now, step = current * self.interval, current + 1
        if not self._quiet(now):
            return step
        limit = min(record, self._next_window(now, record)) - self.margin
        landing = math.floor(limit / self.interval)
        if landing <= step:
            return step
        for lead in range(max(step, landing - self.lead_in), landing):
            self._monitor.advance(lead * self.interval)
        return landing

    def _quiet(self, now: float) -> bool:
        """Whether values can only grow with time until the next record."""
        if now < self._newest + self.settle:
            return False
        # A backlog or an overrun still paging past its window's grace holds on values that
        # no longer change (callers waiting, a component's status); a forecast is judged
        # ahead of a window, and a window open or in its grace changes with time.
        maintenance = self._monitor.maintenance
        return not (
            maintenance.forecasts or maintenance.windows(now, grace=maintenance.limits.grace)
        )

    def _next_window(self, now: float, until: float) -> float:
        """When the cadence must resume for the next planned window after ``now`` (its
        forecast's lead before it opens) at a site the file has named; inf if none before
        ``until``. Searched in spans that double from a day, for a recurrence may be long."""
        maintenance = self._monitor.maintenance
        calendar = maintenance.calendar
        if calendar is None:
            return math.inf
        sites = set(self._monitor.site_last_event)
        lead = maintenance.limits.forecast_lead
        start, span = now, _DAY
        while start <= until + lead:
            end = start + span
            for occurrence in calendar.occurrences(start, end):
                if occurrence.start > now and sites.intersection(occurrence.sites):
                    return occurrence.start - lead
            start, span = end, span * 2
        return math.inf

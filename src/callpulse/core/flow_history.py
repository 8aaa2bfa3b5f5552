"""A queue's traffic over the last hours, and its callers' patience at each hour of the last
days: for estimates that need more calls than one rolling window holds.

The backlog model's inputs are ratios: arrivals over time, handle time over completed calls,
give-ups over time spent waiting. A small queue's longest window (15 minutes) holds a handful
of calls, and a rate from five calls is off by half. So each queue keeps a reading of its
longest window's sums every :data:`EVERY` seconds for :data:`SPAN`, and an estimate adds
readings, newest first, until it rests on enough calls (:data:`ENOUGH`). Give-ups and waiting
are also summed by hour of the day (UTC), older days counting less (:data:`DAY_WEIGHT`): how
patient callers are at 14:00 is best told by the last days at 14:00, before any backlog, and
where nobody waited then, by the day's other hours.

Readings of a window shorter than :data:`EVERY` leave gaps between them, and a reading whose
window was not yet whole covers less: every sum is divided by the time or the calls it
really covers, so the ratios stay unbiased either way.
"""

from __future__ import annotations

import math
from array import array
from dataclasses import dataclass
from itertools import pairwise

from callpulse.core.patience import PRIOR_CALLERS, PatienceEstimate, estimate_patience

EVERY = 900.0
"""Seconds between two readings: one per 15-minute window, so that readings of a window of
that length or shorter do not overlap."""

SPAN = 4 * 3600.0
"""How far back readings are kept: 4 hours, 17 of them at most per queue (at 10,000 queues
the readings and the hours of the day are about 11 MB)."""

DAY_WEIGHT = 0.5
"""What yesterday's give-ups and waiting at an hour count for against today's."""

ENOUGH = 50
"""Calls an estimate should rest on: a rate from 50 arrivals is within ~14 % (one standard
deviation), from 10 within ~30 %."""

ENOUGH_HANDLED = 400
"""Completed calls the handle time rests on where the hours kept have them: it hardly moves
through a day, and near its load a queue's drain is the small difference of capacity and
arrivals, so the 5 % a 15-minute window of 180 calls leaves is half the drain."""


@dataclass(frozen=True, slots=True)
class Reading:
    """One window's sums, read at ``at``: it covers ``span`` seconds up to then."""

    at: float
    span: float
    arrivals: int
    completed: int
    handle_seconds: float
    reneged: int
    exposure_seconds: float


@dataclass(frozen=True, slots=True)
class Estimate:
    """A rate or a mean and what it rests on: ``count`` calls over ``span`` seconds."""

    value: float
    count: int
    span: float


class FlowHistory:
    """One queue's readings over the last :data:`SPAN`, newest last, and its give-ups and
    waiting by hour of the day."""

    __slots__ = ("_hours", "_readings")

    def __init__(self) -> None:
        # Seven doubles a reading (its fields in order; the counts are whole numbers, exact
        # in a double), oldest first: a deque of Readings took 1.4 KB for a queue's first
        # reading and 2.4 KB for its sixteen (24 MB at 10k queues), this 56 bytes a reading.
        self._readings = array("d")
        # Per hour of the day: give-ups, seconds waited, and the day (since the epoch) they
        # were last weighed down to.
        self._hours = array("d", [0.0] * 72)

    def due(self, at: float) -> bool:
        """Whether :meth:`add` would keep a reading made at ``at``: none kept is more recent
        than :data:`EVERY` (so that a caller reads one only when it is kept)."""
        readings = self._readings
        return not readings or at >= readings[-_WIDTH] + EVERY

    def add(self, reading: Reading) -> None:
        """Keep ``reading`` unless the last one kept is more recent than :data:`EVERY`."""
        if not self.due(reading.at):
            return
        self._readings.extend(
            (
                reading.at,
                reading.span,
                reading.arrivals,
                reading.completed,
                reading.handle_seconds,
                reading.reneged,
                reading.exposure_seconds,
            )
        )
        self.forget_before(reading.at - SPAN)
        hour, day = _hour(reading.at), reading.at // 86400
        self._weigh(hour, day)
        self._hours[hour] += reading.reneged
        self._hours[24 + hour] += reading.exposure_seconds

    def readings(self) -> list[Reading]:
        """The readings kept, oldest first."""
        values = self._readings
        return [
            Reading(
                values[i],
                values[i + 1],
                int(values[i + 2]),
                int(values[i + 3]),
                values[i + 4],
                int(values[i + 5]),
                values[i + 6],
            )
            for i in range(0, len(values), _WIDTH)
        ]

    def export(self) -> dict[str, list[float] | list[list[float]]]:
        """The readings and the hours' sums as plain data (for the state file)."""
        return {
            "readings": [
                [
                    r.at,
                    r.span,
                    r.arrivals,
                    r.completed,
                    r.handle_seconds,
                    r.reneged,
                    r.exposure_seconds,
                ]
                for r in self.readings()
            ],
            "hours": list(self._hours),
        }

    @classmethod
    def restore(cls, data: object) -> FlowHistory:
        """A history from :meth:`export`'s data. Raises ValueError when it is not that: a
        state file is read back, but anything may have written it."""
        if not isinstance(data, dict):
            raise ValueError("a flow history is an object")
        readings, hours = data.get("readings"), data.get("hours")
        if not isinstance(readings, list) or len(readings) > _KEPT:
            raise ValueError(f"readings: a list of at most {_KEPT}")
        if not isinstance(hours, list) or len(hours) != 72 or not all(map(_amount, hours)):
            raise ValueError("hours: 72 numbers, none negative")
        history = cls()
        for row in readings:
            if not isinstance(row, list) or len(row) != 7 or not all(map(_amount, row)):
                raise ValueError("a reading: 7 numbers, none negative")
            at, span, arrivals, completed, handle, reneged, exposure = row
            # The counts as whole numbers, as a reading made here holds them.
            history._readings.extend(
                (at, span, int(arrivals), int(completed), handle, int(reneged), exposure)
            )
        if any(b.at <= a.at for a, b in pairwise(history.readings())):
            raise ValueError("readings: oldest first")
        history._hours = array("d", hours)
        return history

    def forget_before(self, at: float) -> None:
        """Drop the readings that end before ``at`` (a history read back after a long stop:
        its last hours are not the last hours any more)."""
        drop_rows_before(self._readings, _WIDTH, at)

    def _at_hour(self, hour: int, today: float) -> tuple[float, float]:
        """An hour's give-ups and seconds waited, weighed down to ``today``."""
        hours = self._hours
        weight = DAY_WEIGHT ** max(0.0, today - hours[48 + hour])
        return hours[hour] * weight, hours[24 + hour] * weight

    def _weigh(self, hour: int, day: float) -> None:
        """Bring an hour's sums to ``day``: each day since counts them down by DAY_WEIGHT."""
        hours = self._hours
        if day > hours[48 + hour]:
            weight = DAY_WEIGHT ** (day - hours[48 + hour])
            hours[hour] *= weight
            hours[24 + hour] *= weight
            hours[48 + hour] = day

    def _newest(self, before: float) -> list[Reading]:
        """The readings whose window ends at or before ``before``, newest first."""
        return [r for r in reversed(self.readings()) if r.at <= before]

    def arrivals(self, live: Reading, enough: int = ENOUGH, since: float = math.inf) -> Estimate:
        """Arrivals per second: the ``live`` window, then older readings it does not overlap,
        newest first, until ``enough`` arrivals or the hours kept; past that, every reading
        whose window lies wholly after ``since``, and every reading as long as the rate holds
        steady (:func:`_steady`): the rate the drain assumes should rest on all the calls
        that came at it, since near its load a queue's drain is the small difference of
        capacity and arrivals (at 90 % occupancy, 7 % of noise in the rate, a 15-minute
        window of 180 calls, is 60 % of the drain)."""
        count, span = live.arrivals, live.span
        for r in self._newest(live.at - live.span):
            if count >= enough and r.at - r.span < since and not _steady(count, span, r):
                break
            count += r.arrivals
            span += r.span
        return Estimate(count / span if span > 0 else 0.0, count, span)

    def handle_time(self, before: float) -> Estimate | None:
        """Mean handle time of the calls completed in the readings up to ``before``, newest
        first until :data:`ENOUGH_HANDLED` of them; None when none completed."""
        count, total, span = 0, 0.0, 0.0
        for r in self._newest(before):
            if count >= ENOUGH_HANDLED:
                break
            count += r.completed
            total += r.handle_seconds
            span += r.span
        return Estimate(total / count, count, span) if count else None

    def patience(self, prior_patience: float, at: float) -> tuple[PatienceEstimate, str]:
        """The give-up rate for a time of day ``at``, and in words what it rests on.

        The last days at that hour where they say more than the prior; else every hour of
        the last days (today's at full weight); else the prior (the configured patience),
        and the words say so. Windows are planned for quiet hours, when nobody waits long
        enough to show how patient they are, and a large center may not have waited all
        morning: the day's busy hours are then the only callers who did, and patience is a
        trait of the callers more than of the hour.
        """
        hour, today = _hour(at), at // 86400
        reneged, exposure = self._at_hour(hour, today)
        where = f"at {hour:02d}:00 UTC over the last days"
        if not _telling(reneged, exposure, prior_patience):
            sums = [self._at_hour(h, today) for h in range(24)]
            reneged, exposure = sum(r for r, _ in sums), sum(e for _, e in sums)
            where = "over every hour of the last days"
        estimate = estimate_patience(reneged, exposure, prior_patience)
        # Older days count for less, so a count may be fractional: shown to a tenth.
        seen = (
            f"{reneged:.1f}".removesuffix(".0") + f" give-ups in {exposure / 60:.0f} min of waiting"
        )
        if not _telling(reneged, exposure, prior_patience):
            # The prior outweighs what was seen: say so rather than pass it off as data.
            return estimate, f"configured {prior_patience:.0f}s ({seen} is too little)"
        return estimate, f"{seen} {where}"


_KEPT = int(SPAN // EVERY) + 1  # readings a history holds at most
_WIDTH = 7  # doubles a reading


def drop_rows_before(rows: array[float], width: int, at: float) -> None:
    """Drop the rows before ``at`` from ``rows``: rows of ``width`` doubles each, oldest
    first, the first double of a row its time."""
    end = 0
    while end < len(rows) and rows[end] < at:
        end += width
    if end:
        del rows[:end]


def _amount(value: object) -> bool:
    """A finite number, not negative (and not a bool, which JSON does not make one)."""
    return (
        isinstance(value, (int, float))
        and not isinstance(value, bool)
        and math.isfinite(value)
        and value >= 0
    )


STEADY_Z = 2.0
"""How far (in standard deviations) an older reading's arrivals may be from the rate
measured after it and still be the same traffic."""


def _steady(count: int, span: float, older: Reading) -> bool:
    """Whether ``older``'s arrivals are those of the rate of ``count`` calls over ``span``
    seconds after it, within :data:`STEADY_Z` (Poisson counts: the older count less the one
    the newer rate expects of it has a variance of that expected count times 1 + the ratio
    of the older span to the newer).

    A step in the rate (callers retrying after a window, a campaign) stops the reach back at
    it. A ramp is caught only once it shows against the noise: on traffic that doubles over
    four hours the pooled rate reads 7 % low at 180 calls per 15 minutes and 12 % at 50, about
    the noise of the live window alone, where on steady traffic pooling halves that noise."""
    if span <= 0:
        return False
    if older.span <= 0:
        return True  # covers no time: says nothing against the rate
    expected = count / span * older.span
    spread = STEADY_Z**2 * max(expected, 1.0) * (1 + older.span / span)
    return (older.arrivals - expected) ** 2 <= spread


def _telling(reneged: float, exposure: float, prior_patience: float) -> bool:
    """Whether give-ups and waiting say more than the prior (:data:`PRIOR_CALLERS`' worth)."""
    return reneged >= PRIOR_CALLERS or exposure >= PRIOR_CALLERS * prior_patience


def _hour(at: float) -> int:
    return int(at // 3600) % 24

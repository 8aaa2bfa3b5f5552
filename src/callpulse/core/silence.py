"""How long a site may stay quiet before its silence means something.

A feed with heartbeats (``component.health`` events on a clock) is never quiet while it
works, so a couple of minutes without an event is an outage. A queue_log or a stream of
contact records has no heartbeat: it is as quiet as the site's callers, and a one-queue night
shift has gaps of half an hour as a matter of course. Such a site's silence is judged
against its own rate: the contacts it began (its *arrivals*) lately, before it went quiet,
and no more than it usually begins at that hour of the day on the last :data:`DAYS` days it
was known. Arrivals are counted rather than events because one call
writes several events within a minute or two: the events of one call are not independent,
the calls are (nearly: Poisson is the textbook model of call arrivals).

Under a Poisson rate the chance of no arrival in a silence is ``exp(-expected)``, with
``expected`` the arrivals the rate predicts over it; a silence is improbable once that chance
is below the rule's ``improbability``, i.e. once ``expected > ln(1 / improbability)``. The
rate is read from counts fixed when the silence began, so ``expected`` only grows while the
site stays quiet: the judgement turns once.

State is bounded: per site, one count per hour for ``DAYS + 1`` days, released with the site.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

HOUR = 3600.0
DAYS = 7
_SLOTS = (DAYS + 1) * 24
ARRIVALS = frozenset({"call.queued", "call.setup", "ivr.session_started"})
"""Event types that begin a contact: what a site's rate counts, once it has sent one."""
HEARTBEATS = frozenset({"component.health"})
"""Event types that show a feed sends heartbeats: its sites keep the strict rule."""


@dataclass(frozen=True)
class SilencePolicy:
    """Which sites' feeds have no heartbeat (``heartbeats: false`` in their format).

    ``by_default``: sites no feed names (those of events v1 topics) are heartbeat-less too.
    """

    heartbeat_less: frozenset[str] = frozenset()
    by_default: bool = False

    def judged_by_rate(self, site: str) -> bool:
        """Whether ``site``'s feed has no heartbeat, as the configuration says."""
        return self.by_default or site in self.heartbeat_less


@dataclass(slots=True)
class SiteActivity:
    """One site's arrivals per hour over the last days, and whether it sends heartbeats."""

    first: float
    last: float
    without_heartbeat: bool
    arrivals_seen: bool = False
    hours: list[int] = field(default_factory=lambda: [-1] * _SLOTS)
    counts: list[int] = field(default_factory=lambda: [0] * _SLOTS)

    def note(self, ts: float, event_type: str) -> None:
        """Count an event of ``event_type`` that occurred at ``ts``."""
        if event_type in HEARTBEATS:
            self.without_heartbeat = False
        self.first = min(self.first, ts)
        self.last = max(self.last, ts)
        if event_type in ARRIVALS:
            if not self.arrivals_seen:
                # Until a site begins a contact, every event counts: a feed of agent states
                # alone still has a rate. The first arrival shows which counts mean calls.
                self.arrivals_seen = True
                self.hours = [-1] * _SLOTS
        elif self.arrivals_seen:
            return
        hour = math.floor(ts / HOUR)
        slot = hour % _SLOTS
        if self.hours[slot] != hour:
            if self.hours[slot] > hour:
                return  # older than every day kept
            self.hours[slot] = hour
            self.counts[slot] = 0
        self.counts[slot] += 1

    def _count(self, hour: int) -> int:
        slot = hour % _SLOTS
        return self.counts[slot] if self.hours[slot] == hour else 0

    def recent_rate(self) -> float:
        """Arrivals per second lately: the lower of the last whole hour's rate and, a minute
        or more into the newest event's hour, that hour's so far. The lower, for counts per
        hour cannot say whether a busy hour's arrivals came before a quiet evening began."""
        hour = math.floor(self.last / HOUR)
        previous = self._count(hour - 1) / HOUR
        into = self.last - hour * HOUR
        return previous if into < 60 else min(previous, self._count(hour) / into)

    def usual_rate(self, hour: int) -> float | None:
        """Mean arrivals per second at ``hour``'s hour of the day over the last days the site
        was known for the whole hour; None when there is none."""
        first, last = math.floor(self.first / HOUR), math.floor(self.last / HOUR)
        days = [hour - 24 * k for k in range(1, DAYS + 1)]
        seen = [self._count(h) for h in days if first < h < last]
        return sum(seen) / len(seen) / HOUR if seen else None

    def expected(self, now: float, enough: float = math.inf) -> float:
        """Arrivals expected from the newest event to ``now`` at the site's rate: the recent
        rate, no higher than the usual rate of each hour crossed; counting stops past
        ``enough``."""
        recent = self.recent_rate()
        total, start = 0.0, self.last
        while start < now and total <= enough:
            hour = math.floor(start / HOUR)
            end = min(now, (hour + 1) * HOUR)
            usual = self.usual_rate(hour)
            total += (end - start) * (recent if usual is None else min(recent, usual))
            start = end
        return total


def improbable_after(improbability: float) -> float:
    """The arrivals a silence must have been expected to hold for its chance,
    ``exp(-expected)``, to be below ``improbability``."""
    return -math.log(improbability)


__all__ = ["ARRIVALS", "DAYS", "HEARTBEATS", "SilencePolicy", "SiteActivity", "improbable_after"]

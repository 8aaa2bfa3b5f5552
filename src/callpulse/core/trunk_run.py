"""A trunk's figures over a whole run, for a report over a file and for ``scenario check``'s
comparison (:meth:`callpulse.core.trunks.TrunkTracker.run_kpis`): what the tracker sums
since the start, apart from the rolling windows the daemon serves."""

from __future__ import annotations

import math
from dataclasses import dataclass

from callpulse.core.events import ScoreKind


@dataclass(frozen=True, slots=True)
class TrunkRun:
    """A trunk's figures over a whole run (:meth:`TrunkTracker.run_kpis`): each mean over
    the events that carry its measure, with how many did; ``None`` where none did."""

    setups_by_class: dict[str, int]
    asr: float | None
    ner: float | None
    post_dial_delays: int
    post_dial_delay_mean_ms: float | None
    loss_samples: int
    packet_loss_mean: float | None
    jitter_samples: int
    jitter_mean_ms: float | None
    mos_samples: int
    mos_mean: float | None
    scores: dict[ScoreKind, tuple[int, float]]  # kind -> (samples, mean)
    # Channels in use, as the trunk's statuses said them: the most at once, and the
    # channel-seconds from its first count to the end of the run (None before any count).
    channels_peak: int | None = None
    channel_seconds: float | None = None


@dataclass(slots=True)
class ChannelRun:
    """A trunk's channel counts over a whole run: the most in use at once, and the time
    integral of the count (channel-seconds), each count standing until a newer one.

    A count older than the one standing is not counted (the tracker does not take it
    either), so the figures are the step function the trunk's gauge followed."""

    at: float = -math.inf  # when the standing count was said
    in_use: int | None = None
    peak: int | None = None
    seconds: float = 0.0  # channel-seconds up to ``at``

    def said(self, at: float, in_use: int) -> None:
        """A status said ``in_use`` channels at ``at``."""
        if at < self.at:
            return
        if self.in_use is not None:
            self.seconds += self.in_use * (at - self.at)
        self.at, self.in_use = at, in_use
        self.peak = in_use if self.peak is None else max(self.peak, in_use)

    def until(self, now: float) -> float | None:
        """Channel-seconds up to ``now`` (not before the last count); None before any."""
        if self.in_use is None:
            return None
        return self.seconds + self.in_use * max(0.0, now - self.at)

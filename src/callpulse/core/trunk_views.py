"""What is read of a trunk: its KPIs over each window, and its view (what the monitor's
readers, the scrape and the rules, are handed by :class:`~callpulse.core.trunks.TrunkTracker`)."""

from __future__ import annotations

from dataclasses import dataclass, field

from callpulse.core.events import ScoreKind
from callpulse.core.kpi import in_use


@dataclass(frozen=True, slots=True)
class TrunkWindow:
    """A trunk's KPIs over one window; ``None`` where nothing was measured."""

    window: str
    setups: int
    asr: float | None
    ser: float | None
    ner: float | None
    post_dial_delay_p50: float | None
    post_dial_delay_p95: float | None
    mos_mean: float | None
    mos_p5: float | None
    jitter_mean: float | None
    jitter_p95: float | None
    packet_loss_mean: float | None
    packet_loss_p95: float | None
    # Each platform score kind's mean, for the kinds measured in the window: never a MOS.
    score_means: dict[ScoreKind, float] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class TrunkView:
    """Everything exposed about one trunk."""

    site: str
    trunk: str
    up: bool | None
    channels_in_use: int | None
    channels_total: int | None
    setups_total: dict[str, int]
    windows: tuple[TrunkWindow, ...]

    @property
    def up_value(self) -> float | None:
        """1 up, 0 down, None before any ``trunk.status``."""
        return None if self.up is None else float(self.up)

    @property
    def utilization(self) -> float | None:
        """Channels in use / channels: once a ``trunk.status`` has said how many are in use,
        and either it or the configuration how many there are."""
        if self.channels_in_use is None:
            return None
        return in_use(self.channels_in_use, self.channels_total)

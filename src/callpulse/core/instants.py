"""An event's instant as seconds since the epoch: what every event's ``occurred_at`` is
turned into once, on its way into the monitor."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Final

from callpulse.core.native import compiled


def epoch_seconds(moment: datetime) -> float:
    """``moment.timestamp()``: the definition of :data:`EPOCH_SECONDS`."""
    return moment.timestamp()


EPOCH_SECONDS: Final[Callable[[datetime], float]] = compiled("epoch_seconds", epoch_seconds)
""":func:`epoch_seconds`, built from Rust where the build has it (``rust/native``): it reads
a UTC datetime's fields from the object, without the ``timedelta`` and the divisions of
Python ints that ``timestamp()`` makes (39 ns a call against 134); the same float."""

"""Queue KPI formulas over one window's sums (docs/metrics.md; README, "Queues").

Every function returns ``None`` where its denominator is zero: a ratio over no calls is not
0 and not NaN, it is absent, and the exposition leaves the series out.
"""

from __future__ import annotations

from collections.abc import Sequence
from enum import IntEnum
from typing import Literal

AbandonPolicy = Literal["negative", "ignored", "positive"]
"""How abandoned calls enter the service level, in Cisco UCCE's terms.

- ``negative``: answered within T / (answered + abandoned after S). The default.
- ``ignored``: answered within T / (offered - abandoned within T): abandons within T are
  left out, later ones count against. Short abandons (within S) are never offered.
- ``positive``: (answered within T + abandoned after S but within T)
  / (answered + abandoned after S).
"""


class QueueField(IntEnum):
    """The integer fields a queue keeps per bucket: the counts, then the durations (in
    milliseconds) from :data:`QUEUE_COUNTS` on."""

    OFFERED = 0
    ANSWERED = 1
    ANSWERED_IN_THRESHOLD = 2
    ABANDONED = 3  # after the short-abandon threshold S
    ABANDONED_IN_THRESHOLD = 4  # after S but within T
    SHORT_ABANDONED = 5  # within S: neither offered nor abandoned for the ratios
    COMPLETED = 6
    RENEGED = 7  # callers who left the queue unanswered: abandoned (any wait) or callback
    WAIT_MS = 8  # queue wait of answered calls
    HANDLE_MS = 9  # talk + hold + after-call work of completed calls
    AGENT_BUSY_MS = 10  # agents' time on call or in after-call work
    AGENT_AVAILABLE_MS = 11  # agents' time available
    RENEGED_WAIT_MS = 12  # their waits


QUEUE_FIELDS = len(QueueField)
QUEUE_COUNTS = QueueField.WAIT_MS  # the fields before it grow by one an event at most


def service_level(sums: Sequence[int], abandons: AbandonPolicy = "negative") -> float | None:
    """Share of calls answered within the threshold T, abandons counted per ``abandons``."""
    answered = sums[QueueField.ANSWERED]
    within = sums[QueueField.ANSWERED_IN_THRESHOLD]
    handled = answered + sums[QueueField.ABANDONED]
    if abandons == "ignored":
        # Cisco UCCE: ServiceLevelCalls / (ServiceLevelCallsOffered - ServiceLevelAband).
        counted = handled - sums[QueueField.ABANDONED_IN_THRESHOLD]
        return within / counted if counted else None
    if not handled:
        return None
    if abandons == "positive":
        within += sums[QueueField.ABANDONED_IN_THRESHOLD]
    return within / handled


def abandon_ratio(sums: Sequence[int]) -> float | None:
    """Abandoned after S / (answered + abandoned after S)."""
    abandoned = sums[QueueField.ABANDONED]
    handled = sums[QueueField.ANSWERED] + abandoned
    return abandoned / handled if handled else None


def average_speed_of_answer(sums: Sequence[int]) -> float | None:
    """Mean queue wait of answered calls, in seconds."""
    answered = sums[QueueField.ANSWERED]
    return sums[QueueField.WAIT_MS] / answered / 1000 if answered else None


def average_handle_time(sums: Sequence[int]) -> float | None:
    """Mean talk + hold + after-call work of completed calls, in seconds."""
    completed = sums[QueueField.COMPLETED]
    return sums[QueueField.HANDLE_MS] / completed / 1000 if completed else None


def in_use(used: int | None, total: int | None) -> float | None:
    """``used`` / ``total`` (trunk channels, IVR ports), once a status has said the total."""
    return (used or 0) / total if total else None


def occupancy(busy_ms: int, available_ms: int) -> float | None:
    """Handle time / (handle time + available time) of the agents serving a queue."""
    total = busy_ms + available_ms
    return busy_ms / total if total else None

"""The status page's per-queue history: the last HISTORY samples in order, unknown levels
kept as None, the oldest dropped once full."""

from __future__ import annotations

from callpulse.web.status import HISTORY, QueueHistory


def test_an_empty_history_has_no_samples() -> None:
    assert QueueHistory().series() == ([], [])


def test_samples_come_back_oldest_first_with_unknown_levels_as_none() -> None:
    history = QueueHistory()
    history.add(3.0, 0.5)
    history.add(4.0, None)
    history.add(0.0, 1.0)
    assert history.series() == ([3.0, 4.0, 0.0], [0.5, None, 1.0])


def test_past_its_length_the_oldest_samples_go() -> None:
    history = QueueHistory()
    total = HISTORY * 2 + 7
    for i in range(total):
        history.add(float(i), None if i % 3 == 0 else i / 1000)
    waiting, levels = history.series()
    kept = range(total - HISTORY, total)
    assert waiting == [float(i) for i in kept]
    assert levels == [None if i % 3 == 0 else i / 1000 for i in kept]

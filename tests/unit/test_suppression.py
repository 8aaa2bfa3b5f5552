"""What a maintenance window withholds from the sinks (core/suppression.py), on a real
tracker's windows, without the shell."""

from __future__ import annotations

from datetime import UTC, datetime

from callpulse.core.alert_state import Alert, Labels, Notification, State
from callpulse.core.maintenance import MaintenanceTracker
from callpulse.core.maintenance_policy import BacklogLimits
from callpulse.core.suppression import Suppressor

from .events import event

NOW = datetime(2026, 11, 22, 14, 0, tzinfo=UTC).timestamp()
PBX = (("alertname", "ComponentDown"), ("component", "pbx-2"), ("site", "lon1"))


def tracker_with_window(opened: float, closed: float | None = None) -> MaintenanceTracker:
    tracker = MaintenanceTracker(None, BacklogLimits())
    start = event("maintenance.started", opened, maintenance_id="chg-1", components=["pbx-2"])
    tracker.apply(start, opened, 0, False)
    if closed is not None:
        tracker.apply(event("maintenance.ended", closed, maintenance_id="chg-1"), closed, 0, False)
    return tracker


def alert(active_at: float, state: State = "firing", labels: Labels = PBX) -> Alert:
    return Alert("ComponentDown", labels, state, active_at, 1.0, {})


def note(labels: Labels = PBX) -> Notification:
    return Notification(dict(labels), {}, NOW, NOW + 300, "http://cp")


def test_an_alert_that_became_active_in_a_window_is_withheld_and_counted_once() -> None:
    suppressor = Suppressor(tracker_with_window(NOW))
    down = alert(NOW + 10)
    assert [(a.rule, w) for a, w in suppressor.explain([down], NOW + 20)] == [
        ("ComponentDown", "chg-1")
    ]
    assert suppressor.explain([down], NOW + 25) == []  # already withheld: not counted again
    assert suppressor.counts == {("ComponentDown", "chg-1"): 1}
    assert suppressor.suppressed_by(down, NOW + 25) == "chg-1"
    other = (("alertname", "ComponentDown"), ("component", "sbc-1"), ("site", "lon1"))
    assert suppressor.withhold([note(), note(other)]) == [note(other)]


def test_the_whole_episode_is_withheld_even_after_the_window_has_closed() -> None:
    tracker = tracker_with_window(NOW, closed=NOW + 600)
    suppressor = Suppressor(tracker)
    down = alert(NOW + 10)
    suppressor.explain([down], NOW + 20)
    # The window is over; the alert resolves an hour later: its resolution is withheld too.
    resolved = alert(NOW + 10, state="resolved")
    assert suppressor.explain([resolved], NOW + 3600) == []
    assert suppressor.suppressed_by(resolved, NOW + 3600) == "chg-1"
    assert suppressor.withhold([note()]) == []
    # A new episode, after the window, is not the window's: it is sent.
    again = alert(NOW + 7200)
    assert suppressor.explain([again], NOW + 7200) == []
    assert suppressor.suppressed_by(again, NOW + 7200) is None
    assert suppressor.withhold([note()]) == [note()]


def test_an_alert_active_before_the_window_opened_keeps_being_sent() -> None:
    suppressor = Suppressor(tracker_with_window(NOW))
    before = alert(NOW - 60)
    assert suppressor.explain([before], NOW + 20) == []
    assert suppressor.suppressed_by(before, NOW + 20) is None
    assert suppressor.withhold([note()]) == [note()]
    assert suppressor.counts == {}


def test_a_pending_alert_shows_its_window_before_it_is_counted() -> None:
    suppressor = Suppressor(tracker_with_window(NOW))
    pending = alert(NOW + 10, state="pending")
    # Between evaluations it already reads as the window's (the status page shows it) ...
    assert suppressor.suppressed_by(pending, NOW + 12) == "chg-1"
    assert suppressor.counts == {}
    # ... and is counted when an evaluation explains it.
    suppressor.explain([pending], NOW + 15)
    assert suppressor.counts == {("ComponentDown", "chg-1"): 1}


def test_an_alert_no_window_explains_is_sent() -> None:
    suppressor = Suppressor(tracker_with_window(NOW))
    sbc = (("alertname", "ComponentDown"), ("component", "sbc-1"), ("site", "lon1"))
    elsewhere = (("alertname", "ComponentDown"), ("component", "pbx-2"), ("site", "nyc1"))
    assert suppressor.explain([alert(NOW + 10, labels=sbc)], NOW + 20) == []
    assert suppressor.explain([alert(NOW + 10, labels=elsewhere)], NOW + 20) == []
    assert suppressor.withhold([note(sbc), note(elsewhere)]) == [note(sbc), note(elsewhere)]

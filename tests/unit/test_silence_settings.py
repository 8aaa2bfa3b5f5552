"""``alerting.silence_windows``: its shorthand, its errors, when the daemon keeps silences,
and what an evaluation asks of the keeper."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from callpulse import pipeline
from callpulse.alerting import Alerting
from callpulse.config import AlertingSettings, ConfigError, load_settings
from callpulse.config.convert import silence_window_policy
from callpulse.core.calendar import WindowSpec
from callpulse.core.clock import EVENT_TIME, WALL_TIME
from callpulse.core.consumer_health import Blindness
from callpulse.core.monitor import Monitor, MonitorConfig
from callpulse.core.planned_silences import SilenceWindowPolicy, Wanted

from .events import event

AM = 'alerting:\n  alertmanagers: [{url: "http://127.0.0.1:9093"}]\n'


def test_true_turns_it_on_with_the_defaults(tmp_path: Path) -> None:
    path = tmp_path / "callpulse.yaml"
    path.write_text(AM + "  silence_windows: true\n")
    wanted = load_settings(path).alerting.silence_windows
    assert wanted.enabled
    assert wanted.cluster
    assert silence_window_policy(wanted) == SilenceWindowPolicy("site", "component", 60.0, 7200.0)
    assert not load_settings(None).alerting.silence_windows.enabled


def test_on_without_an_alertmanager_names_the_file_and_what_is_missing(tmp_path: Path) -> None:
    path = tmp_path / "callpulse.yaml"
    path.write_text("alerting:\n  silence_windows: {enabled: true}\n")
    with pytest.raises(ConfigError) as info:
        load_settings(path)
    message = str(info.value)
    assert str(path) in message
    assert "silence_windows" in message
    assert "no alertmanagers" in message


def test_a_label_name_prometheus_would_refuse_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "callpulse.yaml"
    path.write_text(AM + "  silence_windows: {enabled: true, site_label: data-center}\n")
    with pytest.raises(ConfigError, match=r"alerting\.silence_windows\.site_label: .*pattern"):
        load_settings(path)


@pytest.mark.parametrize(("event_time", "kept"), [(False, True), (True, False)])
def test_silences_are_kept_on_the_wall_clock_only(
    tmp_path: Path, event_time: bool, kept: bool
) -> None:
    path = tmp_path / "callpulse.yaml"
    path.write_text(AM + "  silence_windows: true\n  log: false\n")
    settings = load_settings(path)
    built = pipeline.build(settings, now=0.0, clock=EVENT_TIME if event_time else WALL_TIME)
    assert (built.alerting.silences is not None) is kept
    # A rules test or a scenario check sends nothing anywhere, silences included.
    quiet = pipeline.build(settings, now=0.0, clock=WALL_TIME, deliver=False)
    assert quiet.alerting.silences is None


END = datetime(2026, 12, 6, 2, 10, tzinfo=UTC).timestamp()


def evaluated(blind: Blindness | None = None, hold: bool = False) -> tuple[Wanted, ...]:
    """What one evaluation 30 s after a window's end wants, its component still down."""
    window = WindowSpec(
        "patching", ("lon1",), datetime(2026, 12, 6, 2, 0), 600.0, components=("sbc-1",)
    )
    config = MonitorConfig(maintenance_windows=(window,), maintenance_timezone="UTC")
    monitor = Monitor(config, now=END + 30)
    monitor.apply(event("component.health", END - 5, component="sbc-1", kind="sbc", status="down"))
    settings = AlertingSettings.model_validate(
        {"log": False, "alertmanagers": [{"url": "http://127.0.0.1:9"}], "silence_windows": True}
    )
    alerting = Alerting(settings, [], monitor, hold=lambda: hold, blind=lambda: blind)
    alerting.evaluate()
    assert alerting.silences is not None
    return alerting.silences.wanted


def test_an_evaluation_keeps_an_overrun_s_silence_only_while_it_can_see() -> None:
    [overrun] = evaluated()
    assert overrun.window == "patching"
    assert overrun.only_if_held
    # Out of sight every component reads stale (down): no silence outlasts its window.
    assert evaluated(blind=Blindness("kafka", "brokers unreachable", END)) == ()
    # While state is rebuilt nothing is planned at all.
    assert evaluated(hold=True) == ()

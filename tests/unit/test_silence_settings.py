"""``alerting.silence_windows``: its shorthand, its errors, and when the daemon keeps silences."""

from __future__ import annotations

from pathlib import Path

import pytest

from callpulse import pipeline
from callpulse.config import ConfigError, load_settings
from callpulse.core.planned_silences import SilenceWindowPolicy

AM = 'alerting:\n  alertmanagers: [{url: "http://127.0.0.1:9093"}]\n'


def test_true_turns_it_on_with_the_defaults(tmp_path: Path) -> None:
    path = tmp_path / "callpulse.yaml"
    path.write_text(AM + "  silence_windows: true\n")
    wanted = load_settings(path).alerting.silence_windows
    assert wanted.enabled
    assert wanted.cluster
    assert wanted.policy() == SilenceWindowPolicy("site", "component", 60.0, 7200.0)
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
    built = pipeline.build(settings, now=0.0, event_time_clock=event_time)
    assert (built.alerting.silences is not None) is kept
    # A rules test or a scenario check sends nothing anywhere, silences included.
    quiet = pipeline.build(settings, now=0.0, event_time_clock=False, deliver=False)
    assert quiet.alerting.silences is None

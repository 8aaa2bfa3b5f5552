"""Every shipped scenario, played through the real pipeline, raises the alerts it promises."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from callpulse.core.ingest import decode
from callpulse.simulation import scenario as scenarios


def cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "callpulse", *args], capture_output=True, text=True, timeout=300
    )


def test_every_shipped_scenario_passes_its_check_over_ten_seeds() -> None:
    # 0 flaps and at most one episode per alert in every scenario and seed, no page in
    # normal-day, the drain ETA and the forecast within their bounds.
    result = cli("scenario", "check", "--seeds", "10")
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.count("PASS") == len(scenarios.names()) == 6
    assert "suppressed ComponentDown" in result.stdout  # maintenance-backlog
    assert " 1 flap" not in result.stdout
    assert "MaintenanceBacklog: 10 episodes in 10 runs, 0 flaps" in result.stdout
    assert "drain ETA error: median" in result.stdout
    assert "MaintenanceImpactForecast: 10 episodes in 10 runs, 0 flaps, raised" in result.stdout
    normal_day = result.stdout.split("PASS  normal-day")[1].split("PASS")[0]
    assert "fired" not in normal_day


def test_seeds_must_be_positive() -> None:
    result = cli("scenario", "check", "normal-day", "--seeds", "0")
    assert result.returncode == 2
    assert "--seeds" in result.stderr


@pytest.mark.parametrize("command", [["scenario", "check"], ["simulate", "--out", "x.jsonl"]])
def test_a_format_no_emitter_writes_is_refused_not_a_traceback(command: list[str]) -> None:
    # events-v1 is a topic's format but no platform's: argparse names the choices, those
    # with an emitter (an adapter can read a format no emitter writes yet).
    result = cli(*command, "--format", "events-v1")
    assert result.returncode == 2
    assert "invalid choice: 'events-v1'" in result.stderr
    assert "Traceback" not in result.stderr


def test_a_scenario_expecting_the_wrong_alert_fails(tmp_path: Path) -> None:
    text = (scenarios.builtin_dir() / "trunk-failure.yaml").read_text()
    broken = tmp_path / "broken.yaml"
    broken.write_text(
        text.replace(
            "alerts: [TrunkDown, TrunkAnswerSeizureRatioLow]",
            "alerts: [TrunkDown, MediaQualityLow]",
        )
    )
    result = cli("scenario", "check", str(broken))
    assert result.returncode == 1
    assert "! seed 13: expected MediaQualityLow to fire; it did not" in result.stdout
    assert "! seed 13: TrunkAnswerSeizureRatioLow fired" in result.stdout


def test_simulate_out_writes_a_replayable_file(tmp_path: Path) -> None:
    out = tmp_path / "day.jsonl"
    result = cli("simulate", "--scenario", "normal-day", "--duration", "10m", "--out", str(out))
    assert result.returncode == 0, result.stderr
    lines = out.read_bytes().splitlines()
    assert len(lines) > 500
    assert all(decode(line, 1 << 16) for line in lines[:200])
    again = tmp_path / "again.jsonl"
    cli("simulate", "--scenario", "normal-day", "--duration", "10m", "--out", str(again))
    assert again.read_bytes() == out.read_bytes()
    assert json.loads(lines[0])["site"] in ("lon1", "nyc1")


# What each ACD format's run is compared on besides the queue counts: Connect's contact
# records carry the caller's setup, IVR session and media too.
ACD_FORMATS = {
    "asterisk-queue-log": "",
    "amazon-connect": ", trunk figures, IVR sessions",
    "freeswitch-callcenter": "",
    "twilio-taskrouter": "",
}
# Through each trunk format, what fires on trunk-failure: TrunkDown from the platform's own
# trunk states where it reports them (FreeSWITCH, OpenSIPS, AMI), else from the trunk.status
# that stays events v1; the ASR rule only where the format carries the carrier's setups (a
# CDR does not: docs/adapters-asterisk-cdr.md).
TRUNK_FORMATS = {
    "kamailio-acc": "TrunkAnswerSeizureRatioLow, TrunkDown",
    "opensips-acc": "TrunkAnswerSeizureRatioLow, TrunkDown",
    "asterisk-cdr": "TrunkDown",
    "freeswitch-channel": "TrunkAnswerSeizureRatioLow, TrunkDown",
    "asterisk-ami": "TrunkAnswerSeizureRatioLow, TrunkDown",  # TrunkDown from ContactStatus
}
# The trunk formats that carry the IVR sessions too, and the IVR rules that fire through
# each on ivr-backend-outage (the backend's errors stay events v1, counted per session).
IVR_FORMATS = {"asterisk-ami": {"IvrBackendErrors", "IvrContainmentCollapse"}}


@pytest.mark.parametrize("fmt", ACD_FORMATS)
def test_every_scenario_through_each_platform_agrees_with_events_v1(fmt: str) -> None:
    # Each scenario's day written as the platform writes it and read back through its
    # adapter: per queue the same offered, answered and abandoned counts as events v1 of the
    # same day (as the format can carry it: a callback the format cannot tell from an
    # abandon is one on both sides; wrap-ups of the assumed length where none is logged;
    # whole seconds for queue_log), the same alert episodes on the same series, and nothing
    # rejected; the scenario's own expectations are met by its events-v1 run.
    result = cli("scenario", "check", "--format", fmt)
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.count("PASS") == len(scenarios.names())
    assert result.stdout.count(f"{fmt}: ") == len(scenarios.names())
    compared = f"0 rejected; queue counts{ACD_FORMATS[fmt]} and alerts as events v1's"
    assert result.stdout.count(compared) == len(scenarios.names())


def test_a_platform_run_that_differs_from_events_v1_fails(monkeypatch: pytest.MonkeyPatch) -> None:
    # The comparison can fail: a forwarder losing one ENTERQUEUE in ten is caught.
    from typing import Any

    from callpulse.cli.scenario import _through
    from callpulse.config import Settings
    from callpulse.shipped import shipped
    from callpulse.simulation import platform
    from callpulse.simulation.emitters.asterisk import AsteriskEmitter

    class Forgetful(AsteriskEmitter):
        seen = 0

        def emit(self, event: Any) -> list[bytes]:
            lines = super().emit(event)
            if event["type"] == "call.queued":
                self.seen += 1
                return [] if self.seen % 10 == 0 else lines
            return lines

    monkeypatch.setattr(platform, "emitter_for", lambda fmt, site: Forgetful())
    settings = Settings(rule_files=[shipped("rules.yaml")])
    _, problems = _through("asterisk-queue-log", scenarios.load("normal-day"), settings)
    assert any("offered" in p and "events v1" in p for p in problems), problems


@pytest.mark.parametrize("fmt", sorted(TRUNK_FORMATS))
def test_every_scenario_through_each_trunk_format_agrees_with_events_v1(fmt: str) -> None:
    # The queues stay events v1; the setups go through the format. Per trunk, the same
    # setups by response class, ASR, NER, post-dial delays, media as events v1 of the same
    # day as the format keeps it (TrunkEmitter.as_kept), and the same alert episodes.
    result = cli("scenario", "check", "--format", fmt)
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.count("PASS") == len(scenarios.names())
    sessions = ", IVR sessions" if fmt in IVR_FORMATS else ""
    assert result.stdout.count(
        f"0 rejected; queue counts, trunk figures{sessions} and alerts as events v1's"
    ) == len(scenarios.names())
    trunk_failure = result.stdout.split("PASS  trunk-failure")[1]
    assert f"fired through it: {TRUNK_FORMATS[fmt]}\n" in trunk_failure
    if fmt in IVR_FORMATS:
        outage = result.stdout.split("PASS  ivr-backend-outage")[1].split("PASS")[0]
        fired = outage.split("fired through it: ")[1].split("\n")[0].split(", ")
        assert IVR_FORMATS[fmt] <= set(fired), outage
    normal_day = result.stdout.split("PASS  normal-day")[1].split("PASS")[0]
    assert "fired through it: nothing" in normal_day


def test_a_trunk_format_whose_codes_differ_from_events_v1_fails(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # The trunk comparison can fail: a proxy answering 486 where events v1 has 503 moves
    # the refusals from network failures to user busy, and the NER with them.
    from typing import Any

    from callpulse.cli.scenario import _through
    from callpulse.config import Settings
    from callpulse.shipped import shipped
    from callpulse.simulation import platform
    from callpulse.simulation.emitters.sip_acc import KamailioAccEmitter

    class Busy(KamailioAccEmitter):
        def emit(self, event: Any) -> list[bytes]:
            if event["type"] == "call.setup" and event["sip_code"] == 503:
                event = {**event, "sip_code": 486}
            return super().emit(event)

    monkeypatch.setattr(platform, "emitter_for", lambda fmt, site: Busy())
    settings = Settings(rule_files=[shipped("rules.yaml")])
    _, problems = _through("kamailio-acc", scenarios.load("trunk-failure"), settings)
    assert "lon1/lon1-sip-1: ner 1, events v1 0.638356" in problems, problems


@pytest.mark.parametrize(
    ("fmt", "lost"),
    [("freeswitch-channel", b'"CHANNEL_CREATE"'), ("kamailio-acc", b'"method":"BYE"'),
     ("opensips-acc", b'"method":"BYE"'), ("asterisk-ami", b"Event: Newchannel")],
)  # fmt: skip
def test_a_lost_leg_start_or_end_makes_the_channel_figures_differ(
    monkeypatch: pytest.MonkeyPatch, fmt: str, lost: bytes
) -> None:
    # The channel comparison can fail: one leg's CHANNEL_CREATE (or one call's BYE) lost
    # leaves the adapter's count one low (or one high) from then on. A FreeSWITCH leg the
    # adapter never saw created also has no trunk for its mid-call RTCP report: that leg's
    # RTCP loss and jitter sample goes missing with it, and nothing else. An AMI Newchannel
    # lost the same way (AMI's own channel count, from Newchannel to Hangup).
    from typing import Any

    from callpulse.cli.scenario import _through
    from callpulse.config import Settings
    from callpulse.shipped import shipped
    from callpulse.simulation import platform
    from callpulse.simulation.emitters import emitter_for

    class Losing:
        def __init__(self, inner: Any) -> None:
            self.inner, self.dropped = inner, 0

        def __getattr__(self, name: str) -> Any:
            return getattr(self.inner, name)

        def emit(self, event: Any) -> list[bytes]:
            out = self.inner.emit(event)
            if self.dropped or not any(lost in r for r in out):
                return out
            self.dropped = 1
            return [r for r in out if lost not in r]

    made: dict[str, Any] = {}

    def losing(fmt_: str, site: str) -> Any:
        made[site] = made.get(site) or Losing(emitter_for(fmt_, site))
        return made[site]

    monkeypatch.setattr(platform, "emitter_for", losing)
    monkeypatch.setattr(platform, "trunk_emitter", lambda e: e.inner)
    settings = Settings(rule_files=[shipped("rules.yaml")])
    _, problems = _through(fmt, scenarios.load("normal-day"), settings)
    assert sum(e.dropped for e in made.values()) == 2  # one record on each site's stream
    channels = [p for p in problems if ": channel_seconds " in p]
    assert len(channels) == 2, problems
    assert all(p.startswith(("lon1/", "nyc1/")) for p in channels)
    others = [p for p in problems if " channel" not in p]
    if fmt == "freeswitch-channel":
        rtcp = (": loss_samples ", ": packet_loss_mean ", ": jitter_samples ", ": jitter_mean_ms ")
        assert len(others) <= 4 * 2, others  # one lost leg's report per site at most
        others = [p for p in others if not any(m in p for m in rtcp)]
    if fmt == "asterisk-ami":
        # An inbound leg is followed from its Newchannel: lost, its setup goes missing too.
        setups = [p for p in others if ": setups_by_class " in p]
        assert len(setups) <= 2, others  # one lost leg's setup per site at most
        others = [p for p in others if p not in setups]
    assert not others, problems


@pytest.mark.parametrize("fmt", ["freeswitch-channel", "opensips-acc"])
def test_trunk_down_through_a_platform_comes_from_its_own_gateway_states(
    monkeypatch: pytest.MonkeyPatch, fmt: str
) -> None:
    # The simulated status is the platform's to write: one that writes no gateway state
    # leaves TrunkDown silent, and the check says so.
    from typing import Any

    from callpulse.cli.scenario import _through
    from callpulse.config import Settings
    from callpulse.shipped import shipped
    from callpulse.simulation import platform
    from callpulse.simulation.emitters import emitter_for

    class Mute:
        def __init__(self, inner: Any) -> None:
            self.inner = inner

        def __getattr__(self, name: str) -> Any:
            return getattr(self.inner, name)

        def emit(self, event: Any) -> list[bytes]:
            return [] if event["type"] == "trunk.status" else self.inner.emit(event)

    made = {}

    def mute(fmt_: str, site: str) -> Any:
        made[site] = made.get(site) or emitter_for(fmt_, site)
        return Mute(made[site])

    monkeypatch.setattr(platform, "emitter_for", mute)
    monkeypatch.setattr(platform, "trunk_emitter", lambda e: e.inner)
    settings = Settings(rule_files=[shipped("rules.yaml")])
    _, problems = _through(fmt, scenarios.load("trunk-failure"), settings)
    assert any(p.startswith("TrunkDown ") and "0 episodes, events v1 1" in p for p in problems), (
        problems
    )

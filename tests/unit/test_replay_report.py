"""``callpulse replay --report``: the shipped Asterisk sample summed by hand, and the report
printing exactly that; gaps in time crossed in a bounded number of steps with the same
figures; a record that makes the pipeline raise counted, not fatal; names printed escaped."""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
import threading
import time
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from callpulse.cli import report, report_run
from callpulse.config import FormatSettings, Settings, load_settings
from callpulse.core.queues import QueueWindow
from callpulse.shipped import shipped

ROOT = Path(__file__).resolve().parents[2]
SAMPLE = ROOT / "docs" / "examples" / "asterisk-queue_log"
EXAMPLES = ROOT / "docs" / "examples"


def replay_report(*args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "callpulse", "replay", *args, "--report"],
        capture_output=True,
        text=True,
        timeout=timeout,
        cwd=ROOT,
    )


def settings_for(path: Path, fmt: str = "events-v1", site: str | None = None) -> Settings:
    """What ``callpulse replay PATH --report`` runs with, without a config: the shipped rules."""
    settings = load_settings(None)
    settings.source.kind = "replay"
    settings.source.replay.path = path
    settings.source.replay.format = FormatSettings(format=fmt, site=site)
    settings.rule_files = [shipped("rules.yaml")]
    return settings


def row(output: str, site: str, queue: str) -> list[str]:
    """The table row of one queue, split on runs of two spaces (cells hold single ones)."""
    [line] = [ln for ln in output.splitlines() if ln.split()[:2] == [site, queue]]
    return [cell.strip() for cell in line.split("  ") if cell.strip()]


def test_the_shipped_cdr_sample_reports_each_trunks_setups_counted_by_hand() -> None:
    sample = EXAMPLES / "asterisk-cdr-Master.csv"
    result = replay_report("--format", "asterisk-cdr", "--site", "s1", str(sample))
    assert result.returncode == 0, result.stderr
    out = result.stdout
    # By hand, the rows whose dstchannel is a trunk: carrier-a ANSWERED, BUSY, NO ANSWER,
    # CONGESTION, ANSWERED (ASR 2/5; NER (2 + 486 + 480)/5); KTTK FAILED, ANSWERED.
    # A CDR carries no post-dial delay, no channel count (written at hangup, it cannot say
    # what is up) and no media: those columns are empty.
    assert row(out, "s1", "carrier-a") == ["s1", "carrier-a", "5", "2", "0", "2", "1", "0",
                                           "40%", "80%", "-", "-", "-"]  # fmt: skip
    assert row(out, "s1", "KTTK") == ["s1", "KTTK", "2", "1", "0", "0", "1", "0", "50%", "50%",
                                      "-", "-", "-"]  # fmt: skip
    # The carrier's calls into the queue and the IVR; a phone's call to a phone, and one
    # through a Local channel; the last row, cut short.
    assert "ignored (no events-v1 use): inbound 2, no_trunk 2" in out
    assert "rejected: invalid_asterisk-cdr 1" in out
    assert "line 12: a Master.csv row has 16 to 21 columns" in out


def test_the_shipped_queue_log_sample_reports_the_numbers_counted_by_hand() -> None:
    result = replay_report("--format", "asterisk-queue-log", "--site", "s1", str(SAMPLE))
    assert result.returncode == 0, result.stderr
    out = result.stdout
    # By hand, from docs/examples/asterisk-queue_log (billing, T = 20 s, S = 5 s):
    # - offered: 7 ENTERQUEUE lines.
    # - answered: 2 CONNECTs, holdtime 8 s (Alice) and 25 s (Bob): ASA (8 + 25) / 2 = 16.5 s;
    #   within T: 1.
    # - abandoned: ABANDON after 30 s and EXITWITHTIMEOUT after 300 s (timeouts count as
    #   abandons by default); EXITWITHKEY after 1 s is a short abandon (< S), not offered.
    # - SL (abandons negative): 1 / (2 answered + 2 abandoned) = 25.0%.
    # - AHT: COMPLETECALLER calltime 120 s and BLINDTRANSFER calltime 100 s, no hold or
    #   wrap-up logged: (120 + 100) / 2 = 110.0 s.
    # - alerts, with the shipped rules evaluated on the log's clock:
    #   QueueServiceLevelLow (15m SL < 80% for 2m) from Bob's slow answer on;
    #   QueueAbandonRateHigh (15m abandons > 10% for 5m) from the abandon at :50 on;
    #   QueueOldestWaitHigh (> 180 s for 1m): caller 5 waits 09:02:30 to 09:07:30;
    #   no SiteSilent: nothing is logged between 09:02:30 and 09:07:30, but a queue_log has
    #   no heartbeat, and five quiet minutes are not improbable for a site with no past hour.
    assert row(out, "s1", "billing") == [
        "s1",
        "billing",
        "7",
        "2",
        "2",
        "25.0%",
        "16.5 s",
        "110.0 s",
        "QueueAbandonRateHigh x1, QueueOldestWaitHigh x1, QueueServiceLevelLow x1",
    ]
    assert "SiteSilent" not in out
    assert "21 records, 2025-11-26 09:00:00Z to 2025-11-26 09:07:50Z" in out
    assert "rejected: invalid_asterisk-queue-log 1" in out  # the truncated line
    assert "ignored (no events-v1 use): DID 1, RINGNOANSWER 1" in out
    assert "SL: answered within 20 s" in out


def test_timeouts_as_transfers_change_the_abandons(tmp_path: Path) -> None:
    # The same log where a queue timeout is the dialplan's next step, not an abandon: the
    # caller who waited 300 s leaves the figures, so SL is 1 / (2 + 1).
    config = tmp_path / "callpulse.yaml"
    config.write_text(
        json.dumps(
            {
                "source": {
                    "replay": {
                        "format": {
                            "format": "asterisk-queue-log",
                            "site": "s1",
                            "timeouts_are_abandons": False,
                        }
                    }
                },
                "rule_files": [],
            }
        )
    )
    result = replay_report("-c", str(config), str(SAMPLE))
    assert result.returncode == 0, result.stderr
    cells = row(result.stdout, "s1", "billing")
    assert cells[2:8] == ["7", "2", "1", "33.3%", "16.5 s", "110.0 s"]
    # A config with no rules (rule_files: []; unset would be the shipped ones) evaluates
    # none: no alert would have fired.
    assert cells[8] == "-"


def write_v1(path: Path, events: list[tuple[float, dict[str, object]]], site: str = "par1") -> Path:
    """``events`` (epoch seconds, the type and its fields) as an events-v1 file at ``path``."""
    path.write_text(
        "".join(
            json.dumps(
                body
                | {
                    "schema_version": 1,
                    "event_id": f"e{i}",
                    "site": site,
                    "occurred_at": datetime.fromtimestamp(at, UTC).isoformat(),
                }
            )
            + "\n"
            for i, (at, body) in enumerate(events)
        )
    )
    return path


def test_an_events_v1_file_reports_per_queue(tmp_path: Path) -> None:
    lines: list[tuple[float, dict[str, object]]] = [  # (seconds after 10:00, the event)
        (0, {"type": "call.queued", "call_id": "c1", "queue": "sales"}),
        (1, {"type": "call.queued", "call_id": "c2", "queue": "sales"}),
        (10, {"type": "call.answered", "call_id": "c1", "queue": "sales", "agent_id": "a",
              "wait_seconds": 10}),
        (41, {"type": "call.abandoned", "call_id": "c2", "queue": "sales", "wait_seconds": 40}),
        (260, {"type": "call.completed", "call_id": "c1", "queue": "sales", "agent_id": "a",
               "talk_seconds": 200, "hold_seconds": 20, "acw_seconds": 30}),
        (5, {"type": "call.queued", "call_id": "d1", "queue": "support"}),
    ]  # fmt: skip
    ten = datetime(2026, 11, 30, 10, tzinfo=UTC).timestamp()
    path = write_v1(tmp_path / "events.jsonl", [(ten + at, body) for at, body in lines])
    result = replay_report(str(path))
    assert result.returncode == 0, result.stderr
    # sales: 2 offered, 1 answered after 10 s (within T), 1 abandoned after 40 s: SL 1/2,
    # ASA 10 s, AHT 200 + 20 + 30 = 250 s. support: 1 offered, still waiting.
    assert row(result.stdout, "par1", "sales")[2:8] == ["2", "1", "1", "50.0%", "10.0 s",
                                                        "250.0 s"]  # fmt: skip
    assert row(result.stdout, "par1", "support")[2:8] == ["1", "0", "0", "-", "-", "-"]


@pytest.mark.parametrize("args", [["--format", "asterisk-queue-log"], []])
def test_a_missing_file_or_site_is_a_clear_error(args: list[str], tmp_path: Path) -> None:
    result = replay_report(*args, str(tmp_path / "nope.log"))
    assert result.returncode == 2
    assert ("site" if args else "cannot read") in result.stderr


def test_a_simulated_day_written_as_queue_log_reports_its_events_v1_counts(
    tmp_path: Path,
) -> None:
    from callpulse.simulation import scenario as scenarios
    from callpulse.simulation.model import ContactCenter

    out = tmp_path / "day.jsonl"
    simulate = subprocess.run(
        [sys.executable, "-m", "callpulse", "simulate", "--scenario", "agent-shortage",
         "--duration", "40m", "--format", "asterisk-queue-log", "--out", str(out)],
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert simulate.returncode == 0, simulate.stderr
    queue_log = tmp_path / "day.asterisk-queue-log.nyc1.queue_log"
    assert str(queue_log) in simulate.stdout
    # The v1 file keeps what queue_log has no room for (trunks, IVR, snapshots...).
    kept = {json.loads(line)["type"] for line in out.read_text().splitlines()}
    assert "call.queued" not in kept
    assert "trunk.status" in kept

    # The same day as events v1: offered, answered, and abandoned after S = 5 s (a callback
    # is a key press queue_log logs as an exit: an abandon there).
    scenario = scenarios.load("agent-shortage")
    start = scenario.start.replace(tzinfo=UTC).timestamp()
    center = ContactCenter(scenario, start, in_order=True)
    expected: dict[str, list[int]] = {}
    for record in center.records(start + 40 * 60):
        e = json.loads(record.value or b"")
        if e["site"] != "nyc1" or "queue" not in e:
            continue
        counts = expected.setdefault(e["queue"], [0, 0, 0])
        if e["type"] == "call.queued":
            counts[0] += 1
        elif e["type"] == "call.answered":
            counts[1] += 1
        elif e["type"] in {"call.abandoned", "call.callback_requested"}:
            counts[2] += e["wait_seconds"] >= 5
    reported = replay_report("--format", "asterisk-queue-log", "--site", "nyc1", str(queue_log))
    assert reported.returncode == 0, reported.stderr
    assert expected
    assert all(counts[0] for counts in expected.values())
    for queue, counts in expected.items():
        assert row(reported.stdout, "nyc1", queue)[2:5] == [str(n) for n in counts]
    assert "rejected" not in reported.stdout


# --- time: a gap is crossed in a bounded number of steps, with the cadence's figures --------

NOW = datetime(2026, 3, 2, 10, tzinfo=UTC).timestamp()
EPOCH = 0.0  # "a clock at 1970"
LAST = datetime(9999, 12, 31, 23, 59, 59, tzinfo=UTC).timestamp()


@pytest.mark.timeout(60)  # the evaluations every 5 s across the gap took days of CPU
@pytest.mark.parametrize(("first", "second"), [(EPOCH, NOW), (NOW, LAST), (EPOCH, LAST)])
def test_a_gap_of_decades_or_millennia_is_reported_in_seconds(
    first: float, second: float, tmp_path: Path
) -> None:
    path = write_v1(
        tmp_path / "gap.jsonl",
        [
            (first, {"type": "call.queued", "call_id": "c1", "queue": "sales"}),
            (second, {"type": "call.queued", "call_id": "c2", "queue": "sales"}),
        ],
    )
    began = time.perf_counter()
    played = report.play(settings_for(path))
    # About 0.1 s: the cadence for the windows to age out, a leap, the cadence again for the
    # longest rule timer before the second record.
    assert time.perf_counter() - began < 5
    assert (played.first, played.last) == (first, second)
    assert played.queues[("par1", "sales")].offered == 2

    result = replay_report(str(path), timeout=60)
    assert result.returncode == 0, result.stderr
    assert row(result.stdout, "par1", "sales")[2:5] == ["2", "0", "0"]


@pytest.mark.timeout(90)
def test_a_caller_waiting_across_three_months_of_silence_is_reported_by_hand(
    tmp_path: Path,
) -> None:
    months = 92 * 86400.0
    path = write_v1(
        tmp_path / "quarter.jsonl",
        [
            (NOW, {"type": "agent.state", "agent_id": "a", "state": "offline",
                   "queues": ["sales"]}),
            (NOW, {"type": "call.queued", "call_id": "c1", "queue": "sales"}),
            (NOW + months, {"type": "call.answered", "call_id": "c1", "queue": "sales",
                            "agent_id": "a", "wait_seconds": months}),
            (NOW + months + 60, {"type": "call.completed", "call_id": "c1", "queue": "sales",
                                 "agent_id": "a", "talk_seconds": 60, "hold_seconds": 0,
                                 "acw_seconds": 0}),
        ],
    )  # fmt: skip
    result = replay_report(str(path), timeout=60)
    assert result.returncode == 0, result.stderr
    out = result.stdout
    # One call offered and answered after 92 days (7,948,800 s, far past T): SL 0 %, ASA
    # 7,948,800 s, AHT 60 s. Alerts, each one episode, all across the gap: the caller waits
    # past 180 s (QueueOldestWaitHigh after 1m more) with no agent available (the one agent
    # offline: QueueNoAgentAvailable after 2m), and the site is silent past 2m (SiteSilent).
    # QueueServiceLevelLow is pending at the answer, 2m short of firing when the file ends.
    assert row(out, "par1", "sales") == [
        "par1", "sales", "1", "1", "0", "0.0%", "7948800.0 s", "60.0 s",
        "QueueNoAgentAvailable x1, QueueOldestWaitHigh x1",
    ]  # fmt: skip
    assert "other alerts: SiteSilent {site=par1} x1" in out


def at_the_cadence(settings: Settings) -> report_run.ReplayReport:
    """The report with the rules evaluated every interval, gaps included (no leap)."""
    from callpulse.cli.timeline import Timeline

    quiet = Timeline._quiet
    Timeline._quiet = lambda self, now: False  # type: ignore[method-assign]
    try:
        return report.play(settings)
    finally:
        Timeline._quiet = quiet  # type: ignore[method-assign]


def test_leaps_give_the_report_of_the_cadence(tmp_path: Path) -> None:
    # Everything that changes on its own clock across a gap of six hours: callers waiting
    # through it (one gives up after it), agents in after-call work, a component that goes
    # silent, a trunk down, an IVR application whose name is released, and the site silent.
    hour = 3600.0
    day: list[tuple[float, dict[str, object]]] = [
        (0, {"type": "agent.state", "agent_id": "a1", "state": "available",
             "queues": ["sales"]}),
        (0, {"type": "component.health", "component": "pbx-1", "kind": "pbx",
             "status": "up"}),
        (0, {"type": "trunk.status", "trunk_id": "sip-1", "state": "down", "channels_total": 30,
             "channels_in_use": 0}),
        (0, {"type": "ivr.ports", "application": "main", "ports_in_use": 29,
             "ports_total": 30}),
        (10, {"type": "call.queued", "call_id": "c1", "queue": "sales"}),
        (20, {"type": "call.answered", "call_id": "c1", "queue": "sales", "agent_id": "a1",
              "wait_seconds": 10}),
        (30, {"type": "call.queued", "call_id": "c2", "queue": "sales"}),
        (40, {"type": "call.queued", "call_id": "c3", "queue": "support"}),
        (200, {"type": "call.completed", "call_id": "c1", "queue": "sales", "agent_id": "a1",
               "talk_seconds": 180, "hold_seconds": 0, "acw_seconds": 60}),
        (200, {"type": "agent.state", "agent_id": "a1", "state": "acw", "queues": ["sales"]}),
        (6 * hour, {"type": "call.abandoned", "call_id": "c2", "queue": "sales",
                    "wait_seconds": 6 * hour - 30}),
        (6 * hour + 5, {"type": "agent.state", "agent_id": "a1", "state": "available",
                        "queues": ["sales"]}),
        (6 * hour + 400, {"type": "call.queued", "call_id": "c4", "queue": "sales"}),
    ]  # fmt: skip
    path = write_v1(tmp_path / "gap.jsonl", [(NOW + at, body) for at, body in day])
    settings = settings_for(path)
    leaping, cadence = report.play(settings), at_the_cadence(settings)
    assert report.render(leaping) == report.render(cadence)
    assert leaping.episodes == cadence.episodes
    assert not leaping.rejected
    assert len(leaping.episodes) >= 8  # the gap made alerts fire, and resolve


HOUR = 3600.0
WAITING = {"type": "call.queued", "call_id": "c1", "queue": "sales"}
LEAP_CASES = {
    # A condition that turns during the leap, whose `for` ends shortly before the next record:
    # the leap must land early enough for it to fire there too.
    "a timer running out before the next record": (
        {"rules": [{"alert": "CallerForgotten", "kpi": "queue_oldest_wait_seconds",
                    "op": ">", "threshold": 3 * HOUR, "for": "10m"}]},
        [(0.0, WAITING),
         (3 * HOUR + 720, {"type": "call.abandoned", "call_id": "c1", "queue": "sales",
                           "wait_seconds": 3 * HOUR + 720})],
        "CallerForgotten x1",
    ),
    # The windows aging out after the last record turn the service level up and down: the
    # good calls leave the 15m window first, and it fires for the two late ones.
    "windows aging out after the last record": (
        {"rule_files": [str(shipped("rules.yaml"))]},
        [*((float(n), {"type": "call.answered", "call_id": f"g{n}", "queue": "sales",
                       "agent_id": "a", "wait_seconds": 1}) for n in range(8)),
         *((240.0 + n, {"type": "call.answered", "call_id": f"l{n}", "queue": "sales",
                        "agent_id": "a", "wait_seconds": 60}) for n in range(2)),
         (HOUR, WAITING)],
        "QueueServiceLevelLow x1",
    ),
    # The monitor gives an idle name back to its cap on its own clock: after the gap a new
    # application has a name of its own rather than _overflow's. No rule has a timer, so
    # the cadence resumes only two intervals before the record.
    "a name released during the leap": (
        {"kpi": {"max_label_values": {"application": 1}},
         "maintenance": {"backlog": {"for": 0, "keep_firing_for": 0}},
         "rules": [{"alert": "IvrPortsFull", "kpi": "ivr_ports_utilization_ratio",
                    "op": ">", "threshold": 0.9}]},
        [(0.0, {"type": "ivr.ports", "application": "main", "ports_in_use": 29,
                "ports_total": 30}),
         (6 * HOUR + 30, {"type": "ivr.ports", "application": "other", "ports_in_use": 29,
                          "ports_total": 30})],
        "application=other",
    ),
    # Planned windows in the gap, callers waiting and a component silent through them: each
    # window is walked.
    "planned windows in the gap": (
        {"rule_files": [str(shipped("rules.yaml"))],
         "maintenance": {
             "timezone": "UTC",
             "windows": [{"name": "patch", "sites": ["par1"], "queues": ["sales"],
                          "components": ["pbx-1"], "start": "2026-03-02T11:00",
                          "duration": "10m", "rrule": "FREQ=HOURLY;INTERVAL=2",
                          "agents_affected": "50%"}],
             "backlog": {"grace": "10m", "forecast_lead": "10m", "baseline": "10m"}}},
        [(0.0, {"type": "component.health", "component": "pbx-1", "kind": "pbx",
                "status": "up"}),
         *((float(n), {"type": "call.queued", "call_id": f"w{n}", "queue": "sales"})
           for n in range(25)),
         (7 * HOUR, {"type": "call.abandoned", "call_id": "w0", "queue": "sales",
                     "wait_seconds": 7 * HOUR})],
        "MaintenanceOverrun {component=pbx-1, maintenance=patch, site=par1} x",
    ),
}  # fmt: skip


@pytest.mark.parametrize("case", LEAP_CASES)
def test_what_changes_during_a_leap_is_what_the_cadence_sees(case: str, tmp_path: Path) -> None:
    config, events, shown = LEAP_CASES[case]
    path = write_v1(tmp_path / "gap.jsonl", [(NOW + at, body) for at, body in events])
    (tmp_path / "callpulse.yaml").write_text(json.dumps(config))
    settings = load_settings(tmp_path / "callpulse.yaml")
    settings.source.kind = "replay"
    settings.source.replay.path = path
    leaping, cadence = report.play(settings), at_the_cadence(settings)
    assert report.render(leaping) == report.render(cadence)
    assert leaping.episodes == cadence.episodes
    assert shown in report.render(leaping)


def test_a_simulated_day_split_by_a_night_reports_as_at_the_cadence(tmp_path: Path) -> None:
    from callpulse.simulation import scenario as scenarios
    from callpulse.simulation.model import ContactCenter

    scenario = scenarios.load("agent-shortage")
    start = scenario.start.replace(tzinfo=UTC).timestamp()
    night = timedelta(hours=9)
    lines = []
    for record in ContactCenter(scenario, start, in_order=True).records(start + 40 * 60):
        event = json.loads(record.value or b"")
        at = datetime.fromisoformat(event["occurred_at"])
        if at.timestamp() >= start + 20 * 60:  # the second half of the day, a night later
            event["occurred_at"] = (at + night).isoformat()
        lines.append(json.dumps(event) + "\n")
    path = tmp_path / "two-halves.jsonl"
    path.write_text("".join(lines))
    settings = settings_for(path)
    leaping, cadence = report.play(settings), at_the_cadence(settings)
    assert report.render(leaping) == report.render(cadence)
    assert leaping.episodes == cadence.episodes


def test_the_freeswitch_channel_sample_reports_trunks_counted_by_hand() -> None:
    played = report.play(
        settings_for(EXAMPLES / "freeswitch-channel.jsonl", "freeswitch-channel", "lon1")
    )
    shown = report.render(played)
    # carrier-a: the gateway leg (200, 180 at 1800 ms and 183 at 2100 ms: the earlier), its
    # loss 30 / 3000 at hangup and 5/256 from RTCP, jitter 96 / 8000 Hz = 12 ms.
    gateway = played.trunks[("lon1", "carrier-a")]
    assert (gateway.asr, gateway.post_dial_delay_mean_ms) == (1.0, 1800.0)
    assert gateway.packet_loss_mean == pytest.approx((0.01 + 5 / 256) / 2, abs=1e-6)
    assert (gateway.jitter_samples, gateway.jitter_mean_ms) == (1, pytest.approx(12.0))
    assert gateway.scores == {"freeswitch_flaws": (1, pytest.approx(4.21))}
    assert (gateway.mos_samples, gateway.mos_mean) == (0, None)
    # external: two answered callers (183 at 2200 ms; 180 at 900 ms, the CDR) and one
    # CANCEL (487, 180 at 400 ms); loss 0 and 100 / 3000; flaws 4.50 and 3.95.
    inbound = played.trunks[("lon1", "external")]
    assert inbound.setups_by_class == {"1xx": 0, "2xx": 2, "3xx": 0, "4xx": 1, "5xx": 0, "6xx": 0}
    assert inbound.asr == pytest.approx(2 / 3)
    assert inbound.post_dial_delay_mean_ms == pytest.approx((2200 + 900 + 400) / 3)
    assert inbound.packet_loss_mean == pytest.approx(100 / 3000 / 2, abs=1e-6)
    assert inbound.scores == {"freeswitch_flaws": (2, pytest.approx((4.5 + 3.95) / 2))}
    assert "freeswitch_flaws 4.21 (n=1)" in shown
    assert "site  queue" not in shown  # no queue in the file: no empty queue table


# --- a record that makes the pipeline raise is counted, and the report goes on ------------

JSON_SAMPLES = {  # each JSON format's shipped sample, and the site its records belong to
    "events-v1": ("events-v1.jsonl", None),
    "amazon-connect": ("amazon-connect.jsonl", "lon1"),
    "freeswitch-callcenter": ("freeswitch-callcenter.jsonl", "lon1"),
    "freeswitch-channel": ("freeswitch-channel.jsonl", "lon1"),
    "twilio-taskrouter": ("twilio-taskrouter.jsonl", "lon1"),
    "kamailio-acc": ("kamailio-acc.jsonl", "lon1"),
    "opensips-acc": ("opensips-acc.jsonl", "lon1"),
}


def rejected_in(output: str) -> int:
    """How many records the report's ``rejected:`` line counts."""
    found = [ln for ln in output.splitlines() if ln.startswith("rejected: ")]
    return sum(int(part.rsplit(" ", 1)[1]) for ln in found for part in ln[10:].split(", "))


@pytest.mark.parametrize("depth", [10**3, 10**5, 10**6])
@pytest.mark.parametrize("fmt", JSON_SAMPLES)
def test_a_record_nested_too_deep_is_counted_and_the_report_goes_on(
    fmt: str, depth: int, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from callpulse import cli

    sample, site = JSON_SAMPLES[fmt]
    lines = (EXAMPLES / sample).read_text().splitlines()
    middle = len(lines) // 2
    # A copy of a good record with an unknown field x: [[[...]]]; 2 MB at 10^6, past the
    # record size limit.
    nested = lines[middle].rstrip()[:-1] + ', "x": ' + "[" * depth + "]" * depth + "}"
    path = tmp_path / sample
    path.write_text("\n".join([*lines[:middle], nested, *lines[middle:]]) + "\n")

    args = ["replay", str(path), "--report", "--format", fmt, *(["--site", site] if site else [])]
    assert cli.main(args) == 0
    out, err = capsys.readouterr()
    assert err == ""  # not a terminal: no progress bar either
    clean = report.render(report.play(settings_for(EXAMPLES / sample, fmt, site)))
    assert rejected_in(out) == rejected_in(clean) + 1
    # Everything else is the sample's own report.
    assert f"{len(lines) + 1:,} records" in out.splitlines()[0]
    # Each reason's line says where and why; 2 MB is refused for its size first.
    why = "oversize" if depth == 10**6 else "invalid_json" if site is None else f"invalid_{fmt}"
    [said] = [ln for ln in out.splitlines() if ln.startswith(f"  {why}: ")]
    assert f"line {middle + 1}: " in said
    kept = [ln for ln in out.splitlines()[1:] if not ln.startswith(("rejected: ", "  "))]
    assert kept == [ln for ln in clean.splitlines()[1:] if not ln.startswith(("rejected: ", "  "))]


# --- names from the file cannot drive the terminal ------------------------------------------

HOSTILE = "\x1b[2J\x1b[H\x1b[32mALL QUEUES OK\x07\x9b2J\u202eKO"  # ESC, CSI, BEL, C1, bidi


def only_printable(data: bytes) -> bool:
    """Whether ``data`` is UTF-8 text with no control or format character but line breaks."""
    return all(c.isprintable() or c == "\n" for c in data.decode())


def test_the_report_escapes_every_name_it_prints() -> None:
    labels = (("alertname", f"Custom{HOSTILE}"), ("site", f"lon1{HOSTILE}"))
    kpis = QueueWindow("run", 1, 1, 0, 1.0, 0.0, 1.0, 1.0, None)
    played = report_run.ReplayReport(
        lines=1,
        first=NOW,
        last=NOW,
        queues={(f"lon1{HOSTILE}", f"sales{HOSTILE}"): kpis},
        episodes=Counter({labels: 1, (*labels, ("queue", f"sales{HOSTILE}")): 1}),
        rejected=Counter({f"invalid{HOSTILE}": 1}),
        ignored=Counter({HOSTILE: 2}),
        thresholds={(f"lon1{HOSTILE}", f"sales{HOSTILE}"): 20.0},
    )
    shown = report.render(played)
    assert only_printable(shown.encode())
    escaped = "\\x1b[2J\\x1b[H\\x1b[32mALL QUEUES OK\\x07\\x9b2J\\u202eKO"
    assert f"ignored (no events-v1 use): {escaped} 2" in shown
    assert f"rejected: invalid{escaped} 1" in shown
    assert f"other alerts: Custom{escaped} {{site=lon1{escaped}}} x1" in shown
    [table_row] = [ln for ln in shown.splitlines() if ln.startswith(f"lon1{escaped}  ")]
    assert f"  sales{escaped}  " in table_row
    assert table_row.endswith(f"  Custom{escaped} x1")


def test_a_crafted_file_prints_no_control_character(tmp_path: Path) -> None:
    # Names with C1 and bidi controls (which events v1 lets through), an ESC (which it
    # refuses), a maintenance window that expires with a warning logged; and a queue_log
    # whose kinds and queues are terminal sequences.
    events = write_v1(
        tmp_path / "crafted.jsonl",
        [
            (NOW, {"type": "call.queued", "call_id": "c1", "queue": "sales\x9b2J\u202e"}),
            (NOW, {"type": "call.queued", "call_id": "c2", "queue": "\x1b[2Jsales"}),
            (NOW, {"type": "maintenance.started", "maintenance_id": "m\u202e\x9b",
                   "components": ["pbx\u202e"]}),
            (NOW + 5 * HOUR, {"type": "call.queued", "call_id": "c3", "queue": "x\u2066"}),
        ],
    )  # fmt: skip
    queue_log = tmp_path / "queue_log"
    queue_log.write_bytes(
        f"{NOW:.0f}|c1|billing\x9b\u202e|NONE|ENTERQUEUE||15551234|1\n"
        f"{NOW:.0f}|c2|billing|NONE|{HOSTILE}|1\n"
        f"{NOW:.0f}|c3|\x1b[2Jbilling|NONE|ENTERQUEUE||15551234|1\n".encode()
    )
    for args in ([str(events)], ["--format", "asterisk-queue-log", "--site", "s1", str(queue_log)]):
        result = subprocess.run(
            [sys.executable, "-m", "callpulse", "replay", *args, "--report"],
            capture_output=True,
            timeout=120,
            cwd=ROOT,
        )
        # Mostly rejected: judged by its exit status, never a crash.
        assert result.returncode in {0, report.NOTHING_APPLIED, report.MOSTLY_REJECTED}
        assert b"records" in result.stdout
        assert only_printable(result.stdout), result.stdout
        assert only_printable(result.stderr), result.stderr


def on_a_terminal(monkeypatch: pytest.MonkeyPatch, settings: Settings) -> tuple[int, str, bytes]:
    """``report.main`` of ``settings`` with stderr a terminal: its status, its stdout, and
    what it drew on the terminal."""
    watcher, terminal = os.openpty()
    monkeypatch.setattr(sys, "stderr", os.fdopen(terminal, "w"))
    drawn: list[bytes] = []

    def watch() -> None:  # a terminal that is not read fills up and stalls the writer
        while True:
            try:
                chunk = os.read(watcher, 4096)
            except OSError:  # EIO: the other end is closed
                return
            if not chunk:
                return
            drawn.append(chunk)

    reader = threading.Thread(target=watch)
    reader.start()
    out = io.StringIO()
    try:
        status = report.main(settings, out)
    finally:
        sys.stderr.close()
        reader.join(timeout=10)
        os.close(watcher)
    return status, out.getvalue(), b"".join(drawn)


def test_a_terminal_is_shown_a_progress_bar_once_reading_takes_a_while(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    settings = settings_for(SAMPLE, "asterisk-queue-log", "s1")
    monkeypatch.setattr(report, "_PROGRESS_EVERY", 1)
    monkeypatch.setattr(report, "_PROGRESS_AFTER", 0.0)
    status, out, drawn = on_a_terminal(monkeypatch, settings)
    assert status == 0
    assert b"asterisk-queue_log" in drawn  # the bar, named after the file
    assert "7         2          2" in out  # and the report on stdout, as without it


def test_a_quick_report_draws_no_bar(monkeypatch: pytest.MonkeyPatch) -> None:
    settings = settings_for(SAMPLE, "asterisk-queue-log", "s1")
    monkeypatch.setattr(report, "_PROGRESS_EVERY", 1)
    status, out, drawn = on_a_terminal(monkeypatch, settings)
    assert (status, drawn) == (0, b"")
    assert "7         2          2" in out


def test_a_report_counts_each_ivr_applications_sessions_over_the_whole_file(
    tmp_path: Path,
) -> None:
    from .events import raw

    t0 = 1_800_000_000.0
    ivr = {"application": "main"}
    lines = [
        raw("ivr.session_started", t0, session_id="s1", **ivr),
        raw("ivr.session_started", t0 + 1, session_id="s2", **ivr),
        raw("ivr.session_started", t0 + 2, session_id="s3", **ivr),
        raw("ivr.input_error", t0 + 3, session_id="s1", kind="no_input", **ivr),
        raw("ivr.backend_error", t0 + 4, session_id="s2", backend="crm", **ivr),
        raw("ivr.backend_error", t0 + 5, session_id="s3", backend="crm", **ivr),
        raw(
            "ivr.session_ended",
            t0 + 6,
            session_id="s1",
            outcome="contained",
            duration_seconds=6,
            **ivr,
        ),
        raw(
            "ivr.session_ended",
            t0 + 7,
            session_id="s2",
            outcome="transferred",
            duration_seconds=6,
            **ivr,
        ),
        # Two hours on: past every window, and still in the whole file's figures.
        raw(
            "ivr.session_ended",
            t0 + 7200,
            session_id="s3",
            outcome="hangup",
            duration_seconds=7198,
            **ivr,
        ),
        # An hour before the others once the clock has moved on: late, counted all the same.
        raw(
            "ivr.session_ended",
            t0 + 3500,
            session_id="s4",
            outcome="contained",
            duration_seconds=5,
            **ivr,
        ),
    ]
    path = tmp_path / "ivr.jsonl"
    path.write_bytes(b"\n".join(lines) + b"\n")
    text = report.render(report.play(settings_for(path)))
    # By hand: 3 started, 4 ended (2 contained, 1 transferred, 1 hangup); 1 no input, 2
    # backend errors; contained 2/4, transferred 1/4.
    assert row(text, "lon1", "main") == [
        "lon1", "main", "3", "4", "2", "1", "1", "0", "50%", "25%", "1", "0", "2"
    ]  # fmt: skip
    assert "site  queue" not in text  # a file of IVR events only: no empty queue table


def test_the_trunk_table_shows_the_channels_its_statuses_counted() -> None:
    from callpulse.cli.report_trunks import trunk_lines
    from callpulse.core.trunk_run import TrunkRun
    from callpulse.core.trunks import CODE_CLASSES

    def run(peak: int | None, seconds: float | None) -> TrunkRun:
        return TrunkRun(dict.fromkeys(CODE_CLASSES, 0), None, None, 0, None, 0, None, 0, None,
                        0, None, {}, channels_peak=peak, channel_seconds=seconds)  # fmt: skip

    lines = trunk_lines({("s1", "counted"): run(12, 5400.0), ("s1", "cdr"): run(None, None)})
    counted = [c.strip() for c in lines[2].split("  ") if c.strip()]
    cdr = [c.strip() for c in lines[1].split("  ") if c.strip()]
    assert counted[-2:] == ["peak 12, 1.5 h", "-"]
    assert cdr[-2:] == ["-", "-"]

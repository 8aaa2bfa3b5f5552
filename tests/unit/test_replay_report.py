"""``callpulse replay --report``: the shipped Asterisk sample summed by hand, and the report
printing exactly that; a record that makes the pipeline raise counted, not fatal."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from callpulse.cli import report
from callpulse.config import FormatSettings, Settings, load_settings
from callpulse.shipped import shipped

ROOT = Path(__file__).resolve().parents[2]
SAMPLE = ROOT / "docs" / "examples" / "asterisk-queue_log"
EXAMPLES = ROOT / "docs" / "examples"


def replay_report(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "callpulse", "replay", *args, "--report"],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=ROOT,
    )


def settings_for(path: Path, fmt: str = "events-v1", site: str | None = None) -> Settings:
    """What ``callpulse replay PATH --report`` runs with, without a config: the shipped rules."""
    settings = load_settings(None)
    settings.source.kind = "replay"
    settings.source.replay.path = path
    settings.source.replay.format = FormatSettings(format=fmt, site=site)
    settings.use_rule_files([shipped("rules.yaml")])
    return settings


def row(output: str, site: str, queue: str) -> list[str]:
    """The table row of one queue, split on runs of two spaces (cells hold single ones)."""
    [line] = [ln for ln in output.splitlines() if ln.split()[:2] == [site, queue]]
    return [cell.strip() for cell in line.split("  ") if cell.strip()]


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
    #   SiteSilent (no event for 2m): nothing is logged between 09:02:30 and 09:07:30.
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
    assert "other alerts: SiteSilent {site=s1} x1" in out
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
                }
            }
        )
    )
    result = replay_report("-c", str(config), str(SAMPLE))
    assert result.returncode == 0, result.stderr
    cells = row(result.stdout, "s1", "billing")
    assert cells[2:8] == ["7", "2", "1", "33.3%", "16.5 s", "110.0 s"]
    # A config without rules evaluates none: no alert would have fired.
    assert cells[8] == "-"


def test_an_events_v1_file_reports_per_queue(tmp_path: Path) -> None:
    lines: list[tuple[int, dict[str, object]]] = [  # (seconds after 10:00, the event)
        (0, {"type": "call.queued", "call_id": "c1", "queue": "sales"}),
        (1, {"type": "call.queued", "call_id": "c2", "queue": "sales"}),
        (10, {"type": "call.answered", "call_id": "c1", "queue": "sales", "agent_id": "a",
              "wait_seconds": 10}),
        (41, {"type": "call.abandoned", "call_id": "c2", "queue": "sales", "wait_seconds": 40}),
        (260, {"type": "call.completed", "call_id": "c1", "queue": "sales", "agent_id": "a",
               "talk_seconds": 200, "hold_seconds": 20, "acw_seconds": 30}),
        (5, {"type": "call.queued", "call_id": "d1", "queue": "support"}),
    ]  # fmt: skip
    path = tmp_path / "events.jsonl"
    path.write_text(
        "".join(
            json.dumps(
                body
                | {
                    "schema_version": 1,
                    "event_id": f"e{i}",
                    "site": "par1",
                    "occurred_at": f"2026-11-30T10:{at // 60:02d}:{at % 60:02d}Z",
                }
            )
            + "\n"
            for i, (at, body) in enumerate(lines)
        )
    )
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
    from datetime import UTC

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


# --- a record that makes the pipeline raise is counted, and the report goes on ------------

JSON_SAMPLES = {  # each JSON format's shipped sample, and the site its records belong to
    "events-v1": ("events-v1.jsonl", None),
    "amazon-connect": ("amazon-connect.jsonl", "lon1"),
    "freeswitch-callcenter": ("freeswitch-callcenter.jsonl", "lon1"),
    "twilio-taskrouter": ("twilio-taskrouter.jsonl", "lon1"),
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
    kept = [ln for ln in out.splitlines()[1:] if not ln.startswith("rejected: ")]
    assert kept == [ln for ln in clean.splitlines()[1:] if not ln.startswith("rejected: ")]

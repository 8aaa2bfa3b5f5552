"""``replay --report`` says why: each rejection reason with its first lines and an example
message, a guess at what the file is when most of it fails, an exit status that tells a
script, hints at the options that name ids, and error messages that name the option."""

from __future__ import annotations

import gzip
import io
import json
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from callpulse import cli
from callpulse.cli import guess, hints, report, report_run
from tests.unit.test_replay_report import EXAMPLES, settings_for

T0 = datetime(2026, 3, 2, 9, tzinfo=UTC)
EPOCH0 = int(T0.timestamp())


def run(path: Path, fmt: str = "events-v1", site: str | None = None) -> tuple[int, str]:
    out = io.StringIO()
    status = report.main(settings_for(path, fmt, site), out)
    return status, out.getvalue()


def v1_lines(calls: int = 6) -> list[str]:
    """A queue's calls as events v1: each queued, then answered after 5 s."""
    lines = []
    for n in range(calls):
        at = T0 + timedelta(minutes=n)
        for kind, extra, later in (
            ("call.queued", {}, 0),
            ("call.answered", {"agent_id": "a1", "wait_seconds": 5}, 5),
        ):
            lines.append(
                json.dumps(
                    {"schema_version": 1, "event_id": f"{kind}-{n}", "type": kind,
                     "occurred_at": (at + timedelta(seconds=later)).isoformat(),
                     "site": "par1", "call_id": f"c{n}", "queue": "sales", **extra}
                )
            )  # fmt: skip
    return lines


def queue_log_lines(calls: int = 6) -> list[str]:
    """The same calls as an Asterisk queue_log: ENTERQUEUE, CONNECT after 5 s, COMPLETE."""
    lines = [f"{EPOCH0}|NONE|sales|PJSIP/1001|ADDMEMBER|"]
    for n in range(calls):
        at, call = EPOCH0 + 60 * n, f"{EPOCH0 + 60 * n}.{n}"
        lines += [
            f"{at}|{call}|sales|NONE|ENTERQUEUE||15550100{n:03d}|1",
            f"{at + 5}|{call}|sales|PJSIP/1001|CONNECT|5|{call}9|2",
            f"{at + 35}|{call}|sales|PJSIP/1001|COMPLETECALLER|5|30|1",
        ]
    return lines


def write(path: Path, lines: list[str], gzipped: bool = False) -> Path:
    data = ("\n".join(lines) + "\n").encode()
    path.write_bytes(gzip.compress(data) if gzipped else data)
    return path


# --- gzip: the same report as the plain file ------------------------------------------------


@pytest.mark.parametrize(
    ("lines", "fmt", "site"),
    [(v1_lines(), "events-v1", None), (queue_log_lines(), "asterisk-queue-log", "par1")],
    ids=["events-v1", "asterisk-queue-log"],
)
def test_a_gzip_file_reports_as_the_plain_file(
    lines: list[str], fmt: str, site: str | None, tmp_path: Path
) -> None:
    plain_status, plain_out = run(write(tmp_path / "plain", lines), fmt, site)
    gz_status, gz_out = run(write(tmp_path / "rotated.1.gz", lines, gzipped=True), fmt, site)
    assert (gz_status, gz_out) == (plain_status, plain_out)
    assert plain_status == 0
    assert "par1  sales        6         6          0" in plain_out


# --- each reason: its count, its first lines, one message -----------------------------------


def test_each_reason_has_its_count_first_lines_and_a_message(tmp_path: Path) -> None:
    lines = v1_lines(8)
    lines[2] = "not json"
    lines[5] = lines[5].replace('"call.answered"', '"call.teleported"')
    for n in (7, 9, 11, 13, 15):
        lines[n] = "{\x1b[2J"  # an escape sequence the message quotes
    status, out = run(write(tmp_path / "events.jsonl", lines))
    assert status == 0  # 7 of 16 lines rejected: most were applied
    assert "rejected: invalid_json 6, unknown_type 1" in out
    [json_why] = [ln for ln in out.splitlines() if ln.startswith("  invalid_json: ")]
    assert json_why.startswith("  invalid_json: lines 3, 8, 10, 12, 14, ...; line 3: ")
    [type_why] = [ln for ln in out.splitlines() if ln.startswith("  unknown_type: ")]
    assert type_why.startswith("  unknown_type: line 6: ")
    assert "call.teleported" in type_why
    assert "\x1b" not in out
    assert "guess:" not in out


def test_a_long_message_is_cut_and_escaped() -> None:
    played = report_run.ReplayReport(lines=1, applied=0)
    played.rejected["invalid_x"] = 1
    played.examples["invalid_x"] = report_run.Example([1], 1, report_run.cut("\\x1b" * 100))
    [why] = [ln for ln in report.render(played).splitlines() if ln.startswith("  ")]
    assert why.endswith("...")
    assert len(why) < 240


# --- the guess ------------------------------------------------------------------------------

CONNECT_CTR = {
    "AWSAccountId": "111122223333",
    "ContactId": "0b6a0c55-1111-4e0c-9d7b-2a1c3e4f5a6b",
    "InitiationTimestamp": "2026-03-02T09:00:00Z",
    "Channel": "VOICE",
    "Queue": {"ARN": "arn:aws:connect:eu-west-2:111122223333:instance/x/queue/y"},
}


@pytest.mark.parametrize(
    ("content", "fmt", "said"),
    [
        pytest.param(
            gzip.compress(("\n".join(queue_log_lines()) + "\n").encode()),
            "amazon-connect",
            "looks like an Asterisk queue_log (time|callid|queue|agent|event|data...): "
            "try --format asterisk-queue-log --site SITE",
            id="gzip-with-the-wrong-format",
        ),
        pytest.param(
            ("\n".join(queue_log_lines()) + "\n").encode(),
            "events-v1",
            "try --format asterisk-queue-log --site SITE",
            id="queue_log-as-events-v1",
        ),
        pytest.param(
            b"uid,date_time,callid,queue_name,agent,event,data1\n"
            b"1,2026-03-02 09:00:00,17.1,sales,NONE,ENTERQUEUE,\n"
            b"2,2026-03-02 09:00:05,17.1,sales,PJSIP/1001,CONNECT,5\n",
            "events-v1",
            "looks like a CSV export of a queue_log table (header "
            "uid,date_time,callid,queue_name,agent,event,data1)",
            id="csv-queue_log-table",
        ),
        pytest.param(
            (EXAMPLES / "asterisk-cdr-Master.csv").read_bytes(),
            "asterisk-queue-log",
            "looks like Asterisk CDRs (cdr_csv's Master.csv rows): "
            "try --format asterisk-cdr --site SITE",
            id="master-csv",
        ),
        pytest.param(
            b"calldate,clid,src,dst,dcontext,channel,dstchannel,lastapp,disposition\n"
            b'2026-03-02 09:00:00,"",1001,4420,x,PJSIP/1001-1,PJSIP/carrier-2,Dial,BUSY\n'
            b'2026-03-02 09:01:00,"",1001,4420,x,PJSIP/1001-3,PJSIP/carrier-4,Dial,BUSY\n',
            "events-v1",
            "looks like a CSV export of Asterisk CDRs (header calldate,clid,src,dst,",
            id="csv-cdr-table",
        ),
        pytest.param(
            (
                json.dumps(
                    {"Channel": "SIP/a-1", "DestinationChannel": "SIP/b-2", "Disposition": "BUSY"}
                )
                + "\n"
            ).encode(),
            "amazon-connect",
            "looks like Asterisk CDRs: try --format asterisk-cdr --site SITE",
            id="cdr-json-as-connect",
        ),
        pytest.param(
            b"id;when;what\n1;2026-03-02;x\n2;2026-03-02;y\n",
            "events-v1",
            "looks like a CSV export with header id;when;what, which no format reads",
            id="csv",
        ),
        pytest.param(
            (json.dumps(CONNECT_CTR, indent=2) + "\n").encode() * 3,
            "events-v1",
            "looks like pretty-printed JSON (documents over several lines) of Amazon Connect "
            "records: try --format amazon-connect --site SITE",
            id="pretty-printed-connect",
        ),
        pytest.param(
            (json.dumps({"Event-Name": "CUSTOM", "CC-Action": "agent-offering"}) + "\n").encode(),
            "amazon-connect",
            "looks like FreeSWITCH events: try --format freeswitch-callcenter --site SITE",
            id="freeswitch-as-connect",
        ),
        pytest.param(
            (EXAMPLES / "kamailio-acc.jsonl").read_bytes(),
            "opensips-acc",
            "looks like Kamailio acc_json records: try --format kamailio-acc --site SITE",
            id="kamailio-as-opensips",
        ),
        pytest.param(
            (EXAMPLES / "opensips-acc.jsonl").read_bytes(),
            "kamailio-acc",
            "looks like OpenSIPS accounting events (event_kafka): "
            "try --format opensips-acc --site SITE",
            id="opensips-as-kamailio",
        ),
        pytest.param(
            json.dumps({"Event-Name": "CHANNEL_HANGUP_COMPLETE", "Unique-ID": "u"}).encode(),
            "amazon-connect",
            "looks like FreeSWITCH channel events: try --format freeswitch-channel --site SITE",
            id="hangups-as-connect",
        ),
        pytest.param(
            json.dumps({"variables": {"uuid": "u"}, "callflow": []}, indent=1).encode(),
            "events-v1",
            "FreeSWITCH JSON CDRs (mod_json_cdr): try --format freeswitch-channel --site SITE",
            id="json-cdr",
        ),
        pytest.param(
            b"Event-Name: CHANNEL_HANGUP_COMPLETE\nUnique-ID: u\nChannel-Name: sofia/x/1\n",
            "amazon-connect",
            "looks like FreeSWITCH events as plain headers: try --format freeswitch-channel",
            id="plain-esl",
        ),
        pytest.param(
            b"BZh91AY&SY" + bytes(range(200)),
            "events-v1",
            "looks like bzip2-compressed data, which replay does not read: decompress it",
            id="bzip2",
        ),
    ],
)
def test_a_file_that_mostly_fails_gets_a_guess(
    content: bytes, fmt: str, said: str, tmp_path: Path
) -> None:
    path = tmp_path / "export"
    path.write_bytes(content)
    status, out = run(path, fmt, None if fmt == "events-v1" else "par1")
    assert status == report.NOTHING_APPLIED
    [line] = [ln for ln in out.splitlines() if ln.startswith("guess: ")]
    assert said in line


def test_ami_events_as_a_bridge_publishes_them_are_guessed() -> None:
    head = b'{"Event": "DialEnd", "Privilege": "call,all", "Uniqueid": "1.2"}\n' * 3
    said = guess.explain(head, "asterisk-cdr")
    assert said is not None
    assert "try --format asterisk-ami" in said


def test_the_guess_says_when_the_format_given_is_the_one_it_sees() -> None:
    head = ("\n".join(queue_log_lines()) + "\n").encode()
    said = guess.explain(head, "asterisk-queue-log")
    assert said is not None
    assert said.endswith("the format given: the messages above say what is wrong")


def test_the_guess_escapes_what_it_quotes() -> None:
    said = guess.explain(b"a\x1b[2J,b,c\n1,2,3\n4,5,6\n", "events-v1")
    assert said is not None
    assert "\x1b" not in said
    assert "\\x1b" in said


# --- exit codes -----------------------------------------------------------------------------


def test_exit_codes_say_whether_the_file_was_of_use(tmp_path: Path) -> None:
    good = v1_lines(4)  # 8 lines
    assert run(write(tmp_path / "good", good))[0] == 0
    assert run(write(tmp_path / "some", [*good, *["x"] * 8]))[0] == 0  # half: not over
    assert run(write(tmp_path / "most", [*good, *["x"] * 9]))[0] == report.MOSTLY_REJECTED
    assert run(write(tmp_path / "none", ["x"] * 3))[0] == report.NOTHING_APPLIED
    assert run(write(tmp_path / "empty", []))[0] == report.NOTHING_APPLIED


def test_a_file_of_kinds_v1_has_no_use_for_is_read_without_a_guess(tmp_path: Path) -> None:
    # A queue_log of nothing but agent bookkeeping: read right, yet nothing to count.
    lines = [f"{EPOCH0 + n}|NONE|sales|PJSIP/1001|RINGNOANSWER|4000" for n in range(3)]
    status, text = run(write(tmp_path / "queue_log", lines), "asterisk-queue-log", "par1")
    assert status == report.NOTHING_APPLIED
    assert "ignored (no events-v1 use): RINGNOANSWER 3" in text
    assert "every record was read, and none is of a kind events v1 counts" in text
    assert "guess:" not in text
    _, one = run(write(tmp_path / "one", lines[:1]), "asterisk-queue-log", "par1")
    assert one.startswith("1 record, no event applied")


def test_a_gzip_cut_short_reports_what_was_read_and_exits_2(tmp_path: Path) -> None:
    whole = gzip.compress(("\n".join(v1_lines(400)) + "\n").encode())
    path = tmp_path / "cut.gz"
    path.write_bytes(whole[: len(whole) // 2])
    status, out = run(path)
    assert status == report.UNREADABLE
    assert "stopped reading at line " in out
    assert "par1  sales" in out


def test_the_cli_returns_the_reports_status(tmp_path: Path) -> None:
    path = write(tmp_path / "q.log", queue_log_lines())
    assert cli.main(["replay", str(path), "--report"]) == report.NOTHING_APPLIED
    assert cli.main(["replay", str(path), "--report", "--format", "asterisk-queue-log",
                     "--site", "par1"]) == 0  # fmt: skip


# --- time follows the records, not the span -------------------------------------------------


def test_four_records_over_five_months_take_seconds(tmp_path: Path) -> None:
    months = [T0 + timedelta(days=d) for d in (0, 50, 100, 152)]
    lines = [
        json.dumps({"schema_version": 1, "event_id": f"e{n}", "type": "call.queued",
                    "occurred_at": at.isoformat(), "site": "par1", "call_id": f"c{n}",
                    "queue": "sales"})
        for n, at in enumerate(months)
    ]  # fmt: skip
    began = time.perf_counter()
    status, out = run(write(tmp_path / "months.jsonl", lines))
    assert time.perf_counter() - began < 5
    assert status == 0
    assert "par1  sales        4" in out


# --- hints and error messages that name the option ------------------------------------------


def unnamed(value: Any) -> Any:
    """``value`` without the names Connect's records and agent events carry."""
    if isinstance(value, dict):
        return {k: unnamed(v) for k, v in value.items() if k not in {"Name", "Username"}}
    if isinstance(value, list):
        return [unnamed(v) for v in value]
    return value


def test_ids_as_queue_and_agent_names_get_a_hint(tmp_path: Path) -> None:
    sample = Path(__file__).resolve().parents[2] / "docs" / "examples" / "amazon-connect.jsonl"
    _, named = run(sample, "amazon-connect", "lon1")
    assert "hint: " not in named  # the names the streams carry are used
    lines = []
    for line in sample.read_text().splitlines():
        try:
            lines.append(json.dumps(unnamed(json.loads(line))))
        except ValueError:
            lines.append(line)  # the sample's truncated record
    _, out = run(write(tmp_path / "unnamed.jsonl", lines), "amazon-connect", "lon1")
    hints = [ln for ln in out.splitlines() if ln.startswith("hint: ")]
    assert [h.split(" such as ")[0] for h in hints] == ["hint: queue names", "hint: agent ids"]
    assert hints[0].endswith(
        "are UUIDs: name them with queue_names in the config's source.replay.format "
        "(-c; docs/adapters-amazon-connect.md)"
    )
    assert "agent_names" in hints[1]


@pytest.mark.parametrize(
    ("name", "kind"),
    [
        ("arn:aws:connect:eu-west-2:111122223333:instance/x/queue/y", "ARNs"),
        ("WQ" + "0123456789abcdef" * 2, "Twilio SIDs"),
        ("0E23D0D0-9FA5-4422-9B49-ED356CFBF4C1", "UUIDs"),
        ("sales", None),
        ("PJSIP/1001", None),
    ],
)
def test_raw_ids_are_told_from_names(name: str, kind: str | None) -> None:
    assert hints.raw_id(name) == kind


def test_events_v1_gets_no_hint_it_could_not_follow(tmp_path: Path) -> None:
    queue = "0e23d0d0-9fa5-4422-9b49-ed356cfbf4c1"
    lines = [ln.replace('"sales"', f'"{queue}"') for ln in v1_lines()]
    _, out = run(write(tmp_path / "ids.jsonl", lines))
    assert queue in out
    assert "hint:" not in out


@pytest.mark.parametrize("site", ["lon 1", "a\x1b[2J", "x" * 65])
def test_a_bad_site_names_the_option(
    site: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    args = ["replay", str(tmp_path / "f"), "--report", "--format", "asterisk-queue-log"]
    assert cli.main([*args, "--site", site]) == 2
    err = capsys.readouterr().err
    assert err.startswith("callpulse replay: --site may contain only letters, digits and _ . : -")
    assert "\x1b" not in err
    assert "pattern" not in err


def test_a_missing_site_names_the_option(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    args = ["replay", str(tmp_path / "f"), "--report", "--format", "asterisk-queue-log"]
    assert cli.main(args) == 2
    assert capsys.readouterr().err == (
        "callpulse replay: --format asterisk-queue-log carries no site: give --site SITE\n"
    )


def test_an_unknown_freeswitch_status_names_activity_states(tmp_path: Path) -> None:
    event = {"Event-Name": "CUSTOM", "Event-Subclass": "callcenter::info",
             "CC-Action": "agent-status-change", "CC-Agent": "1000@default",
             "CC-Agent-Status": "LoggedOn", "Event-Date-Timestamp": f"{EPOCH0}000000"}  # fmt: skip
    path = write(tmp_path / "fs.jsonl", [json.dumps(event)])
    status, out = run(path, "freeswitch-callcenter", "par1")
    assert status == report.NOTHING_APPLIED
    [why] = [ln for ln in out.splitlines() if ln.startswith("  invalid_freeswitch-callcenter")]
    assert "CC-Agent-Status 'LoggedOn' is none of" in why
    assert "activity_states (e.g. {'LoggedOn': available})" in why


def test_the_help_gives_the_exit_statuses(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        cli.main(["replay", "--help"])
    shown = " ".join(capsys.readouterr().out.split())
    assert "1 when none was applied" in shown
    assert "3 when more than half the lines were rejected" in shown
    assert "plain or gzip" in shown


def test_one_number_under_two_interfaces_gets_the_agent_identity_hint(tmp_path: Path) -> None:
    # A callback agent: ADDMEMBER names Local/N@..., CONNECT names Agent/N (Asterisk 1.4).
    lines = [f"{EPOCH0}|NONE|sales|Local/1127@callback-agent|ADDMEMBER|"]
    lines += [line.replace("PJSIP/1001", "Agent/1127") for line in queue_log_lines()[1:]]
    status, text = run(write(tmp_path / "queue_log", lines), "asterisk-queue-log", "par1")
    assert status == 0
    assert "1 agent number(s) appear under several interfaces (1127;" in text
    assert "Agent/1127, Local/1127@callback-agent" in text
    assert "agent_identity: by_number" in text


def test_one_interface_per_number_gets_no_agent_identity_hint(tmp_path: Path) -> None:
    status, text = run(
        write(tmp_path / "queue_log", queue_log_lines()), "asterisk-queue-log", "par1"
    )
    assert status == 0
    assert "agent_identity" not in text

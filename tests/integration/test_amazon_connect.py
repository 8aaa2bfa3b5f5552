"""Amazon Connect agent events, contact events and contact records, all three on one topic as
the Kinesis source connector would write them, produced to a real broker by kcat, to exact
queue KPIs on /metrics. The records are the shipped sample (docs/examples/amazon-connect.jsonl),
written from the Administrator Guide's data models and samples, moved to the last ten
minutes."""

from __future__ import annotations

import base64
import json
import re
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from .helpers import Samples, wait_until
from .platforms import (
    EXAMPLES,
    check_dead_letter,
    ignored_kinds,
    platform_daemon,
    settled,
    settled_on,
)

pytestmark = pytest.mark.integration
SAMPLE = EXAMPLES / "amazon-connect.jsonl"
INSTANCE = "arn:aws:connect:eu-west-2:111122223333:instance/5f6c8a42-0b7e-4d1c-9a3e-6c2f1d8e7b90"
QUEUES = {f"{INSTANCE}/queue/b7e3c1d2-4a5f-4e6b-8c9d-0e1f2a3b4c5d": "billing"}
AGENTS = {
    f"{INSTANCE}/agent/d1a2b3c4-0001-4e5f-8a9b-0c1d2e3f4a51": "alice",
    f"{INSTANCE}/agent/d1a2b3c4-0002-4e5f-8a9b-0c1d2e3f4a52": "bob",
    f"{INSTANCE}/agent/d1a2b3c4-0003-4e5f-8a9b-0c1d2e3f4a53": "carol",
}
INSTANT = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d{3})?Z$")


def shifted(value: Any, by: timedelta) -> Any:
    """``value`` with every ISO 8601 instant in it moved by ``by``, in the same form."""
    if isinstance(value, dict):
        return {k: shifted(v, by) for k, v in value.items()}
    if isinstance(value, list):
        return [shifted(v, by) for v in value]
    if isinstance(value, str) and (match := INSTANT.match(value)):
        moment = datetime.fromisoformat(value) + by
        if match.group(1):
            return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"
        return moment.strftime("%Y-%m-%dT%H:%M:%SZ")
    return value


def recent_sample(now: float) -> list[bytes]:
    """The sample's records with their times moved so that the first is ten minutes ago; a
    record that is not JSON (the sample's one malformed record) is kept as it is."""
    lines = SAMPLE.read_bytes().splitlines()
    first = datetime.fromisoformat(json.loads(lines[0])["EventTimestamp"])
    by = timedelta(seconds=int(now) - 600 - int(first.timestamp()))
    out = []
    for line in lines:
        try:
            doc = json.loads(line)
        except ValueError:
            out.append(line)
            continue
        out.append(json.dumps(shifted(doc, by), separators=(",", ":")).encode())
    return out


FIGURES = {
    "offered": 6, "answered": 2, "abandoned": 1, "service_level": pytest.approx(1 / 3),
    "asa": pytest.approx(15.5), "aht": pytest.approx(160.0), "waiting": 2,
    "agents": {"available": 2, "not_ready": 1},  # Alice and Bob; Carol, on Break
}  # fmt: skip


def contained_record(now: float) -> bytes:
    """The contact record of a caller the flow served and disconnected five minutes ago:
    no queue, so no QUEUED contact event; its session comes from this record alone."""

    def second(at: float) -> str:
        return datetime.fromtimestamp(int(at), UTC).strftime("%Y-%m-%dT%H:%M:%SZ")

    return json.dumps({
        "AWSAccountId": "111122223333", "AWSContactTraceRecordFormatVersion": "2017-03-10",
        "ContactId": "7a0c3e51-0009-4c2b-9d8e-1f0a2b3c4d5e", "Channel": "VOICE",
        "InitiationMethod": "INBOUND", "InitiationTimestamp": second(now - 330),
        "ConnectedToSystemTimestamp": second(now - 330), "DisconnectTimestamp": second(now - 300),
        "DisconnectReason": "CONTACT_FLOW_DISCONNECT", "LastUpdateTimestamp": second(now - 300),
        "InstanceARN": INSTANCE, "Queue": None, "Agent": None,
    }).encode()  # fmt: skip


def test_connect_streams_through_kafka_give_exact_kpis(
    kafka_bootstrap: str, topics: tuple[str, str], tmp_path: Path
) -> None:
    now = time.time()
    records = [*recent_sample(now), contained_record(now)]
    [malformed] = [r for r in records if not r.endswith(b"}")]
    fmt = {"format": "amazon-connect", "site": "lon1", "agent_names": AGENTS,
           "queue_names": QUEUES, "ivr_application": "flows"}  # fmt: skip
    with platform_daemon(kafka_bootstrap, topics, tmp_path, records, fmt) as daemon:
        wait_until(
            lambda: daemon.total("callpulse_adapter_events_ignored_total") == 5, 30, "5 ignored"
        )
        # By hand, from the sample: six callers queue in billing. Alice answers c1 after 6 s,
        # Bob c2 after 25 s (T = 20 s); c3 gives up after 30 s, c4 after 2 s (a short
        # abandon, under S = 5 s); c5 and c6 still wait. The contact records restate the
        # waits (said once) and give the handle times: c1 120 s talk + 15 s ACW = 135 s,
        # c2 135 s talk + 20 s hold + 30 s ACW = 185 s.
        s = settled(daemon, "lon1", "billing", FIGURES)
        # c1's INITIATED; the DISCONNECTED of the two answered calls; c1's record twice;
        # the contained caller's record, which has no queue.
        assert ignored_kinds(s) == {
            "INITIATED": 1, "DISCONNECTED": 2, "CONTACT_RECORD_DUPLICATE": 1,
            "CONTACT_RECORD_NOT_QUEUED": 1,
        }  # fmt: skip
        check_dead_letter(kafka_bootstrap, topics[1], s, "amazon-connect", malformed,
                          "expected one JSON document")  # fmt: skip
        # By hand: the flow handed six inbound callers to the queue, each told by its
        # QUEUED contact event (c5's without its envelope), which carries when the contact
        # began: six sessions ended transferred at their queue times, c1's, c2's and c3's
        # records (c1's twice) adding none. The contained caller's record gives the
        # seventh, contained. Sessions ended 7: containment 1/7, transfer 6/7. Setups come
        # with the records only: c1, c2, c3 and the contained caller came in (INBOUND,
        # connected to the system); the fourth record's contact never connected. So four
        # setups, all 200, on the instance's one trunk.
        setups = frozenset({"site": "lon1", "trunk": "connect-telephony", "window": "15m"}.items())
        flows = frozenset({"site": "lon1", "application": "flows", "window": "15m"}.items())

        def voice(samples: Samples) -> dict[str, float | None]:
            return {
                "setups": samples.get(("callpulse_trunk_call_setups", setups)),
                "asr": samples.get(("callpulse_trunk_asr_ratio", setups)),
                "ended": samples.get(("callpulse_ivr_sessions_ended", flows)),
                "contained": samples.get(("callpulse_ivr_containment_ratio", flows)),
                "transferred": samples.get(("callpulse_ivr_transfer_ratio", flows)),
            }

        expected = {
            "setups": 4.0, "asr": 1.0, "ended": 7.0,
            "contained": pytest.approx(1 / 7), "transferred": pytest.approx(6 / 7),
        }  # fmt: skip
        settled_on(daemon, voice, expected)


def test_one_firehose_delivery_gives_the_same_kpis_and_dead_letters_its_bad_record(
    kafka_bootstrap: str, topics: tuple[str, str], tmp_path: Path
) -> None:
    """The same sample as one Firehose HTTP endpoint delivery (each record base64 in
    ``records[].data``), as a bridge would produce its request body: the malformed record
    among them is rejected alone, and the delivery reaches the dead-letter topic saying so."""
    records = recent_sample(time.time())
    body = json.dumps({
        "requestId": "ed4acda5-034f-9f42-bba1-f29aea6d7d8f", "timestamp": int(time.time() * 1000),
        "records": [{"data": base64.b64encode(r).decode()} for r in records],
    }).encode()  # fmt: skip
    fmt = {"format": "amazon-connect", "site": "lon1", "agent_names": AGENTS,
           "queue_names": QUEUES}  # fmt: skip
    with platform_daemon(kafka_bootstrap, topics, tmp_path, [body], fmt) as daemon:
        s = settled(daemon, "lon1", "billing", FIGURES)
        assert ignored_kinds(s) == {
            "INITIATED": 1, "DISCONNECTED": 2, "CONTACT_RECORD_DUPLICATE": 1
        }  # fmt: skip
        error = f"1 of {len(records)} documents not read: the record, record "
        check_dead_letter(kafka_bootstrap, topics[1], s, "amazon-connect", body, error)

"""Records a hostile or broken producer may send, through every adapter as the ingest runs
it: each is rejected as ``invalid_<format>`` with its error, and nothing raises."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from callpulse.adapters.base import AdapterError
from callpulse.config import Settings
from callpulse.core.clock import WALL_TIME
from callpulse.core.ingest import RawRecord
from callpulse.pipeline import build

from .adapter_records import adapter
from .conftest import NOW

EXAMPLES = Path(__file__).resolve().parents[2] / "docs" / "examples"


def example(name: str, kind: str) -> dict[str, Any]:
    """The first record of the shipped sample ``name`` whose text mentions ``kind``."""
    for line in (EXAMPLES / name).read_text().splitlines():
        if kind in line:
            doc: dict[str, Any] = json.loads(line)
            return doc
    raise AssertionError(f"no {kind} in {name}")


def twilio_entered(**payload: Any) -> bytes:
    doc = example("twilio-taskrouter.jsonl", "task-queue.entered")
    doc["data"]["payload"].update(payload)
    return json.dumps(doc).encode()


def connect_record(**agent: Any) -> bytes:
    doc = example("amazon-connect.jsonl", '"AgentInteractionDuration"')
    doc["Agent"].update(agent)
    return json.dumps(doc).encode()


def freeswitch_start(**headers: Any) -> bytes:
    doc = example("freeswitch-callcenter.jsonl", "member-queue-start")
    doc.update(headers)
    return json.dumps(doc).encode()


def connect_queued(queue_arn: str) -> bytes:
    doc = example("amazon-connect.jsonl", '"eventType":"QUEUED"')
    doc["detail"]["queueInfo"]["queueArn"] = queue_arn
    return json.dumps(doc).encode()


def kamailio_invite(**fields: Any) -> bytes:
    doc = example("kamailio-acc.jsonl", '"method":"INVITE"')
    doc.update(fields)
    return json.dumps(doc).encode()


def opensips_missed(**params: Any) -> bytes:
    doc = example("opensips-acc.jsonl", "E_ACC_MISSED_EVENT")
    doc["params"].update(params)
    return json.dumps(doc).encode()


HOSTILE = [
    ("asterisk-queue-log", b"1e20|c1|billing|NONE|ENTERQUEUE||1|1"),
    ("asterisk-queue-log", b"-5|c1|billing|NONE|ENTERQUEUE||1|1"),
    ("freeswitch-callcenter", freeswitch_start(**{"Event-Date-Timestamp": "1e30"})),
    ("amazon-connect", connect_record(AgentInteractionDuration=10**400)),
    ("twilio-taskrouter", twilio_entered(task_priority="--5")),
    ("twilio-taskrouter", twilio_entered(task_priority="9" * 5000)),
    ("twilio-taskrouter", twilio_entered(timestamp=1e300)),
    # A lone surrogate in a contact event's queue ARN, whole or inside it: looked up before
    # it was checked, it raised UnicodeEncodeError.
    ("amazon-connect", connect_queued("\ud800")),
    ("amazon-connect", connect_queued("arn:aws:connect:eu-west-2:1:instance/i/queue/\ud800/q")),
    ("kamailio-acc", kamailio_invite(time=1e300)),
    ("kamailio-acc", kamailio_invite(sip_code="1000")),
    ("kamailio-acc", kamailio_invite(callid="\ud800")),
    ("opensips-acc", opensips_missed(sip_code=0)),
    ("opensips-acc", opensips_missed(time=-5)),
    ("opensips-acc", opensips_missed(sip_code="9" * 5000)),
]


@pytest.mark.parametrize(("fmt", "record"), HOSTILE)
def test_out_of_range_values_are_rejected_not_raised(fmt: str, record: bytes) -> None:
    settings = Settings.model_validate(
        {"source": {"kind": "kafka", "kafka": {"topics": ["p"],
                                                "formats": {"p": {"format": fmt, "site": "s1"}}}}}
    )  # fmt: skip
    parts = build(settings, now=NOW, clock=WALL_TIME)
    [rejected] = parts.ingest.process([RawRecord(record, None, "p", 0, 7)])
    assert rejected.reason == f"invalid_{fmt}"
    assert rejected.record.value == record
    assert rejected.detail


@pytest.mark.parametrize(
    "queue_arn", ["\ud800", "arn:aws:connect:eu-west-2:1:instance/i/queue/\ud800/q"]
)
def test_a_lone_surrogate_in_a_queue_arn_is_the_adapters_error(queue_arn: str) -> None:
    # Looked up before it was checked, such an ARN raised UnicodeEncodeError, which only
    # the ingest's per-record boundary caught (as a processing error, not the format's).
    with pytest.raises(AdapterError) as caught:
        adapter("amazon-connect").translate(connect_queued(queue_arn))
    assert caught.value.reason == "invalid_amazon-connect"

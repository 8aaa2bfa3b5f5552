"""Amazon Connect as people store it: pretty-printed, concatenated (a Firehose S3 object), a
JSON array, a Lambda Kinesis event, a Firehose transformation or HTTP endpoint delivery.
Every shape gives the monitor the KPIs the same documents give one a record, and a document
that cannot be read rejects only itself."""

from __future__ import annotations

import base64
import io
import json
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from callpulse.adapters import records
from callpulse.adapters.amazon_connect import AmazonConnect, AmazonConnectOptions
from callpulse.adapters.base import AdapterError, PartlyReadError
from callpulse.cli import report
from callpulse.config import FormatSettings, load_settings
from callpulse.core.ingest import Ingest, RawRecord
from callpulse.core.monitor import Monitor
from callpulse.sources.files import read_records

from .test_adapter_amazon_connect import (
    AGENTS,
    QUEUES,
    T,
    agent_event,
    at,
    contact_event,
    contact_record,
    queue_info,
)

TOPIC = "connect"


def documents(now: float) -> list[dict[str, Any]]:
    """A few minutes of an instance: c-1 answered after 8 s (its record twice), c-2
    abandons after 30 s (told by its record), c-3 still waits; Alice logs in, talks, wraps
    up."""
    s = now - 50 - T
    # Talk 25 s and ACW 5 s (AHT 30 s), answered 8 s after it queued.
    short = contact_record(updated=s + 45, DisconnectTimestamp=at(s + 40))
    short["Queue"].update(EnqueueTimestamp=at(s + 1), DequeueTimestamp=at(s + 9))
    short["Agent"].update(
        ConnectedToAgentTimestamp=at(s + 9), AgentInteractionDuration=25,
        CustomerHoldDuration=0, AfterContactWorkDuration=5,
        AfterContactWorkEndTimestamp=at(s + 45),
    )  # fmt: skip
    # c-2's record, with no agent: an abandon 30 s after it queued.
    gone = contact_record("c-2", updated=s + 36, Agent=None, DisconnectTimestamp=at(s + 35))
    gone["Queue"].update(EnqueueTimestamp=at(s + 5), DequeueTimestamp=at(s + 35))
    return [agent_event("LOGIN", when=s),
            contact_event("QUEUED", queueInfo=queue_info(s + 1)),
            contact_event("QUEUED", contact="c-2", queueInfo=queue_info(s + 5)),
            agent_event(when=s + 9, contacts=["CONNECTED"]),
            contact_event("QUEUED", contact="c-3", queueInfo=queue_info(s + 20)),
            gone, agent_event(when=s + 40, contacts=["ENDED"]),
            short, agent_event(when=s + 45), short]  # fmt: skip


def kpis(monitor: Monitor) -> tuple[Any, ...]:
    [v] = monitor.queue_views()
    [w] = [w for w in v.windows if w.window == "1m"]
    return (v.queue, w.offered, w.answered, w.abandoned, w.asa_seconds, w.aht_seconds,
            v.calls_waiting, dict(v.agents))  # fmt: skip


def played(monitor: Monitor, *values: bytes) -> list[str]:
    """``values`` through a Connect adapter into ``monitor``; the rejections' details."""
    adapter = AmazonConnect(AmazonConnectOptions(site="lon1", agent_names=AGENTS,
                                                 queue_names=QUEUES))  # fmt: skip
    ingest = Ingest(monitor)
    ingest.translators[TOPIC] = records.translator(adapter)
    batch = [RawRecord(value, None, TOPIC, 0, i) for i, value in enumerate(values)]
    return [r.detail for r in ingest.process(batch)]


def b64(doc: dict[str, Any]) -> str:
    return base64.b64encode(json.dumps(doc).encode()).decode()


def lines(docs: list[dict[str, Any]]) -> list[bytes]:
    return [json.dumps(d, separators=(",", ":")).encode() for d in docs]


SHAPES: dict[str, Callable[[list[dict[str, Any]]], list[bytes]]] = {
    "pretty": lambda docs: [json.dumps(d, indent=4).encode() for d in docs],
    "concatenated": lambda docs: [b"".join(json.dumps(d).encode() for d in docs)],
    "array": lambda docs: [json.dumps(docs, indent=2).encode()],
    "kinesis": lambda docs: [json.dumps({"Records": [
        {"kinesis": {"kinesisSchemaVersion": "1.0", "partitionKey": "pk", "data": b64(d),
                     "sequenceNumber": str(i), "approximateArrivalTimestamp": T},
         "eventSource": "aws:kinesis", "eventName": "aws:kinesis:record"}
        for i, d in enumerate(docs)]}).encode()],
    "firehose-transformation": lambda docs: [json.dumps({
        "invocationId": "inv-1", "region": "eu-west-2",
        "deliveryStreamArn": "arn:aws:firehose:eu-west-2:111122223333:deliverystream/ctr",
        "records": [{"recordId": str(i), "approximateArrivalTimestamp": T * 1000,
                     "data": b64(d)} for i, d in enumerate(docs)]}).encode()],
    "firehose-http-endpoint": lambda docs: [json.dumps({
        "requestId": "req-1", "timestamp": T * 1000,
        "records": [{"data": b64(d)} for d in docs]}).encode()],
}  # fmt: skip


@pytest.mark.parametrize("shape", SHAPES)
def test_every_stored_shape_gives_the_kpis_of_one_document_a_record(
    shape: str, make_monitor: Callable[..., Monitor], now: float
) -> None:
    docs = documents(now)
    expected, got = make_monitor(), make_monitor()
    assert played(expected, *lines(docs)) == []
    assert played(got, *SHAPES[shape](docs)) == []
    assert kpis(got) == kpis(expected)
    assert kpis(got)[1:7] == (3, 1, 1, pytest.approx(8.0), pytest.approx(30.0), 1)


@pytest.mark.parametrize(
    "layout", ["pretty", "concatenated", "array", "kinesis", "firehose-transformation"]
)
def test_a_replayed_file_of_stored_documents_gives_the_same_kpis(
    layout: str, make_monitor: Callable[..., Monitor], now: float
) -> None:
    docs = documents(now)
    data = b"\n".join(SHAPES[layout](docs)) if layout == "pretty" else SHAPES[layout](docs)[0]
    found = [value for _, value in read_records(io.BytesIO(data), "amazon-connect", 1 << 20)]
    expected, got = make_monitor(), make_monitor()
    played(expected, *lines(docs))
    assert played(got, *found) == []
    assert kpis(got) == kpis(expected)


@pytest.mark.parametrize("shape", ["concatenated", "array", "kinesis"])
def test_one_bad_document_among_good_ones_rejects_only_itself(
    shape: str, make_monitor: Callable[..., Monitor], now: float
) -> None:
    docs = documents(now)
    bad = {"ContactId": "c-9", "LastUpdateTimestamp": "yesterday", "Queue": None}
    expected, got = make_monitor(), make_monitor()
    played(expected, *lines(docs))
    [detail] = played(got, *SHAPES[shape]([*docs[:3], bad, *docs[3:]]))
    assert detail.startswith("1 of 11 documents not read: ")
    assert "LastUpdateTimestamp is not an ISO 8601 time: 'yesterday'" in detail
    assert kpis(got) == kpis(expected)


def test_a_batch_read_in_part_says_what_it_read() -> None:
    adapter = AmazonConnect(AmazonConnectOptions(site="lon1"))
    good = json.dumps(agent_event("LOGIN")).encode()
    with pytest.raises(PartlyReadError) as error:
        adapter.translate(good + b"{not json}")
    assert [e.type for e in error.value.events] == ["agent.state"]
    assert error.value.reason == "invalid_amazon-connect"
    assert "document 2: expected one JSON document" in error.value.detail


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        (b"{} {}", "2 of 2 documents not read: document 1: expected an agent event"),
        (b'{"Records": [{"kinesis": {"data": "***"}}]}', "data is not base64"),
        (b'{"Records": [{"kinesis": {}}]}', "expected kinesis.data or data"),
        (json.dumps({"records": [{"data": base64.b64encode(b"[" * 40 + b"]" * 40).decode()}]})
         .encode(), "nested deeper than 32 levels"),
        (b"[" + b"{}," * 10_001 + b"{}]", "more than 10,000 documents in one record"),
        (b"  \n ", "the record is blank"),
    ],
)  # fmt: skip
def test_a_record_of_which_nothing_can_be_read_is_rejected_whole(raw: bytes, message: str) -> None:
    adapter = AmazonConnect(AmazonConnectOptions(site="lon1"))
    with pytest.raises(AdapterError, match=message) as error:
        adapter.translate(raw)
    assert not isinstance(error.value, PartlyReadError)


def test_the_report_counts_a_batch_read_in_part_and_sums_the_rest(
    tmp_path: Path, now: float
) -> None:
    """A Lambda Kinesis event saved whole, one of its records unreadable, replayed with
    ``--report``: the others' calls are summed, the bad one counted as rejected."""
    docs = documents(now)
    envelope = json.loads(SHAPES["kinesis"](docs)[0])
    envelope["Records"].insert(3, {"kinesis": {"data": "not base64!"}})
    path = tmp_path / "lambda-event.json"
    path.write_text(json.dumps(envelope, indent=2))
    settings = load_settings(None)
    settings.source.kind = "replay"
    settings.source.replay.path = path
    settings.source.replay.format = FormatSettings(format="amazon-connect", site="lon1",
                                                   queue_names=QUEUES)  # fmt: skip
    out = report.play(settings)
    assert out.rejected == {"invalid_amazon-connect": 1}
    kpis = out.queues[("lon1", "billing")]
    assert (kpis.offered, kpis.answered, kpis.abandoned, kpis.asa_seconds) == (3, 1, 1, 8.0)
    assert "rejected: invalid_amazon-connect 1" in report.render(out)


@pytest.mark.parametrize(
    "raw",
    [b"{}" * 131_072, b"[" * 131_072 + b"]" * 131_072, b'{"a":"b"}' * 29_000,
     b"[" + b"{}," * 87_000 + b"{}]"],
    ids=["brackets", "deep", "documents", "array"],
)  # fmt: skip
def test_a_hostile_record_of_the_size_limit_costs_a_bounded_scan(raw: bytes) -> None:
    # Scanning stops past 10,000 documents, and depth is judged before any scan.
    adapter = AmazonConnect(AmazonConnectOptions(site="lon1"))
    began = time.perf_counter()
    with pytest.raises(AdapterError, match=r"more than 10,000 documents|nested deeper than 32"):
        adapter.translate(raw)
    assert time.perf_counter() - began < 3  # about 0.2 s unloaded

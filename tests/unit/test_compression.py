"""gzip for /metrics and the status API: which Accept-Encoding values take it, and a
compressed scrape or status document, made in the render child, that decompresses to the
plain one's bytes."""

from __future__ import annotations

import asyncio
import gzip
import json
import sys
import time
import unittest.mock
import zlib

import pytest
from prometheus_client import CollectorRegistry

from callpulse.core.ingest import Ingest, RawRecord
from callpulse.core.monitor import Monitor, MonitorConfig
from callpulse.protocols import DeadLetterStats
from callpulse.web import compression
from callpulse.web.compression import accepts_gzip
from callpulse.web.exposition import CallpulseCollector, SourceMetrics, build_registry
from callpulse.web.forked import ForkedRenderer
from callpulse.web.routes import routes
from callpulse.web.server import Request

from .events import raw
from .test_status_page_context import board


@pytest.mark.parametrize(
    ("header", "accepted"),
    [
        ("gzip", True),  # what Prometheus sends
        ("gzip, deflate, br", True),
        ("GZIP", True),
        ("x-gzip", True),
        ("deflate;q=1, gzip;q=0.5", True),
        ("*", True),
        ("br, *;q=0.1", True),
        ("", False),
        ("identity", False),
        ("deflate, br", False),
        ("gzip;q=0", False),
        ("gzip;q=0.0, *", False),  # named refusal beats the wildcard
        ("*;q=0", False),
        ("gzip;q=abc", False),
        ("gzip;q=2", False),
        ("gzipped", False),
        (" gzip ; q=0.3 ", True),
    ],
)
def test_which_accept_encodings_take_gzip(header: str, accepted: bool) -> None:
    assert accepts_gzip(header) is accepted


async def test_a_gzip_scrape_is_the_plain_scrape_compressed_in_the_child() -> None:
    ingest = Ingest(Monitor(MonitorConfig(), now=time.time()))
    now = time.time()
    ingest.process(
        [RawRecord(raw("call.queued", now - 1, call_id=f"c{i}", queue="q")) for i in range(40)]
    )
    collector = CallpulseCollector(
        ingest,
        SourceMetrics(lag=dict, dead_letters=DeadLetterStats(0, 0)),
        ready=lambda: True,
        wall_clock=lambda: 1_800_000_000.0,
    )
    renderer = ForkedRenderer(build_registry(collector), timeout=5.0)
    metrics = routes(renderer, lambda: (True, "ok"), None, None)["/metrics"]  # type: ignore[arg-type]
    accept = "application/openmetrics-text;version=1.0.0,text/plain;version=0.0.4;q=0.5"

    plain = await metrics(Request("GET", "/metrics", "", {"accept": accept}))
    zipped = await metrics(
        Request("GET", "/metrics", "", {"accept": accept, "accept-encoding": "gzip"})
    )

    assert renderer.forked == 2
    assert "Content-Encoding" not in plain.headers
    assert zipped.headers["Content-Encoding"] == "gzip"
    assert plain.headers["Vary"] == zipped.headers["Vary"] == "Accept, Accept-Encoding"
    assert zipped.content_type == plain.content_type
    assert len(zipped.body) < len(plain.body) / 3

    def steady(body: bytes) -> list[bytes]:
        moving = (b"process_", b"callpulse_collect_duration_seconds")
        return [line for line in body.splitlines() if not line.startswith(moving)]

    assert steady(gzip.decompress(zipped.body)) == steady(plain.body)
    assert b'callpulse_queue_calls_offered_total{queue="q",site="lon1"} 40.0' in plain.body


async def test_the_status_document_is_rendered_in_the_child_and_compressed_there() -> None:
    status = board()
    renderer = ForkedRenderer(CollectorRegistry(), timeout=5.0)
    document = routes(renderer, lambda: (True, "ok"), None, status)["/api/v1/status"]  # type: ignore[arg-type]

    plain = await document(Request("GET", "/api/v1/status", "", {}))
    zipped = await document(Request("GET", "/api/v1/status", "", {"accept-encoding": "gzip"}))

    assert renderer.forked == 2
    assert "Content-Encoding" not in plain.headers
    assert zipped.headers["Content-Encoding"] == "gzip"
    assert plain.headers["Vary"] == zipped.headers["Vary"] == "Accept-Encoding"
    assert plain.content_type == zipped.content_type == "application/json"
    assert gzip.decompress(zipped.body) == plain.body
    assert json.loads(plain.body) == json.loads(json.dumps(status.document()))
    assert [q["queue"] for q in json.loads(plain.body)["queues"]] == ["billing", "sales"]


async def test_status_requests_that_come_while_it_renders_share_the_render() -> None:
    status = board()
    renderer = ForkedRenderer(CollectorRegistry(), timeout=5.0)
    document = routes(renderer, lambda: (True, "ok"), None, status)["/api/v1/status"]  # type: ignore[arg-type]
    plain = Request("GET", "/api/v1/status", "", {})
    zipped = Request("GET", "/api/v1/status", "", {"accept-encoding": "gzip"})

    answers = await asyncio.gather(*(document(r) for r in (plain, zipped, plain, zipped, plain)))

    assert renderer.forked == 2  # one plain, one gzipped, for the five
    assert len({a.body for a in answers}) == 2
    assert all(gzip.decompress(a.body) == answers[0].body for a in answers[1::2])
    later = await document(plain)  # a render that has ended is not served again
    assert renderer.forked == 3
    assert later.body == answers[0].body


def test_the_gzip_is_isa_ls_where_it_is_installed_and_zlibs_without() -> None:
    # isal is a dependency: the daemon's tests run with it.
    assert compression.ENGINE == "isal"
    body = b"".join(f'callpulse_x{{queue="q{n}"}} {n}.0\n'.encode() for n in range(50_000))
    assert gzip.decompress(compression.compressed(body)) == body
    parts = [body[n : n + 70_000] for n in range(0, len(body), 70_000)]
    assert gzip.decompress(b"".join(compression.gzipped(lambda ps: ps)(parts))) == body
    with unittest.mock.patch.dict(sys.modules, {"isal": None}):
        engine, name = compression._deflate()
    assert name == "zlib"
    assert engine is zlib

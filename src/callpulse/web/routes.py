"""What each path answers: /metrics, the probes, the alerts and status APIs, and the page."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import json
from collections.abc import Callable
from pathlib import Path

from prometheus_client.exposition import choose_encoder

from callpulse.alerting import Alerting
from callpulse.web.compression import accepts_gzip, compressed, gzipped
from callpulse.web.forked import ForkedRenderer, RenderGivenUpError
from callpulse.web.server import Handler, Request, Response
from callpulse.web.status import StatusBoard
from callpulse.web.textformat import fast_writer

# The status page: one HTML file, no build step, no external assets.
_STATUS_PAGE = (Path(__file__).parent / "statuspage.html").read_bytes()


def _inline_hash(page: bytes, tag: str) -> str:
    """The CSP source allowing the one inline ``<tag>`` block of ``page``, by its hash."""
    text = page.decode()
    start = text.index(f"<{tag}>") + len(tag) + 2
    end = text.index(f"</{tag}>", start)
    digest = hashlib.sha256(text[start:end].encode()).digest()
    return f"'sha256-{base64.b64encode(digest).decode()}'"


# Everything the page needs and nothing else: its own script and style (by hash, so no
# 'unsafe-inline'), the status API, and no framing by other sites.
PAGE_SECURITY_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'none'; "
        f"script-src {_inline_hash(_STATUS_PAGE, 'script')}; "
        f"style-src {_inline_hash(_STATUS_PAGE, 'style')}; "
        "connect-src 'self'; img-src 'self' data:; "
        "base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
    ),
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "no-referrer",
}


def routes(
    renderer: ForkedRenderer,
    readiness: Callable[[], tuple[bool, str]],
    alerting: Alerting,
    status: StatusBoard,
) -> dict[str, Handler]:
    """The daemon's paths and their handlers. ``/healthz`` answers while the process lives;
    ``/readyz`` answers 200 only when ``readiness`` says so, with its reason either way."""

    async def metrics(request: Request) -> Response:
        encoder, content_type = choose_encoder(request.headers.get("accept", ""))
        write = fast_writer(encoder)
        headers = {"Vary": "Accept, Accept-Encoding"}  # the format and the compression
        if accepts_gzip(request.headers.get("accept-encoding", "")):
            # Compressed by whoever renders it (the child, off the event loop).
            write = gzipped(write)
            headers["Content-Encoding"] = "gzip"
        try:
            body = await renderer.render(write)
        except RenderGivenUpError as exc:
            return Response(503, f"{exc}\n".encode())
        return Response(body=body, content_type=content_type, headers=headers)

    async def healthz(request: Request) -> Response:
        return Response(body=b"ok\n")

    async def readyz(request: Request) -> Response:
        ready, reason = readiness()
        return Response(
            200 if ready else 503, f"{'ready' if ready else 'not ready'}: {reason}\n".encode()
        )

    async def alerts(request: Request) -> Response:
        body = json.dumps({"status": "success", "data": {"alerts": alerting.describe()}})
        return Response(body=body.encode(), content_type="application/json")

    # A render under way, plain and gzipped: the requests that come meanwhile share it.
    rendering: dict[bool, asyncio.Future[bytes]] = {}

    async def status_document(request: Request) -> Response:
        # At 10k queues the document is half a second of Python and 4.5 MB, asked for every
        # 5 s by each open page: rendered and compressed in the child, as a scrape is, and
        # once for however many pages ask while it renders (they queue behind scrapes).
        headers = {"Vary": "Accept-Encoding"}
        gzip = accepts_gzip(request.headers.get("accept-encoding", ""))
        if gzip:
            headers["Content-Encoding"] = "gzip"

        def render() -> tuple[bytes]:
            body = json.dumps(status.document()).encode()
            return (compressed(body) if gzip else body,)

        shared = rendering.get(gzip)
        if shared is None or shared.done():
            shared = rendering[gzip] = asyncio.ensure_future(
                renderer.in_child(render, "/api/v1/status")
            )
        try:
            # Shielded: one client going away does not cancel the others' render.
            body = await asyncio.shield(shared)
        except RenderGivenUpError as exc:
            return Response(503, f"{exc}\n".encode())
        return Response(body=body, content_type="application/json", headers=headers)

    async def index(request: Request) -> Response:
        return Response(
            body=_STATUS_PAGE,
            content_type="text/html; charset=utf-8",
            headers=dict(PAGE_SECURITY_HEADERS),
        )

    return {
        "/metrics": metrics,
        "/healthz": healthz,
        "/readyz": readyz,
        "/api/v1/alerts": alerts,
        "/api/v1/status": status_document,
        "/": index,
    }

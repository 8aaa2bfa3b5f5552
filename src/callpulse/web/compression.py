"""gzip for /metrics and the status API, done where the body is rendered rather than on the
event loop.

At 10k queues a scrape is 34 MB of text. Left to aiohttp, it was compressed in the daemon's
process at zlib's default level 6: 220 ms of CPU on the core that applies records, for 1.3 MB
on the wire. The render child compresses it instead, at level 1: with zlib 60-66 ms on the
other core for 1.9 MB; with ISA-L's deflate (``isal``, a dependency: zlib's interface over
Intel's ISA-L, written in assembly for x86-64 and ARM64) 14-17 ms for 1.7 MB, a tenth of the
scrape's time at 10k queues. Prometheus' samples repeat their names and labels line after
line, so the fastest level keeps most of the gain; the bytes saved by a slower one cost more
time than a local network takes to carry them. Without ``isal`` (a machine other than
x86-64 and ARM64, where it is not installed, or an install without dependencies), the
standard library's zlib does it.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from types import ModuleType
from typing import TypeVar


def _deflate() -> tuple[ModuleType, str]:
    try:
        from isal import isal_zlib
    except ImportError:
        import zlib

        return zlib, "zlib"
    return isal_zlib, "isal"


_DEFLATE, ENGINE = _deflate()
"""The deflate implementation in use: ``isal`` or ``zlib``."""
LEVEL = 1
BLOCK = 1 << 16
"""Bytes given to deflate at a time: ISA-L's compresses each input on its own terms, and a
family's few lines at a time compress to nearly twice zlib's size."""
_GZIP = 31  # zlib's wbits for a gzip header and trailer around the deflate stream

T = TypeVar("T")


def accepts_gzip(header: str) -> bool:
    """Whether an ``Accept-Encoding`` header value accepts gzip (RFC 9110 §12.5.3): named
    (or as ``x-gzip``) or covered by ``*``, with a quality above zero."""
    named: float | None = None
    star: float | None = None
    for item in header.split(","):
        coding, _, params = item.partition(";")
        coding = coding.strip().lower()
        quality = _quality(params)
        if coding in ("gzip", "x-gzip"):
            named = quality if named is None else max(named, quality)
        elif coding == "*":
            star = quality
    if named is not None:
        return named > 0
    return star is not None and star > 0


def _quality(params: str) -> float:
    for param in params.split(";"):
        key, _, value = param.partition("=")
        if key.strip().lower() == "q":
            try:
                q = float(value.strip())
            except ValueError:
                return 0.0  # a weight that is not one: not an acceptance to rely on
            return q if 0 <= q <= 1 else 0.0
    return 1.0


def compressed(body: bytes) -> bytes:
    """``body`` as one gzip member (at :data:`LEVEL`)."""
    out: bytes = _DEFLATE.compress(body, LEVEL, wbits=_GZIP)
    return out


def gzipped(write: Callable[[T], Iterable[bytes]]) -> Callable[[T], Iterator[bytes]]:
    """``write``, its parts compressed as they come into one gzip member (at :data:`LEVEL`),
    at least :data:`BLOCK` bytes at a time, the compressed bytes given as deflate has
    them."""

    def write_gzipped(source: T) -> Iterator[bytes]:
        deflate = _DEFLATE.compressobj(LEVEL, _DEFLATE.DEFLATED, _GZIP)
        pending: list[bytes] = []
        size = 0
        for part in write(source):
            pending.append(part)
            size += len(part)
            if size >= BLOCK:
                out = deflate.compress(pending[0] if len(pending) == 1 else b"".join(pending))
                pending.clear()
                size = 0
                if out:
                    yield out
        yield deflate.compress(b"".join(pending)) + deflate.flush()

    return write_gzipped

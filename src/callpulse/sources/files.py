"""A replayed file's bytes and its records: gzip read as it is found, every record bounded.

Files are read as people have them: logrotate leaves ``queue_log.1.gz``, an export is
downloaded compressed and renamed. A file that starts as gzip does is decompressed as it is
read, whatever its name. Whatever the file holds, what is kept at once is a buffer and one
line of at most ``limit`` bytes: a line of a gigabyte, or a small gzip of a gigabyte of
anything, is read through and refused as oversize, never held.
"""

from __future__ import annotations

import gzip
import io
import itertools
import zlib
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import cast

from callpulse.core.documents import Documents

GZIP_MAGIC = b"\x1f\x8b"
_SKIP_CHUNK = 1 << 16
# The formats read a line per record (asterisk-cdr: a CSV row, or a JSON object a line).
LINE_FORMATS = frozenset({"asterisk-queue-log", "asterisk-cdr"})


class ReadError(Exception):
    """The file stopped being readable part of the way (a gzip cut short or corrupt)."""


def open_replay(path: Path) -> io.BufferedIOBase:
    """``path`` opened for reading, decompressed on the fly when its first bytes are gzip's.
    Raises OSError when it cannot be opened."""
    raw = path.open("rb")
    try:
        gzipped = raw.peek(2)[:2] == GZIP_MAGIC
    except OSError:
        raw.close()
        raise
    if not gzipped:
        return raw
    raw.close()
    return gzip.open(path, "rb")


def is_gzip(stream: io.BufferedIOBase) -> bool:
    """Whether ``stream`` (from :func:`open_replay`) is being decompressed."""
    return isinstance(stream, gzip.GzipFile)


def position(stream: io.BufferedIOBase) -> int:
    """How far into the file on disk ``stream`` has read (its compressed bytes for gzip),
    to compare with the file's size."""
    if isinstance(stream, gzip.GzipFile):
        return cast(io.BufferedIOBase, stream.fileobj).tell()
    return stream.tell()


def lines(stream: io.BufferedIOBase, limit: int) -> Iterator[tuple[int, bytes]]:
    """Each line of ``stream`` that is not blank, with its number (from 1) and without its
    line break. A line longer than ``limit`` bytes comes cut to its first ``limit + 1``, so
    that the ingest refuses it as oversize, and the rest of it is skipped unkept.

    Raises :class:`ReadError` when the data stops being readable (a truncated or corrupt
    gzip); the lines before it have been yielded."""
    number = 0
    while True:
        try:
            raw = stream.readline(limit + 1)
            if len(raw) > limit and not raw.endswith(b"\n"):
                _skip_line(stream)
        except (EOFError, zlib.error, gzip.BadGzipFile) as exc:
            raise ReadError(f"line {number + 1}: {exc}") from exc
        if not raw:
            return
        number += 1
        line = raw.rstrip(b"\r\n")
        if line.strip():
            yield number, line


def read_records(stream: io.BufferedIOBase, fmt: str, limit: int) -> Iterator[tuple[int, bytes]]:
    """Each record of ``stream`` in format ``fmt``, with the number of the line it starts
    on: :func:`lines` for a format that is not JSON; for a JSON format, each top-level
    document (one a line, pretty-printed over many, or concatenated as Firehose writes
    them; each element of a top-level array), read in chunks of at most 64 KiB through
    :class:`Documents`, which keeps a document only to ``limit + 1`` bytes (the ingest
    refuses it as oversize). A format that is also written as plain header blocks
    (:data:`BLOCK_STARTS`) is read as blocks when its first character opens no JSON.

    Raises :class:`ReadError` as :func:`lines` does; the records before it have been
    yielded."""
    if fmt in LINE_FORMATS:
        yield from lines(stream, limit)
        return
    chunks = _chunks(stream)
    starts = BLOCK_STARTS.get(fmt)
    if starts is not None:
        first = next((c for c in chunks if c[1].strip()), None)
        if first is None:
            return
        chunks = itertools.chain([first], chunks)
        if not first[1].lstrip().startswith((b"{", b"[")):
            yield from _blocks(chunks, limit, starts)
            return
    documents = Documents(limit, arrays=True)
    for number, chunk in chunks:
        yield from documents.feed(chunk, number)
    yield from documents.end()


def esl_event_starts(line: bytes, previous: bytes) -> bool:
    """Whether a plain FreeSWITCH event begins at ``line``: at its ``Event-Name`` header
    (the first an event serialises), or at the ``RECV EVENT`` banner a console dump prints
    before it. A blank line does not end one: a dump's SDP value holds blank lines."""
    if line == b"RECV EVENT":
        return True
    return line.startswith(b"Event-Name:") and previous != b"RECV EVENT"


def ami_message_starts(line: bytes, previous: bytes) -> bool:
    """Whether an Asterisk Manager message begins at ``line``: its first header is
    ``Event`` (or ``Response``, an action's answer, which is no event and is refused as one)."""
    return line.startswith((b"Event:", b"Response:"))


# Formats a file may hold as plain header blocks, one record each, and where one begins.
BLOCK_STARTS: dict[str, Callable[[bytes, bytes], bool]] = {
    "freeswitch-channel": esl_event_starts,
    "asterisk-ami": ami_message_starts,
}


def _chunks(stream: io.BufferedIOBase) -> Iterator[tuple[int, bytes]]:
    """The lines of ``stream``, a long one in pieces of at most 64 KiB, each with the number
    of the line it is of."""
    number = 1
    while True:
        try:
            chunk = stream.readline(_SKIP_CHUNK)
        except (EOFError, zlib.error, gzip.BadGzipFile) as exc:
            raise ReadError(f"line {number}: {exc}") from exc
        if not chunk:
            return
        yield number, chunk
        number += chunk.endswith(b"\n")


def _blocks(
    chunks: Iterable[tuple[int, bytes]], limit: int, starts: Callable[[bytes, bytes], bool]
) -> Iterator[tuple[int, bytes]]:
    """Records of several lines: each begins at a line ``starts`` says begins one (given
    the line before it) and runs to the next. A record is kept to ``limit + 1`` bytes (the
    ingest refuses it as oversize) and the rest of it is read through unkept."""
    block = bytearray()
    begun, previous, line_start = 0, b"", True
    for number, chunk in chunks:
        if line_start:
            line = chunk.rstrip(b"\r\n")
            if block.strip() and starts(line, previous):
                yield begun, bytes(block).strip()
                block.clear()
            if not block.strip():
                begun = number
            previous = line
        if len(block) <= limit:
            block += chunk[: limit + 1 - len(block)]
        line_start = chunk.endswith(b"\n")
    if block.strip():
        yield begun, bytes(block).strip()


def head(path: Path, size: int) -> bytes:
    """The first ``size`` bytes of ``path`` as :func:`open_replay` reads them (less if the
    file is shorter or stops being readable)."""
    read = bytearray()
    with open_replay(path) as stream:
        try:
            while len(read) < size and (chunk := stream.read(min(size - len(read), 4096))):
                read += chunk
        except (EOFError, zlib.error, gzip.BadGzipFile):
            pass
    return bytes(read)


def _skip_line(stream: io.BufferedIOBase) -> None:
    """Read on to the end of the current line, keeping nothing."""
    while True:
        chunk = stream.readline(_SKIP_CHUNK)
        if not chunk or chunk.endswith(b"\n"):
            return

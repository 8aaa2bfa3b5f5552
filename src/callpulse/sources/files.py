"""The records of a replayed file, as the replay source and ``replay --report`` both read it.

A JSON format's file is read as a stream of top-level JSON documents (one a line, pretty-
printed over many, or concatenated; :mod:`callpulse.core.documents`); any other format's
(Asterisk's ``queue_log``) a record a line. Either way the file is read in chunks of at most
:data:`CHUNK` bytes and a record is kept up to the record limit only, so no line or document,
however long, is held whole: one past the limit is handed on cut to ``limit + 1`` bytes, and
the ingest rejects it as oversize.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import IO

from callpulse.core.documents import Documents

CHUNK = 1 << 16
LINE_FORMATS = frozenset({"asterisk-queue-log"})  # the formats that are not JSON


def read_records(
    f: IO[bytes], fmt: str, limit: int, progress: Callable[[int], None] = lambda size: None
) -> Iterator[tuple[int, bytes]]:
    """(line number, record) for every record of ``f`` in ``fmt``, in order; ``progress``
    is told the size of each chunk read."""
    documents = None if fmt in LINE_FORMATS else Documents(limit)
    number, kept, size = 1, b"", 0
    while chunk := f.readline(CHUNK):
        progress(len(chunk))
        if documents is not None:
            yield from documents.feed(chunk, number)
        elif size <= limit:
            kept += chunk[: limit + 1 - size]
        size += len(chunk)
        if chunk.endswith(b"\n"):
            if documents is None:
                line = kept.rstrip(b"\r\n")
                if line.strip():
                    yield number, line
            number, kept, size = number + 1, b"", 0
    if documents is not None:
        yield from documents.end()
    elif kept.strip():
        yield number, kept

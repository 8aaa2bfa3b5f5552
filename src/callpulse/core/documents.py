"""Top-level JSON documents in a stream of bytes, however they are laid out.

Exports as people keep them put one document per line, pretty-print one over many lines, or
concatenate them with no separator at all (Kinesis Data Firehose writes ``}{`` into its S3
objects). :class:`Documents` finds where each top-level document begins and ends by its
brackets alone (strings skipped), without parsing it: the decoder and the adapters judge
what it holds, with their own nesting guard.

Memory is bounded: a document is kept only up to ``limit`` bytes; past it the rest is
counted but not kept, and its first ``limit + 1`` bytes are handed on, for the reader to
reject as oversize. Scanning is iterative, so no depth of brackets costs a stack.

With ``arrays``, a top-level JSON array is not one document but a list of them: each of its
elements is handed on alone, so an export of a million records in one array (``jq -s``) is
read as a million records, not refused as one too large. An empty array is handed on as
``[]``, one record, so that a reader counts it (an events-v1 reader rejects it) rather than
lose a line without a word.

A document left open when a line starts with ``{`` or ``[`` in its first column is taken
to end there (it is handed on as it is, and the reader rejects it): a truncated line then
costs that line alone, not every document after it. A pretty-printer indents what is
nested, so this never splits a whole document; JSON written with an indent of 0 is the
exception where an array holds objects (each then starts a line), and is rejected in pieces.
"""

from __future__ import annotations

import re
from array import array
from itertools import accumulate

_OPENERS = b"{["
# Where a document may start: the first byte that is neither blank nor a separator.
_START = re.compile(rb"[^\s,]")
# Where text that opens no document ends: its line's end, or in an array its element's.
_JUNK_END = re.compile(rb"[\n,\]]")
# Outside a string, the next byte that matters: a quote, a bracket or a line end.
_NEXT = re.compile(rb'["{}\[\]\n]')
# The rest of a string from just after its opening quote (or from a chunk's start).
_STRING_REST = re.compile(rb'(?:[^"\\\n]|\\.)*')
# A whole JSON string, escapes included (unrolled: no backtracking on a long one).
_JSON_STRING = re.compile(rb'"[^"\\\n]*(?:\\.[^"\\\n]*)*"')
_NOT_BRACKETS = bytes(b for b in range(256) if b not in b"[]{}")
# A bracket as the step it takes in depth (a signed byte), for a long skeleton's depths in C.
_STEPS = bytes.maketrans(b"{[}]", b"\x01\x01\xff\xff")
_NOT_STRUCTURE = bytes(b for b in range(256) if b not in b'[]{}"\\')


class Documents:
    """Splits bytes fed in order (lines, or chunks of one long line) into top-level JSON
    documents, each with the number of the line it starts on.

    :meth:`feed` takes the next piece of the stream and its line number and returns the
    documents it completed; :meth:`end` returns the one left open at the end. A piece of
    text outside any document that does not open one (a bare number, a stray word) runs to
    the end of its line (in an array, of its element) and is handed on as a document of its
    own, for the reader to reject. ``arrays``: the elements of a top-level array are the
    documents (see the module's docstring)."""

    def __init__(self, limit: int, arrays: bool = False, most: int | None = None) -> None:
        """``most``: :meth:`feed` stops reading a piece once it has completed more than
        that many documents (a caller that refuses more need not scan the rest)."""
        self.limit = limit
        self._most = most
        self._arrays = arrays
        self._in_array = False  # between the elements of a top-level array
        self._array_line = 0  # the line the open top-level array starts on...
        self._elements = 0  # ...and how many documents it has handed on
        self._parts: list[bytes] = []
        self._size = 0  # bytes of the open document, kept or not
        self._start = 0  # the line it starts on
        self._depth = 0
        self._open = False  # inside a document
        self._junk = False  # inside text that opens none (it ends with its line)
        self._in_string = False
        self._escape = False  # a chunk ended on a backslash inside a string
        self._line_start = True

    def feed(self, chunk: bytes, line: int) -> list[tuple[int, bytes]]:
        """The documents ``chunk`` (part of line ``line``) completes, in order."""
        if not self._open and not self._junk and self._line_start and chunk.endswith(b"\n"):
            whole = self._whole(chunk)
            if whole is not None:
                return [(line, whole)] if whole else []
        out: list[tuple[int, bytes]] = []
        if self._open and self._line_start and self._depth > 0 and chunk[:1] in (b"{", b"["):
            out.append(self._close())  # a new document in the first column
        pos, n = 0, len(chunk)
        while pos < n:
            if self._in_string:
                pos = self._string(chunk, pos)
                continue
            if self._junk:
                end = _JUNK_END.search(chunk, pos) if self._in_array else None
                stop = end.start() if end is not None else chunk.find(b"\n", pos)
                if stop < 0:
                    self._keep(chunk[pos:])
                    pos = n
                    continue
                self._keep(chunk[pos:stop])
                out.append(self._close())
                pos = stop
                continue
            if not self._open:
                found = _START.search(chunk, pos)
                if found is None:
                    break
                pos = found.start()
                if self._in_array and chunk[pos] == 0x5D:  # the array's end
                    self._in_array = False
                    if not self._elements:  # "[]" is a record too: its reader judges it
                        out.append((self._array_line, b"[]"))
                    pos += 1
                    continue
                if self._arrays and not self._in_array and chunk[pos] == 0x5B:
                    self._in_array = True  # its elements are the documents
                    self._array_line, self._elements = line, 0
                    pos += 1
                    continue
                self._open, self._depth, self._start = True, 0, line
                if chunk[pos] not in _OPENERS:
                    self._open, self._junk = False, True
                    continue
            found = _NEXT.search(chunk, pos)
            if found is None:
                self._keep(chunk[pos:])
                self._line_start = False
                pos = n
                continue
            at, byte = found.start(), chunk[found.start()]
            if byte == 0x0A:  # a line end inside a document
                self._keep(chunk[pos : at + 1])
                pos = at + 1
                if pos < n and chunk[pos] in _OPENERS and self._depth > 0:
                    out.append(self._close())  # a new document in the first column
                self._line_start = pos == n
                continue
            self._keep(chunk[pos : at + 1])
            pos = at + 1
            self._line_start = False
            if byte == 0x22:  # a quote
                self._in_string = True
            elif byte in _OPENERS:
                self._depth += 1
            else:
                self._depth -= 1
                if self._depth <= 0:
                    out.append(self._close())
                    if self._most is not None and len(out) > self._most:
                        return out
        if n:
            self._line_start = chunk.endswith(b"\n")
        return out

    def end(self) -> list[tuple[int, bytes]]:
        """The document still open at the end of the stream (truncated), if any."""
        if (self._open or self._junk) and self._parts:
            return [self._close()]
        return []

    def _whole(self, line: bytes) -> bytes | None:
        """``line`` stripped when it holds exactly one document (b"" when it is blank);
        None when it needs the full scan (a document over several lines, several on one,
        text that is none)."""
        text = line.strip()
        if not text:
            return b""
        if text[0] not in _OPENERS or text[-1] not in b"}]" or len(text) > self.limit:
            return None
        if self._arrays and not self._in_array and text[0] == 0x5B:
            return None  # a top-level array: its elements are the documents
        structure = text.translate(None, _NOT_STRUCTURE)
        if len(structure) % 2 == 0 and not structure[1:-1].strip(b'"'):
            # A flat object (an events-v1 line): quotes in pairs with no escape, and no
            # bracket but the first and last, which are then outside every string.
            return text
        if b"\\" in structure:
            skeleton = _JSON_STRING.sub(b"", text).translate(None, _NOT_BRACKETS)
        else:  # no escape: every other quote opens a string (the usual line, in C alone)
            skeleton = structure.replace(b'""', b"")  # strings without brackets
            if b'"' in skeleton:
                skeleton = b"".join(structure.split(b'"')[::2])
        if len(skeleton) > 64:  # a long one: its depths summed in C, not a step at a time
            depths = list(accumulate(array("b", skeleton.translate(_STEPS))))
            if depths[-1] != 0 or min(depths[:-1], default=1) <= 0:
                return None
            return text
        depth = 0
        last = len(skeleton) - 1
        for i, byte in enumerate(skeleton):
            depth += 1 if byte in _OPENERS else -1
            if depth <= 0 and i != last:
                return None
        return text if depth == 0 else None

    def _string(self, chunk: bytes, pos: int) -> int:
        """Read on inside a string from ``pos``; the position after it (or the chunk's
        end)."""
        if self._escape:  # the byte after a backslash that ended the previous chunk
            self._escape = False
            self._keep(chunk[pos : pos + 1])
            return pos + 1
        found = _STRING_REST.match(chunk, pos)
        end = found.end() if found is not None else pos
        self._keep(chunk[pos:end])
        if end >= len(chunk):
            return end  # the string goes on in the next chunk
        byte = chunk[end]
        if byte == 0x22:
            self._keep(b'"')
            self._in_string = False
            return end + 1
        if byte == 0x5C:  # a backslash that ends the chunk
            self._keep(b"\\")
            self._escape = True
            return end + 1
        self._in_string = False  # a line end: JSON strings hold none, so it is over
        return end

    def _keep(self, data: bytes) -> None:
        room = self.limit + 1 - min(self._size, self.limit + 1)
        if room > 0:
            self._parts.append(data[:room])
        self._size += len(data)

    def _close(self) -> tuple[int, bytes]:
        value = b"".join(self._parts).strip()
        if self._size > self.limit:
            value = b"".join(self._parts)
        self._parts, self._size = [], 0
        self._open = self._junk = self._in_string = self._escape = False
        self._depth = 0
        self._elements += self._in_array
        return self._start, value


def split(data: bytes, limit: int, most: int | None = None) -> list[tuple[int, bytes]]:
    """Every top-level document of ``data``, with the line (from 1) it starts on; with
    ``most``, the scan stops once it has found more than that many."""
    reader = Documents(limit, most=most)
    out: list[tuple[int, bytes]] = []
    # Every line is whole (the last one too), so each may take the one-document fast path.
    for number, line in enumerate(data.splitlines(), 1):
        out += reader.feed(line + b"\n", number)
        if most is not None and len(out) > most:
            return out
    return out + reader.end()

"""The documents one Amazon Connect record holds.

Each stream reaches Kafka one JSON document per record, but a record may also hold them as
people store them: pretty-printed, concatenated as Firehose writes S3 objects, in a JSON
array, or base64 in a Lambda Kinesis event or a Firehose delivery. Each document is read on
its own, and one that cannot be read is returned as its error, for the adapter to reject
only itself.
"""

from __future__ import annotations

import base64
from typing import Any

from callpulse.adapters.base import AdapterError, Unreadable, parse_json
from callpulse.adapters.bounds import shown
from callpulse.adapters.connect_fields import FORMAT
from callpulse.core.documents import split
from callpulse.core.ingest import MAX_DEPTH, too_deep

MAX_DOCUMENTS = 10_000  # in one record (a Firehose object, a Kinesis batch)


Document = tuple[str, dict[str, Any] | Unreadable]  # where it is, and it or why not


def documents(record: bytes) -> list[Document]:
    """The documents ``record`` holds, each with where it is (for a message) or the error
    that keeps it from being read: one JSON document, pretty-printed or not; several,
    concatenated (a Firehose S3 object) or in a JSON array; or a Lambda Kinesis event
    (``Records[].kinesis.data``) or a Firehose transformation or HTTP endpoint delivery
    (``records[].data``), whose base64 ``data`` holds the documents. Every document is read
    by :func:`parse_json`, which refuses one nested deeper than the decoder reads."""
    if too_deep(record):  # before the scan: documents side by side nest no deeper
        raise AdapterError(
            FORMAT, f"expected one JSON document: nested deeper than {MAX_DEPTH} levels"
        )
    pieces = [value for _, value in split(record, len(record), MAX_DOCUMENTS)]
    if not pieces:
        raise AdapterError(FORMAT, "expected a JSON document; the record is blank")
    found: list[Document] = []
    for number, piece in enumerate(pieces, 1):
        where = f"document {number}" if len(pieces) > 1 else "the record"
        try:
            value = parse_json(FORMAT, piece, "one JSON document")
        except AdapterError as exc:
            found.append((where, Unreadable(exc.detail)))
            continue
        if isinstance(value, list):
            found += [(f"{where}[{i}]", _object_or_why(v)) for i, v in enumerate(value)]
            continue
        items = _envelope(value)
        if items is None:
            found.append((where, _object_or_why(value)))
            continue
        for i, item in enumerate(items):
            found += _unwrapped(f"{where}, record {i}", item)
        if len(found) > MAX_DOCUMENTS:
            break
    if len(found) > MAX_DOCUMENTS:
        raise AdapterError(FORMAT, f"more than {MAX_DOCUMENTS:,} documents in one record")
    return found


def _envelope(value: Any) -> list[Any] | None:
    """The records of a Lambda Kinesis event or a Firehose delivery, None for anything
    else: ``Records`` (Kinesis) or ``records`` (Firehose), a list, and no key of Connect's
    own documents beside it."""
    if not isinstance(value, dict) or "ContactId" in value or "AgentARN" in value:
        return None
    for key in ("Records", "records"):
        items = value.get(key)
        if isinstance(items, list):
            return items
    return None


def _unwrapped(where: str, item: Any) -> list[Document]:
    """The documents one envelope record's base64 ``data`` holds (one, usually)."""
    inner = item.get("kinesis", item) if isinstance(item, dict) else None
    data = inner.get("data") if isinstance(inner, dict) else None
    if not isinstance(data, str):
        return [(where, Unreadable("expected kinesis.data or data, base64 text"))]
    try:
        raw = base64.b64decode(data, validate=True)
    except ValueError:
        return [(where, Unreadable(f"data is not base64: {shown(data)}"))]
    out: list[Document] = []
    pieces = split(raw, len(raw), MAX_DOCUMENTS)
    for number, (_, piece) in enumerate(pieces, 1):
        label = f"{where}, document {number}" if len(pieces) > 1 else where
        try:
            out.append((label, _object_or_why(parse_json(FORMAT, piece, "one JSON document"))))
        except AdapterError as exc:
            out.append((label, Unreadable(exc.detail)))
    return out or [(where, Unreadable("data is empty"))]


def _object_or_why(value: Any) -> dict[str, Any] | Unreadable:
    """``value`` if it is a JSON object, else why it is not a document."""
    if isinstance(value, dict):
        return value
    return Unreadable(f"expected a JSON object, got {type(value).__name__}")

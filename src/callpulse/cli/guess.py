"""What a file looks like, from its first bytes, for a report whose records mostly failed.

A wrong ``--format`` rejects every record for the same reason, and the reason alone
(``invalid_json 1000``) does not say what the file is. Its first lines usually do: a
queue_log line, a CSV header, a JSON document and the keys each platform's records have
(docs/adapters-*.md). The guess names what it saw and the ``--format`` that reads it.
"""

from __future__ import annotations

import csv
import json
import re
from typing import Any

from callpulse.adapters.cdr_rows import BASE_COLUMNS, DISPOSITIONS, MASTER_CSV
from callpulse.text import plain

HEAD_BYTES = 64 * 1024
"""How much of the file (decompressed) the guess reads."""

_LINES = 20  # first non-blank lines looked at
_SHOWN = 120  # characters of the file quoted, at most

_COMPRESSED = {  # magic bytes of what replay does not decompress (gzip it does, once)
    b"\x1f\x8b": "gzip (twice)",
    b"BZh": "bzip2",
    b"\xfd7zXZ\x00": "xz",
    b"\x28\xb5\x2f\xfd": "zstd",
    b"PK\x03\x04": "zip",
    b"7z\xbc\xaf\x27\x1c": "7z",
}
# queue_log: time|callid|queue|agent|event[|data...], the time in epoch seconds or as a
# database table's datetime.
_QUEUE_LOG = re.compile(
    r"^(\d{9,11}(\.\d+)?|\d{4}-\d\d-\d\d[ T]\d\d:\d\d:\d\d(\.\d+)?)\|[^|]*\|[^|]*\|[^|]*\|[A-Z_]+"
)
_HEADER_LINE = re.compile(r"^[A-Z][A-Za-z-]*: ")  # FreeSWITCH's plain event headers
_CHANNEL_EVENTS = frozenset({"CHANNEL_HANGUP_COMPLETE", "RECV_RTCP_MESSAGE"})
_FORM = re.compile(r"(^|&)EventType=")  # a TaskRouter callback as posted
_NAME = re.compile(r"[A-Za-z_][\w .-]*")  # a CSV header's column name
_QUEUE_LOG_COLUMNS = {"callid", "event"}  # with a queue column: a queue_log table
# An Asterisk CDR: the columns or keys naming both channels and the disposition.
_DISPOSITION_AT = MASTER_CSV.index("disposition")
_CDR_NAMES = ({"disposition", "channel", "dstchannel"}, {"disposition", "destinationchannel"})


def explain(head: bytes, chosen: str) -> str | None:
    """What ``head`` (a file's first bytes, decompressed) looks like, and the ``--format`` to
    try; said differently when that is ``chosen``, the format the file was read with. None
    when nothing is recognised."""
    if not head.strip():
        return "the file holds no records"
    for magic, name in _COMPRESSED.items():
        if head.startswith(magic):
            return f"looks like {name}-compressed data, which replay does not read: decompress it"
    try:
        text = head.decode()
    except UnicodeDecodeError as exc:
        if exc.start < len(head) - 4:  # not just a character cut at the end of the head
            return "looks like binary data, not lines of text"
        text = head[: exc.start].decode()
    text = text.removeprefix("\ufeff")
    lines = [line for line in text.splitlines() if line.strip()][:_LINES]
    if not lines:
        return "the file holds no records"
    what, fmt = _identify(text, lines)
    if what is None:
        return None
    if fmt is None:
        return f"looks like {what}"
    if fmt == chosen:
        return f"looks like {what}, the format given: the messages above say what is wrong"
    site = "" if fmt == "events-v1" else " --site SITE"
    return f"looks like {what}: try --format {fmt}{site}"


def _identify(text: str, lines: list[str]) -> tuple[str | None, str | None]:
    """What the text is, and the format that reads it (None: none does)."""
    first = lines[0].lstrip()
    if first.startswith(("{", "[")):
        return _json(text, first)
    if sum(bool(_QUEUE_LOG.match(line)) for line in lines) * 2 > len(lines):
        return "an Asterisk queue_log (time|callid|queue|agent|event|data...)", (
            "asterisk-queue-log"
        )
    if sum(_master_csv(line) for line in lines) * 2 > len(lines):
        return "Asterisk CDRs (cdr_csv's Master.csv rows)", "asterisk-cdr"
    if _FORM.search(first):
        return "Twilio TaskRouter callbacks, form-encoded", "twilio-taskrouter"
    headers = sum(bool(_HEADER_LINE.match(line)) for line in lines)
    if headers * 2 > len(lines) and any(line.startswith("Event-Name: ") for line in lines):
        return "FreeSWITCH events as plain headers", "freeswitch-channel"
    return _csv(lines)


def _csv(lines: list[str]) -> tuple[str | None, str | None]:
    if len(lines) < 2:
        return None, None
    try:
        dialect = csv.Sniffer().sniff("\n".join(lines[:5]), delimiters=",;\t")
    except csv.Error:
        return None, None
    header = next(csv.reader([lines[0]], dialect))
    if len(header) < 3:
        return None, None
    shown = _quote(lines[0])
    if not all(_NAME.fullmatch(name.strip()) for name in header):
        return f"a CSV export with no header (first line {shown}), which no format reads", None
    names = {name.strip().lower().replace("_", "") for name in header}
    if any(cdr <= names for cdr in _CDR_NAMES):
        return f"a CSV export of Asterisk CDRs (header {shown})", "asterisk-cdr"
    if names >= _QUEUE_LOG_COLUMNS and names & {"queuename", "queue"}:
        return (
            f"a CSV export of a queue_log table (header {shown}), where asterisk-queue-log "
            "reads the queue_log file's lines (time|callid|queue|agent|event|data...)",
            None,
        )
    return f"a CSV export with header {shown}, which no format reads", None


def _json(text: str, first: str) -> tuple[str | None, str | None]:
    """A JSON document per line, or one spread over several lines (pretty-printed)."""
    spread = ""  # how the documents are laid out, when not one a line
    try:
        doc: Any = json.loads(first)
    except (ValueError, RecursionError):
        try:
            doc, _ = json.JSONDecoder().raw_decode(text.lstrip().removeprefix("\ufeff"))
        except (ValueError, RecursionError):
            if first.rstrip() in {"{", "["}:
                return "pretty-printed JSON (a document over several lines)", None
            return None, None
        spread = "pretty-printed JSON (documents over several lines) of "
    if isinstance(doc, list):
        if not doc:
            return None, None
        doc = doc[0]
        spread += "a JSON array of "
    if not isinstance(doc, dict):
        return None, None
    found = _platform(doc)
    if found is None:
        keys = ", ".join(sorted(str(k) for k in doc)[:8])
        return f"JSON of no format callpulse reads (keys {_quote(keys)})", None
    what, fmt = found
    return spread + what, fmt


def _platform(doc: dict[str, Any]) -> tuple[str, str | None] | None:
    """Which format's record ``doc`` is, by the keys its page documents."""
    keys = {str(k).lower().replace("_", "").replace("-", "") for k in doc}
    if {"schemaversion", "type", "occurredat"} <= keys:
        return "events v1", "events-v1"
    if "records" in keys and any(
        isinstance(r, dict) and "kinesis" in r for r in _list(doc, "Records")
    ):
        return (
            "an AWS Lambda Kinesis event (records base64 in Records[].kinesis.data)",
            "amazon-connect",
        )
    if (
        {"agentarn", "eventtype"} <= keys
        or {"contactid", "initiationtimestamp"} <= keys
        or "amazon connect" in str(doc.get("detail-type", "")).lower()
    ):
        return "Amazon Connect records", "amazon-connect"
    if str(doc.get("type", "")).startswith("com.twilio.taskrouter") or (
        "eventtype" in keys and keys & {"tasksid", "workspacesid", "workersid", "taskqueuesid"}
    ):
        return "Twilio TaskRouter events", "twilio-taskrouter"
    if doc.get("Event-Name") in _CHANNEL_EVENTS:
        return "FreeSWITCH channel events", "freeswitch-channel"
    if keys & {"eventname", "ccaction"}:
        return "FreeSWITCH events", "freeswitch-callcenter"
    event = next((str(v) for k, v in doc.items() if str(k).lower() == "event"), "")
    if event and event != "Cdr" and keys & {"privilege", "uniqueid", "channel"}:
        return "Asterisk AMI events (one a record)", "asterisk-ami"
    if any(cdr <= keys for cdr in _CDR_NAMES):
        return "Asterisk CDRs", "asterisk-cdr"
    if doc.get("jsonrpc") == "2.0" and str(doc.get("method", "")).startswith("E_ACC_"):
        return "OpenSIPS accounting events (event_kafka)", "opensips-acc"
    if {"method", "callid", "sipcode"} <= keys:
        return "Kamailio acc_json records", "kamailio-acc"
    if {"callflow", "variables"} <= keys:
        return "FreeSWITCH JSON CDRs (mod_json_cdr)", "freeswitch-channel"
    return None


def _master_csv(line: str) -> bool:
    """Whether ``line`` is a row as cdr_csv.c writes it: 16 to 21 columns, the 15th a
    disposition."""
    try:
        fields = next(csv.reader([line]), [])
    except csv.Error:
        return False
    return (
        BASE_COLUMNS <= len(fields) <= len(MASTER_CSV) and fields[_DISPOSITION_AT] in DISPOSITIONS
    )


def _list(doc: dict[str, Any], key: str) -> list[Any]:
    value = doc.get(key)
    return value if isinstance(value, list) else []


def _quote(text: str) -> str:
    cut = text if len(text) <= _SHOWN else text[: _SHOWN - 3] + "..."
    return plain(cut)

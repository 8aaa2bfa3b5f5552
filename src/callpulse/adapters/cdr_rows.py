"""One Asterisk CDR record into the fields the ``asterisk-cdr`` adapter uses, whichever
shape it came in.

The shapes read (docs/adapters-asterisk-cdr.md):

- a ``Master.csv`` row as ``cdr/cdr_csv.c`` writes it, no header: 16 columns
  (accountcode, src, dst, dcontext, clid, channel, dstchannel, lastapp, lastdata, start,
  answer, end, duration, billsec, disposition, amaflags), then uniqueid (``loguniqueid``),
  userfield (``loguserfield``) and peeraccount, linkedid, sequence (``newcdrcolumns``):
  16 to 21 columns, read by position;
- a CSV export with a header line naming its columns (a SQL ``cdr`` table: ``calldate``
  for start); the header seen last is the only state kept (at most :data:`MAX_COLUMNS`
  names); ``columns`` gives it for a stream that does not start with one;
- a JSON object: the CDR variable names (``src``, ``dstchannel``, ``start``... as cdr
  JSON bridges and ``cdr_custom`` templates write them) or the AMI ``Cdr`` event's names
  (``DestinationChannel``, ``StartTime``... as ``cdr_manager`` and some Kafka backends
  write them), case aside.

A time is ``YYYY-MM-DD HH:MM:SS[.ffffff]`` (local time in ``zone``, unless it carries an
offset) or an epoch.
"""

from __future__ import annotations

import csv
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from callpulse.adapters.base import LAST_INSTANT, AdapterError, line_text, parse_json
from callpulse.adapters.bounds import non_negative, shown

FORMAT = "asterisk-cdr"
MAX_COLUMNS = 64
# cdr_csv.c's column order; the last five only with loguniqueid, loguserfield, newcdrcolumns.
MASTER_CSV = (
    "accountcode", "src", "dst", "dcontext", "clid", "channel", "dstchannel", "lastapp",
    "lastdata", "start", "answer", "end", "duration", "billsec", "disposition", "amaflags",
    "uniqueid", "userfield", "peeraccount", "linkedid", "sequence",
)  # fmt: skip
BASE_COLUMNS = 16
# What main/cdr.c writes as a disposition (CANCEL: a bridge writing dial statuses).
DISPOSITIONS = frozenset({"ANSWERED", "BUSY", "NO ANSWER", "CANCEL", "CONGESTION", "FAILED"})
_DISPOSITION_AT = MASTER_CSV.index("disposition")
# Other names for the fields used: a SQL table's, and the AMI Cdr event's (lowercased).
_ALIASES = {
    "calldate": "start", "starttime": "start", "answertime": "answer", "answerdate": "answer",
    "endtime": "end", "enddate": "end", "destinationchannel": "dstchannel",
    "destinationcontext": "dcontext", "lastapplication": "lastapp", "billableseconds": "billsec",
}  # fmt: skip
_USED = frozenset({"channel", "dstchannel", "dcontext", "lastapp", "start", "answer", "end",
                   "duration", "billsec", "disposition", "uniqueid"})  # fmt: skip
_EMPTY = {"", "NULL", "\\N"}  # what SQL exports write for a column with no value


@dataclass(frozen=True, slots=True)
class CdrRow:
    """The fields of one CDR the adapter uses; times as epoch seconds, None when empty."""

    channel: str
    dstchannel: str
    dcontext: str
    lastapp: str
    disposition: str
    uniqueid: str
    start: float
    answer: float | None
    end: float


class RowReader:
    """Reads CDR records into :class:`CdrRow`; remembers the last header line it read (or
    the one ``columns`` gives, which no header in the stream then changes)."""

    def __init__(self, zone: ZoneInfo, given: str = "") -> None:
        self.zone = zone
        self.names: tuple[str, ...] | None = columns(given) if given else None
        self.locked = bool(given)

    def read(self, record: bytes) -> CdrRow | None:
        """The record's :class:`CdrRow`; None for a header line."""
        text = line_text(FORMAT, record)
        if text.lstrip()[:1] in {"{", "["}:
            found = parse_json(FORMAT, text, "a CDR as a JSON object")
            if not isinstance(found, dict):
                raise AdapterError(FORMAT, "expected a CDR as a JSON object")
            return self._row({_name(k): v for k, v in found.items() if isinstance(k, str)})
        fields = _fields(text)
        if is_header(fields):
            if not self.locked:
                self.names = header(fields)
            return None
        names = self.names
        if names is None or _master_row(fields, names):
            if not BASE_COLUMNS <= len(fields) <= len(MASTER_CSV):
                raise AdapterError(
                    FORMAT,
                    f"a Master.csv row has {BASE_COLUMNS} to {len(MASTER_CSV)} columns "
                    f"(cdr_csv.c's order), this one {len(fields)}: {shown(text)}",
                )
            return self._row(dict(zip(MASTER_CSV, fields, strict=False)))
        if len(fields) != len(names):
            raise AdapterError(
                FORMAT, f"a row has {len(fields)} columns, its header {len(names)}: "
                f"{shown(text)}",
            )  # fmt: skip
        return self._row(dict(zip(names, fields, strict=True)))

    def _row(self, found: Mapping[str, Any]) -> CdrRow:
        values = {k: _value(k, found.get(k)) for k in _USED}
        if not values["disposition"]:
            raise AdapterError(FORMAT, "disposition is missing")
        start = self._time(found.get("start"), "start")
        if start is None:
            raise AdapterError(FORMAT, "start is missing")
        answer = self._time(found.get("answer"), "answer")
        end = self._time(found.get("end"), "end")
        if end is None:  # a SQL table keeps calldate, duration and billsec only
            end = start + self._seconds(found.get("duration"), "duration")
            billsec = self._seconds(found.get("billsec"), "billsec")
            answer = end - billsec if answer is None and billsec > 0 else answer
        if end < start or (answer is not None and not start <= answer <= end):
            raise AdapterError(FORMAT, "start, answer and end are out of order")
        return CdrRow(
            values["channel"], values["dstchannel"], values["dcontext"], values["lastapp"],
            values["disposition"].upper(), values["uniqueid"], start, answer, end,
        )  # fmt: skip

    def _seconds(self, value: Any, what: str) -> float:
        text = _value(what, value)
        return non_negative(FORMAT, text, what) if text else 0.0

    def _time(self, value: Any, what: str) -> float | None:
        """``value`` as epoch seconds; None when empty."""
        if value is None:
            return None
        if isinstance(value, int | float) and not isinstance(value, bool):
            when = float(value)
        else:
            text = _value(what, value)
            if not text:
                return None
            try:
                when = float(text)
            except ValueError:
                when = self._datetime(text, what)
        if not math.isfinite(when) or not 0 <= when <= LAST_INSTANT:
            raise AdapterError(FORMAT, f"{what} {shown(value)} is before 1970 or after 9999")
        return when

    def _datetime(self, text: str, what: str) -> float:
        try:
            parsed = datetime.fromisoformat(text)
        except ValueError:
            raise AdapterError(
                FORMAT, f"{what} {shown(text)} is neither YYYY-MM-DD HH:MM:SS nor an epoch"
            ) from None
        try:
            zoned = parsed if parsed.tzinfo is not None else parsed.replace(tzinfo=self.zone)
            return zoned.timestamp()
        except (OverflowError, ValueError):
            raise AdapterError(FORMAT, f"{what} {shown(text)} is out of range") from None


def _master_row(fields: list[str], names: tuple[str, ...]) -> bool:
    """Whether ``fields``, after a header naming ``names``, are still a row in Master.csv's
    order: they have its shape (16 to 21 columns, a disposition in the 15th) and the header
    puts no disposition there. Whoever can write to the stream can write a header line;
    this way it cannot make the PBX's own rows unreadable."""
    shaped = BASE_COLUMNS <= len(fields) <= len(MASTER_CSV)
    if not shaped or fields[_DISPOSITION_AT].strip().upper() not in DISPOSITIONS:
        return False
    return names[_DISPOSITION_AT : _DISPOSITION_AT + 1] != ("disposition",)


def columns(line: str) -> tuple[str, ...]:
    """The column names ``line``, a header line (the ``columns`` option), gives;
    AdapterError if it is none."""
    return header(_fields(line))


def header(fields: Sequence[str]) -> tuple[str, ...]:
    """The column names of a header line, each as the field it holds; AdapterError for one
    that is too long or names no disposition and channels."""
    if len(fields) > MAX_COLUMNS:
        raise AdapterError(FORMAT, f"a header has {len(fields)} columns; at most {MAX_COLUMNS}")
    # Only the names of the columns used are kept: the others are read as nothing.
    names = tuple(n if n in _USED else "" for n in map(_name, fields))
    if not is_header(names):
        raise AdapterError(
            FORMAT, f"{shown(','.join(fields))} is no header line: it names no disposition, "
            "channel and dstchannel columns",
        )  # fmt: skip
    return names


def is_header(fields: Sequence[str]) -> bool:
    """Whether ``fields`` name columns (disposition, channel and dstchannel among them)."""
    names = {_name(f) for f in fields}
    return {"disposition", "channel", "dstchannel"} <= names


def _name(field: str) -> str:
    name = field.strip().strip('"').lower()
    return _ALIASES.get(name, name)


def _value(what: str, value: Any) -> str:
    """A field as text: a JSON string or number, a CSV field; '' for a SQL null."""
    if value is None:
        return ""
    if isinstance(value, str):
        return "" if value in _EMPTY else value.strip()
    if isinstance(value, int | float) and not isinstance(value, bool):
        return str(value)
    raise AdapterError(FORMAT, f"{what} is not a string or a number: {shown(value)}")


def _fields(text: str) -> list[str]:
    """One CSV line's fields; AdapterError for one the csv module refuses (a field over its
    limit, a quote left open), which it raises as its own error, no ValueError."""
    try:
        return next(csv.reader([text], strict=True), [])
    except csv.Error as exc:
        raise AdapterError(FORMAT, f"not a CSV row: {exc}: {shown(text)}") from None

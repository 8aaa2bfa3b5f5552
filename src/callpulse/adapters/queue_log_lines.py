"""One Asterisk ``queue_log`` record into its columns, in whichever shape it was exported.

The shapes read (docs/adapters-asterisk-queue-log.md):

- the file ``app_queue.c`` writes, ``time|callid|queue|agent|event|data1|data2|...``;
- the same with empty data fields up to data5 (a realtime or ODBC ``queue_log`` table
  written back out as pipes): trailing empty data fields are dropped;
- a time that is an epoch or ``YYYY-MM-DD HH:MM:SS[.ffffff]`` (a SQL table's time column),
  the latter local time in ``timezone``;
- CR LF line ends, and a byte-order mark before the first line;
- a table export with a header line naming its columns (comma, semicolon or tab
  separated): rows after it are read by those columns until another header. The header
  seen last is the only state kept (at most :data:`MAX_COLUMNS` names); ``columns`` gives
  it for a stream that does not start with one (:class:`LineReader` says what a header
  line in the stream may change).
"""

from __future__ import annotations

import csv
import math
import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from zoneinfo import ZoneInfo

from callpulse.adapters.base import LAST_INSTANT, AdapterError, line_text
from callpulse.adapters.bounds import shown

FORMAT = "asterisk-queue-log"
MAX_COLUMNS = 32
_DATETIME = re.compile(r"\d{4}-\d\d-\d\d[ T]\d\d:\d\d:\d\d(?:\.\d{1,6})?")
_TIMED = re.compile(r"\d+(?:\.\d+)?|" + _DATETIME.pattern)
_DELIMITERS = (",", ";", "\t", "|")
_EMPTY = {"", "NULL", "\\N"}  # what SQL exports write for a column with no value
# Column names, by what they hold; the first found is used.
_TIME = ("date_time", "time")  # PBXware: date_time is the epoch, time local wall-clock time
_CALLID = ("callid",)
_QUEUE = ("queuename", "queue_name", "queue")
_AGENT = ("agent", "membername", "type")  # PBXware calls it type
_EVENT = ("event",)
# PBXware splits some data fields into columns of their own (htime, ttime, entpos, expos).
_PBXWARE = frozenset({"param1", "param2", "param3", "entpos", "expos", "htime", "ttime"})


@dataclass(frozen=True, slots=True)
class Line:
    """A ``queue_log`` record's columns. ``data`` is data1, data2... with trailing empty
    fields (padding) dropped."""

    when: float
    callid: str
    queue: str
    agent: str
    kind: str
    data: list[str]


@dataclass(frozen=True, slots=True)
class Columns:
    """Where each column is in a row of a table export, from its header."""

    delimiter: str
    width: int
    time: int
    callid: int
    queue: int
    agent: int
    event: int
    data: tuple[int, ...]  # data1..data5, a single ``data`` column, or param1..param3
    pbxware: dict[str, int] | None  # PBXware's split-out columns, when all are there


def header(names: Sequence[str], delimiter: str) -> Columns:
    """The :class:`Columns` a header naming ``names`` (in order) describes; raises
    AdapterError naming what it lacks."""
    if len(names) > MAX_COLUMNS:
        raise AdapterError(FORMAT, f"a header has {len(names)} columns; at most {MAX_COLUMNS}")
    clean = [n.strip().strip('"').lower() for n in names]
    where = {n: i for i, n in reversed(list(enumerate(clean)))}

    def column(choices: tuple[str, ...]) -> int:
        for name in choices:
            if name in where:
                return where[name]
        raise AdapterError(
            FORMAT,
            f"a header line needs a column named {' or '.join(choices)}: "
            f"{shown(delimiter.join(clean))} (or set columns)",
        )

    numbered = [f"data{i}" for i in range(1, 6)]
    if "data1" in where:
        data = tuple(where[n] for n in numbered if n in where)
    elif "data" in where:
        data = (where["data"],)
    else:
        data = tuple(where[n] for n in ("param1", "param2", "param3") if n in where)
    pbxware = {n: where[n] for n in _PBXWARE} if where.keys() >= _PBXWARE else None
    return Columns(
        delimiter, len(clean), column(_TIME), column(_CALLID), column(_QUEUE), column(_AGENT),
        column(_EVENT), data, pbxware,
    )  # fmt: skip


def given(line: str) -> Columns:
    """The :class:`Columns` of ``line``, a header line as the export would start with it
    (the ``columns`` option); raises AdapterError if it is none."""
    found = _header_in(line)
    if found is None:
        raise AdapterError(
            FORMAT, f"{shown(line)} is no header line: it names no event and callid columns"
        )
    return header(*found)


def is_header(fields: Sequence[str]) -> bool:
    """Whether ``fields`` are column names rather than a record: they name an event and a
    callid column, and the first is no time."""
    names = {f.strip().strip('"').lower() for f in fields}
    return "event" in names and "callid" in names and not fields[0][:1].isdigit()


class LineReader:
    """Reads records into :class:`Line`; remembers the last header line it read.

    Whoever writes to a stream can write a header line, and a header changes how the rows
    after it are read; so what one may change is limited. A line the file's shape reads
    (``time|callid|queue|agent|event...``, the time an epoch or a date) is always read so,
    whatever header came before; a header separated by pipes changes nothing (its rows,
    in the table's own column order, are the file's lines); with ``columns`` given, no
    header line in the stream changes them."""

    def __init__(self, zone: ZoneInfo, columns: str = "") -> None:
        self.zone = zone
        self.columns = given(columns) if columns else None
        self.locked = bool(columns)

    def read(self, record: bytes) -> Line | None:
        """The record's :class:`Line`; None for a header line."""
        text = line_text(FORMAT, record)
        found = _header_in(text)
        if found is not None:
            if not self.locked and found[1] != "|":
                self.columns = header(*found)
            return None
        if self.columns is None or (self.columns.delimiter != "|" and _timed(text)):
            return self._queue_log(text)
        return self._row(text, self.columns)

    def _queue_log(self, text: str) -> Line:
        parts = text.split("|")
        if len(parts) < 5:
            if "," in text:
                raise AdapterError(
                    FORMAT,
                    "a comma-separated row, but no header line naming its columns came "
                    f"before it (or set columns): {shown(text)}",
                )
            raise AdapterError(FORMAT, f"expected time|callid|queue|agent|event: {shown(text)}")
        callid, queue, agent, kind = parts[1:5]
        data = ["" if d in _EMPTY else d for d in parts[5:]]
        return Line(self._time(parts[0]), callid, queue, agent, kind, _unpadded(data))

    def _row(self, text: str, at: Columns) -> Line:
        row = text.split("|") if at.delimiter == "|" else _fields(text, at.delimiter)
        # A pipe export of a table writes what follows data5 after it, as the file does.
        rest = row[at.width :] if at.data[-1:] == (at.width - 1,) else []
        if len(row) > at.width and not (rest and at.delimiter == "|"):
            raise AdapterError(
                FORMAT, f"a row has {len(row)} columns, its header {at.width}: {shown(text)}"
            )
        row = row[: at.width] + [""] * (at.width - len(row))
        kind = row[at.event]
        if at.pbxware is not None:
            data = _pbxware(kind, row, at.pbxware)
        elif len(at.data) == 1:  # one ``data`` column holding data1|data2|...
            data = row[at.data[0]].split("|")
        else:
            data = [row[i] for i in at.data] + rest
        return Line(
            self._time(row[at.time]), row[at.callid], row[at.queue], row[at.agent], kind,
            _unpadded(["" if d in _EMPTY else d for d in data]),
        )  # fmt: skip

    def _time(self, text: str) -> float:
        text = text.strip().strip('"')
        if _DATETIME.fullmatch(text):
            try:
                when = datetime.fromisoformat(text).replace(tzinfo=self.zone).timestamp()
            except (ValueError, OverflowError):
                raise AdapterError(FORMAT, f"time {shown(text)} is no date") from None
        else:
            try:
                when = float(text)
            except ValueError:
                raise AdapterError(
                    FORMAT,
                    f"time {shown(text)} is neither an epoch nor YYYY-MM-DD HH:MM:SS[.ffffff]",
                ) from None
        if not math.isfinite(when) or not 0 <= when <= LAST_INSTANT:
            raise AdapterError(FORMAT, f"time {shown(text)} is before 1970 or after 9999")
        return when


def _timed(text: str) -> bool:
    """Whether ``text`` has the file's shape: five fields or more, the first a time."""
    first, bar, _ = text.partition("|")
    return bool(bar) and text.count("|") >= 4 and bool(_TIMED.fullmatch(first))


def _header_in(text: str) -> tuple[list[str], str] | None:
    """The column names and delimiter of ``text`` if it is a header line."""
    if "event" not in text.lower():
        return None
    delimiter = max(_DELIMITERS, key=text.count)
    try:
        fields = _fields(text, delimiter)
    except AdapterError:  # not a header: the row it is says what is wrong with it
        return None
    return (fields, delimiter) if fields and is_header(fields) else None


def _fields(text: str, delimiter: str) -> list[str]:
    """One CSV line's fields; AdapterError for one the csv module refuses (a field over its
    limit), which it raises as its own error, no ValueError."""
    try:
        return next(csv.reader([text], delimiter=delimiter), [])
    except csv.Error as exc:
        raise AdapterError(FORMAT, f"not a CSV row: {exc}") from None


def _pbxware(kind: str, row: list[str], at: dict[str, int]) -> list[str]:
    """PBXware's columns back into the data fields ``app_queue.c`` writes for ``kind``."""
    p1, p2, p3, ent, ex, hold, talk = (
        row[at[n]] for n in ("param1", "param2", "param3", "entpos", "expos", "htime", "ttime")
    )
    if kind == "CONNECT":
        return [hold, p2, p3]  # holdtime|bridged uniqueid|ringtime
    if kind in {"COMPLETECALLER", "COMPLETEAGENT"}:
        return [hold, talk, ent]  # holdtime|calltime|origposition
    if kind in {"ABANDON", "EXITEMPTY", "EXITWITHTIMEOUT"}:
        return [ex, ent, hold]  # position|origposition|waittime
    if kind == "EXITWITHKEY":
        return [p1, ex, ent, hold]  # key|position|origposition|waittime
    if kind == "WITHDRAW":
        return [ex, ent, hold, p1]
    if kind in {"BLINDTRANSFER", "TRANSFER"}:
        return [p2, p3, hold, talk, ent]  # extension|context|holdtime|calltime|origposition
    if kind == "ATTENDEDTRANSFER":  # the export keeps no method: any two fields before hold
        return ["BRIDGE", "", hold, talk, ent]
    if kind == "ENTERQUEUE":
        return ["", p1, ent]  # url|callerid|position
    return [p1, p2, p3]


def _unpadded(data: list[str]) -> list[str]:
    while data and data[-1] == "":
        data.pop()
    return data

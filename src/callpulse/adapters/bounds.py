"""What keeps an adapter's state, labels and messages bounded whatever a producer sends.

An adapter keeps names from the records it reads (agents, queues, calls, tasks) and counts
what it skips by kind. Each entry is capped by count; these make each entry's size capped
too, and so the whole state capped in bytes:

- a name is checked before anything is kept (:func:`checked_name`): at most
  :data:`MAX_NAME` characters and nothing the events-v1 decoder refuses in a name;
- an id kept only to be looked up again is kept as its digest (:func:`digest`);
- entries spread over many tables (an agent's queues, over every agent) share a
  :class:`Budget`;
- ignored kinds are counted over a fixed list (:class:`Ignored`), so the label has a fixed
  set of values;
- what an error message quotes from a record is short and escaped (:func:`shown`);
- a number read from text is finite and not negative (:func:`non_negative`).
"""

from __future__ import annotations

import hashlib
import math
import re
import reprlib
from collections import Counter
from collections.abc import Iterable, Iterator, Mapping

from callpulse.adapters.base import AdapterError
from callpulse.core.events import NOT_IN_NAMES

# An events-v1 name's limit (core/events.py, Name): a longer one would be refused by the
# decoder anyway, and one within it is never refused here for its length.
MAX_NAME = 256
# A name holds nothing the events-v1 decoder refuses in one (controls, separators,
# bidirectional overrides and isolates), nor a lone surrogate (not text: UTF-8 cannot write
# it, and the name becomes part of a key that is hashed as UTF-8).
_NOT_IN_NAMES = re.compile(
    "[" + "".join(f"\\u{lo:04x}-\\u{hi:04x}" for lo, hi in (*NOT_IN_NAMES, (0xD800, 0xDFFF))) + "]"
)
OTHER = "_other"  # every ignored kind outside a format's list

_QUOTE = reprlib.Repr()
_QUOTE.maxstring = _QUOTE.maxother = 48
_QUOTE.maxlevel, _QUOTE.maxlist, _QUOTE.maxdict = 2, 4, 4


def shown(value: object) -> str:
    """``value`` as an error message may quote it: at most about 50 characters, JSON's
    null as null, every control character escaped (a message reaches logs and terminals)."""
    if value is None:
        return "null"
    if isinstance(value, str) and len(value) > _QUOTE.maxstring:
        return repr(value[: _QUOTE.maxstring]) + f"... ({len(value):,} characters)"
    return _QUOTE.repr(value)


def checked_name(fmt: str, value: str, what: str) -> str:
    """``value``, an id or name an adapter may keep and write into an events-v1 name; raises
    AdapterError (``invalid_<fmt>``) if it is empty, longer than :data:`MAX_NAME`
    characters, or holds what a name may not (a control, a bidirectional override...)."""
    if not value:
        raise AdapterError(fmt, f"{what} is empty")
    if len(value) > MAX_NAME:
        raise AdapterError(
            fmt, f"{what} is {len(value):,} characters long; a name has at most {MAX_NAME}"
        )
    bad = _NOT_IN_NAMES.search(value)
    if bad is not None:
        raise AdapterError(
            fmt, f"{what} holds U+{ord(bad.group()):04X}, which a name may not: {shown(value)}"
        )
    return value


_SIP_STATUS = re.compile(r"[1-6][0-9][0-9]")


def sip_status(fmt: str, value: object, what: str, final: bool = False) -> int:
    """``value`` as a SIP status code, 100 to 699 (200 to 699 if it must be ``final``): a
    whole number written as text (``"486"``, as the platforms write it) or as a number (by a
    bridge that converted it); raises AdapterError for anything else, naming ``what``."""
    lowest, kind = (200, "final SIP code") if final else (100, "SIP status code")
    code: int | None = None
    if isinstance(value, int) and not isinstance(value, bool):
        code = value
    elif isinstance(value, str) and _SIP_STATUS.fullmatch(value.strip()):
        code = int(value)
    if code is None or not lowest <= code <= 699:
        raise AdapterError(fmt, f"{what} must be a {kind} ({lowest} to 699): {shown(value)}")
    return code


def non_negative(fmt: str, text: str, what: str) -> float:
    """``text`` as a finite number >= 0; raises AdapterError (``invalid_<fmt>``) saying
    that ``what`` is not a number, or not one of those."""
    try:
        value = float(text)
    except ValueError:
        raise AdapterError(fmt, f"{what} is not a number: {shown(text)}") from None
    if not math.isfinite(value) or value < 0:
        raise AdapterError(fmt, f"{what} must be a finite number >= 0: {shown(text)}")
    return value


def digest(*parts: str) -> bytes:
    """A 16-byte key for ``parts``: what a table keeps of an id it only looks up, whatever
    the id's length. A key is never shown, so a part not yet checked as a name (a lone
    surrogate in a queue ARN) gives a key rather than an error: the check comes after."""
    joined = "\x1f".join(parts).encode("utf-8", "surrogatepass")
    return hashlib.blake2b(joined, digest_size=16).digest()


class Ignored(Mapping[str, int]):
    """Well-formed records of a kind events v1 has no use for, counted by kind: the kinds of
    ``known`` by name, any other as :data:`OTHER`, so a producer cannot make new series."""

    def __init__(self, known: Iterable[str]) -> None:
        self.known = frozenset(known)
        self._counts: Counter[str] = Counter()

    def add(self, kind: str) -> None:
        """Count one record of ``kind``."""
        self._counts[kind if kind in self.known else OTHER] += 1

    def __getitem__(self, kind: str) -> int:
        if kind not in self._counts:  # a Counter would say 0, and ``in`` would be true
            raise KeyError(kind)
        return self._counts[kind]

    def __iter__(self) -> Iterator[str]:
        return iter(self._counts)

    def __len__(self) -> int:
        return len(self._counts)

    def __repr__(self) -> str:
        return f"Ignored({dict(self._counts)!r})"


class Budget:
    """A cap on entries spread over many tables (the queues of every agent): each table
    takes one as it adds an entry and gives back what it drops."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.used = 0

    def take(self, count: int = 1) -> int:
        """Up to ``count`` entries more: as many as the cap allows (0 when it is full)."""
        granted = max(0, min(count, self.limit - self.used))
        self.used += granted
        return granted

    def give(self, count: int = 1) -> None:
        """``count`` entries dropped."""
        self.used -= count

    def fill(self) -> float:
        """How full it is, 0 to 1."""
        return self.used / self.limit

"""Maintenance windows opened by events, and the ends seen, under one byte budget.

Anyone who can write to the topic can send ``maintenance.started`` and ``maintenance.ended``,
and each leaves something behind: an open window, a closed one kept through the grace period
(its backlog is watched after it), or an end kept so that a start delivered after it opens
nothing. :class:`EventWindows` keeps all three and counts the bytes they hold from the strings
they keep (:func:`entry_bytes`). Past :attr:`EventWindows.max_bytes` the oldest closed windows
and ends are forgotten first; a start that still does not fit opens nothing.
"""

from __future__ import annotations

import dataclasses
import math
from collections import deque
from dataclasses import dataclass

from callpulse.core.calendar import Occurrence

Key = tuple[str, str]  # (site, maintenance_id)

# What an entry costs beyond its strings, measured with tracemalloc on CPython 3.11 and rounded
# up: a key's tuple, its entry, its place in the order of forgetting and its dict slot at the
# emptiest a dict gets between two resizes; a window's Occurrence (an object and its
# __dict__) and its sites tuple; an end's float.
KEY_BYTES = 272
WINDOW_BYTES = 256
ENDED_BYTES = 24
NAMES_BYTES = 56  # a tuple of names, before its items


def text_bytes(text: str) -> int:
    """What CPython keeps for ``text``: an ASCII string is 49 bytes and one a character;
    anything else is counted as the widest (4 bytes a character), never less than it is."""
    return 49 + len(text) if text.isascii() else 80 + 4 * len(text)


def names_bytes(names: tuple[str, ...]) -> int:
    """What a tuple of names keeps: the tuple, a pointer and a string per name."""
    if not names:
        return 0  # the empty tuple is shared
    return NAMES_BYTES + sum(8 + text_bytes(name) for name in names)


def entry_bytes(key: Key, window: Occurrence | None, ended: float | None) -> int:
    """The bytes :class:`EventWindows` counts for ``key`` keeping ``window`` and ``ended``.

    The window's name is the key's id and its one site the key's site: counted once."""
    if window is None and ended is None:
        return 0
    total = KEY_BYTES + text_bytes(key[0]) + text_bytes(key[1])
    if window is not None:
        total += WINDOW_BYTES + names_bytes(window.components) + names_bytes(window.queues)
    if ended is not None:
        total += ENDED_BYTES
    return total


def _is_open(window: Occurrence | None) -> bool:
    return window is not None and window.end == math.inf


_GONE: Key = ("", "")


@dataclass(slots=True)
class _Entry:
    key: Key  # _GONE once forgotten: what the order of forgetting still holds is then empty
    window: Occurrence | None = None
    ended: float | None = None
    size: int = 0  # entry_bytes of what it keeps
    queued: bool = False  # in the order of forgetting


class EventWindows:
    """Event windows by ``(site, maintenance_id)`` (open or closed) and the ends seen, within
    ``max_bytes``.

    A key with no open window is *forgettable*; the forgettable are forgotten oldest first
    (in the order they became so) to make room. Open windows are never forgotten for room:
    they close by their end event or by ``max_duration`` (:meth:`expire`).
    """

    def __init__(self, max_bytes: int) -> None:
        self.max_bytes = max_bytes
        self.used = 0  # bytes counted by entry_bytes over every key
        # Closed windows and ends forgotten before their time to stay within max_bytes.
        self.forgotten = 0
        self._entries: dict[Key, _Entry] = {}
        self._open_at: dict[str, int] = {}
        # The forgettable, oldest first. A deque, not a dict as an ordered set: a dict's first
        # key is found by walking past the slot of every key deleted before it, which made
        # forgetting the oldest quadratic. An entry that opened again, or was forgotten
        # another way (prune, forget_sites), is skipped when reached, or dropped by _compact.
        self._order: deque[_Entry] = deque()

    def __len__(self) -> int:
        return len(self._entries)

    @property
    def fill(self) -> float:
        """The share of the budget in use, 0..1."""
        return min(1.0, self.used / self.max_bytes)

    def window(self, key: Key) -> Occurrence | None:
        """The window kept for ``key``, open or closed."""
        entry = self._entries.get(key)
        return None if entry is None else entry.window

    def ended(self, key: Key) -> float | None:
        """The latest end seen for ``key``."""
        entry = self._entries.get(key)
        return None if entry is None else entry.ended

    def open_at(self, site: str) -> int:
        """How many windows are open at ``site``."""
        return self._open_at.get(site, 0)

    def windows(self) -> list[Occurrence]:
        """Every window kept, open or closed."""
        return [e.window for e in self._entries.values() if e.window is not None]

    def open(self, key: Key, window: Occurrence) -> bool:
        """Keep ``window`` (open) for ``key``; False, keeping nothing, if it does not fit even
        after forgetting every other closed window and end."""
        entry = self._entries.get(key)
        ended = None if entry is None else entry.ended
        grows = entry_bytes(key, window, ended) - (0 if entry is None else entry.size)
        if not self._make_room(grows, key):
            return False
        self._put(key, window, ended)
        return True

    def close(self, key: Key, at: float) -> None:
        """An end for ``key`` at ``at``: it closes the key's open window if that opened no
        later, and is remembered, if it fits, against a start delivered after it."""
        entry = self._entries.get(key)
        window = None if entry is None else entry.window
        ended = None if entry is None else entry.ended
        latest = at if ended is None else max(at, ended)
        if window is not None and _is_open(window) and at >= window.start:
            # Closing is never refused for room: the window must not stay open. What it
            # adds (the end) is made room for afterwards, this key forgotten last.
            self._put(key, dataclasses.replace(window, end=at), latest)
            self._make_room(0, None)
            return
        grows = entry_bytes(key, window, latest) - (0 if entry is None else entry.size)
        if self._make_room(grows, key):
            self._put(key, window, latest)
        else:
            self.forgotten += 1

    def expire(self, now: float, longest: float) -> list[Occurrence]:
        """Close the windows open for ``longest`` by ``now`` (at ``start + longest``); return
        them."""
        expired = []
        for entry in list(self._entries.values()):
            window = entry.window
            if window is not None and _is_open(window) and now - window.start >= longest:
                closed = dataclasses.replace(window, end=window.start + longest)
                self._put(entry.key, closed, entry.ended)
                expired.append(closed)
        return expired

    def prune(self, horizon: float, held: set[tuple[str, float]]) -> None:
        """Forget windows closed before ``horizon`` (unless ``held``: an alert still watches
        them) and ends seen before it."""
        for entry in list(self._entries.values()):
            window, ended = entry.window, entry.ended
            if window is not None and window.end < horizon and window.key not in held:
                window = None
            if ended is not None and ended < horizon:
                ended = None
            if (window, ended) != (entry.window, entry.ended):
                self._put(entry.key, window, ended)
        self._compact()

    def forget_sites(self, sites: set[str]) -> None:
        """Forget every window and end of ``sites``."""
        for key in [k for k in self._entries if k[0] in sites]:
            self._put(key, None, None)
        self._compact()

    def resize(self, max_bytes: int) -> None:
        """A new budget; what no longer fits of the closed windows and ends is forgotten."""
        self.max_bytes = max_bytes
        self._make_room(0, None)

    def _make_room(self, needed: int, keep: Key | None) -> bool:
        """Forget the oldest forgettable keys (other than ``keep``) until ``needed`` more
        bytes fit; False if they cannot."""
        order = self._order
        kept: _Entry | None = None
        while self.used + needed > self.max_bytes and order:
            entry = order.popleft()
            if entry.key is _GONE or _is_open(entry.window):
                entry.queued = False
            elif entry.key == keep and kept is None:
                kept = entry
            else:
                entry.queued = False
                self._put(entry.key, None, None)
                self.forgotten += 1
        if kept is not None:
            order.appendleft(kept)
        return self.used + needed <= self.max_bytes

    def _put(self, key: Key, window: Occurrence | None, ended: float | None) -> None:
        """Set all that is kept for ``key`` (None: nothing of that part), and with it the
        bytes in use, the open windows per site and the order of forgetting."""
        entry = self._entries.get(key)
        if entry is None:
            if window is None and ended is None:
                return
            entry = self._entries[key] = _Entry(key)
        was_open, is_open = _is_open(entry.window), _is_open(window)
        if was_open != is_open:
            site = key[0]
            count = self._open_at.get(site, 0) + (1 if is_open else -1)
            if count:
                self._open_at[site] = count
            else:
                del self._open_at[site]
        size = entry_bytes(key, window, ended)
        self.used += size - entry.size
        entry.window, entry.ended, entry.size = window, ended, size
        if not size:
            del self._entries[key]
            entry.key = _GONE  # let go of the key's strings while the order still holds it
        elif not is_open and not entry.queued:
            # A key that opened again and closed before the order reached it keeps its
            # older place: it is forgotten a little early, never late.
            entry.queued = True
            self._order.append(entry)

    def _compact(self) -> None:
        """Drop from the order what it would only skip (after a sweep forgot keys in the
        middle of it), so that it holds no more than the forgettable."""
        live = deque[_Entry]()
        for entry in self._order:
            if entry.key is _GONE or _is_open(entry.window):
                entry.queued = False
            else:
                live.append(entry)
        self._order = live

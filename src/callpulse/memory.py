"""Giving memory back: the C allocator's settings for a daemon that reads large records.

glibc serves a request above its mmap threshold (128 KiB at start) with a mapping of its own,
returned to the system when freed, and then raises the threshold to that request's size (up
to 32 MiB), so that the next ones of that size come from the heap instead. A producer's
multi-megabyte records (refused, but read, decompressed and dead-lettered first) then leave
the heap that much larger for good: a corpus of them grew the daemon's RSS by ~97 MiB, every
byte of it free. Setting the threshold fixes it where it starts, so a block that large is
always a mapping, returned when the record is done with; and two arenas keep the worker
threads (basic auth's checks, name lookups) from fragmenting one heap each.

Nothing here changes what Python frees, only what the allocator keeps once it has.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import sys

import structlog

log = structlog.get_logger("callpulse")

_M_MMAP_THRESHOLD = -3  # glibc's malloc.h
_M_ARENA_MAX = -8
MMAP_THRESHOLD = 256 * 1024
ARENA_MAX = 2


def return_large_blocks() -> bool:
    """Fix glibc's mmap threshold and cap its arenas (see the module); False where the C
    library is not glibc, which keeps its own ways."""
    if not sys.platform.startswith("linux"):
        return False
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        mallopt = libc.mallopt
    except (OSError, AttributeError):  # musl, or no C library to ask: nothing to set
        return False
    mallopt.argtypes, mallopt.restype = (ctypes.c_int, ctypes.c_int), ctypes.c_int
    done = bool(mallopt(_M_MMAP_THRESHOLD, MMAP_THRESHOLD)) and bool(
        mallopt(_M_ARENA_MAX, ARENA_MAX)
    )
    log.debug("malloc_settings", mmap_threshold=MMAP_THRESHOLD, arena_max=ARENA_MAX, set=done)
    return done

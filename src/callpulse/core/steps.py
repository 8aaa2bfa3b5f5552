"""Work done in steps: a generator that yields between its pieces and returns its result.

A read of every queue at 10k queues, or every rule's series, is most of a second of Python;
on the daemon's event loop that is a second with no record applied. Written as a generator
that yields after each piece, the same code runs at once (:func:`finish`: a report, a test)
or in slices with other work between them (the daemon's alert evaluation, which awaits
between the steps).
"""

from __future__ import annotations

from collections.abc import Generator
from typing import TypeVar

R = TypeVar("R")

Steps = Generator[None, None, R]
"""Work that yields between its pieces (None) and returns an ``R``."""


def finish(steps: Steps[R]) -> R:
    """Run ``steps`` to its end at once; its result."""
    while True:
        try:
            next(steps)
        except StopIteration as done:
            result: R = done.value
            return result

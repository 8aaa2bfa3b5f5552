"""The classes of ``callpulse.core._native``: the core's innermost structures built from Rust
(``rust/native``), each the same as a Python class (or function) of the core, which stays
its definition.

A wheel built where Rust's cargo works has the extension (``hatch_build.py``); elsewhere,
and in a checkout run from source, each class is the Python one. The unit tests run each
class's tests on both."""

from __future__ import annotations

from typing import TypeVar

T = TypeVar("T")


def compiled(name: str, python: T) -> T:
    """The class (or function) ``name`` built from Rust, where the build has it; else
    ``python`` (also where an extension built before it existed lacks it)."""
    try:
        from callpulse.core import _native
    except ImportError:
        return python
    built: T = getattr(_native, name, python)
    return built

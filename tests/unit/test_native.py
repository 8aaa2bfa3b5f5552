"""Picking a class built from Rust: the Python one wherever the extension, or the class in
it, is not there."""

from __future__ import annotations

import sys
import types

import pytest

from callpulse import core
from callpulse.core.native import compiled


class Python:
    """A stand-in for a core class's Python definition."""


def test_without_the_extension_the_python_class_is_used(monkeypatch: pytest.MonkeyPatch) -> None:
    # Once imported, the extension is an attribute of the package too.
    monkeypatch.delattr(core, "_native", raising=False)
    monkeypatch.setitem(sys.modules, "callpulse.core._native", None)  # import fails
    assert compiled("RollingCounters", Python) is Python


def test_an_extension_built_before_a_class_existed_leaves_it_python(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    older = types.ModuleType("callpulse.core._native")
    older.RollingCounters = object  # type: ignore[attr-defined]
    monkeypatch.setattr(core, "_native", older, raising=False)
    monkeypatch.setitem(sys.modules, "callpulse.core._native", older)
    assert compiled("LineBuffers", Python) is Python
    assert compiled("RollingCounters", Python) is object

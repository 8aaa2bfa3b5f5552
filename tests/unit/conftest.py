"""Fixtures shared by the unit tests: a clock, monitors built on it, and the classes of the
core built from Rust."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from callpulse.core.monitor import Monitor, MonitorConfig

NOW = 1_800_000_000.0  # a multiple of the 5 s bucket, so window edges are easy to reason about


@pytest.fixture
def now() -> float:
    """The monitors' wall clock at the start of a test."""
    return NOW


@pytest.fixture
def make_monitor(now: float) -> Callable[..., Monitor]:
    """A factory for monitors at ``now``; keyword arguments are :class:`MonitorConfig`'s."""

    def make(**config: Any) -> Monitor:
        return Monitor(MonitorConfig(**config), now=now)

    return make


@pytest.fixture
def monitor(make_monitor: Callable[..., Monitor]) -> Monitor:
    """A monitor with the default configuration."""
    return make_monitor()


def native(name: str) -> Any:
    """The class ``name`` of ``callpulse.core._native`` (built from Rust); the test is skipped
    where the build has none (pure Python)."""
    try:
        from callpulse.core import _native
    except ImportError:
        pytest.skip("this build has no classes built from Rust (pure Python)")
    return getattr(_native, name)

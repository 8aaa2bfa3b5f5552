"""Checks for the whole suite: which build of callpulse it is testing.

scripts/test runs the unit suite twice, against the editable install (pure Python) and
against a wheel whose core modules mypyc compiled, with the counters built from Rust;
``--expect-build`` makes a run stop at once if it imported the other build, so a
"compiled" run that silently tested the Python source cannot pass. (A pytest option, not a
variable: ``CALLPULSE_*`` names are settings.)
"""

from __future__ import annotations

import pytest


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--expect-build",
        choices=("compiled", "pure"),
        default=None,
        help="stop unless callpulse's core was imported compiled (mypyc) or as Python",
    )


def pytest_configure(config: pytest.Config) -> None:
    expected = config.getoption("--expect-build")
    if expected is None:
        return
    from callpulse import build
    from callpulse.core import monitor

    if build.compiled() != (expected == "compiled"):
        raise pytest.UsageError(
            f"--expect-build={expected}, but callpulse.core.monitor is {monitor.__file__}"
        )
    # The compiled build is the one the image ships: its innermost structures are Rust's.
    if build.native() != (expected == "compiled"):
        raise pytest.UsageError(
            f"--expect-build={expected}, but callpulse.core._native is "
            f"{'there' if build.native() else 'not there'}"
        )


def pytest_report_header(config: pytest.Config) -> str:
    from callpulse import build

    return build.describe()

"""core/ stays pure: it imports only what this file allows (no shell, no I/O, no clock)."""

from __future__ import annotations

import ast
from pathlib import Path

CORE = Path(__file__).resolve().parents[2] / "src" / "callpulse" / "core"
# What core/ may import: itself, pure standard-library modules, and four pure libraries
# (pydantic for the event models, msgspec for the events' fast decode, dateutil for RRULE
# recurrence). Anything new here is a
# design decision: I/O, clocks, asyncio, Kafka, Prometheus and the shell stay outside.
ALLOWED = {
    "__future__",
    "array",
    "callpulse.core",
    "collections",
    "collections.abc",
    "dataclasses",
    "datetime",
    "enum",
    "itertools",
    "math",
    "operator",
    "re",
    "typing",
    "urllib.parse",
    "zoneinfo",
    "pydantic",
    "msgspec",
    "dateutil.rrule",
    # mypyc_attr, a no-op when the core runs as Python: what mypyc may do with a class.
    "mypy_extensions",
}


def imported_modules(path: Path) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
    return names


def allowed(name: str) -> bool:
    return name in ALLOWED or name.startswith("callpulse.core.")


def test_core_imports_only_what_is_allowed() -> None:
    files = sorted(CORE.glob("*.py"))
    assert files, "core/ not found"
    offenders = {
        f"{path.name}: {name}"
        for path in files
        for name in imported_modules(path)
        if not allowed(name)
    }
    assert not offenders


def test_the_allow_list_refuses_the_shell() -> None:
    for shell in (
        "callpulse.alerting",
        "callpulse.sinks.log",
        "callpulse.web.status",
        "asyncio",
        "time",
        "callpulse.cli.scenario",
        "callpulse.config",
        "structlog",
    ):
        assert not allowed(shell)


def test_core_never_reads_the_wall_clock() -> None:
    for path in CORE.glob("*.py"):
        text = path.read_text()
        for call in ("datetime.now(", "datetime.utcnow(", "date.today(", "time.time("):
            assert call not in text, f"{path.name} reads the wall clock with {call}"

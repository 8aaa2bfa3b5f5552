"""core/ stays pure: it never imports the shell, I/O libraries or the wall clock."""

from __future__ import annotations

import ast
from pathlib import Path

CORE = Path(__file__).resolve().parents[2] / "src" / "callpulse" / "core"
FORBIDDEN = {
    "asyncio",
    "aiokafka",
    "prometheus_client",
    "structlog",
    "time",
    "socket",
    "callpulse.sources",
    "callpulse.http",
    "callpulse.app",
    "callpulse.exposition",
    "callpulse.settings",
    "callpulse.cli",
    "callpulse.simulation",
}


def imported_modules(path: Path) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
    return names


def test_core_imports_nothing_from_the_shell() -> None:
    files = sorted(CORE.glob("*.py"))
    assert files, "core/ not found"
    offenders = {
        f"{path.name}: {name}"
        for path in files
        for name in imported_modules(path)
        if any(name == bad or name.startswith(bad + ".") for bad in FORBIDDEN)
    }
    assert not offenders


def test_core_never_reads_the_wall_clock() -> None:
    for path in CORE.glob("*.py"):
        text = path.read_text()
        for call in ("datetime.now(", "datetime.utcnow(", "date.today(", "time.time("):
            assert call not in text, f"{path.name} reads the wall clock with {call}"

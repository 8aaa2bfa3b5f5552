"""The import rules of src/callpulse: each package sits in a layer and imports only from its
own layer or those below, and no two modules (nor two packages) import each other, however
indirectly.

Every import counts, wherever it is written: at the top, inside a function, or under
``if TYPE_CHECKING``. An import moved into a function to dodge a cycle is still a cycle (the
two modules still need each other), and a type-only import still ties the modules' designs.
A failure names the offending import as ``file:line``.
"""

from __future__ import annotations

import ast
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

SRC = Path(__file__).resolve().parents[2] / "src"
ROOT = SRC / "callpulse"

LAYERS: list[tuple[str, set[str]]] = [
    # Pure logic: events, windows, KPIs, rules, alert states, policies. No I/O.
    ("core", {"core"}),
    # Small helpers of no layer of their own, on the standard library and core only; and the
    # shell's Protocols (protocols.py), low enough that an adapter can name its own.
    (
        "helpers",
        {
            "callpulse",
            "text",
            "shipped",
            "tasks",
            "memory",
            "heap",
            "build",
            "logs",
            "rejections",
            "protocols",
        },
    ),
    # The edges of the world: platforms' records in (adapters), alert receivers out (sinks).
    ("edges", {"adapters", "sinks"}),
    # The settings: schema, loading, rules, and their conversion into core objects.
    ("config", {"config"}),
    # Evaluating the rules and sending the notifications.
    ("alerting", {"alerting"}),
    # decode -> monitor -> alerting, built in one place.
    ("pipeline", {"pipeline"}),
    # Simulated contact centers, played through the pipeline.
    ("simulation", {"simulation"}),
    # Where records come from: Kafka, a replayed file, the simulator.
    ("sources", {"sources"}),
    # The read side: the exposition, the HTTP server, the status document and page.
    ("web", {"web"}),
    # The daemon: the consumer loop, the composition root, reloading, the lifecycle.
    ("daemon", {"consumer", "runtime", "reload", "app"}),
    # The command line.
    ("cli", {"cli", "__main__"}),
]


@dataclass(frozen=True)
class Import:
    """One import statement's target, and where it is written."""

    source: str  # the importing module
    target: str  # the imported module
    where: str  # file:line

    def __str__(self) -> str:
        return f"{self.where}: {self.source} imports {self.target}"


def module_name(path: Path, src: Path) -> str:
    parts = list(path.relative_to(src).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def package_of(module: str) -> str:
    """``callpulse.web.server`` -> ``web``; ``callpulse.pipeline`` -> ``pipeline``; the
    package itself -> ``callpulse``."""
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else parts[0]


def imports_of(
    tree: ast.AST, module: str, is_package: bool, known: set[str]
) -> list[tuple[str, int]]:
    """Every project module ``tree`` imports, with its line, at any depth."""
    found: list[tuple[str, int]] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [(alias.name, node.lineno) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                here = module.split(".") if is_package else module.split(".")[:-1]
                here = here[: len(here) - (node.level - 1)]
                base = ".".join([*here, *([node.module] if node.module else [])])
            for alias in node.names:
                # ``from a import b``: the module a.b when there is one, else a name of a.
                child = f"{base}.{alias.name}"
                found.append((child if child in known else base, node.lineno))
    out = []
    for name, line in found:
        while name and name not in known:  # ``import a.b.c`` of a name below a module
            name = name.rpartition(".")[0]
        if name and name != module:
            out.append((name, line))
    return out


def project_imports(src: Path) -> list[Import]:
    files = {module_name(p, src): p for p in sorted((src / "callpulse").rglob("*.py"))}
    known = set(files)
    edges = []
    for module, path in files.items():
        tree = ast.parse(path.read_text(), filename=str(path))
        for target, line in imports_of(tree, module, path.name == "__init__.py", known):
            where = f"{path.relative_to(src.parent)}:{line}"
            edges.append(Import(module, target, where))
    return list(dict.fromkeys(edges))  # ``from a import b, c`` of one module is one import


def cycles(graph: Mapping[str, Iterable[str]]) -> list[list[str]]:
    """The strongly connected components of more than one node (Tarjan), each sorted."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []
    nodes = sorted(set(graph) | {w for ws in graph.values() for w in ws})

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in sorted(graph.get(v, ())):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for v in nodes:
        if v not in index:
            visit(v)
    return found


def layer_of(package: str) -> int:
    for number, (_, packages) in enumerate(LAYERS):
        if package in packages:
            return number
    raise LookupError(package)


def cycle_report(edges: list[Import], key: Callable[[str], str]) -> list[str]:
    """Each cycle between ``key``s of modules (the module itself, or its package), with the
    imports that make it."""
    graph: dict[str, set[str]] = {}
    for e in edges:
        if key(e.source) != key(e.target):
            graph.setdefault(key(e.source), set()).add(key(e.target))
    reports = []
    for component in cycles(graph):
        members = set(component)
        inside = [
            str(e)
            for e in edges
            if key(e.source) in members
            and key(e.target) in members
            and key(e.source) != key(e.target)
        ]
        reports.append(f"cycle {' <-> '.join(component)}:\n    " + "\n    ".join(inside))
    return reports


def same(module: str) -> str:
    return module


EDGES = project_imports(SRC)


def test_the_tree_is_read() -> None:
    assert len({e.source for e in EDGES}) > 50
    assert any(e.source == "callpulse.runtime" and e.target == "callpulse.pipeline" for e in EDGES)


def test_every_package_has_one_layer() -> None:
    packages = {package_of(module_name(p, SRC)) for p in ROOT.rglob("*.py")}
    placed = [p for _, members in LAYERS for p in members]
    assert len(placed) == len(set(placed)), "a package is in two layers"
    assert packages - set(placed) == set(), "place each new package in a layer of LAYERS"
    assert set(placed) - packages == set(), "LAYERS names a package that is gone"


def test_no_module_imports_from_a_higher_layer() -> None:
    upward = [
        f"{e} (layer {LAYERS[layer_of(package_of(e.source))][0]} imports from "
        f"layer {LAYERS[layer_of(package_of(e.target))][0]}, above it)"
        for e in EDGES
        if layer_of(package_of(e.target)) > layer_of(package_of(e.source))
    ]
    assert not upward, "\n".join(upward)


def test_core_imports_nothing_outside_core() -> None:
    outside = [
        str(e) for e in EDGES if package_of(e.source) == "core" and package_of(e.target) != "core"
    ]
    assert not outside, "\n".join(outside)


def test_no_import_cycle_between_modules() -> None:
    found = cycle_report(EDGES, same)
    assert not found, "\n".join(found)


def test_no_import_cycle_between_packages() -> None:
    found = cycle_report(EDGES, package_of)
    assert not found, "\n".join(found)


# --- the checks themselves: each finds what it is for -------------------------------------


def write(root: Path, files: dict[str, str]) -> Path:
    """A source tree of ``files`` under ``root/src``, as the project's own is laid out."""
    for name, text in files.items():
        path = root / "src" / "callpulse" / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    return root / "src"


def test_a_lazy_or_type_only_import_still_makes_a_cycle(tmp_path: Path) -> None:
    src = write(
        tmp_path,
        {
            "__init__.py": "",
            "a/__init__.py": "",
            "a/one.py": "def f():\n    from callpulse.b.two import g\n",
            "b/__init__.py": "",
            "b/two.py": (
                "from typing import TYPE_CHECKING\n"
                "if TYPE_CHECKING:\n"
                "    from callpulse.a import one\n"
            ),
        },
    )
    edges = project_imports(src)
    assert {str(e) for e in edges} == {
        "src/callpulse/a/one.py:2: callpulse.a.one imports callpulse.b.two",
        "src/callpulse/b/two.py:3: callpulse.b.two imports callpulse.a.one",
    }
    [modules] = cycle_report(edges, same)
    assert "src/callpulse/a/one.py:2" in modules
    assert "src/callpulse/b/two.py:3" in modules
    [packages] = cycle_report(edges, package_of)
    assert packages.startswith("cycle a <-> b:")


def test_relative_imports_and_names_of_a_module_resolve(tmp_path: Path) -> None:
    src = write(
        tmp_path,
        {
            "__init__.py": "",
            "a/__init__.py": "from .one import f\n",
            "a/one.py": "from ..b import two\nfrom callpulse.b.two import NAME\n",
            "b/__init__.py": "",
            "b/two.py": "NAME = 1\n",
        },
    )
    assert {(e.source, e.target) for e in project_imports(src)} == {
        ("callpulse.a", "callpulse.a.one"),
        ("callpulse.a.one", "callpulse.b.two"),
    }


def test_a_longer_cycle_is_found_and_a_chain_is_not() -> None:
    assert cycles({"a": ["b"], "b": ["c"], "c": ["a"], "d": ["a"]}) == [["a", "b", "c"]]
    assert cycles({"a": ["b"], "b": ["c"], "d": ["a"]}) == []

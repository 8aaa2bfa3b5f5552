"""Seconds spent in each core module, from py-spy raw profiles of ``benchmarks.ingest``.

    py-spy record -r 500 -f raw -o pure.txt -- .venv/bin/python -m benchmarks.ingest
    py-spy record -r 500 --native -f raw -o compiled.txt -- \\
        .venv-compiled/bin/python -m benchmarks.ingest
    .venv/bin/python -m benchmarks.module_profile pure.txt compiled.txt \
        --rates 97000 130000

Only samples inside ``Ingest.process`` count. Each goes to the innermost frame of a
``callpulse.core`` module: a Python frame names its file; a mypyc-compiled one is a native
symbol (``CPyDef_monitor___Monitor___apply``, with ``--native``) that names its module. So a
module's time includes the builtins and libraries it calls (msgspec, dict methods) but not
the other core modules it calls. py-spy pauses the process for each sample, and longer with
``--native``, so sample counts of two profiles are not comparable; their shares are. With
``--rates`` (the benchmark's records/s of each build, measured without the profiler) a
module's share becomes microseconds per record, and the ratio of two its speed-up.
"""

from __future__ import annotations

import argparse
import re
from collections import Counter
from pathlib import Path

_PYTHON = re.compile(r"\(callpulse/core/(\w+)\.py:\d+\)$")
_NATIVE = re.compile(r"^CPy(?:Def|Py|L)?_(\w+?)___")
_PROCESS = ("Ingest.process (callpulse/core/ingest.py", "CPyDef_ingest___Ingest___process")


def module_of(frame: str) -> str | None:
    """The core module a frame of py-spy's raw output runs in, if any."""
    python = _PYTHON.search(frame)
    if python:
        return python.group(1)
    native = _NATIVE.match(frame)
    return native.group(1) if native else None


def shares_by_module(path: Path) -> dict[str, float]:
    """Each core module's share of the samples inside ``Ingest.process`` (``other``: none)."""
    samples: Counter[str] = Counter()
    for line in path.read_text(encoding="utf-8").splitlines():
        stack, _, count = line.rpartition(" ")
        frames = stack.split(";")
        if not any(frame.startswith(_PROCESS) for frame in frames):
            continue
        owner = next((m for m in map(module_of, reversed(frames)) if m), "other")
        samples[owner] += int(count)
    total = samples.total()
    return {name: n / total for name, n in samples.most_common()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("profiles", type=Path, nargs="+", help="before [after]")
    parser.add_argument("--rates", type=float, nargs="+", help="records/s of each profile's run")
    args = parser.parse_args()
    shares = [shares_by_module(path) for path in args.profiles]
    rates = args.rates or [0.0] * len(shares)
    header = "".join(f" {'share':>7} {'us/rec':>7}" for _ in shares)
    print(f"{'module':<16}{header}" + (f" {'speed-up':>9}" if len(shares) == 2 else ""))
    for name in shares[0]:
        cells, costs = "", []
        for share, rate in zip(shares, rates, strict=True):
            cost = share.get(name, 0.0) * 1e6 / rate if rate else 0.0
            costs.append(cost)
            cells += f" {share.get(name, 0.0):7.1%} {cost:7.2f}"
        ratio = f" {costs[0] / costs[1]:8.2f}x" if len(costs) == 2 and costs[1] else ""
        print(f"{name:<16}{cells}{ratio}")


if __name__ == "__main__":
    main()

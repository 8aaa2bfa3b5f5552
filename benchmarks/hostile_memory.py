"""What a hostile producer's maintenance events leave in the daemon's memory, from outside it.

    .venv/bin/python -m benchmarks.hostile_memory [--pairs 4000] [--ends 200000]
        [--callpulse PATH] [--cases pairs pairs-64 ends ends-off]

Each case writes an events-v1 file, replays it with ``callpulse replay FILE --speed 0`` (the
daemon: HTTP on a free port, JSON logs) and reads the process's ``VmRSS`` from ``/proc`` once
the whole file is applied (its ``source_exhausted`` log line). Its control is a file of as many
lines of the same lengths that leave nothing behind (heartbeats of one component, padded with
an unknown field), replayed the same way, so that the difference is what the maintenance
events retained rather than the decoder's, the de-duplication's or the allocator's share:

- ``pairs``: ``--pairs`` maintenance.started of 42 KB (160 component names of 256 characters),
  each followed by its maintenance.ended;
- ``pairs-64``: the same with 64 names and a long ``reason`` making up the 42 KB;
- ``ends``: ``--ends`` maintenance.ended whose ids nothing started;
- ``ends-off``: the same with ``maintenance.events: off``.

Only the command line and ``/proc`` are used, so ``--callpulse`` can run another checkout's
script (a worktree of an older commit with its own virtualenv) to measure before and after
with this same file. One JSON line per case.
"""

from __future__ import annotations

import argparse
import json
import signal
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from benchmarks.replay import daemon, environment, log_entries

NAME = 256  # characters: the longest name events v1 accepts
START_BYTES = 42 * 1024


def _at(t: float) -> str:
    return datetime.fromtimestamp(t, UTC).isoformat().replace("+00:00", "Z")


def _line(n: int, t: float, event_type: str, **fields: Any) -> str:
    body = {
        "schema_version": 1,
        "event_id": f"hostile-{n}",
        "type": event_type,
        "occurred_at": _at(t),
        "site": "lon1",
        **fields,
    }
    return json.dumps(body)


def pairs(count: int, names: int, start: float) -> Iterator[str]:
    """``count`` starts of 42 KB, each with its end; ``names`` component names each."""
    for i in range(count):
        t = start + i * 0.01
        components = [f"{i:08d}-{j:04d}".ljust(NAME, "c") for j in range(names)]
        bare = _line(
            2 * i,
            t,
            "maintenance.started",
            maintenance_id=f"chg-{i}",
            components=components,
            reason="",
        )
        reason = "r" * max(0, START_BYTES - len(bare))
        yield _line(
            2 * i,
            t,
            "maintenance.started",
            maintenance_id=f"chg-{i}",
            components=components,
            reason=reason,
        )
        yield _line(2 * i + 1, t + 0.005, "maintenance.ended", maintenance_id=f"chg-{i}")


def ends(count: int, start: float) -> Iterator[str]:
    """``count`` ends of maintenance nothing started."""
    for i in range(count):
        yield _line(i, start + i * 0.001, "maintenance.ended", maintenance_id=f"unknown-{i:012d}")


def control(lines: list[str], start: float, step: float) -> Iterator[str]:
    """As many heartbeats of one component, each as long as the line it stands for."""
    for i, line in enumerate(lines):
        bare = _line(
            i,
            start + i * step,
            "component.health",
            component="pbx-1",
            kind="pbx",
            status="up",
            pad="",
        )
        yield _line(
            i,
            start + i * step,
            "component.health",
            component="pbx-1",
            kind="pbx",
            status="up",
            pad="p" * max(0, len(line) - len(bare)),
        )


def _memory(pid: int) -> dict[str, float]:
    """VmRSS and VmHWM (the peak) of ``pid``, in MiB."""
    fields = dict(
        line.split(":", 1) for line in Path(f"/proc/{pid}/status").read_text().splitlines()
    )
    return {k: int(fields[k].split()[0]) / 1024 for k in ("VmRSS", "VmHWM")}


def replay(command: list[str], path: Path, env: dict[str, str], timeout: float) -> dict[str, Any]:
    """Replay ``path`` in a daemon; its memory once the file is applied, and what it applied."""
    memory: dict[str, float] | None = None
    stopped: dict[str, Any] = {}
    with daemon(
        [*command, "replay", str(path), "--speed", "0"], environment(**env), timeout
    ) as proc:
        for entry in log_entries(proc):
            if isinstance(entry, str):
                continue
            if entry.get("event") == "source_exhausted":
                time.sleep(1.0)  # an evaluation tick or two, as a live daemon would have
                memory = _memory(proc.pid)
                proc.send_signal(signal.SIGTERM)
            elif entry.get("event") == "callpulse_stopped":
                stopped = entry
        proc.wait()
    if memory is None:
        raise RuntimeError(f"callpulse replay of {path} ended before the file's end")
    return {
        "rss_mib": round(memory["VmRSS"], 1),
        "peak_mib": round(memory["VmHWM"], 1),
        "applied": stopped.get("events_applied"),
        "invalid": stopped.get("events_invalid"),
    }


def measure(
    name: str,
    lines: list[str],
    step: float,
    start: float,
    command: list[str],
    env: dict[str, str],
    timeout: float,
) -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as tmp:
        hostile, calm = Path(tmp) / "hostile.jsonl", Path(tmp) / "control.jsonl"
        hostile.write_text("\n".join(lines) + "\n")
        calm.write_text("\n".join(control(lines, start, step)) + "\n")
        measured = replay(command, hostile, env, timeout)
        baseline = replay(command, calm, env, timeout)
    return {
        "case": name,
        "lines": len(lines),
        "megabytes": round(sum(len(x) + 1 for x in lines) / 1e6, 1),
        **measured,
        "control_rss_mib": baseline["rss_mib"],
        "growth_mib": round(measured["rss_mib"] - baseline["rss_mib"], 1),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pairs", type=int, default=4000)
    parser.add_argument("--ends", type=int, default=200_000)
    parser.add_argument(
        "--callpulse",
        type=Path,
        default=Path(sys.executable).with_name("callpulse"),
        help="the callpulse script to run (default: this virtualenv's)",
    )
    parser.add_argument("--cases", nargs="+", default=["pairs", "pairs-64", "ends", "ends-off"])
    parser.add_argument("--timeout", type=float, default=600.0)
    args = parser.parse_args()
    command = [str(args.callpulse)]
    # The files end a minute ago: a replay counts nothing more than max_clock_skew ahead.
    span = max(args.pairs * 0.01, args.ends * 0.001)
    start = time.time() - span - 60
    cases: dict[str, tuple[Callable[[], Iterator[str]], float, dict[str, str]]] = {
        "pairs": (lambda: pairs(args.pairs, 160, start), 0.005, {}),
        "pairs-64": (lambda: pairs(args.pairs, 64, start), 0.005, {}),
        "ends": (lambda: ends(args.ends, start), 0.001, {}),
        "ends-off": (
            lambda: ends(args.ends, start),
            0.001,
            {"CALLPULSE_MAINTENANCE__EVENTS": "off"},
        ),
    }
    for name in args.cases:
        lines, step, env = cases[name]
        print(
            json.dumps(measure(name, list(lines()), step, start, command, env, args.timeout)),
            flush=True,
        )


if __name__ == "__main__":
    main()

"""How a platform's trunk records differ from events v1 of the same day, as the format keeps
them (``scenario check --format`` for a trunk format)."""

from __future__ import annotations

import math

from callpulse.core.trunks import TrunkRun

# Each figure compared, and how it is read from a trunk's whole-run figures.
_FIGURES = (
    "setups_by_class", "asr", "ner", "post_dial_delays", "post_dial_delay_mean_ms",
    "loss_samples", "packet_loss_mean", "jitter_samples", "jitter_mean_ms", "mos_samples",
    "mos_mean", "scores",
)  # fmt: skip


def trunk_differences(
    got: dict[tuple[str, str], TrunkRun], want: dict[tuple[str, str], TrunkRun]
) -> list[str]:
    """Per trunk, each figure of ``got`` (the platform's) that is not ``want``'s (events v1
    as the format keeps them); a trunk on one side only is a difference too. Means are
    compared to a millionth: the records are written at their formats' own resolution, and
    the reference is written at the same."""
    problems = []
    for site, trunk in sorted(got.keys() | want.keys()):
        mine, theirs = got.get((site, trunk)), want.get((site, trunk))
        if mine is None or theirs is None:
            side = "events v1" if mine is None else "the platform"
            problems.append(f"{site}/{trunk}: only {side} has it")
            continue
        for name in _FIGURES:
            a, b = getattr(mine, name), getattr(theirs, name)
            if not _same(a, b):
                problems.append(f"{site}/{trunk}: {name} {_show(a)}, events v1 {_show(b)}")
    return problems


def _same(a: object, b: object) -> bool:
    if isinstance(a, float) and isinstance(b, float):
        return math.isclose(a, b, rel_tol=1e-6, abs_tol=1e-9)
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(_same(a[k], b[k]) for k in a)
    if isinstance(a, tuple) and isinstance(b, tuple):
        return len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b, strict=True))
    return a == b


def _show(value: object) -> str:
    return f"{value:.6g}" if isinstance(value, float) else str(value)

"""How a platform's trunk records differ from events v1 of the same day, as the format keeps
them (``scenario check --format`` for a trunk format)."""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Mapping
from typing import TypeVar

from callpulse.core.trunk_run import TrunkRun

R = TypeVar("R")

# Each figure compared, and how it is read from a trunk's whole-run figures.
_FIGURES = (
    "setups_by_class", "asr", "ner", "post_dial_delays", "post_dial_delay_mean_ms",
    "loss_samples", "packet_loss_mean", "jitter_samples", "jitter_mean_ms", "mos_samples",
    "mos_mean", "scores", "channels_peak", "channel_seconds",
)  # fmt: skip


def trunk_differences(
    got: dict[tuple[str, str], TrunkRun], want: dict[tuple[str, str], TrunkRun]
) -> list[str]:
    """Per trunk, each figure of ``got`` (the platform's) that is not ``want``'s (events v1
    as the format keeps them); a trunk on one side only is a difference too. Means are
    compared to a millionth: the records are written at their formats' own resolution, and
    the reference is written at the same. The channel figures (the peak in use, the
    channel-seconds) compare the counts the adapter derives from the leg starts and ends it
    reads with the counts events v1 of the same day give where each leg starts and ends as
    the format says it: a lost start or end moves them."""
    return run_differences(got, want, lambda run: [(n, getattr(run, n)) for n in _FIGURES])


def run_differences(
    got: Mapping[tuple[str, str], R],
    want: Mapping[tuple[str, str], R],
    figures: Callable[[R], Iterable[tuple[str, object]]],
) -> list[str]:
    """Per (site, name), each of the ``figures`` of ``got``'s whole-run figures that is not
    ``want``'s, said as ``site/name: figure GOT, events v1 WANT``; a name on one side only
    is a difference too."""
    problems = []
    for site, name in sorted(got.keys() | want.keys()):
        mine, theirs = got.get((site, name)), want.get((site, name))
        if mine is None or theirs is None:
            side = "events v1" if mine is None else "the platform"
            problems.append(f"{site}/{name}: only {side} has it")
            continue
        for (figure, a), (_, b) in zip(figures(mine), figures(theirs), strict=True):
            if not _same(a, b):
                problems.append(f"{site}/{name}: {figure} {_show(a)}, events v1 {_show(b)}")
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

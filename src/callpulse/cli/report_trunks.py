"""The trunk and media part of ``callpulse replay FILE --report``: per trunk over the whole
file, its setups by SIP class, ASR and NER, the mean post-dial delay, the channels in use
(the most at once and the channel-hours, where statuses counted them), and each media
measure's mean with how many reports carried it. A platform's own score is shown by its
kind, apart from the E-model MOS (docs/metrics.md, "Media")."""

from __future__ import annotations

from collections.abc import Sequence

from callpulse.core.trunk_run import TrunkRun
from callpulse.core.trunks import CODE_CLASSES
from callpulse.text import plain

_HEAD = ("site", "trunk", "setups", *CODE_CLASSES[1:], "ASR", "NER", "PDD", "channels", "media")


def trunk_lines(trunks: dict[tuple[str, str], TrunkRun]) -> list[str]:
    """A table of ``trunks`` (none when there is none), then a line saying what it shows."""
    if not trunks:
        return []
    rows: list[tuple[str, ...]] = [_HEAD]
    for (site, trunk), run in sorted(trunks.items()):
        by_class = run.setups_by_class
        pdd = run.post_dial_delay_mean_ms
        rows.append(
            (
                plain(site),
                plain(trunk),
                str(sum(by_class.values())),
                *(str(by_class[c]) for c in CODE_CLASSES[1:]),
                ratio(run.asr),
                ratio(run.ner),
                "-" if pdd is None else f"{pdd:.0f} ms (n={run.post_dial_delays})",
                _channels(run),
                _media(run),
            )
        )
    lines = aligned(rows, range(2, len(_HEAD) - 1))
    lines.append(
        "ASR: 2xx / setups; NER: RFC 6076 SEER; PDD: mean post-dial delay; channels: the "
        "most in use at once, and channel-hours to the end (from trunk.status counts); "
        "media: mean of each measure over the reports that carry it (n); a platform score "
        "by its kind"
    )
    return lines


def aligned(rows: Sequence[Sequence[str]], numeric: range) -> list[str]:
    """``rows`` as lines of columns, the ``numeric`` ones aligned right."""
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    return [
        "  ".join(
            cell.rjust(widths[i]) if i in numeric else cell.ljust(widths[i])
            for i, cell in enumerate(row)
        ).rstrip()
        for row in rows
    ]


def _channels(run: TrunkRun) -> str:
    if run.channels_peak is None or run.channel_seconds is None:
        return "-"
    return f"peak {run.channels_peak}, {run.channel_seconds / 3600:.1f} h"


def _media(run: TrunkRun) -> str:
    parts = []
    if run.loss_samples and run.packet_loss_mean is not None:
        parts.append(f"loss {run.packet_loss_mean:.2%} (n={run.loss_samples})")
    if run.jitter_samples and run.jitter_mean_ms is not None:
        parts.append(f"jitter {run.jitter_mean_ms:.1f} ms (n={run.jitter_samples})")
    if run.mos_samples and run.mos_mean is not None:
        parts.append(f"MOS {run.mos_mean:.2f} (n={run.mos_samples})")
    for kind, (samples, mean) in sorted(run.scores.items()):
        parts.append(f"{kind} {mean:.2f} (n={samples})")
    return "; ".join(parts) or "-"


def ratio(value: float | None) -> str:
    """``value`` as a whole percentage, or "-" when there is none."""
    return "-" if value is None else f"{value:.0%}"

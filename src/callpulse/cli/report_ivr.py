"""The IVR part of ``callpulse replay FILE --report``: per application over the whole file,
its sessions, how the ended ones ended, containment and transfer (docs/metrics.md, "IVR"),
and the input and backend errors counted."""

from __future__ import annotations

from callpulse.cli.report_trunks import aligned, ratio
from callpulse.core.ivr import OUTCOMES, IvrRun
from callpulse.text import plain

_HEAD = (
    "site",
    "application",
    "started",
    "ended",
    *OUTCOMES,
    "containment",
    "transfer",
    "no input",
    "no match",
    "backend errors",
)


def ivr_lines(applications: dict[tuple[str, str], IvrRun]) -> list[str]:
    """A table of ``applications`` (none when there is none), then a line saying what it
    shows."""
    if not applications:
        return []
    rows: list[tuple[str, ...]] = [_HEAD]
    for (site, application), run in sorted(applications.items()):
        rows.append(
            (
                plain(site),
                plain(application),
                str(run.started),
                str(run.ended),
                *(str(run.outcomes[outcome]) for outcome in OUTCOMES),
                ratio(run.containment),
                ratio(run.transfer),
                str(run.no_input),
                str(run.no_match),
                str(run.backend_errors),
            )
        )
    lines = aligned(rows, range(2, len(_HEAD)))
    lines.append(
        "IVR: sessions ended by outcome; containment and transfer: shares of the ended ones"
    )
    return lines

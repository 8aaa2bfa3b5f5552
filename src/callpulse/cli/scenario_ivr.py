"""How a platform's IVR sessions differ from events v1 of the same day, as the format keeps
them (``scenario check --format``): per application, the sessions started and ended, the
ended ones by outcome, and containment. Format-agnostic: a format that carries no IVR
leaves the sessions events v1 on both sides, and they agree."""

from __future__ import annotations

from callpulse.cli.scenario_trunks import run_differences
from callpulse.core.ivr import OUTCOMES, IvrRun


def ivr_differences(
    got: dict[tuple[str, str], IvrRun], want: dict[tuple[str, str], IvrRun]
) -> list[str]:
    """Per (site, application), each figure of ``got`` (the platform's) that is not
    ``want``'s (events v1 as the format keeps them); an application on one side only is a
    difference too."""
    return run_differences(got, want, _figures)


def _figures(run: IvrRun) -> list[tuple[str, object]]:
    return [
        ("started", run.started),
        ("ended", run.ended),
        *((outcome, run.outcomes[outcome]) for outcome in OUTCOMES),
        ("containment", run.containment),
    ]

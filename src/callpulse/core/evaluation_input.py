"""What alert rules read at one instant (:class:`EvaluationInput`), and which rules are held
while the source cannot see (:func:`held_while_blind`).

Built by the alerting shell from the monitor, read by :mod:`callpulse.core.alerting` and the
built-in rules of :mod:`callpulse.core.builtin_rules`.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from callpulse.core.catalog import GROWS_WITHOUT_EVENTS, Samples
from callpulse.core.consumer_health import Blindness
from callpulse.core.maintenance_assessment import MaintenanceAssessment
from callpulse.core.rules import Rule
from callpulse.core.silence import SiteActivity


@dataclass(frozen=True)
class EvaluationInput:
    """What rules read at one instant: samples per KPI and each site's newest event time.

    ``site_activity``: each site's rate and heartbeats, which absent rules with an
    improbability judge a silence by. ``blind``: the source cannot see (or is still catching
    up on what it missed): silence and waits that grow with the clock mean nothing, so the
    rules reading them are held (see :func:`held_while_blind`); ``blindness`` says why, and
    since when (CallpulseSourceDown reports it). ``maintenance``: what the maintenance
    windows' assessment found at ``now``, which the built-in maintenance rules report (None:
    nothing assessed, so they report nothing).
    """

    now: float
    samples: Mapping[str, Samples]
    site_last_event: Mapping[str, float] = field(default_factory=dict)
    site_activity: Mapping[str, SiteActivity] = field(default_factory=dict)
    blind: bool = False
    blindness: Blindness | None = None
    maintenance: MaintenanceAssessment | None = None

    @classmethod
    def of(
        cls,
        now: float,
        samples: Iterable[Samples],
        site_last_event: Mapping[str, float],
        site_activity: Mapping[str, SiteActivity] | None = None,
        blindness: Blindness | None = None,
        maintenance: MaintenanceAssessment | None = None,
    ) -> EvaluationInput:
        """Bundle what the rules read at ``now``; blind when there is a ``blindness``."""
        return cls(
            now,
            {s.family.kpi: s for s in samples},
            dict(site_last_event),
            site_activity if site_activity is not None else {},
            blindness is not None,
            blindness,
            maintenance,
        )


def held_while_blind(rule: Rule) -> bool:
    """Whether ``rule`` reads what grows with the wall clock when no event comes (a site's
    silence, a caller's wait, a heartbeat's age), and so means nothing while the source
    cannot see."""
    if rule.builtin is not None:
        return False
    return rule.family is None or rule.family.kpi in GROWS_WITHOUT_EVENTS

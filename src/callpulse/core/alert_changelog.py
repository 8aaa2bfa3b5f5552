"""The alert changelog: which sites' alert state to write, and when.

As Kafka Streams keeps a state store in a compacted changelog topic, each site's alert state
(pending since, firing since, last sent) is written keyed by site whenever it changes, so
that whichever replica owns the site next carries its pages on: no second ``for``, no new
notification, the same ``startsAt``. One record per site (the topic is compacted); a site
whose alerts are all gone is written as a tombstone. Only the owner of a site writes it.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from typing import Any

Rows = Sequence[Mapping[str, Any]]
"""A site's alerts, as :meth:`AlertEvaluator.export_sites` gives them."""

_CHANGES = (
    "rule_id",
    "labels",
    "state",
    "active_at",
    "fired_at",
    "resolved_at",
    "keep_firing_since",
)


def _digest(rows: Rows) -> tuple[str, ...]:
    # What a new owner must not get wrong: which alerts, their state and its times. Values,
    # annotations and the resend time change at every reading or resend, and a new owner
    # re-sending an active alert early notifies nobody.
    return tuple(sorted(repr(tuple(_plain(row.get(k)) for k in _CHANGES)) for row in rows))


def _plain(value: Any) -> Any:
    # Times read back from JSON may be ints where the evaluator holds floats.
    if isinstance(value, int | float) and not isinstance(value, bool):
        return float(value)
    if isinstance(value, list | tuple):
        return tuple(_plain(v) for v in value)
    return value


class AlertChangelog:
    """Remembers what was last written for each owned site; says what to write next."""

    def __init__(self) -> None:
        self._written: dict[str, tuple[str, ...]] = {}

    def due(self, states: Mapping[str, Rows], owned: Collection[str]) -> dict[str, Rows | None]:
        """What to write now: ``states`` (each site's alerts) of the ``owned`` sites whose
        alerts changed since last written, and None (a tombstone) for those that have none
        left. A site no longer owned is forgotten unwritten: its new owner writes it."""
        changes: dict[str, Rows | None] = {}
        for site in list(self._written):
            if site not in owned:
                del self._written[site]
            elif site not in states:
                del self._written[site]
                changes[site] = None
        for site, rows in states.items():
            if site not in owned:
                continue
            digest = _digest(rows)
            if self._written.get(site) != digest:
                self._written[site] = digest
                changes[site] = rows
        return changes

    def adopted(self, site: str, rows: Rows) -> None:
        """``site``'s alerts were taken over as ``rows``: that is what the topic holds."""
        self._written[site] = _digest(rows)

    def unwritten(self, sites: Collection[str]) -> None:
        """Writing ``sites`` failed: they are due again at the next evaluation."""
        for site in sites:
            self._written.pop(site, None)

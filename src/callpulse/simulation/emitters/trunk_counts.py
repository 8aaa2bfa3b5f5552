"""Channels in use per trunk as an adapter counts them from the leg starts and ends a
format writes (``callpulse.adapters.trunk_channels``): the reference side of
``scenario check --format``'s channel figures.

An emitter whose format says when a leg starts and ends keeps, in ``as_kept``, one
``trunk.status`` with ``channels_in_use`` only (no state, no total: what the adapter writes)
at each start and end it writes, in the order the adapter reads them."""

from __future__ import annotations

from typing import Any


class KeptChannels:
    """Per (site, trunk), the legs open as the format's records say them."""

    def __init__(self) -> None:
        self._in_use: dict[tuple[str, str], int] = {}

    def opened(self, setup: dict[str, Any]) -> dict[str, Any]:
        """The status the adapter writes as a leg of ``setup`` starts (at its time)."""
        return self._changed(setup, +1, "open")

    def closed(self, setup: dict[str, Any]) -> dict[str, Any]:
        """The status the adapter writes as a leg of ``setup`` ends (``setup``'s
        ``occurred_at`` the end's time)."""
        return self._changed(setup, -1, "close")

    def _changed(self, setup: dict[str, Any], change: int, why: str) -> dict[str, Any]:
        key = (setup["site"], setup["trunk_id"])
        self._in_use[key] = self._in_use.get(key, 0) + change
        return {
            "schema_version": 1,
            "event_id": f"{setup['event_id']}:{why}",
            "type": "trunk.status",
            "occurred_at": setup["occurred_at"],
            "site": setup["site"],
            "trunk_id": setup["trunk_id"],
            "channels_in_use": self._in_use[key],
        }

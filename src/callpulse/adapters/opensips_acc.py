"""OpenSIPS' accounting events to events v1 (docs/adapters-sip-acc.md).

The ``acc`` module raises its records as events (modules/acc/acc.c): ``E_ACC_EVENT`` for
a transaction's positive final response, ``E_ACC_MISSED_EVENT`` for a negative one, and,
with CDR accounting, ``E_ACC_CDR`` once an answered call ends. ``event_kafka`` publishes
each as a JSON-RPC notification (evi/evi_transport.c, ``evi_build_payload``):
``{"jsonrpc":"2.0","method":"E_ACC_MISSED_EVENT","params":{...}}``, the parameters by
name: the core attributes as strings (``sip_code`` is ``"486"``), ``time``, ``created``,
``setuptime`` and the durations as numbers, and the ``evi_extra`` attributes as strings. The
parameters are read as :mod:`callpulse.adapters.sip_acc` says.

Gateway status events (``E_DROUTING_STATUS``; ``E_DISPATCHER_STATUS`` for a destination
``gateway_trunks`` names) become a ``trunk.status`` with the trunk's ``state`` only (no
``channels_in_use``: the calls count the channels), at the adapter's next clock tick: they
carry no time (:mod:`callpulse.adapters.opensips_gateways`).

Any other event on the topic (a dialog's, a registrar's, a threshold's) is counted in
``ignored`` by its name, the well-known ones listed, any other as ``_other``.
"""

from __future__ import annotations

from collections.abc import Mapping

from callpulse.adapters import opensips_gateways as gateways
from callpulse.adapters.base import V1, AdapterError, Writer, parse_json
from callpulse.adapters.bounds import checked_name, shown
from callpulse.adapters.sip_acc import SipAccOptions, SipAccounting

FORMAT = "opensips-acc"
ACC_EVENTS = frozenset({"E_ACC_CDR", "E_ACC_EVENT", "E_ACC_MISSED_EVENT"})
# Core and common modules' events a shared topic may carry besides accounting.
IGNORED_KINDS = frozenset({
    "E_CORE_THRESHOLD", "E_CORE_SHM_THRESHOLD", "E_CORE_PKG_THRESHOLD", "E_DLG_STATE_CHANGED",
    "E_UL_AOR_INSERT", "E_UL_AOR_DELETE", "E_UL_CONTACT_INSERT", "E_UL_CONTACT_DELETE",
    "E_UL_CONTACT_UPDATE", "E_UL_CONTACT_REFRESH", "E_PIKE_BLOCKED",
    "E_LOAD_BALANCER_STATUS", gateways.UNMAPPED, gateways.UNKNOWN_STATUS,
})  # fmt: skip
MAX_PENDING = 1_000  # trunks whose state changed since the last tick: the oldest goes past it


class OpenSipsAcc(SipAccounting):
    """An Adapter for OpenSIPS' accounting events as ``event_kafka`` publishes them: one
    JSON-RPC notification per record."""

    format = FORMAT

    def __init__(self, options: SipAccOptions) -> None:
        super().__init__(options, IGNORED_KINDS)
        for address, trunk in options.gateway_trunks.items():
            checked_name(FORMAT, trunk, f"gateway_trunks[{shown(address)}]")
        self._pending: dict[str, gateways.State] = {}  # trunk -> its latest state, untold
        self.dropped_states = 0  # changes forgotten past MAX_PENDING before a tick

    def fill(self) -> Mapping[str, float]:
        """How full the tables are: calls counted as channels, gateway states untold."""
        return {**super().fill(), "gateway_states": len(self._pending) / MAX_PENDING}

    def flush(self, now: float) -> list[V1]:
        """Each trunk's state changed since the last tick, stamped ``now`` (the events carry
        no time), then the counts of calls expired (:meth:`SipAccounting.flush`)."""
        site = self.options.site
        out: list[V1] = []
        for trunk, state in self._pending.items():
            writer = Writer(f"{FORMAT}|state|{site}|{trunk}|{state}|{now!r}".encode(), site, now)
            # The state only: a count stamped at the tick would make every count of a
            # backlog, stamped at its record's time, stale (docs/events.md).
            writer.add("trunk.status", trunk_id=trunk, state=state)
            out += writer.events
        self._pending.clear()
        return out + super().flush(now)

    def translate(self, record: bytes) -> list[V1]:
        """The ``call.setup`` one accounting event stands for, if any (another event, a
        record of another method or a provisional response is counted in ``ignored``).
        Raises AdapterError for a record it cannot read."""
        doc = parse_json(FORMAT, record, "an OpenSIPS event (a JSON-RPC notification)")
        if not isinstance(doc, dict):
            raise AdapterError(FORMAT, "expected an OpenSIPS event (a JSON-RPC notification): "
                               f"{shown(doc)}")  # fmt: skip
        if "jsonrpc" not in doc:  # event_kafka always writes it: this is another stream
            raise AdapterError(FORMAT, "expected an OpenSIPS event (a JSON-RPC notification): "
                               "no jsonrpc key")  # fmt: skip
        name = doc.get("method")
        if not isinstance(name, str) or not name:
            raise AdapterError(FORMAT, f"the event has no name (method): {shown(name)}")
        if name not in ACC_EVENTS | gateways.EVENTS:
            self.ignored.add(name)
            return []
        params = doc.get("params")
        if not isinstance(params, dict):
            raise AdapterError(FORMAT, f"{name} has no params object: {shown(params)}")
        if name in gateways.EVENTS:
            self._gateway(name, params)
            return []
        # E_ACC_CDR comes when an answered call has ended: it cannot open a channel.
        return self.setup(record, params, ended=name == "E_ACC_CDR")

    def _gateway(self, name: str, params: dict[str, object]) -> None:
        """Hold the trunk state a gateway status event says, for the next tick."""
        trunk = gateways.gateway_trunk(name, params, self.options.gateway_trunks)
        state = gateways.status(name, params)
        if trunk is None or state is None:
            self.ignored.add(gateways.UNMAPPED if trunk is None else gateways.UNKNOWN_STATUS)
            return
        self._pending.pop(trunk, None)  # the latest change last: the oldest goes first
        if len(self._pending) >= MAX_PENDING:
            del self._pending[next(iter(self._pending))]
            self.dropped_states += 1
        self._pending[trunk] = state

"""Kamailio's ``acc_json`` records to events v1 (docs/adapters-sip-acc.md).

``acc_json`` (src/modules/acc_json/acc_json_mod.c) writes one JSON object per accounted
transaction: ``method``, ``from_tag``, ``to_tag``, ``callid``, ``sip_code``, ``sip_reason``
(strings), ``time`` (a number, or a date as text with ``acc_time_mode`` 3 or 4) and the
``acc_extra`` attributes, by their names. Its script hands each to the ``kafka`` module's
``kafka_send``. A record is read as :mod:`callpulse.adapters.sip_acc` says.

With ``cdr_enable``, ``acc_json`` also writes a CDR per dialog: ``start_time``,
``end_time``, ``duration`` and the ``cdr_extra`` attributes, with no method and no status
code. It tells nothing of a setup that the INVITE's own record did not, so it is counted in
``ignored`` as ``cdr`` (counting it too would make each answered call two setups).
"""

from __future__ import annotations

from callpulse.adapters.base import V1, AdapterError, parse_json
from callpulse.adapters.bounds import shown
from callpulse.adapters.sip_acc import SipAccOptions, SipAccounting

FORMAT = "kamailio-acc"
CDR = "cdr"
IGNORED_KINDS = frozenset({CDR})
_CDR_KEYS = ("start_time", "end_time", "duration")


class KamailioAcc(SipAccounting):
    """An Adapter for Kamailio's ``acc_json`` records: one JSON object per record."""

    format = FORMAT

    def __init__(self, options: SipAccOptions) -> None:
        super().__init__(options, IGNORED_KINDS)

    def translate(self, record: bytes) -> list[V1]:
        """The ``call.setup`` one accounting record stands for, if any (a record of another
        method, a provisional response or a CDR is counted in ``ignored``). Raises
        AdapterError for a record it cannot read."""
        doc = parse_json(FORMAT, record, "an acc_json record (a JSON object)")
        if not isinstance(doc, dict):
            raise AdapterError(FORMAT, f"expected an acc_json record (a JSON object): "
                               f"{shown(doc)}")  # fmt: skip
        if "jsonrpc" in doc:  # its method would be an event's name, not a SIP method
            raise AdapterError(FORMAT, "expected an acc_json record, not a JSON-RPC "
                               "notification (OpenSIPS' event_kafka: opensips-acc)")  # fmt: skip
        if "method" not in doc and any(key in doc for key in _CDR_KEYS):
            self.ignored.add(CDR)
            return []
        return self.setup(record, doc)

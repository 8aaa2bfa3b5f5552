"""Why a record could not be decoded: the errors the decoder and every adapter raise.

Adapters, the event checks and the decoder share these classes, and adapters subclass
them; so they are kept out of the modules mypyc compiles (an interpreted class cannot
subclass a compiled one, and a compiled subclass of an interpreted exception is not caught
reliably by compiled code), and :mod:`callpulse.core.ingest` re-exports them.
"""

from __future__ import annotations

from collections.abc import Sequence

from callpulse.core.raw_record import RawRecord


class DecodeError(ValueError):
    """A record that is not a valid v1 event; ``reason`` is one of
    :data:`~callpulse.core.ingest.REJECT_REASONS`, or ``invalid_<format>`` for a record an
    adapter could not read."""

    def __init__(self, reason: str, detail: str) -> None:
        super().__init__(f"{reason}: {detail}")
        self.reason = reason
        self.detail = detail


class PartlyDecodedError(DecodeError):
    """A platform record of several documents (a batch) of which some could not be read:
    ``records`` (what the others stand for) are applied, and the record is rejected once,
    with ``reason`` and a ``detail`` naming the documents not read."""

    def __init__(self, reason: str, detail: str, records: Sequence[RawRecord]) -> None:
        super().__init__(reason, detail)
        self.records = records

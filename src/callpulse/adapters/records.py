"""Adapters as the ingest sees them: built from settings, and wrapped to turn one platform
record into events-v1 records that keep the platform record's coordinates."""

from __future__ import annotations

import copy
import dataclasses
from collections.abc import Callable, Sequence
from typing import Any, Protocol

from callpulse.adapters.amazon_connect import AmazonConnect, AmazonConnectOptions
from callpulse.adapters.asterisk import AsteriskOptions, AsteriskQueueLog
from callpulse.adapters.asterisk_ami import AsteriskAmi, AsteriskAmiOptions
from callpulse.adapters.asterisk_cdr import AsteriskCdr, AsteriskCdrOptions
from callpulse.adapters.base import V1, AdapterError, PartlyReadError
from callpulse.adapters.connect_flow_logs import ConnectFlowLogOptions, ConnectFlowLogs
from callpulse.adapters.freeswitch import FreeSwitchCallcenter, FreeSwitchOptions
from callpulse.adapters.freeswitch_channel import FreeSwitchChannel, FreeSwitchChannelOptions
from callpulse.adapters.kamailio_acc import KamailioAcc
from callpulse.adapters.opensips_acc import OpenSipsAcc
from callpulse.adapters.sip_acc import SipAccOptions
from callpulse.adapters.twilio import TwilioOptions, TwilioTaskRouter
from callpulse.core.ingest import DecodeError, PartlyDecodedError, RawRecord, Translator
from callpulse.protocols import Adapter


class FormatChoice(Protocol):
    """What a topic carries, as the settings' ``format`` sections say it (FormatSettings in
    :mod:`callpulse.config`): the format's name, and each of its adapter's options as an
    attribute of the option's own name. A protocol, so that adapters need not know the
    settings that name them."""

    @property
    def format(self) -> str:
        """``events-v1``, or the platform format whose adapter is wanted."""
        ...


# Each format's adapter and its options; an option is the format section's key of its name.
_ADAPTERS: dict[str, tuple[Callable[[Any], Adapter], type]] = {
    "asterisk-queue-log": (AsteriskQueueLog, AsteriskOptions),
    "asterisk-cdr": (AsteriskCdr, AsteriskCdrOptions),
    "asterisk-ami": (AsteriskAmi, AsteriskAmiOptions),
    "amazon-connect": (AmazonConnect, AmazonConnectOptions),
    "amazon-connect-flow-logs": (ConnectFlowLogs, ConnectFlowLogOptions),
    "freeswitch-callcenter": (FreeSwitchCallcenter, FreeSwitchOptions),
    "freeswitch-channel": (FreeSwitchChannel, FreeSwitchChannelOptions),
    "twilio-taskrouter": (TwilioTaskRouter, TwilioOptions),
    "kamailio-acc": (KamailioAcc, SipAccOptions),
    "opensips-acc": (OpenSipsAcc, SipAccOptions),
}


def build(settings: FormatChoice) -> Adapter | None:
    """The adapter for ``settings.format``; None for events v1, which needs none."""
    if settings.format == "events-v1":
        return None
    make, options = _ADAPTERS[settings.format]
    # Copies: the adapter keeps its maps, and a reloaded config must not change them under it.
    chosen = {f.name: copy.copy(getattr(settings, f.name)) for f in dataclasses.fields(options)}
    return make(options(**chosen))


def flushed(adapter: Adapter, now: float, topic: str, partition: int = 0) -> list[RawRecord]:
    """What ``adapter`` has due by ``now`` (``Adapter.flush``) as records of ``topic`` that
    carry their events, to be applied with ``Ingest.process(..., translated=True)``."""
    return [
        RawRecord(None, event.site.encode(), topic, partition, event=event)
        for event in adapter.flush(now)
    ]


def clock(settings: FormatChoice) -> Callable[[bytes], float | None] | None:
    """A platform record's event time (the newest of the events it yields), for pacing a
    replayed file; None for events v1, whose lines say it. It reads through an adapter of its
    own, so the pipeline's adapter sees each record once."""
    adapter = build(settings)
    if adapter is None:
        return None

    def moment(record: bytes) -> float | None:
        try:
            events = adapter.translate(record)
        except PartlyReadError as exc:
            events = exc.events
        except Exception:  # pacing only: the pipeline's adapter says what is wrong with it
            return None
        return max((e.occurred_at.timestamp() for e in events), default=None)

    return moment


def translator(adapter: Adapter) -> Translator:
    """``adapter`` as the ingest calls it: one record in, records that carry the events it
    stands for out (nothing to decode again), each keyed by its site like a v1 producer's."""

    def translate(record: RawRecord) -> Sequence[RawRecord]:
        if record.value is None:
            raise AdapterError(adapter.format, "the record has no value (a tombstone)")
        try:
            bodies = adapter.translate(record.value)
        except PartlyReadError as exc:
            raise PartlyDecodedError(exc.reason, exc.detail, _records(record, exc.events)) from None
        except DecodeError:  # an AdapterError, or an event it could not make (invalid_schema)
            raise
        except (ValueError, ArithmeticError, TypeError, KeyError, IndexError) as exc:
            # A value out of every range (a year 10,000, a number of 400 digits) must not
            # stop the stream: the record is unreadable like any other.
            raise AdapterError(adapter.format, f"{type(exc).__name__}: {exc}") from None
        return _records(record, bodies)

    return translate


def _records(record: RawRecord, events: list[V1]) -> list[RawRecord]:
    """``events`` as records with ``record``'s coordinates that carry them, each keyed by
    its site."""
    return [
        dataclasses.replace(record, value=None, key=event.site.encode(), event=event)
        for event in events
    ]

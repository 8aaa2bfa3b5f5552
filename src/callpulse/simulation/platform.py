"""A simulated contact center as a platform would write it: the events v1 of the types a
format carries go out through that format's emitter (one per site, as each site has its own
PBX) and come back through its adapter, on a topic per site; the others stay events v1, as
they would on a topic of their own.

This is how every scenario is checked through every adapter (``scenario check --format``)
and how ``simulate --format`` writes a platform's records.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

from callpulse.adapters import records
from callpulse.config import FormatSettings
from callpulse.core.ingest import RawRecord
from callpulse.pipeline import Pipeline
from callpulse.protocols import Adapter, Emitter
from callpulse.simulation.emitters import emitter_for, trunk_emitter

# Formats whose adapter reads a trunk's state only for the trunks its options list (an AMI
# qualify result comes for every phone too: docs/adapters-asterisk-ami.md, "Trunk state").
LISTS_TRUNKS = frozenset({"asterisk-ami"})
_REMEMBERED = 100_000  # event ids kept to write a duplicate once; far more than a step holds


def topic_of(fmt: str, site: str) -> str:
    """The topic a site's platform records go to: each site has its own platform (a PBX, a
    Connect instance), and an adapter reads one site's records."""
    return f"{fmt}.{site}"


def merged(batch: Iterable[RawRecord], merges: Mapping[str, str]) -> list[RawRecord]:
    """``batch`` with each v1 type in ``merges`` rewritten as the type a format gives it back
    as (``Emitter.merges``): the events v1 a platform's stream can stand for."""
    out = []
    for record in batch:
        body = json.loads(record.value or b"{}")
        if body.get("type") in merges:
            body["type"] = merges[body["type"]]
            record = dataclasses.replace(record, value=json.dumps(body).encode())
        out.append(record)
    return out


Kept = Callable[[dict[str, Any]], list[dict[str, Any]]]
"""What stands for a v1 body in events v1 as a format keeps them (``TrunkEmitter.as_kept``)."""


def kept(batch: Iterable[RawRecord], keep: Kept) -> list[RawRecord]:
    """``batch`` as a format keeps its events: the reference a platform's trunk records are
    compared with. A record's key, topic and place go with what stands for it."""
    out = []
    for record in batch:
        for body in keep(json.loads(record.value or b"{}")):
            out.append(dataclasses.replace(record, value=json.dumps(body).encode()))
    return out


def _stateless(record: RawRecord, body: Mapping[str, Any]) -> RawRecord:
    """A watched ``trunk.status`` stays for its channel counts, without its state: the
    format's own records say the trunk's state (``trunk_setups``)."""
    if body.get("type") != "trunk.status" or "state" not in body:
        return record
    rest = {k: v for k, v in body.items() if k != "state"}
    return dataclasses.replace(record, value=json.dumps(rest).encode())


class PlatformWriter:
    """Writes v1 records as platform records, per site; the rest stay as they are."""

    def __init__(self, fmt: str, sites: Iterable[str], prefix: str | None = None) -> None:
        """``prefix``: the platform topics are ``PREFIX.FORMAT.SITE`` (else ``FORMAT.SITE``)."""
        self.format = fmt
        self._prefix = f"{prefix}." if prefix else ""
        self.emitters: dict[str, Emitter] = {site: emitter_for(fmt, site) for site in sites}
        # Per site, the v1 types its emitter is shown while they stay events v1.
        self._watches = {
            site: trunks.watches if (trunks := trunk_emitter(e)) else frozenset()
            for site, e in self.emitters.items()
        }
        self._offsets: dict[str, int] = {}
        self._written: dict[str, None] = {}  # event ids, oldest first (bounded)

    def write(self, batch: Iterable[RawRecord]) -> list[RawRecord]:
        """``batch`` with each record a format carries replaced by the platform's records.

        A platform writes each fact once: an event the simulator delivers twice (a v1
        producer's retry) is written once. One it delivers late is written late, as a
        platform's lagging forwarder would."""
        out: list[RawRecord] = []
        for record in batch:
            body: Mapping[str, Any] = json.loads(record.value or b"{}")
            site = body.get("site", "")
            emitter = self.emitters.get(site)
            if emitter is None:
                out.append(record)
                continue
            if body.get("type") not in emitter.carries:
                watched = body.get("type") in self._watches[site]
                out.append(_stateless(record, body) if watched else record)
                if not watched:
                    continue
            event_id = body["event_id"]
            if event_id in self._written:
                continue
            self._written[event_id] = None
            if len(self._written) > _REMEMBERED:
                del self._written[next(iter(self._written))]
            topic = self._prefix + topic_of(self.format, site)
            for value in emitter.emit(body):
                offset = self._offsets[topic] = self._offsets.get(topic, -1) + 1
                out.append(RawRecord(value, site.encode(), topic, 0, offset))
        return out


class PlatformFeed:
    """A :class:`PlatformWriter` whose records an ingest reads back through the adapters."""

    def __init__(
        self,
        fmt: FormatSettings,
        sites: Iterable[str],
        pipeline: Pipeline,
        applications: Mapping[str, str] | None = None,
        trunks: Mapping[str, Sequence[str]] | None = None,
    ) -> None:
        """``applications``: each site's IVR application. A format told to name one
        (``ivr_application``) names each site's own, as each instance is configured; one
        told which dialplan contexts are IVRs (``ivr_contexts``) is told the site's own,
        which its emitter writes as the IVR's context. ``trunks``: each site's trunk ids,
        which a format whose trunk states come only for listed trunks (:data:`LISTS_TRUNKS`)
        is told, as each PBX is configured."""
        sites = list(sites)
        self.writer = PlatformWriter(fmt.format, sites)
        self.adapters: dict[str, Adapter] = {}
        for site in sites:
            update: dict[str, Any] = {"site": site}
            application = (applications or {}).get(site)
            if fmt.ivr_application and application:
                update["ivr_application"] = application
            if fmt.ivr_contexts and application:
                update["ivr_contexts"] = [application]
            if fmt.format in LISTS_TRUNKS and (trunks or {}).get(site):
                update["trunks"] = list((trunks or {})[site])
            adapter = records.build(fmt.model_copy(update=update))
            assert adapter is not None, "a platform feed needs a platform format"
            topic = topic_of(fmt.format, site)
            self.adapters[topic] = adapter
            pipeline.ingest.translators[topic] = records.translator(adapter)
        self._pipeline = pipeline

    def feed(self, batch: Iterable[RawRecord], now: float) -> tuple[int, int]:
        """Write ``batch`` as the platform would, apply it, then what the adapters have due
        by ``now``; return (records applied, records rejected)."""
        written = self.writer.write(batch)
        pipeline = self._pipeline
        rejected = len(pipeline.feed(written, now))
        for topic, adapter in self.adapters.items():
            flushed = records.flushed(adapter, now, topic)
            rejected += len(pipeline.feed(flushed, now, translated=True))
        return len(written), rejected

    def ignored(self) -> dict[str, int]:
        """Platform kinds the adapters skipped, summed over sites."""
        out: dict[str, int] = {}
        for adapter in self.adapters.values():
            for kind, n in adapter.ignored.items():
                out[kind] = out.get(kind, 0) + n
        return out

"""The simulator's events v1 written as each platform writes them (the inverse of
``callpulse.adapters``), so every scenario can be played through every adapter."""

from __future__ import annotations

from callpulse.protocols import Emitter
from callpulse.simulation.emitters.amazon_connect import AmazonConnectEmitter
from callpulse.simulation.emitters.asterisk import AsteriskEmitter
from callpulse.simulation.emitters.freeswitch import FreeSwitchCallcenterEmitter
from callpulse.simulation.emitters.twilio import TwilioEmitter

FORMATS = ("asterisk-queue-log", "amazon-connect", "freeswitch-callcenter", "twilio-taskrouter")


def emitter_for(fmt: str, site: str) -> Emitter:
    """The emitter of platform format ``fmt`` for one site."""
    if fmt == "asterisk-queue-log":
        return AsteriskEmitter()
    if fmt == "freeswitch-callcenter":
        return FreeSwitchCallcenterEmitter(hostname=f"fs.{site}")
    if fmt == "amazon-connect":
        return AmazonConnectEmitter()
    if fmt == "twilio-taskrouter":
        return TwilioEmitter()
    raise ValueError(f"no emitter for format {fmt!r}: one of {', '.join(FORMATS)}")

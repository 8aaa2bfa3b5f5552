"""The simulator's events v1 written as each platform writes them (the inverse of
``callpulse.adapters``), so every scenario can be played through every adapter."""

from __future__ import annotations

from callpulse.protocols import Emitter
from callpulse.simulation.emitters.amazon_connect import AmazonConnectEmitter
from callpulse.simulation.emitters.asterisk import AsteriskEmitter
from callpulse.simulation.emitters.asterisk_ami import AsteriskAmiEmitter
from callpulse.simulation.emitters.asterisk_cdr import AsteriskCdrEmitter
from callpulse.simulation.emitters.connect_flow_logs import ConnectFlowLogEmitter
from callpulse.simulation.emitters.freeswitch import FreeSwitchCallcenterEmitter
from callpulse.simulation.emitters.freeswitch_channel import FreeSwitchChannelEmitter
from callpulse.simulation.emitters.sip_acc import KamailioAccEmitter, OpenSipsAccEmitter
from callpulse.simulation.emitters.trunk_setups import TrunkEmitter
from callpulse.simulation.emitters.twilio import TwilioEmitter

FORMATS = (
    "asterisk-queue-log",
    "amazon-connect",
    "freeswitch-callcenter",
    "twilio-taskrouter",
    "asterisk-cdr",
    "kamailio-acc",
    "opensips-acc",
    "freeswitch-channel",
    "amazon-connect-flow-logs",
    "asterisk-ami",
)


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
    if fmt == "asterisk-cdr":
        return AsteriskCdrEmitter()
    if fmt == "kamailio-acc":
        return KamailioAccEmitter(proxy=f"sbc.{site}")
    if fmt == "opensips-acc":
        return OpenSipsAccEmitter(proxy=f"sbc.{site}")
    if fmt == "freeswitch-channel":
        return FreeSwitchChannelEmitter(hostname=f"fs.{site}")
    if fmt == "amazon-connect-flow-logs":
        return ConnectFlowLogEmitter()
    if fmt == "asterisk-ami":
        return AsteriskAmiEmitter(hostname=f"pbx.{site}")
    raise ValueError(f"no emitter for format {fmt!r}: one of {', '.join(FORMATS)}")


def trunk_emitter(emitter: Emitter) -> TrunkEmitter | None:
    """``emitter`` as an emitter of trunk records (which says what its format keeps of a
    setup, and what its adapter needs), or None for an ACD format's that carries none."""
    trunk_emitters = (
        AsteriskCdrEmitter
        | KamailioAccEmitter
        | OpenSipsAccEmitter
        | FreeSwitchChannelEmitter
        | AsteriskAmiEmitter
        | AmazonConnectEmitter  # an ACD format whose contact records carry trunk and IVR too
        | ConnectFlowLogEmitter  # IVR errors, not trunks: the same hooks
    )
    if isinstance(emitter, trunk_emitters):
        return emitter
    return None

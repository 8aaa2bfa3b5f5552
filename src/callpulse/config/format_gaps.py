"""What a platform format, as configured, will not report where a setting would make it
report it: said at start-up and by ``check-config``, since each is a quiet default (no IVR
application named, no trunk listed) that would otherwise show only as a series that never
appears, or an alert that cannot fire."""

from __future__ import annotations

from callpulse.config.source_settings import FormatSettings, SourceSettings


def gaps(fmt: FormatSettings) -> list[str]:
    """Each thing ``fmt``'s adapter leaves out for want of a setting, and the setting."""
    out = []
    if fmt.format == "asterisk-ami":
        if not fmt.trunks:
            out.append("no trunk state from qualify results, so no TrunkDown: list them in trunks")
        if not fmt.ivr_contexts:
            out.append("no IVR sessions: list the dialplan's IVR contexts in ivr_contexts")
    if fmt.format == "amazon-connect" and not fmt.ivr_application:
        out.append("no IVR sessions: name the flows' application in ivr_application")
    if fmt.format in ("kamailio-acc", "opensips-acc") and not fmt.trunk_attribute:
        out.append(f"every setup on trunk {fmt.default_trunk!r}: give trunk_attribute")
    return out


def source_gaps(source: SourceSettings) -> dict[str, list[str]]:
    """Per topic (or the replayed file) of the source in use, its format's :func:`gaps`;
    only those with one."""
    if source.kind == "kafka":
        formats = dict(source.kafka.formats)
    elif source.kind == "replay":
        formats = {str(source.replay.path): source.replay.format}
    else:  # the simulator writes events v1
        formats = {}
    return {where: found for where, fmt in formats.items() if (found := gaps(fmt))}

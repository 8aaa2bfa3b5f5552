"""Where events come from: Kafka (with its security and the formats of its topics), a
replayed file, or the built-in simulator."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import (
    Field,
    SecretStr,
    model_validator,
)

from callpulse.adapters.agent_identity import rules as agent_rules
from callpulse.adapters.base import AdapterError
from callpulse.adapters.bounds import checked_name
from callpulse.adapters.cdr_rows import columns as cdr_columns
from callpulse.adapters.queue_log_lines import given as queue_log_columns
from callpulse.config.base import Duration, Section
from callpulse.core.events import SITE_MAX_LENGTH, SITE_PATTERN, AgentStateName

# A site as events v1 defines it (core/events.py), read by pydantic here.
SiteName = Annotated[str, Field(min_length=1, max_length=SITE_MAX_LENGTH, pattern=SITE_PATTERN)]


class FormatSettings(Section):
    """What a topic (or a replayed file) carries: events v1, or a platform's own records that
    an adapter turns into v1 (docs/adapters.md)."""

    format: Literal[
        "events-v1",
        "asterisk-queue-log",
        "asterisk-cdr",
        "asterisk-ami",
        "amazon-connect",
        "amazon-connect-flow-logs",
        "twilio-taskrouter",
        "freeswitch-callcenter",
        "freeswitch-channel",
        "kamailio-acc",
        "opensips-acc",
    ] = "events-v1"
    # The site the records belong to, for formats that carry none.
    site: SiteName | None = None
    # Wrap-up the platform does not log (asterisk: queues.conf wrapuptime; freeswitch:
    # the agent's wrap_up_time).
    wrapup_seconds: Duration = 0.0
    # Whether a caller leaving on the queue's timeout counts as an abandon.
    timeouts_are_abandons: bool = True
    # An agent as the platform writes it (an interface, an ARN, a worker SID) -> its name.
    agent_names: dict[str, str] = {}
    # A queue as the platform writes it (a queue ARN, a TaskQueue SID) -> its name.
    queue_names: dict[str, str] = {}
    # A platform's status or activity name -> the events-v1 agent state it means, where the
    # platform's own class of it is not enough.
    activity_states: dict[str, AgentStateName] = {}
    # kamailio-acc, opensips-acc (docs/adapters-sip-acc.md): the extra accounting attribute
    # that names a call's trunk or gateway (acc_extra / evi_extra, e.g. "gw"), and the trunk
    # of a record without it; timezone (below) for a time written as a local date.
    trunk_attribute: str = ""
    default_trunk: str = "proxy"
    # opensips-acc: a gateway as its status event names it (E_DROUTING_STATUS gwid, as
    # partition/gwid outside the Default partition, or an E_DISPATCHER_STATUS
    # destination's address) -> the trunk it is; a drouting gateway not
    # listed is the trunk of its gwid, a dispatcher destination not listed is no trunk.
    gateway_trunks: dict[str, str] = {}
    # asterisk-queue-log (docs/adapters-asterisk-queue-log.md): which interfaces are one
    # agent (by_number: Local/1127@ctx, Agent/1127, PJSIP/1127 are agent 1127), rules
    # (a regular expression matching the whole agent field -> its name, \1 for a group), the
    # IANA zone of a YYYY-MM-DD HH:MM:SS time, and a table export's header line (e.g.
    # "time,callid,queuename,agent,event,data1,data2,data3,data4,data5") for a stream that
    # does not start with it.
    agent_identity: Literal["by_interface", "by_number"] = "by_interface"
    agent_aliases: dict[str, str] = {}
    timezone: str = "UTC"
    columns: str = ""
    # asterisk-cdr (docs/adapters-asterisk-cdr.md): the peers that are trunks (SIP/KTTK-...
    # is peer KTTK); empty, every peer whose name is not only digits. timezone and columns
    # (a CSV export's header line) as above.
    trunks: list[str] = []
    # asterisk-ami (docs/adapters-asterisk-ami.md): trunks as above, and only listed trunks
    # get a state from qualify results (empty: none, so no TrunkDown); the dialplan
    # contexts that are IVR applications (empty: no IVR sessions are reported).
    ivr_contexts: list[str] = []
    # amazon-connect (docs/adapters-amazon-connect.md): the application its contact flows'
    # IVR sessions are counted under (empty: none are). amazon-connect-flow-logs
    # (docs/adapters-amazon-connect-flow-logs.md): required, the same application, so that
    # the flows' errors count against the sessions of the same contacts.
    ivr_application: str = ""
    # Whether the feed sends heartbeats (docs/alerts.md, SiteSilent); unset: only events v1 does.
    heartbeats: bool | None = None

    @model_validator(mode="after")
    def _site_where_needed(self) -> FormatSettings:
        if self.format != "events-v1" and self.site is None:
            raise ValueError(f"format {self.format} carries no site: give site")
        if self.format == "amazon-connect-flow-logs" and not self.ivr_application:
            raise ValueError(
                "format amazon-connect-flow-logs names no IVR application: give "
                "ivr_application, the same as the instance's amazon-connect topic has"
            )
        return self

    @model_validator(mode="after")
    def _trunk_is_a_name(self) -> FormatSettings:
        try:
            checked_name(self.format, self.default_trunk, "default_trunk")
            for gateway, trunk in self.gateway_trunks.items():
                checked_name(self.format, trunk, f"gateway_trunks[{gateway!r}]")
            if self.ivr_application:
                checked_name(self.format, self.ivr_application, "ivr_application")
        except AdapterError as exc:
            raise ValueError(exc.detail) from None
        return self

    @model_validator(mode="after")
    def _queue_log_options(self) -> FormatSettings:
        try:
            ZoneInfo(self.timezone)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(
                f"timezone {self.timezone!r} is not an IANA time zone name "
                "(such as UTC, Europe/London, America/New_York)"
            ) from None
        agent_rules(self.agent_aliases)  # a ValueError names the rule
        if self.columns:
            check = cdr_columns if self.format == "asterisk-cdr" else queue_log_columns
            try:
                check(self.columns)
            except AdapterError as exc:
                raise ValueError(f"columns: {exc.detail}") from None
        return self


class KafkaSettings(Section):
    bootstrap_servers: str = "127.0.0.1:9092"
    topics: Annotated[list[str], Field(min_length=1)] = ["contact-center.events"]
    # Per topic, when a topic carries something other than events v1.
    formats: dict[str, FormatSettings] = {}
    group_id: str = "callpulse"
    client_id: str = "callpulse"
    dead_letter_topic: str = "contact-center.events.dlq"
    # A compacted topic where each site's alert state travels with its partition (optional).
    alert_state_topic: str | None = None
    auto_offset_reset: Literal["earliest", "latest"] = "earliest"
    max_record_bytes: Annotated[int, Field(ge=1)] = 256 * 1024
    max_batch_records: Annotated[int, Field(ge=1)] = 5000
    stall_timeout: Duration = 60.0
    security_protocol: Literal["PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL"] = "PLAINTEXT"
    sasl_mechanism: Literal["PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512"] | None = None
    sasl_username: str | None = None
    sasl_password: SecretStr | None = None
    sasl_password_file: Path | None = None  # a mounted Secret; read at start-up
    ssl_cafile: Path | None = None
    ssl_certfile: Path | None = None  # mutual TLS: this client's certificate...
    ssl_keyfile: Path | None = None  # ...and its key

    @model_validator(mode="after")
    def _security(self) -> KafkaSettings:
        if self.sasl_password_file is not None:
            if self.sasl_password is not None:
                raise ValueError("give sasl_password or sasl_password_file, not both")
            try:
                secret = self.sasl_password_file.read_text(encoding="utf-8").rstrip("\r\n")
            except OSError as exc:
                raise ValueError(
                    f"sasl_password_file {self.sasl_password_file}: cannot read it: {exc.strerror}"
                ) from None
            self.sasl_password = SecretStr(secret)
        credentials = self.sasl_mechanism or self.sasl_username or self.sasl_password
        if credentials and not self.security_protocol.startswith("SASL_"):
            raise ValueError(
                f"SASL settings need security_protocol SASL_SSL (or SASL_PLAINTEXT); with "
                f"{self.security_protocol} they would be ignored and nothing would authenticate"
            )
        if self.security_protocol.startswith("SASL_") and not (
            self.sasl_mechanism and self.sasl_username and self.sasl_password
        ):
            raise ValueError(
                f"security_protocol {self.security_protocol} needs sasl_mechanism, "
                "sasl_username and sasl_password (or sasl_password_file)"
            )
        if (self.ssl_certfile is None) != (self.ssl_keyfile is None):
            raise ValueError("mutual TLS needs both ssl_certfile and ssl_keyfile")
        unknown = sorted(set(self.formats) - set(self.topics))
        if unknown:
            raise ValueError(f"formats names topics not in topics: {', '.join(unknown)}")
        return self


class ReplaySettings(Section):
    path: Path = Path("events.jsonl")
    speed: Annotated[float, Field(ge=0)] = 0.0
    format: FormatSettings = FormatSettings()


class SimulatorSettings(Section):
    scenario: str = "maintenance-backlog"
    speed: Annotated[float, Field(gt=0)] = 30.0


class SourceSettings(Section):
    kind: Literal["simulator", "kafka", "replay"] = "simulator"
    kafka: KafkaSettings = KafkaSettings()
    replay: ReplaySettings = ReplaySettings()
    simulator: SimulatorSettings = SimulatorSettings()

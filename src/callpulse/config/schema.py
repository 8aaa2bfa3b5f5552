"""The settings' schema: every key callpulse takes, its default and what it must be, and how
each section becomes the core's types. The sections are in modules of their own
(``source_settings``, ``http_settings``, ``kpi_settings``, ``alerting_settings``,
``maintenance_settings``); this is the root that holds them, and what they are imported from.

Every section forbids unknown keys, so a typo stops start-up instead of being ignored.
``config/callpulse.yaml`` documents every key (a test makes sure).
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any, Literal

from pydantic import (
    Field,
    PrivateAttr,
)
from pydantic_core import to_jsonable_python
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource, SettingsConfigDict

from callpulse.config.alerting_settings import (
    AbsentSettings,
    AlertingSettings,
    AuthorizationSettings,
    BasicAuthSettings,
    HttpClientSettings,
    RuleFile,
    RuleSettings,
    SilenceWindowSettings,
    SinkTarget,
    TlsSettings,
)
from callpulse.config.base import Duration, Section
from callpulse.config.credentials import redact
from callpulse.config.errors import ENV_DELIMITER, ENV_PREFIX
from callpulse.config.http_settings import (
    HttpSettings,
    ShownUrl,
    StatusPageSettings,
)
from callpulse.config.kpi_settings import (
    KpiSettings,
    LabelLimits,
    Ratio,
    ServiceLevelOverride,
    ServiceLevelSettings,
)
from callpulse.config.maintenance_settings import (
    BacklogSettings,
    EventWindowSettings,
    MaintenanceSettings,
    WindowSettings,
)
from callpulse.config.source_settings import (
    FormatSettings,
    KafkaSettings,
    ReplaySettings,
    SimulatorSettings,
    SourceSettings,
)
from callpulse.config.yaml import YamlFileSource
from callpulse.core.monitor import MonitorConfig
from callpulse.core.rules import Rule
from callpulse.core.silence import SilencePolicy
from callpulse.shipped import shipped


class LogSettings(Section):
    level: Literal["debug", "info", "warning", "error"] = "info"
    format: Literal["auto", "json", "console"] = "auto"


class Settings(BaseSettings):
    """Everything callpulse can be told. See ``config/callpulse.yaml`` for each key."""

    model_config = SettingsConfigDict(
        env_prefix=ENV_PREFIX,
        env_nested_delimiter=ENV_DELIMITER,
        extra="forbid",
        nested_model_default_partial_update=True,
    )

    source: SourceSettings = SourceSettings()
    http: HttpSettings = HttpSettings()
    kpi: KpiSettings = KpiSettings()
    log: LogSettings = LogSettings()
    shutdown_grace: Duration = 20.0
    alerting: AlertingSettings = AlertingSettings()
    maintenance: MaintenanceSettings = MaintenanceSettings()
    rules: list[RuleSettings] = []
    # Unset: the shipped rules (a config that names none still pages); ``[]``: none at all.
    rule_files: list[Path] = Field(default_factory=lambda: [shipped("rules.yaml")])
    _compiled: list[tuple[str, list[Rule]]] | None = PrivateAttr(default=None)

    def use_rule_files(self, files: list[Path]) -> None:
        """Evaluate ``files``' rules instead (the embedded default's shipped rules); they are
        compiled now, raising ConfigError as a load would."""
        self.rule_files = files
        self._compiled = None
        self.compiled_rules()

    def compiled_rules(self, origin: str = "(config)") -> list[Rule]:
        """The config's rules and every rule file's, compiled once (at load) and kept; raise
        ConfigError naming the file, the rule and the field."""
        return [rule for _, rules in self.rule_sources(origin) for rule in rules]

    def rule_sources(self, origin: str = "(config)") -> list[tuple[str, list[Rule]]]:
        """Where the rules come from (``origin``: the config itself, then each rule file),
        each with its compiled rules; compiled once and kept."""
        if self._compiled is None:
            from callpulse.config.rules import rule_sources

            self._compiled = rule_sources(self, origin)
        return self._compiled

    def rules_loaded(self) -> str:
        """The rules loaded, in words: "14 rules: 14 from rules.yaml" (what start-up and
        ``check-config`` print, so that a config that loads none says so)."""
        sources = self.rule_sources()
        total = sum(len(rules) for _, rules in sources)
        parts = [f"{len(rules)} from {where}" for where, rules in sources if rules]
        if not total:
            files = "rule_files: []" if not self.rule_files else "rule files without rules"
            return f"0 rules ({files}): nothing will page"
        return f"{total} rule{'s' if total != 1 else ''}: " + ", ".join(parts)

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        # Arguments, then the environment, then the YAML file: an operator overrides one key
        # of a mounted ConfigMap with an environment variable.
        return (init_settings, env_settings, YamlFileSource(settings_cls))

    def monitor_config(self, *, event_time_clock: bool) -> MonitorConfig:
        """The monitor's configuration: KPIs, maintenance windows and backlog limits."""
        return dataclasses.replace(
            self.kpi.monitor_config(event_time_clock=event_time_clock),
            maintenance_windows=tuple(w.spec() for w in self.maintenance.windows),
            maintenance_timezone=self.maintenance.timezone,
            backlog=self.maintenance.backlog.limits(),
            maintenance_events=self.maintenance.event_policy(),
            silence=self.silence_policy(),
        )

    def silence_policy(self) -> SilencePolicy:
        """Which sites' feeds have no heartbeat: a platform's records unless its format says
        ``heartbeats: true``, events v1 when its format says ``heartbeats: false`` (for every
        site no other feed names, as a topic of events v1 carries many)."""
        source = self.source
        formats = (
            [source.replay.format]
            if source.kind == "replay"
            else list(source.kafka.formats.values())
            if source.kind == "kafka"
            else []
        )
        sites: set[str] = set()
        by_default = False
        for f in formats:
            v1 = f.format == "events-v1"
            if f.heartbeats if f.heartbeats is not None else v1:
                continue
            if v1 or f.site is None:
                by_default = True
            else:
                sites.add(f.site)
        return SilencePolicy(frozenset(sites), by_default)

    def redacted(self) -> dict[str, Any]:
        """The effective settings as plain data, with every credential masked by its key
        (whatever its type) and sink URLs down to their scheme, host and port."""
        # Dumped as Python and made JSON after masking: a JSON dump would go through each
        # field's type (SecretStr's serializer fails on anything but a SecretStr).
        data = redact(self.model_dump(mode="python", warnings=False))
        return dict(to_jsonable_python(data))


__all__ = [
    "AbsentSettings",
    "AlertingSettings",
    "AuthorizationSettings",
    "BacklogSettings",
    "BasicAuthSettings",
    "Duration",
    "EventWindowSettings",
    "FormatSettings",
    "HttpClientSettings",
    "HttpSettings",
    "KafkaSettings",
    "KpiSettings",
    "LabelLimits",
    "LogSettings",
    "MaintenanceSettings",
    "Ratio",
    "ReplaySettings",
    "RuleFile",
    "RuleSettings",
    "ServiceLevelOverride",
    "ServiceLevelSettings",
    "Settings",
    "ShownUrl",
    "SilenceWindowSettings",
    "SimulatorSettings",
    "SinkTarget",
    "SourceSettings",
    "StatusPageSettings",
    "TlsSettings",
    "WindowSettings",
]

"""The settings' schema: every key callpulse takes, its default and what it must be. The
sections are in modules of their own (``source_settings``, ``http_settings``,
``kpi_settings``, ``alerting_settings``, ``maintenance_settings``); this is the root that
holds them, and what they are imported from. How each section becomes the core's types is
:mod:`callpulse.config.convert`.

Every section forbids unknown keys, so a typo stops start-up instead of being ignored.
``config/callpulse.yaml`` documents every key (a test makes sure).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

from pydantic import Field
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

"""Configuration: the settings' schema (:mod:`.schema`), loading a file with the environment
on top (:mod:`.loading`, :mod:`.yaml`), the alert rules it names (:mod:`.rules`), the core
objects and shell options each section becomes (:mod:`.convert`) and errors that say where
and why (:mod:`.errors`)."""

from callpulse.config.errors import ConfigError
from callpulse.config.loading import load_config, load_settings
from callpulse.config.rules import LoadedConfig, compile_config
from callpulse.config.schema import (
    AlertingSettings,
    BacklogSettings,
    FormatSettings,
    KafkaSettings,
    KpiSettings,
    LogSettings,
    MaintenanceSettings,
    ReplaySettings,
    RuleSettings,
    Settings,
    SimulatorSettings,
    WindowSettings,
)

__all__ = [
    "AlertingSettings",
    "BacklogSettings",
    "ConfigError",
    "FormatSettings",
    "KafkaSettings",
    "KpiSettings",
    "LoadedConfig",
    "LogSettings",
    "MaintenanceSettings",
    "ReplaySettings",
    "RuleSettings",
    "Settings",
    "SimulatorSettings",
    "WindowSettings",
    "compile_config",
    "load_config",
    "load_settings",
]

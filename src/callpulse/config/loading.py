"""Loading settings: a YAML file, overridden key by key from ``CALLPULSE_`` environment
variables.

``CALLPULSE_SOURCE__KAFKA__BOOTSTRAP_SERVERS=broker:9092`` overrides
``source.kafka.bootstrap_servers``. Errors name the file (or the environment variable), the
key and what was expected.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from pydantic import ValidationError
from pydantic_settings import SettingsError

from callpulse.config.environment import check_environment
from callpulse.config.errors import ConfigError, describe
from callpulse.config.files import check_files
from callpulse.config.rules import LoadedConfig, compile_config
from callpulse.config.schema import Settings
from callpulse.config.yaml import read_yaml, settings_file
from callpulse.text import plain


def load_config(path: Path | None) -> LoadedConfig:
    """Read ``path`` (or nothing: the defaults) and the environment, and compile the rules
    they name; raise ConfigError.

    The rules are compiled here, once: an invalid rule stops the load like any other key.
    """
    check_environment(Settings, os.environ)
    data: dict[str, Any] = {}
    origin = str(path) if path else "(defaults)"
    if path is not None:
        data = read_yaml(path)
    try:
        with settings_file(data):
            settings = Settings()
    except ValidationError as exc:
        raise ConfigError(describe(exc, origin)) from None
    except SettingsError as exc:
        # A list or a section given as a variable must be JSON; the message names the key.
        raise ConfigError(
            f"invalid configuration:\n  environment: {plain(str(exc))} (a list or a section "
            "in a variable is written as JSON)"
        ) from None
    # Rule files are named relative to the config file, as Prometheus' rule_files are.
    base = path.parent if path is not None else Path.cwd()
    if "rule_files" in settings.model_fields_set:  # else the shipped rules, by their own path
        settings.rule_files = [f if f.is_absolute() else base / f for f in settings.rule_files]
    loaded = compile_config(settings, origin)
    check_files(settings, origin)
    return loaded


def load_settings(path: Path | None) -> Settings:
    """The settings of :func:`load_config` (its rules compiled, and so checked, all the same),
    for a caller that builds nothing from the rules."""
    return load_config(path).settings

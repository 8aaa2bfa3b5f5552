"""YAML for settings: reading a file with errors that say where, and the pydantic-settings
source that feeds the settings file's values to :class:`~callpulse.config.schema.Settings`.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from contextvars import ContextVar
from pathlib import Path
from typing import Any

import yaml
from pydantic.fields import FieldInfo
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource

from callpulse.config.errors import ConfigError

_current: ContextVar[Mapping[str, Any] | None] = ContextVar("callpulse_settings_file", default=None)


def read_yaml(path: Path) -> dict[str, Any]:
    """The mapping in ``path``; ConfigError naming the file (and line) when it is not one."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read the config file: {exc.strerror}") from None
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        where = ""
        mark = getattr(exc, "problem_mark", None)
        if mark is not None:
            where = f" at line {mark.line + 1}, column {mark.column + 1}"
        problem = getattr(exc, "problem", None) or str(exc)
        raise ConfigError(f"{path}: not valid YAML{where}: {problem}") from None
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: expected a mapping of settings at the top level")
    return data


@contextmanager
def settings_file(data: Mapping[str, Any]) -> Iterator[None]:
    """Make ``data`` (a settings file's contents) what :class:`YamlFileSource` gives while
    settings are built in this context."""
    token = _current.set(data)
    try:
        yield
    finally:
        _current.reset(token)


class YamlFileSource(PydanticBaseSettingsSource):
    """The settings file as a pydantic-settings source, below arguments and the environment."""

    def __init__(self, settings_cls: type[BaseSettings]) -> None:
        super().__init__(settings_cls)

    def get_field_value(self, field: FieldInfo, field_name: str) -> tuple[Any, str, bool]:
        return (_current.get() or {}).get(field_name), field_name, False

    def __call__(self) -> dict[str, Any]:
        return dict(_current.get() or {})

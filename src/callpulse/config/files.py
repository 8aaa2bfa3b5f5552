"""The files a configuration names for credentials and certificates, checked when it is
loaded: a mounted Secret that is missing or unreadable stops ``check-config`` and start-up,
rather than surfacing at the first alert as a retried notification."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

from pydantic import BaseModel

from callpulse.config.errors import ConfigError
from callpulse.text import plain

READ_WHEN_USED = frozenset(
    {
        "sasl_password_file",
        "ssl_cafile",
        "ssl_certfile",
        "ssl_keyfile",
        "password_file",
        "credentials_file",
        "ca_file",
        "cert_file",
        "key_file",
    }
)
"""Keys whose file callpulse reads only when it connects (a broker, a sink): the ones to
check at load. The state file is written, not read first; rule files and the web config
file are read at load already."""


def named_files(section: BaseModel, prefix: str = "") -> Iterator[tuple[str, Path]]:
    """Every ``(key, path)`` of :data:`READ_WHEN_USED` set in ``section``, at any depth."""
    for name in type(section).model_fields:
        yield from _walk(getattr(section, name), f"{prefix}{name}", name)


def _walk(value: Any, key: str, name: str) -> Iterator[tuple[str, Path]]:
    if isinstance(value, Path) and name in READ_WHEN_USED:
        yield key, value
    elif isinstance(value, BaseModel):
        yield from named_files(value, key + ".")
    elif isinstance(value, list):
        for i, item in enumerate(value):
            yield from _walk(item, f"{key}.{i}", name)
    elif isinstance(value, dict):
        for k, item in value.items():
            yield from _walk(item, f"{key}.{k}", name)


def check_files(settings: BaseModel, origin: str) -> None:
    """Raise ConfigError naming each credential or certificate file that cannot be read."""
    problems = []
    for key, path in named_files(settings):
        try:
            with path.open("rb") as f:
                f.read(1)
        except OSError as exc:
            reason = exc.strerror or type(exc).__name__
            problems.append(f"{origin}: {key}: cannot read {path} ({reason})")
    if problems:
        raise ConfigError("invalid configuration:\n  " + "\n  ".join(plain(p) for p in problems))

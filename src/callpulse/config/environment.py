"""``CALLPULSE_`` environment variables checked against the settings' schema.

pydantic-settings reads the variables it knows and ignores the rest, so a typo in a
section's name (``CALLPULSE_HTPP__PORT``) would leave the setting at its default without a
word, while a typo in a key inside a known section is an error. Every ``CALLPULSE_``
variable is therefore walked down the schema, and one that names no setting stops the load.
"""

from __future__ import annotations

import re
import types
from collections.abc import Mapping
from typing import Annotated, Any, Union, get_args, get_origin

from pydantic import BaseModel

from callpulse.config.errors import ENV_DELIMITER, ENV_PREFIX, ConfigError

NOT_SETTINGS = frozenset({"CALLPULSE_CACHE", "CALLPULSE_PURE"})
"""Variables of the project's own scripts and build that share the prefix but are no setting
(``CALLPULSE_CACHE``: where scripts/install-helm and scripts/kafka-local keep downloads, and
the build its compiled extensions; ``CALLPULSE_PURE``: a build without them)."""

SERVICE_LINK = re.compile(
    r"[A-Z0-9_]+_(SERVICE_HOST|SERVICE_PORT(_[A-Z0-9_]+)?|PORT(_\d+_(TCP|UDP|SCTP)(_PROTO|_PORT|_ADDR)?)?)"
)
"""The variables Kubernetes gives a pod for each Service of its namespace (``enableServiceLinks``):
a Service named ``callpulse`` gives ``CALLPULSE_PORT``, ``CALLPULSE_SERVICE_HOST`` and the
like. They have no ``__``, and no top-level setting has such a name, so they are left alone."""


def check_environment(model: type[BaseModel], environ: Mapping[str, str]) -> None:
    """Raise ConfigError naming each ``CALLPULSE_`` variable of ``environ`` that is not a
    key of ``model`` (sections joined by ``__``, case-insensitive as the loader reads them)."""
    wrong = []
    for name in sorted(environ):
        upper = name.upper()
        if not upper.startswith(ENV_PREFIX) or upper in NOT_SETTINGS:
            continue
        if ENV_DELIMITER not in upper and SERVICE_LINK.fullmatch(upper):
            continue
        path = name[len(ENV_PREFIX) :].lower().split(ENV_DELIMITER)
        problem = _problem(model, path)
        if problem:
            wrong.append(f"environment variable {name}: {problem}")
    if wrong:
        raise ConfigError("invalid configuration:\n  " + "\n  ".join(wrong))


def _problem(model: type[BaseModel], path: list[str]) -> str | None:
    """Why ``path`` names no setting of ``model``, or None when it does."""
    current: Any = model
    walked: list[str] = []
    steps = iter(path)
    for step in steps:
        fields = _fields(current)
        if step not in fields:
            where = f"section {'.'.join(walked)}" if walked else "the settings"
            known = ", ".join(sorted(fields))
            return f"{step!r} is no key of {where} (known: {known})"
        walked.append(step)
        current = _model_in(fields[step])
        if current is None:
            # A value, a list, or a mapping of values: the loader parses what it is given.
            rest = next(steps, None)
            kind = get_origin(_bare(fields[step]))
            if rest is not None and kind is not dict:
                whole = "a list, set whole as JSON" if kind is list else "one value"
                return f"{'.'.join(walked)} has no keys ({whole}): {rest!r} is too many"
            return None
        if isinstance(current, tuple):  # a mapping of sections: the next step is its key
            key = next(steps, None)
            if key is None:
                return None
            walked.append(key)
            current = current[0]
    return None


def _bare(annotation: Any) -> Any:
    """``annotation`` without ``Annotated`` and ``| None``."""
    while True:
        origin = get_origin(annotation)
        if origin is Annotated:
            annotation = get_args(annotation)[0]
        elif origin in (Union, types.UnionType):
            kept = [a for a in get_args(annotation) if a is not type(None)]
            if len(kept) != 1:
                return annotation
            annotation = kept[0]
        else:
            return annotation


def _fields(current: type[BaseModel]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for name, info in current.model_fields.items():
        out[name] = info.annotation
        if info.alias:
            out[info.alias.lower()] = info.annotation
    return out


def _model_in(annotation: Any) -> type[BaseModel] | tuple[type[BaseModel]] | None:
    """The section a field's type leads into: a model, ``(model,)`` for a mapping of
    models, or None for anything else."""
    origin = get_origin(annotation)
    if origin is Annotated:
        return _model_in(get_args(annotation)[0])
    if origin in (Union, types.UnionType):
        found = [m for m in (_model_in(a) for a in get_args(annotation)) if m is not None]
        return found[0] if found else None
    if origin is dict:
        value = _model_in(get_args(annotation)[1])
        return (value,) if isinstance(value, type) else None
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    return None

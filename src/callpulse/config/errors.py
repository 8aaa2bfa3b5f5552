"""Configuration errors that name the file (or the environment variable), the key and what
was expected."""

from __future__ import annotations

import os

from pydantic import ValidationError

from callpulse.config.credentials import hides_input
from callpulse.text import plain

ENV_PREFIX = "CALLPULSE_"
ENV_DELIMITER = "__"


class ConfigError(Exception):
    """The configuration cannot be used; the message says where and why."""


def describe(exc: ValidationError, origin: str, env: bool = True) -> str:
    """``exc`` as one line per problem: where it came from, the key, and what is wrong.

    A value that came from an environment variable is blamed on it, not on ``origin``.
    Values are echoed for scalars only, and never under a credential's key (a password, a
    token, a URL, a section of them), whatever the value's type. Each line is escaped
    (:func:`callpulse.text.plain`): a key from the file could hold a terminal's escape
    sequence, or a line break that forges a line of this message.
    """
    lines = []
    for error in exc.errors(include_url=False):
        loc = [str(part) for part in error["loc"]]
        key = ".".join(loc) or "(top level)"
        env_name = ENV_PREFIX + ENV_DELIMITER.join(loc).upper()
        where = f"environment variable {env_name}" if env and env_name in os.environ else origin
        message = error["msg"]
        if error["type"] == "extra_forbidden":
            message = "unknown key (check its spelling and section)"
        elif "input" in error and not hides_input(loc):
            value = error["input"]
            if not isinstance(value, dict | list):
                message += f" (got {value!r})"
        lines.append(plain(f"{where}: {key}: {message}"))
    return "invalid configuration:\n  " + "\n  ".join(lines)

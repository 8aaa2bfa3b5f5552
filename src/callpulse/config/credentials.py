"""Which settings are credentials, by their key: what config errors and the logged settings
never show.

A credential is recognised by where it sits, not by what it holds: a token written as a
number, a password as a list or a mapping, is as secret as one written as a string, and a
typo in its type is exactly when an error would otherwise quote it.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from callpulse.sinks.naming import public_url

MASK = "**********"  # what pydantic writes for a SecretStr, so every masked value looks alike

# Keys whose value is a credential, whatever its type.
SECRET_KEYS = frozenset({"password", "sasl_password", "credentials", "basic_auth_users"})
# Sections of credentials: anything but a mapping in their place is a credential written
# where the section goes (``basic_auth: "user:password"``); a mapping is judged key by key.
SECRET_SECTIONS = frozenset({"basic_auth", "authorization"})
# Keys holding a URL that may carry ``user:password@`` or a token: shown as scheme://host:port.
URL_KEYS = frozenset({"url"})
# An error never quotes a value under a key that names one of these, even one unknown here.
_HINTS = ("password", "token", "secret", "credential", "url")


def hides_input(loc: Sequence[str | int]) -> bool:
    """Whether a config error at ``loc`` (pydantic's path to the key) must not quote the value
    it was given: some part of the path is a credential, a credential section or a URL."""
    for part in loc:
        name = str(part)
        if name in SECRET_KEYS or name in SECRET_SECTIONS:
            return True
        if any(hint in name for hint in _HINTS):
            return True
    return False


def redact(data: Any) -> Any:
    """``data`` (settings dumped as plain data) with every credential masked and every URL
    down to its scheme, host and port."""
    if isinstance(data, list):
        return [redact(item) for item in data]
    if not isinstance(data, dict):
        return data
    out: dict[str, Any] = {}
    for key, value in data.items():
        if value is None:
            out[key] = None
        elif key in SECRET_KEYS or (key in SECRET_SECTIONS and not isinstance(value, dict)):
            out[key] = MASK
        elif key in URL_KEYS:
            out[key] = public_url(value) if isinstance(value, str) else MASK
        else:
            out[key] = redact(value)
    return out

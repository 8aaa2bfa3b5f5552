"""The web config file, in the format of Prometheus' exporter-toolkit (``--web.config.file``),
which operators already write for node_exporter and Prometheus itself::

    tls_server_config:
      cert_file: /etc/callpulse/tls/tls.crt
      key_file: /etc/callpulse/tls/tls.key
      client_ca_file: /etc/callpulse/tls/ca.crt   # optional: require client certificates
    basic_auth_users:
      prometheus: $2y$10$...                      # bcrypt hashes, as htpasswd -B makes them

The probes (``/healthz``, ``/readyz``) stay open so the kubelet needs no credentials; every
other path needs a user when ``basic_auth_users`` is set.
"""

from __future__ import annotations

import hashlib
import ssl
from dataclasses import dataclass, field
from pathlib import Path

import bcrypt
import yaml
from pydantic import BaseModel, ConfigDict, ValidationError

from callpulse.config.errors import ConfigError, describe

OPEN_PATHS = ("/healthz", "/readyz")


class _TlsServerConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    cert_file: Path
    key_file: Path
    client_ca_file: Path | None = None


class _WebConfigFile(BaseModel):
    model_config = ConfigDict(extra="forbid")

    tls_server_config: _TlsServerConfig | None = None
    basic_auth_users: dict[str, str] = {}


@dataclass
class WebConfig:
    """TLS and users for the HTTP server; empty: plain HTTP, no authentication."""

    ssl_context: ssl.SSLContext | None = None
    users: dict[str, bytes] = field(default_factory=dict)  # name -> bcrypt hash
    # sha256 of credentials already checked: bcrypt costs ~0.1 s, a scrape comes each second.
    _verified: dict[bytes, bool] = field(default_factory=dict)

    def allows(self, path: str, user: str | None, password: str | None) -> bool:
        """Whether a request for ``path`` with these credentials may be served."""
        if not self.users or path in OPEN_PATHS:
            return True
        if user is None or password is None or user not in self.users:
            return False
        key = hashlib.sha256(f"{user}\0{password}".encode()).digest()
        if key not in self._verified:
            if len(self._verified) > 1000:  # wrong guesses must not grow memory
                self._verified.clear()
            self._verified[key] = bcrypt.checkpw(password.encode(), self.users[user])
        return self._verified[key]


def load_web_config(path: Path | None) -> WebConfig:
    """Read ``path``; ConfigError naming the file, the key and the problem."""
    if path is None:
        return WebConfig()
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read the web config file: {exc.strerror}") from None
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path}: not valid YAML: {exc}") from None
    try:
        parsed = _WebConfigFile.model_validate(data)
    except ValidationError as exc:
        raise ConfigError(describe(exc, str(path), env=False)) from None
    users = {}
    for name, digest in parsed.basic_auth_users.items():
        if not digest.startswith(("$2a$", "$2b$", "$2y$")):
            raise ConfigError(f"{path}: basic_auth_users.{name}: expected a bcrypt hash")
        users[name] = digest.encode()
    context = None
    tls = parsed.tls_server_config
    if tls is not None:
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        try:
            context.load_cert_chain(str(tls.cert_file), str(tls.key_file))
            if tls.client_ca_file is not None:
                context.load_verify_locations(str(tls.client_ca_file))
                context.verify_mode = ssl.CERT_REQUIRED
        except (OSError, ssl.SSLError) as exc:
            raise ConfigError(f"{path}: tls_server_config: {exc}") from None
    return WebConfig(ssl_context=context, users=users)

"""The web config file, in the format of Prometheus' exporter-toolkit (``--web.config.file``),
which operators already write for node_exporter and Prometheus itself::

    tls_server_config:
      cert_file: /etc/callpulse/tls/tls.crt
      key_file: /etc/callpulse/tls/tls.key
      client_ca_file: /etc/callpulse/tls/ca.crt   # optional: require client certificates
                                                  # (on every path but the probes)
    basic_auth_users:
      prometheus: $2y$10$...                      # bcrypt hashes, as htpasswd -B makes them

The probes (``/healthz``, ``/readyz``) stay open so the kubelet needs no credentials; every
other path needs a user when ``basic_auth_users`` is set (checked by
:mod:`callpulse.web.auth`).
"""

from __future__ import annotations

import re
import ssl
from dataclasses import dataclass, field
from pathlib import Path

import yaml
from pydantic import BaseModel, ConfigDict, ValidationError

from callpulse.config.errors import ConfigError, describe

# What htpasswd -B and exporter-toolkit's docs make: version, two-digit cost, 53 characters of
# salt and hash in bcrypt's base64.
_BCRYPT_HASH = re.compile(r"\$2[aby]\$\d\d\$[./A-Za-z0-9]{53}")


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
    # A verified client certificate is needed for every path but the probes.
    client_certificate_required: bool = False


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
        if not _BCRYPT_HASH.fullmatch(digest):
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
                # Asked for, verified when given, but not required by the handshake: the
                # kubelet's probes have none. The server requires one past the probes.
                context.verify_mode = ssl.CERT_OPTIONAL
        except (OSError, ssl.SSLError) as exc:
            raise ConfigError(f"{path}: tls_server_config: {exc}") from None
    return WebConfig(
        ssl_context=context,
        users=users,
        client_certificate_required=tls is not None and tls.client_ca_file is not None,
    )

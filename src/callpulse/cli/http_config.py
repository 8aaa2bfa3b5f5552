"""``--http.config.file``: how ``callpulse status`` reaches a callpulse behind TLS and
authentication, in the file promtool takes for the same purpose (Prometheus' common
``http_config``)::

    basic_auth: {username: prometheus, password_file: scrape-password}
    # or: authorization: {type: Bearer, credentials_file: token}
    tls_config:
      ca_file: ca.crt                   # the CA that signed callpulse's certificate
      cert_file: client.crt             # a client certificate, where callpulse asks for one
      key_file: client.key
      server_name: callpulse.internal   # the name to verify, when not the URL's host
      insecure_skip_verify: false

Relative paths are relative to the file's directory, as Prometheus reads them.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

from pydantic import ValidationError, model_validator

from callpulse.config.convert import http_config
from callpulse.config.errors import ConfigError, describe
from callpulse.config.schema import HttpClientSettings, TlsSettings
from callpulse.config.yaml import read_yaml
from callpulse.sinks.http_client import HttpConfig


class ClientTlsSettings(TlsSettings):
    """A sink's ``tls_config`` and the two keys more that promtool's takes."""

    server_name: str | None = None
    insecure_skip_verify: bool = False


class HttpConfigFile(HttpClientSettings):
    """The file's keys: ``basic_auth``, ``authorization`` and ``tls_config``; any other is
    refused, so that a setting callpulse does not apply is not thought applied."""

    tls_config: ClientTlsSettings | None = None

    @model_validator(mode="after")
    def _one_of_each(self) -> HttpConfigFile:
        basic, bearer, tls = self.basic_auth, self.authorization, self.tls_config
        if basic is not None and basic.password is not None and basic.password_file:
            raise ValueError("basic_auth: give password or password_file, not both")
        if bearer is not None and bearer.credentials is not None and bearer.credentials_file:
            raise ValueError("authorization: give credentials or credentials_file, not both")
        if tls is not None and (tls.cert_file is None) != (tls.key_file is None):
            raise ValueError("tls_config: a client certificate needs cert_file and key_file")
        return self


def file_http_config(file: HttpConfigFile) -> HttpConfig:
    """A sink's client settings, with the two TLS keys only the file has."""
    config = http_config(file)
    tls = file.tls_config
    if tls is None:
        return config
    return dataclasses.replace(
        config, server_name=tls.server_name, insecure_skip_verify=tls.insecure_skip_verify
    )


def load_http_config(path: Path | None) -> HttpConfig:
    """``path``'s client settings (none: no credentials, the system's CAs); ConfigError naming
    the file, the key and the problem, never a credential's value."""
    if path is None:
        return HttpConfig()
    data = read_yaml(path)
    try:
        config = file_http_config(HttpConfigFile.model_validate(data))
    except ValidationError as exc:
        raise ConfigError(describe(exc, str(path), env=False)) from None

    def beside(file: Path | None) -> Path | None:
        return None if file is None else path.parent / file

    return dataclasses.replace(
        config,
        password_file=beside(config.password_file),
        bearer_token_file=beside(config.bearer_token_file),
        ca_file=beside(config.ca_file),
        cert_file=beside(config.cert_file),
        key_file=beside(config.key_file),
    )

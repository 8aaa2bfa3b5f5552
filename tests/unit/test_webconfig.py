"""The exporter-toolkit web config file: what it admits, and errors that say where."""

from __future__ import annotations

from pathlib import Path

import bcrypt
import pytest

from callpulse.config import ConfigError
from callpulse.web.webconfig import load_web_config


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "web.yml"
    path.write_text(text)
    return path


def test_basic_auth_users_are_read_as_bcrypt_hashes(tmp_path: Path) -> None:
    digest = bcrypt.hashpw(b"s3cret", bcrypt.gensalt(rounds=4)).decode()
    web = load_web_config(write(tmp_path, f"basic_auth_users: {{prom: '{digest}'}}\n"))
    assert web.users == {"prom": digest.encode()}
    assert web.ssl_context is None


def test_no_file_means_open_http(tmp_path: Path) -> None:
    web = load_web_config(None)
    assert web.users == {}
    assert web.ssl_context is None


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("basic_auth_users: {prom: plain}\n", "basic_auth_users.prom: expected a bcrypt hash"),
        ("basic_auth_users: {prom: $2y$10$short}\n", "basic_auth_users.prom: expected a bcrypt"),
        ("tls_server_config: {cert_file: /nope.crt, key_file: /nope.key}\n", "tls_server_config"),
        ("tls_server_config: {cert_file: /x}\n", "tls_server_config.key_file: Field required"),
        ("basic_auth: {}\n", "basic_auth: unknown key"),
    ],
)
def test_errors_name_the_file_and_the_key(tmp_path: Path, text: str, message: str) -> None:
    path = write(tmp_path, text)
    with pytest.raises(ConfigError, match=message) as info:
        load_web_config(path)
    assert str(path) in str(info.value)

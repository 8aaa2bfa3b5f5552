"""``callpulse status`` prints what a server sends as text: escape sequences in names show as
their escapes instead of driving the terminal."""

from __future__ import annotations

import asyncio
import base64
import io
import json
from pathlib import Path
from typing import Any

import pytest
from rich.console import Console

from callpulse.cli.status import plain, render

from .receivers import Receiver, redirect

EVIL = Path(__file__).resolve().parents[1] / "integration" / "evil-status.json"


def test_plain_writes_unprintable_characters_as_escapes() -> None:
    assert plain("lon1") == "lon1"
    assert plain("q\x1b[2J\x07\r\n\u202e") == "q\\x1b[2J\\x07\\r\\n\\u202e"


def test_escape_sequences_in_every_field_never_reach_the_terminal() -> None:
    status = json.loads(EVIL.read_text())
    clear, title = "\x1b[2J", "\x1b]0;owned\x07"
    status["queues"][0]["queue"] = f"billing{clear}"
    status["alerts"]["firing"][0]["annotations"]["summary"] = f"down{title}"
    status["components"].append(
        {"site": "lon1", "component": f"pbx{clear}", "kind": "pbx", "status": "down", "stale": 0}
    )
    status["windows"]["short"] = f"5m{clear}"
    status["upcoming"][0]["name"] = f"chg{clear}"
    status["alerts"]["pending"][0]["suppressedBy"] = f"mw{title}"
    out = io.StringIO()
    console = Console(file=out, markup=False, highlight=False, force_terminal=False, width=300)
    render(status, "http://127.0.0.1:9464", console)
    text = out.getvalue()
    assert "\x1b" not in text
    assert "\x07" not in text
    assert "billing\\x1b[2J" in text
    assert "pbx\\x1b[2J" in text
    assert "chg\\x1b[2J" in text  # the window coming
    assert "suppressed by mw\\x1b]0;owned\\x07" in text
    assert "<b>lon1</b>" in text  # markup shows as text too


def status(*args: str) -> int:
    from callpulse.cli import main

    return main(["status", *args])


@pytest.mark.parametrize(
    "url",
    [
        "http://u:s3cret@127.0.0.1:9",
        "https://u:s3cret@127.0.0.1:9/prefix",
        "http://127.0.0.1:9/?token=s3cret",
        "u:s3cret@127.0.0.1:9",  # no scheme
        "http://u:x@127.0.0.1:s3cret/",  # a password typed where the port goes
        "http://u:s3cret@[::1/",
    ],
)
def test_a_status_error_never_prints_the_urls_credentials(
    url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert status("--url", url) == 2
    printed = capsys.readouterr()
    assert "s3cret" not in printed.out + printed.err
    assert printed.err.startswith("callpulse status: ")


def answer_status(expected: str) -> Any:
    from aiohttp import web

    def answer(request: web.Request) -> web.Response:
        if request.headers.get("Authorization") != expected:
            return web.Response(status=401)
        return web.Response(body=EVIL.read_bytes(), content_type="application/json")

    return answer


def basic(user: str, password: str) -> str:
    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()


async def test_status_takes_the_urls_user_as_basic_auth_and_never_prints_it(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("COLUMNS", "200")
    async with Receiver(answer_status(basic("ops", "s3cret"))) as server:
        url = f"http://ops:s3cret@127.0.0.1:{server.port}/?token=s3cret"
        assert await asyncio.to_thread(status, "--url", url) == 0
    printed = capsys.readouterr()
    assert f"callpulse at http://127.0.0.1:{server.port} - as of" in printed.out
    assert "Queues" in printed.out
    assert "s3cret" not in printed.out + printed.err
    assert [path for _, path, *_ in server.requests] == ["/api/v1/status"]


@pytest.mark.parametrize(
    ("config", "header"),
    [
        ("basic_auth: {username: ops, password_file: pw}", basic("ops", "s3cret")),
        ("basic_auth: {username: ops, password: s3cret}", basic("ops", "s3cret")),
        ("authorization: {credentials_file: pw}", "Bearer s3cret"),
        ("authorization: {type: Bearer, credentials: s3cret}", "Bearer s3cret"),
    ],
)
async def test_status_reads_promtools_http_config_file(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], config: str, header: str
) -> None:
    (tmp_path / "pw").write_text("s3cret\n")  # relative to the file, as Prometheus reads it
    (tmp_path / "http.yml").write_text(config + "\n")
    async with Receiver(answer_status(header)) as server:
        url = f"http://127.0.0.1:{server.port}"
        args = ("--url", url, "--http.config.file", str(tmp_path / "http.yml"))
        assert await asyncio.to_thread(status, *args) == 0, capsys.readouterr().err
    assert "s3cret" not in capsys.readouterr().out


async def test_without_credentials_status_says_what_to_give(
    capsys: pytest.CaptureFixture[str],
) -> None:
    async with Receiver(answer_status("Basic nobody")) as server:
        url = f"http://127.0.0.1:{server.port}"
        assert await asyncio.to_thread(status, "--url", url) == 2
    err = capsys.readouterr().err
    assert f"http://127.0.0.1:{server.port}/api/v1/status answered 401" in err
    assert "--http.config.file" in err


@pytest.mark.parametrize(
    ("config", "message"),
    [
        ("basic_auth: {username: u, password: 987654321}", "basic_auth.password: "),
        ("authorization: {credentials: [987654321]}", "authorization.credentials: "),
        ("authorization: 987654321", "authorization: "),
        ("oauth2: {client_id: x}", "oauth2: unknown key"),
        ("tls_config: {ca_file: ca.crt, min_version: TLS13}", "tls_config.min_version: unknown"),
        ("basic_auth: {username: u, password: a, password_file: pw}", "password or password_file"),
        ("authorization: {credentials: a, credentials_file: pw}", "credentials or credentials_"),
        ("basic_auth: {username: u}\nauthorization: {credentials: a}", "not both"),
        ("tls_config: {cert_file: c.crt}", "needs cert_file and key_file"),
    ],
)
def test_http_config_file_errors_name_the_key_never_a_credential(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], config: str, message: str
) -> None:
    (tmp_path / "http.yml").write_text(config + "\n")
    assert status("--http.config.file", str(tmp_path / "http.yml")) == 2
    err = capsys.readouterr().err
    assert message in err
    assert "98765" not in err


def test_credentials_in_the_url_and_the_file_are_one_too_many(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "http.yml").write_text("basic_auth: {username: ops, password: x}\n")
    args = (
        "--url",
        "http://u:s3cret@127.0.0.1:9",
        "--http.config.file",
        str(tmp_path / "http.yml"),
    )
    assert status(*args) == 2
    err = capsys.readouterr().err
    assert "give one of them" in err
    assert "s3cret" not in err


async def test_status_follows_no_redirect_to_another_origin(
    capsys: pytest.CaptureFixture[str],
) -> None:
    async with Receiver() as elsewhere:
        away = redirect(302, f"http://127.0.0.1:{elsewhere.port}/landed")
        async with Receiver(away) as server:
            url = f"http://127.0.0.1:{server.port}"
            assert await asyncio.to_thread(status, "--url", url) == 2
        assert elsewhere.requests == []  # where the credentials would have gone
    err = capsys.readouterr().err
    assert "answered 302: a redirect to another origin: not followed" in err


def test_the_terminal_shows_the_banner_links_sites_and_silences() -> None:
    status = json.loads(EVIL.read_text())
    status["source"]["simulated"] = "the built-in demo scenario maintenance-backlog at 30x"
    status["links"] = {"grafana": "https://grafana.example/d/cp", "alertmanager": None}
    out = io.StringIO()
    console = Console(file=out, markup=False, highlight=False, force_terminal=False, width=300)
    render(status, "http://127.0.0.1:9464", console)
    text = out.getvalue()
    assert "SIMULATED DATA - the built-in demo scenario maintenance-backlog at 30x" in text
    assert "grafana: https://grafana.example/d/cp" in text
    [site] = [line for line in text.splitlines() if "<b>lon1</b>" in line and "stale" in line]
    assert "1 s ago" in site
    [silence] = [line for line in text.splitlines() if "alert(15)" in line]
    assert "in 25 min" in silence
    assert "<img src=x onerror=alert(16)>" in silence  # callpulse's, for this window
    assert "(silenced in Alertmanager)" in text

    status["silences"] = {
        "alertmanager": "alertmanager:am",
        "error": "GET /api/v2/silences answered 503",
        "items": [],
        "now": "t",
        "fetchedAt": None,
        "more": 0,
    }
    out = io.StringIO()
    render(status, "http://127.0.0.1:9464", Console(file=out, markup=False, width=300))
    assert "Silences: cannot read alertmanager:am: GET /api/v2/silences answered 503" in (
        out.getvalue()
    )

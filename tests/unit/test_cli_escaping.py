"""What a command prints from its input (a config's keys and values, a rule test's, a
scenario's or a maintenance window's names) is escaped: none of it can clear the screen,
recolour the terminal or turn a line around."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from callpulse import cli

# ESC with a CSI sequence, BEL, a C1 CSI and a right-to-left override, as YAML writes them.
HOSTILE_YAML = r"\e[2J\e[32mOK\a\u009b\u202e"
ESCAPED = r"\x1b[2J\x1b[32mOK\x07\x9b\u202e"


def only_printable(text: str) -> bool:
    return all(c.isprintable() or c == "\n" for c in text)


def test_plain_writes_every_unprintable_character_as_its_escape() -> None:
    from callpulse.text import plain

    assert plain("billing") == "billing"
    assert plain("Zürich 東京 🙂 a\\b") == "Zürich 東京 🙂 a\\b"
    assert plain("\x1b[2J\x07\x00\x7f") == r"\x1b[2J\x07\x00\x7f"
    assert (
        plain("\x9b\x85\u202e\u2066\u200b\ufeff\u2028") == r"\x9b\x85\u202e\u2066\u200b\ufeff\u2028"
    )
    assert plain("\udc80") == r"\udc80"  # a lone surrogate, which print() cannot even encode
    assert plain("one\ntwo\r") == r"one\ntwo\r"
    assert plain("one\ntwo\r", newlines=True) == "one\ntwo\\r"


def test_check_config_escapes_the_keys_and_values_it_echoes(tmp_path: Path) -> None:
    config = tmp_path / "callpulse.yaml"
    config.write_text(
        f'source:\n  kind: "{HOSTILE_YAML}"\n'
        f'"{HOSTILE_YAML}": 1\n'
        '"x\\n  callpulse.yaml: OK": 1\n'  # a key with a line break, forging a line
        f'kpi:\n  windows: ["1m{HOSTILE_YAML}"]\n'
    )
    result = subprocess.run(
        [sys.executable, "-m", "callpulse", "check-config", str(config)],
        capture_output=True,
        timeout=60,
    )
    assert result.returncode == 2
    err = result.stderr.decode()
    assert only_printable(err), err
    assert f"{config}: {ESCAPED}: unknown key" in err
    assert f"source.kind: Input should be 'simulator', 'kafka' or 'replay' (got '{ESCAPED}')" in err
    assert not any(line.startswith("  callpulse.yaml: OK") for line in err.splitlines())


@pytest.mark.parametrize(
    ("files", "args"),
    [
        (
            {"rules.test.yaml": f'tests:\n  - name: "quiet{HOSTILE_YAML}"\n    events: []\n'},
            ["rules", "test", "rules.test.yaml"],
        ),
        (
            {
                "callpulse.yaml": "maintenance:\n  timezone: UTC\n  windows:\n"
                f'    - name: "patch{HOSTILE_YAML}"\n      sites: ["lon1{HOSTILE_YAML}"]\n'
                '      start: "2026-03-02T11:00"\n      duration: 10m\n'
            },
            ["maintenance", "list", "-c", "callpulse.yaml", "--from", "2026-03-01", "--to",
             "2026-03-05"],
        ),
        (
            {"day.yaml": f'name: "day{HOSTILE_YAML}"\n"{HOSTILE_YAML}": 1\n'},
            ["scenario", "check", "day.yaml"],
        ),
    ],
    ids=["rules test", "maintenance list", "scenario check"],
)  # fmt: skip
def test_commands_escape_the_names_they_echo(
    files: dict[str, str],
    args: list[str],
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    for name, text in files.items():
        (tmp_path / name).write_text(text)
    monkeypatch.chdir(tmp_path)
    cli.main(args)
    out, err = capsys.readouterr()
    assert ESCAPED in out + err
    assert only_printable(out), out
    assert only_printable(err), err

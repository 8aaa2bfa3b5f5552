"""The wheel the Dockerfile builds, installed alone in a fresh virtual environment as the
image installs it (no Docker engine here: the image build itself is not run)."""

from __future__ import annotations

import subprocess
import sys
import venv
from pathlib import Path

import pytest

from callpulse import __version__

pytestmark = pytest.mark.integration
ROOT = Path(__file__).resolve().parents[2]


def test_the_wheel_installs_and_runs_in_a_fresh_environment(tmp_path: Path) -> None:
    dist = tmp_path / "dist"
    # The Dockerfile's build stage: pip wheel --no-deps --wheel-dir /dist .
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "--quiet",
            "--no-deps",
            "--wheel-dir",
            str(dist),
            str(ROOT),
        ],
        check=True,
        timeout=300,
    )
    [wheel] = dist.glob("callpulse-*.whl")
    env_dir = tmp_path / "venv"
    venv.EnvBuilder(with_pip=True).create(env_dir)
    pip, callpulse = env_dir / "bin" / "pip", env_dir / "bin" / "callpulse"
    subprocess.run([str(pip), "install", "--quiet", str(wheel)], check=True, timeout=600)
    version = subprocess.run(
        [str(callpulse), "--version"], capture_output=True, text=True, check=True, timeout=60
    )
    assert version.stdout.strip() == f"callpulse {__version__}"
    # The shipped rules and scenarios travel inside the wheel.
    scenarios = subprocess.run(
        [str(callpulse), "scenario", "list"],
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
        cwd=tmp_path,
    )
    assert "maintenance-backlog" in scenarios.stdout
    check = subprocess.run(
        [str(callpulse), "scenario", "check", "trunk-failure"],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=tmp_path,
    )
    assert check.returncode == 0, check.stdout + check.stderr

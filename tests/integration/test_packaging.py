"""The wheel the Dockerfile builds, installed alone in a fresh virtual environment as the
image installs it (no Docker engine here: the image build itself is not run)."""

from __future__ import annotations

import os
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
    # The image's build stage has a C compiler and cargo, as this machine does
    # (rustup's): the core is compiled by mypyc, and its innermost structures are Rust's.
    assert wheel.name.startswith(f"callpulse-{__version__}-cp3")
    assert version.stdout.startswith(f"callpulse {__version__} (compiled core (mypyc, Rust),")
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


@pytest.mark.parametrize("environment", [{"CC": "false"}, {"CALLPULSE_PURE": "1"}])
def test_without_a_working_compiler_the_wheel_is_pure_python(
    tmp_path: Path, environment: dict[str, str]
) -> None:
    """``pip wheel .`` where no C compiler works (or when told to) still builds, and says
    it built pure Python; the wheel is then the platform-free one."""
    wheel_dir = str(tmp_path)
    build = subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "-v",
            "--no-deps",
            "--wheel-dir",
            wheel_dir,
            str(ROOT),
        ],
        capture_output=True,
        text=True,
        check=True,
        timeout=300,
        env={**os.environ, **environment},
    )
    output = build.stdout + build.stderr  # pip -v shows the backend's output on stderr
    said = [line.strip() for line in output.splitlines() if "callpulse build:" in line]
    assert said, output[-2000:]
    assert said[-1].endswith("pure Python"), said
    [wheel] = tmp_path.glob("callpulse-*.whl")
    assert wheel.name == f"callpulse-{__version__}-py3-none-any.whl"

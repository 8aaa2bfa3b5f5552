"""What build of callpulse is running: ``callpulse_build_info``'s labels.

``compiled`` says whether the hot core modules run as mypyc-compiled extensions (a wheel
built where a C compiler works) or as the Python source (an editable install, or a build
without a compiler): the same code either way, at different speeds. ``native`` says whether
the innermost structures are the ones built from Rust (``callpulse.core._native``, in a
wheel built where cargo works too) rather than their Python classes.

The revision is the commit the code was built from: a ``REVISION`` file beside this module
in a built image (the Dockerfile writes it from its ``REVISION`` build argument), else the
checkout's ``.git`` read directly (no ``git`` process at start-up), else ``unknown``.
"""

from __future__ import annotations

import platform
from functools import cache
from importlib.machinery import EXTENSION_SUFFIXES
from pathlib import Path

from callpulse import __version__

_HERE = Path(__file__).resolve().parent


@cache
def build_labels() -> dict[str, str]:
    """``version``, ``revision`` and ``python_version``, as node_exporter's build info, and
    ``compiled`` (``true`` or ``false``)."""
    return {
        "version": __version__,
        "revision": revision(),
        "python_version": platform.python_version(),
        "compiled": "true" if compiled() else "false",
        "native": "true" if native() else "false",
    }


def compiled() -> bool:
    """Whether the core modules were imported from mypyc-compiled extensions: the build
    compiles them all or none, so one module's file tells."""
    from callpulse.core import monitor

    return monitor.__file__ is not None and monitor.__file__.endswith(tuple(EXTENSION_SUFFIXES))


def native() -> bool:
    """Whether the innermost structures are the ones built from Rust
    (``callpulse.core._native``): the rolling counters tell, as a wheel has all or none."""
    from callpulse.core.windows import RollingCounters, counters_class

    return counters_class() is not RollingCounters


def describe() -> str:
    """``callpulse --version``'s line: the version, and which build of the core runs."""
    kind = "compiled core (mypyc)" if compiled() else "pure Python"
    if native():
        kind = f"{kind[:-1]}, Rust)" if compiled() else f"{kind}, Rust structures"
    return f"callpulse {__version__} ({kind}, Python {platform.python_version()})"


def revision(package: Path = _HERE) -> str:
    """The commit this code was built from (40 hex digits), or ``unknown``."""
    try:
        written = (package / "REVISION").read_text(encoding="ascii").strip()
    except (OSError, UnicodeDecodeError):
        written = ""
    if _commit(written):
        return written
    return _checkout(package.parents[1] / ".git") or "unknown"


def _commit(text: str) -> bool:
    return len(text) == 40 and all(c in "0123456789abcdef" for c in text)


def _checkout(git: Path) -> str | None:
    """HEAD's commit in the repository at ``git``: a detached HEAD, a loose ref or a packed
    one; None when it is not a repository (an installed wheel)."""
    try:
        if git.is_file():  # a worktree: "gitdir: <path>"
            git = Path(git.read_text(encoding="utf-8").removeprefix("gitdir:").strip())
        head = (git / "HEAD").read_text(encoding="utf-8").strip()
        if _commit(head):
            return head
        ref = head.removeprefix("ref:").strip()
        common = git
        if (git / "commondir").is_file():
            common = (git / (git / "commondir").read_text(encoding="utf-8").strip()).resolve()
        for base in (git, common):
            loose = base / ref
            if loose.is_file():
                value = loose.read_text(encoding="utf-8").strip()
                return value if _commit(value) else None
        for line in (common / "packed-refs").read_text(encoding="utf-8").splitlines():
            commit, _, name = line.partition(" ")
            if name == ref and _commit(commit):
                return commit
    except (OSError, UnicodeDecodeError):
        return None
    return None

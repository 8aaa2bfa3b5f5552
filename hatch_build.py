"""Build hook: compile the hot core modules with mypyc into the wheel, or ship pure Python.

A wheel (``pip install .``, ``pip wheel .``) gets the modules in ``COMPILED`` compiled when
mypyc and a working C compiler are there; otherwise, or with ``CALLPULSE_PURE=1``, the same
wheel is pure Python, and the build's output says which and why. The editable install used
for development (``pip install -e .``) is always pure Python, so edits to ``src`` take
effect as they are. The Python source stays the only source: the compiled modules are the
same files, and they stay in the wheel beside their extensions (the import system prefers
the extension).

Where Rust's cargo works too, the wheel also gets ``callpulse.core._native``: the rolling
counters of ``callpulse.core.windows`` and the de-duplication table of
``callpulse.core.dedup``, built from ``rust/native`` (PyO3), the structures for which
mypyc's code is still slower than native code by 1.4 to 10 times, because their state is
``array.array`` items (see the crate). The Python classes stay, and are used wherever the
extension is not there (``windows.counters_class``, ``dedup.recent_ids``).

The compilation runs in a child process (this file run as a script), so that a compiler
that fails, or mypyc finding a type error, leaves a pure wheel instead of a failed install.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
import sysconfig
import tempfile
from pathlib import Path
from typing import Any

# The modules the ingest profile spends its time in (benchmarks/README.md), the document
# splitter a replay reads its file with, and those an alert evaluation and a scrape read the
# queues with (benchmarks/read_side.py). Adding one here is the whole change; it must compile
# under mypyc (CI runs the unit suite compiled).
COMPILED = (
    "alert_state",
    "alerting",
    "backlog",
    "cardinality",
    "catalog",
    "components",
    "dedup",
    "documents",
    "drain",
    "drain_eta",
    "durations",
    "erlang",
    "erlang_a",
    "evaluation_input",
    "flow_history",
    "gamma",
    "histogram",
    "ingest",
    "ivr",
    "kpi",
    "maintenance_baselines",
    "monitor",
    "monitor_config",
    "patience",
    "queue_reading",
    "queue_state",
    "queue_tracker",
    "queues",
    "raw_record",
    "readings",
    "row_text",
    "rules",
    "sample_sinks",
    "silence",
    "timegrid",
    "trunk_views",
    "trunks",
    "windows",
)
CORE = Path("src/callpulse/core")
# The shared library holding every compiled module's code; each module's own extension is a
# thin shim that loads it. It sits at the top of site-packages, so it carries our name.
GROUP = "callpulse_core"
PURE_ENV = "CALLPULSE_PURE"
# Set, the wheel's counters stay the Python class even where cargo works (to measure the
# mypyc build alone).
NO_RUST_ENV = "CALLPULSE_NO_RUST"
# The Rust crate of callpulse.core._native, the innermost structures compiled.
CRATE = "rust/native"
# The project's cache (as scripts/kafka-local's): when set, compiled extensions are kept in
# its mypyc/ by the hash of what compiling them reads, so that a rebuild of unchanged core
# sources (scripts/test, on every run) does not recompile.
CACHE_ENV = "CALLPULSE_CACHE"


def _say(message: str) -> None:
    # pip shows a backend's output with -v (or when the build fails).
    print(f"callpulse build: {message}", flush=True)


try:
    from hatchling.builders.hooks.plugin.interface import BuildHookInterface
except ImportError:  # run as the compiling child, where only mypyc and setuptools are needed
    BuildHookInterface = object  # type: ignore[assignment,misc]


class CompiledCoreHook(BuildHookInterface):  # type: ignore[misc]
    """Adds the mypyc-compiled core modules to a wheel, when they can be built."""

    PLUGIN_NAME = "custom"

    def initialize(self, version: str, build_data: dict[str, Any]) -> None:
        if self.target_name != "wheel":
            return
        if version == "editable":
            _say("editable install: pure Python (the source is imported as it is)")
            return
        if os.environ.get(PURE_ENV, "") not in ("", "0"):
            _say(f"{PURE_ENV} is set: pure Python")
            return
        root = Path(self.root)
        out = Path(tempfile.mkdtemp(prefix="callpulse-mypyc-"))
        self._out = out
        try:  # first, and on a cache hit too: no working compiler means pure, always
            _check_compiler(out / "probe")
        except (SystemExit, ImportError) as exc:  # ImportError: setuptools is not there
            _say(f"{exc}; pure Python")
            return
        built = _mypyc(root, out) + _native(root, out)
        for path, name in built:
            build_data["force_include"][str(path)] = name
        if built:
            # Extensions make the wheel specific to this interpreter and platform.
            build_data["pure_python"] = False
            build_data["infer_tag"] = True

    def finalize(self, version: str, build_data: dict[str, Any], artifact_path: str) -> None:
        out = getattr(self, "_out", None)
        if out is not None:
            shutil.rmtree(out, ignore_errors=True)


def _mypyc(root: Path, out: Path) -> list[tuple[Path, str]]:
    """The mypyc-compiled core modules, each with its path in the wheel (none when they
    cannot be built, with the reason said)."""
    cache = os.environ.get(CACHE_ENV)
    cached = Path(cache) / "mypyc" / _key(root) if cache else None
    if cached is not None and cached.is_dir():
        shutil.copytree(cached, out / "lib")
        _say(f"compiled extensions reused from {CACHE_ENV} ({cached.name[:12]})")
    else:
        child = subprocess.run(
            [sys.executable, str(root / "hatch_build.py"), str(out)],
            cwd=root,
            capture_output=True,
            text=True,
            check=False,
        )
        if child.returncode != 0:
            tail = "\n".join((child.stdout + child.stderr).strip().splitlines()[-15:])
            _say(f"could not compile ({tail or 'no output'}); the core modules stay Python")
            return []
        if cached is not None:
            _store(out / "lib", cached)
    built = sorted(out.joinpath("lib").rglob("*" + _suffix()))
    if len(built) != len(COMPILED) + 1:  # each module's shim, and the shared library
        _say(f"expected {len(COMPILED) + 1} extensions, found {len(built)}; core stays Python")
        return []
    _say(f"compiled with mypyc: {', '.join(COMPILED)}")
    return [(path, path.relative_to(out / "lib").as_posix()) for path in built]


def _native(root: Path, out: Path) -> list[tuple[Path, str]]:
    """``callpulse.core._native``, built from Rust (rust/native) with cargo, and its path in
    the wheel; none when cargo is not there or the build fails (the core then uses its
    Python classes; the reason is said)."""
    name = f"callpulse/core/_native{_suffix()}"
    if os.environ.get(NO_RUST_ENV, "") not in ("", "0"):
        _say(f"{NO_RUST_ENV} is set: no Rust extension, its classes stay Python")
        return []
    cargo = shutil.which("cargo")
    if cargo is None:
        _say("no cargo (Rust) here: no Rust extension, its classes stay Python")
        return []
    crate = root / CRATE
    cache = os.environ.get(CACHE_ENV)
    key = _crate_key(crate, cargo)
    cached = Path(cache) / "rust" / key / "_native.so" if cache else None
    if cached is not None and cached.is_file():
        _say(f"Rust extension reused from {CACHE_ENV} ({key[:12]})")
        return [(cached, name)]
    # Cargo's own build directory is kept in the cache too, so that a change to the crate
    # does not rebuild its dependencies (PyO3, most of a clean build's time). Two builds at
    # once take turns with it: each must copy out the library it built, not the other's.
    target = Path(cache) / "rust" / "target" if cache else out / "rust-target"
    target.mkdir(parents=True, exist_ok=True)
    built = out / "rust" / "_native.so"
    with open(target / "callpulse-build.lock", "w") as lock:
        import fcntl  # here: the library is only looked for on Linux anyway

        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            child = subprocess.run(
                [
                    cargo,
                    "build",
                    "--release",
                    "--locked",
                    "--manifest-path",
                    str(crate / "Cargo.toml"),
                ],
                env=os.environ | {"PYO3_PYTHON": sys.executable, "CARGO_TARGET_DIR": str(target)},
                capture_output=True,
                text=True,
                check=False,
                timeout=1800,
            )
            failed = child.returncode != 0
            said = child.stderr
        except (OSError, subprocess.TimeoutExpired) as exc:
            failed, said = True, str(exc)
        library = target / "release" / "lib_native.so"  # Linux; other systems build none yet
        if failed or not library.is_file():
            tail = "\n".join(said.strip().splitlines()[-15:])
            _say(f"could not build the Rust extension ({tail or 'no library'}); Python")
            return []
        built.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(library, built)
    if cached is not None:
        _store(built.parent, cached.parent)
    _say(f"Rust extension built ({CRATE}): RollingCounters, RecentIds, LineBuffers, epoch_seconds")
    return [(built, name)]


def _store(built: Path, cached: Path) -> None:
    """Copy the directory ``built`` to the cache entry ``cached``: copied then renamed, so a
    build stopped half-way leaves no partial entry."""
    partial = cached.with_name(cached.name + ".partial")
    try:
        cached.parent.mkdir(parents=True, exist_ok=True)
        shutil.rmtree(partial, ignore_errors=True)
        shutil.copytree(built, partial)
        partial.rename(cached)
    except OSError:  # another build stored the same key first, or the cache is read-only
        shutil.rmtree(partial, ignore_errors=True)


def _crate_key(crate: Path, cargo: str) -> str:
    """What the Rust extension depends on: the crate's files, the toolchain and the Python
    it is built for."""
    digest = hashlib.sha256()
    files = (p for p in crate.rglob("*") if p.is_file())
    for path in sorted(p for p in files if "target" not in p.relative_to(crate).parts):
        digest.update(path.relative_to(crate).as_posix().encode() + b"\0" + path.read_bytes())
    rustc = subprocess.run([cargo, "--version"], capture_output=True, text=True, check=False).stdout
    digest.update(f"{rustc} {sys.version} {_suffix()}".encode())
    return digest.hexdigest()


def _key(root: Path) -> str:
    """What the compiled code depends on: every core module (mypy reads the ones the
    compiled modules import, for their types), this hook, the mypy settings in
    pyproject.toml, and the mypyc and Python that compile."""
    from importlib.metadata import version

    digest = hashlib.sha256()
    core = sorted([*(root / CORE).glob("*.py"), *(root / CORE).glob("*.pyi")])
    parts = [root / "hatch_build.py", root / "pyproject.toml", *core]
    for path in parts:
        digest.update(path.relative_to(root).as_posix().encode() + b"\0" + path.read_bytes())
    digest.update(f"{version('mypy')} {sys.version} {_suffix()}".encode())
    return digest.hexdigest()


def _suffix() -> str:
    return str(sysconfig.get_config_var("EXT_SUFFIX"))


def _check_compiler(scratch: Path) -> None:
    """Exit (SystemExit, with the reason) when no C compiler works here (none installed,
    or ``CC=false``), before mypyc's half minute of analysis: the compiler setuptools will
    use, on a file that includes Python.h as the extensions do."""
    from setuptools._distutils.ccompiler import new_compiler
    from setuptools._distutils.errors import CCompilerError, DistutilsExecError
    from setuptools._distutils.sysconfig import customize_compiler

    compiler = new_compiler()
    customize_compiler(compiler)
    scratch.mkdir(parents=True, exist_ok=True)
    probe = scratch / "probe.c"
    probe.write_text("#include <Python.h>\nint callpulse_probe(void) { return 0; }\n")
    try:
        compiler.compile(
            [str(probe)],
            output_dir=str(scratch / "probe"),
            include_dirs=[sysconfig.get_paths()["include"]],
        )
    except (CCompilerError, DistutilsExecError, OSError) as exc:
        raise SystemExit(f"no working C compiler: {exc}") from None


def _compile(out: Path) -> None:
    """Build the extensions into ``out/lib`` (run in the child process)."""
    from mypyc.build import mypycify
    from setuptools import Distribution

    out.mkdir(parents=True, exist_ok=True)
    paths = [str(CORE / f"{name}.py") for name in COMPILED]
    extensions = mypycify(
        # Its own mypy cache: not one a developer's mypy of another version left in the tree.
        ["--config-file", "pyproject.toml", "--cache-dir", str(out / "mypy-cache"), *paths],
        opt_level="3",
        group_name=GROUP,
        target_dir=str(out / "c"),
    )
    dist = Distribution({"name": "callpulse", "ext_modules": extensions})
    dist.package_dir = {"": "src"}
    command = dist.get_command_obj("build_ext")
    command.build_lib = str(out / "lib")
    command.build_temp = str(out / "temp")
    command.parallel = os.cpu_count() or 1
    dist.run_command("build_ext")


if __name__ == "__main__":
    _compile(Path(sys.argv[1]))

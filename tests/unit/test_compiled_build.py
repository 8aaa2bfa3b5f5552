"""The compiled build is all or nothing, and says which it is."""

from __future__ import annotations

import importlib
import importlib.util
from importlib.machinery import EXTENSION_SUFFIXES
from pathlib import Path
from types import ModuleType

from callpulse import build

ROOT = Path(__file__).resolve().parents[2]


def _hook() -> ModuleType:
    spec = importlib.util.spec_from_file_location("hatch_build", ROOT / "hatch_build.py")
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_every_listed_core_module_is_compiled_or_none_is() -> None:
    listed = _hook().COMPILED
    assert "monitor" in listed  # the module build.compiled() asks
    files = {
        name: str(importlib.import_module(f"callpulse.core.{name}").__file__) for name in listed
    }
    extension = {name: f.endswith(tuple(EXTENSION_SUFFIXES)) for name, f in files.items()}
    assert set(extension.values()) == {build.compiled()}, files


def test_the_listed_modules_exist() -> None:
    for name in _hook().COMPILED:
        assert (ROOT / "src" / "callpulse" / "core" / f"{name}.py").is_file(), name


def test_version_and_build_info_say_which_build_runs() -> None:
    kind = "compiled core (mypyc" if build.compiled() else "pure Python"
    assert kind in build.describe()
    assert ("Rust" in build.describe()) == build.native()
    assert build.build_labels()["compiled"] == str(build.compiled()).lower()
    assert build.build_labels()["native"] == str(build.native()).lower()


def test_the_classes_built_from_rust_are_all_there_or_none_is() -> None:
    # build.native() asks the counters: the de-duplication comes from the same extension.
    from callpulse.core import dedup, windows

    made = dedup.recent_ids(2, 10)
    assert (type(made) is not dedup.RecentIds) == build.native()
    assert (windows.counters_class() is not windows.RollingCounters) == build.native()

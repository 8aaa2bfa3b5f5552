"""Files callpulse ships: the default alert rules and the scenarios.

In an installed wheel they are package data (``callpulse/data/``); in a checkout they are
the editable originals under ``config/``.
"""

from __future__ import annotations

from importlib import resources
from pathlib import Path


def shipped(name: str) -> Path:
    """The path of ``name`` (e.g. ``rules.yaml`` or ``scenarios``)."""
    packaged = Path(str(resources.files("callpulse"))) / "data" / name
    if packaged.exists():
        return packaged
    return Path(__file__).resolve().parents[2] / "config" / name

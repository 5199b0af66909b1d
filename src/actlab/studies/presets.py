"""The specs shipped in the package: actlab's own studies as sweeps (``actlab sweep NAME``)."""

from __future__ import annotations

from pathlib import Path

__all__ = ["presets", "preset_path"]

SPECS = Path(__file__).with_name("specs")


def presets() -> list[str]:
    """The shipped specs' names."""
    return sorted(p.stem for p in SPECS.glob("*.toml"))


def preset_path(name: str) -> Path | None:
    """A shipped spec's file, or None."""
    p = SPECS / f"{name}.toml"
    return p if name in presets() else None

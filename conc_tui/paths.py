"""Where conc-tui keeps things: a cache for generated inputs and the sample assets.

Run folders (one per run, swept when their owner died) belong to the process
lifecycle: see :mod:`conc_tui.lifecycle`.
"""

from __future__ import annotations

import os
from pathlib import Path

from conc_tui.lifecycle import remove_orphaned_run_dirs

__all__ = ["assets_dir", "cache_dir", "remove_orphaned_run_dirs", "sample_images_dir"]


def cache_dir() -> Path:
    """The cache for generated inputs (the text corpus), created on demand."""
    base = os.environ.get("CONC_TUI_CACHE") or os.environ.get("XDG_CACHE_HOME")
    root = Path(base) if base else Path.home() / ".cache"
    path = root / "conc-tui" if not os.environ.get("CONC_TUI_CACHE") else root
    path.mkdir(parents=True, exist_ok=True)
    return path


def assets_dir() -> Path:
    """The sample assets: inside the installed package, or at the repository's top."""
    packaged = Path(__file__).parent / "assets"
    if packaged.is_dir():
        return packaged
    return Path(__file__).resolve().parent.parent / "assets"


def sample_images_dir() -> Path:
    return assets_dir() / "images"

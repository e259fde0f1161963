"""Where conc-tui keeps things: a cache for generated inputs, a folder per run.

Run folders live under the system temp folder and carry the owner's pid in their
name, so a later start can delete the folders of processes that no longer exist
(after a SIGKILL, say).
"""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

import psutil

RUN_PREFIX = "conc-tui-run-"


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


def new_run_dir() -> Path:
    """A fresh folder for one run's outputs and logs, owned by this process."""
    return Path(tempfile.mkdtemp(prefix=f"{RUN_PREFIX}{os.getpid()}-"))


def process_alive(pid: int) -> bool:
    """True while ``pid`` runs; a zombie counts as gone (it will never clean up)."""
    try:
        status: str = psutil.Process(pid).status()
    except psutil.NoSuchProcess:
        return False
    except psutil.AccessDenied:
        return True
    return status != str(psutil.STATUS_ZOMBIE)


def remove_orphaned_run_dirs() -> int:
    """Delete run folders whose owning process is gone; return how many were removed."""
    removed = 0
    tmp = Path(tempfile.gettempdir())
    for path in tmp.glob(f"{RUN_PREFIX}*"):
        pid_text = path.name[len(RUN_PREFIX) :].split("-", 1)[0]
        if not pid_text.isdigit() or process_alive(int(pid_text)):
            continue
        shutil.rmtree(path, ignore_errors=True)
        removed += 1
    return removed

"""Where conc-tui keeps things: a cache for generated inputs and the sample assets.

Run folders (one per run, swept when their owner died) belong to the process
lifecycle: see :mod:`conc_tui.lifecycle`.
"""

from __future__ import annotations

import contextlib
import errno
import os
import stat
import tempfile
from pathlib import Path

# No lifecycle (psutil) here: the files workload imports this module inside
# subinterpreters, where psutil refuses to load.
__all__ = ["assets_dir", "cache_dir", "sample_images_dir"]


def cache_root() -> Path:
    """Where the cache for generated inputs belongs; it may not exist (or be writable)."""
    override = os.environ.get("CONC_TUI_CACHE")
    if override:
        return Path(override)
    base = os.environ.get("XDG_CACHE_HOME")
    return (Path(base) if base else Path.home() / ".cache") / "conc-tui"


def cache_dir() -> Path:
    """The cache for generated inputs (the text corpus), created on demand.

    Raises:
        OSError: the folder cannot be created (a read-only or full disk, a file in
            the way); :func:`fallback_cache_dir` is the place to try next.
    """
    path = cache_root()
    path.mkdir(parents=True, exist_ok=True)
    return path


def system_temp_dir() -> Path:
    """The system's temp folder, even in a runner, whose ``tempfile.tempdir`` is its run folder.

    Chosen as :func:`tempfile.gettempdir` chooses: the first of ``TMPDIR``, ``TEMP``,
    ``TMP`` and the usual folders that is a folder this user may write to.
    """
    names = [os.environ.get(name) for name in ("TMPDIR", "TEMP", "TMP")]
    for value in [*names, "/tmp", "/var/tmp", "/usr/tmp"]:  # noqa: S108
        if value and os.path.isdir(value) and os.access(value, os.W_OK | os.X_OK):
            return Path(value)
    return Path(tempfile.gettempdir())


def fallback_cache_dir() -> Path:
    """A private cache in the temp folder, for when the real cache cannot be written.

    It is shared by this user's runs (so a corpus is generated once per boot, not
    per run) and refused when someone else owns it or it is a symlink.

    Raises:
        OSError: the folder cannot be created, or is not this user's.
    """
    path = system_temp_dir() / f"conc-tui-cache-{os.getuid() if hasattr(os, 'getuid') else 0}"
    with contextlib.suppress(FileExistsError):
        path.mkdir(mode=0o700)
    info = path.lstat()
    if not stat.S_ISDIR(info.st_mode) or (hasattr(os, "getuid") and info.st_uid != os.getuid()):
        raise PermissionError(errno.EACCES, "not a private folder of this user", str(path))
    return path


def assets_dir() -> Path:
    """The sample assets: inside the installed package, or at the repository's top."""
    packaged = Path(__file__).parent / "assets"
    if packaged.is_dir():
        return packaged
    return Path(__file__).resolve().parent.parent / "assets"


def sample_images_dir() -> Path:
    return assets_dir() / "images"

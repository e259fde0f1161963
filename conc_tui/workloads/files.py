"""The ``files`` workload: read real files, count and hash them, log a line for each.

Each item reads one file (the read is marked ``WAIT_IO``), counts its bytes, lines
and words, hashes it with SHA-256, and writes one line about it to a single shared
log, ``work_dir/files.log``, through Python's :mod:`logging`. Every process has one
:class:`~conc_tui.telemetry.lock.InstrumentedFileHandler` shared by all its threads,
so the handler's lock is the "shared tool" of the threads analogy: threads queue for
it, processes each have their own. Processes append with ``O_APPEND``, so their lines
do not tear.

Input is a user folder (``--files``), walked recursively without leaving it, or by
default a text corpus generated once into the cache (see :func:`ensure_corpus`).
``io_latency_ms`` adds a sleep to every read, to imitate a slow disk or a network
share -- the case where threads shine.
"""

from __future__ import annotations

import hashlib
import logging
import math
import os
import random
import shutil
import time
import uuid
from pathlib import Path
from typing import Any, ClassVar

from conc_tui.config import WorkloadOptions
from conc_tui.paths import cache_dir
from conc_tui.telemetry.lock import InstrumentedFileHandler
from conc_tui.telemetry.recorder import current_recorder
from conc_tui.telemetry.states import WorkerState
from conc_tui.workloads.base import Item, ItemResult, Workload, WorkloadError

CORPUS_VERSION = 1
CORPUS_SEED = 1729
LOG_NAME = "files.log"

# O_NOFOLLOW refuses a file swapped for a symlink after listing; absent on Windows.
_OPEN_FLAGS = os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_BINARY", 0)


def list_files_under(root: Path) -> tuple[list[Path], int]:
    """Every regular file under ``root``, recursively, never leaving ``root``.

    Symlinked folders are not entered (that also rules out loops); a symlinked file
    is kept only when its target lies inside ``root``, and is listed by its target.

    Args:
        root: the folder to walk.

    Returns:
        The files (resolved paths, sorted by their path relative to ``root``) and how
        many entries were skipped because they lead outside ``root`` or nowhere.
    """
    base = root.resolve()
    found: dict[Path, Path] = {}
    skipped = 0
    for dirpath, _dirnames, filenames in os.walk(base, followlinks=False):
        folder = Path(dirpath)
        for name in filenames:
            path = folder / name
            if path.is_symlink():
                try:
                    target = path.resolve(strict=True)
                except (OSError, RuntimeError):
                    skipped += 1
                    continue
                if not target.is_relative_to(base) or not target.is_file():
                    skipped += 1
                    continue
                found.setdefault(target, path)
            elif path.is_file():
                found.setdefault(path, path)
    ordered = sorted(found.items(), key=lambda pair: pair[1].relative_to(base).as_posix())
    return [target for target, _listed in ordered], skipped


# --- The default corpus -------------------------------------------------------------

_SYLLABLES = (  # noqa: SIM905 - a word list reads better as one string
    "ka ri to ne ma su lo vi de pa ge ni ro sa tu me ba ko li fe "
    "an el is or un at en ol ir ur est ing ar on"
).split()


def _vocabulary(rng: random.Random, size: int = 4000) -> list[str]:
    words: set[str] = set()
    while len(words) < size:
        words.add("".join(rng.choice(_SYLLABLES) for _ in range(rng.randint(1, 4))))
    # Sorted for determinism, then shuffled so the frequent ranks are not all "a...".
    ordered = sorted(words)
    rng.shuffle(ordered)
    return ordered


def _document(rng: random.Random, vocab: list[str], cum: list[float], size: int) -> bytes:
    """About ``size`` bytes of text: lines of 3-16 words, paragraphs now and then."""
    # A word averages ~6 bytes with its space; draw them all at once (choices is fast).
    words = rng.choices(vocab, cum_weights=cum, k=max(1, size // 6))
    lines: list[str] = []
    at = 0
    while at < len(words):
        n = rng.randint(3, 16)
        lines.append(" ".join(words[at : at + n]))
        at += n
        if rng.random() < 0.08:
            lines.append("")
    return ("\n".join(lines) + "\n").encode()


def corpus_dir(items: int) -> Path:
    """Where the default corpus of ``items`` files lives (or will)."""
    return cache_dir() / f"corpus-v{CORPUS_VERSION}-{items}"


def ensure_corpus(items: int) -> Path:
    """Generate the default text corpus once, and return its folder.

    The corpus is deterministic (seeded): ``items`` text files of pseudo-words with
    Zipf-like frequencies, sizes spread log-normally from about 1 KB to 600 KB (about 65 KB
    on average, so ~27 MB for the default 400), in 16 sub-folders. It is built in a
    private temporary folder and renamed into place, so two processes generating it at
    once do not clash: the loser of the rename discards its copy.

    Args:
        items: how many files.
    """
    final = corpus_dir(items)
    if final.is_dir():
        return final
    rng = random.Random(CORPUS_SEED)
    vocab = _vocabulary(rng)
    cum: list[float] = []
    total = 0.0
    for rank in range(1, len(vocab) + 1):
        total += 1.0 / rank
        cum.append(total)
    temp = final.parent / f".{final.name}.tmp-{os.getpid()}-{uuid.uuid4().hex[:8]}"
    temp.mkdir(parents=True)
    try:
        for i in range(items):
            size = int(min(512 * 1024, max(1024, math.exp(rng.gauss(10.5, 1.0)))))
            folder = temp / f"part-{i % 16:02d}"
            folder.mkdir(exist_ok=True)
            (folder / f"doc-{i:05d}.txt").write_bytes(_document(rng, vocab, cum, size))
        try:
            temp.rename(final)
        except OSError:
            # Someone else finished first; theirs is identical, keep it.
            if not final.is_dir():
                raise
    finally:
        if temp.exists():
            shutil.rmtree(temp, ignore_errors=True)
    return final


# --- The workload ---------------------------------------------------------------------


class FilesWorkload(Workload):
    """Read files, count and hash them, and log a line per file to one shared log."""

    name: ClassVar[str] = "files"
    description: ClassVar[str] = "read, count and hash files; log one line each"

    def __init__(self, options: WorkloadOptions) -> None:
        self.options = options
        self.latency_s = options.io_latency_ms / 1000.0
        self.root: Path | None = None
        self.skipped = 0
        self.log_path: Path | None = None
        self._items: list[Item] = []
        # Unique per workload, so a second run in one process gets its own logger.
        self._logger_name = f"conc_tui.files.{uuid.uuid4().hex[:12]}"
        self._handler: InstrumentedFileHandler | None = None
        self._logger: logging.Logger | None = None

    def prepare(self, work_dir: Path) -> None:
        """List the files (generating the default corpus if needed).

        Raises:
            WorkloadError: the folder is missing, is not a folder, or has no files.
        """
        if self.options.files is None:
            root = ensure_corpus(self.options.items_for("files"))
        else:
            root = Path(self.options.files).expanduser()
            if not root.exists():
                raise WorkloadError(f"the files folder {str(root)!r} does not exist")
            if not root.is_dir():
                raise WorkloadError(f"--files must be a folder, but {str(root)!r} is not one")
        paths, self.skipped = list_files_under(root)
        if not paths:
            raise WorkloadError(f"the files folder {str(root)!r} contains no readable files")
        base = root.resolve()
        self.root = base
        self._items = [
            Item(index=i, key=path.relative_to(base).as_posix(), payload=str(path))
            for i, path in enumerate(paths)
        ]
        work_dir.mkdir(parents=True, exist_ok=True)
        self.log_path = work_dir / LOG_NAME

    def initial_items(self) -> list[Item]:
        return list(self._items)

    def total_items(self) -> int:
        return len(self._items)

    def attach(self) -> None:
        """Open this process's log handler (one per process, shared by its threads)."""
        if self._handler is not None:
            return
        if self.log_path is None:
            raise RuntimeError("FilesWorkload.prepare() must run before attach()")
        handler = InstrumentedFileHandler(self.log_path, mode="a", encoding="utf-8")
        handler.setFormatter(
            logging.Formatter("%(asctime)s pid=%(process)d %(threadName)s %(message)s")
        )
        # The pid is part of the name: a forked worker inherits the parent's logger,
        # handler included, and reusing it would write every line twice.
        logger = logging.getLogger(f"{self._logger_name}.{os.getpid()}")
        logger.setLevel(logging.INFO)
        logger.propagate = False
        logger.addHandler(handler)
        self._handler = handler
        self._logger = logger

    def detach(self) -> None:
        if self._handler is not None and self._logger is not None:
            self._logger.removeHandler(self._handler)
            self._handler.close()
        self._handler = None
        self._logger = None

    def run(self, item: Item) -> ItemResult:
        if self._logger is None:
            self.attach()
        logger = self._logger
        assert logger is not None
        try:
            with current_recorder().waiting(WorkerState.WAIT_IO):
                if self.latency_s > 0:
                    time.sleep(self.latency_s)
                data = _read_all(item.payload)
        except OSError as exc:
            reason = exc.strerror or type(exc).__name__
            logger.warning("FAILED %s: %s", item.key, reason)
            raise OSError(exc.errno, f"cannot read {item.key}: {reason}") from exc
        lines = data.count(b"\n") + (1 if data and not data.endswith(b"\n") else 0)
        words = len(data.split())
        digest = hashlib.sha256(data).hexdigest()
        logger.info(
            "%s bytes=%d lines=%d words=%d sha256=%s",
            item.key,
            len(data),
            lines,
            words,
            digest[:16],
        )
        return ItemResult(index=item.index, key=item.key, ok=True, digest=digest, size=len(data))

    def describe(self) -> str:
        where = (
            f"the generated corpus in {self.root}"
            if self.options.files is None
            else str(self.root or self.options.files)
        )
        text = f"{len(self._items)} files from {where}"
        if self.skipped:
            text += f" ({self.skipped} links leading outside skipped)"
        if self.latency_s > 0:
            text += f" with {self.options.io_latency_ms:g} ms simulated latency per read"
        return text

    def __getstate__(self) -> dict[str, Any]:
        # The handler and logger belong to one process; a worker opens its own.
        state = self.__dict__.copy()
        state["_handler"] = None
        state["_logger"] = None
        return state


def _read_all(path: str) -> bytes:
    fd = os.open(path, _OPEN_FLAGS)
    with os.fdopen(fd, "rb") as handle:
        return handle.read()

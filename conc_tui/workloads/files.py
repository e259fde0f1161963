"""The ``files`` workload: read real files, count and hash them, log a line for each.

Each item reads one file in chunks of :data:`CHUNK_BYTES` (each read is marked
``WAIT_IO``), so a file of any size costs the same memory; it counts the bytes, lines
and words, hashes them with SHA-256, and writes one line about it to a single shared
log, ``work_dir/files.log``, through Python's :mod:`logging`. Every process has one
:class:`~conc_tui.telemetry.lock.InstrumentedFileHandler` shared by all its threads,
so the handler's lock is the "shared tool" of the threads analogy: threads queue for
it, processes each have their own. Processes append with ``O_APPEND``, so their lines
do not tear.

Input is a user folder (``--files``), walked recursively without leaving it, or by
default a text corpus generated once into the cache (see :func:`ensure_corpus`), or
into a private temp folder when the cache cannot be written (:func:`provide_corpus`).
A line that cannot be written to the log (a full disk) fails the run, not just the
item: :class:`~conc_tui.workloads.base.RunBroken`.
``io_latency_ms`` adds a sleep to every read, to imitate a slow disk or a network
share -- the case where threads shine.
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import math
import os
import random
import shutil
import time
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

from conc_tui.config import WorkloadOptions
from conc_tui.messages import CorpusProgress
from conc_tui.paths import (
    cache_dir,
    cache_root,
    fallback_cache_dir,
    system_temp_dir,
)
from conc_tui.pids import process_alive
from conc_tui.printable import printable
from conc_tui.telemetry.lock import InstrumentedFileHandler
from conc_tui.telemetry.recorder import current_recorder
from conc_tui.telemetry.states import WorkerState
from conc_tui.workloads.base import Item, ItemResult, RunBroken, Workload, WorkloadError

CORPUS_VERSION = 2
"""Bumped whenever the generated files change (2: each file exactly its drawn size)."""
CORPUS_SEED = 1729
LOG_NAME = "files.log"

# O_NOFOLLOW refuses a file swapped for a symlink after listing; absent on Windows.
_OPEN_FLAGS = os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_BINARY", 0)


@dataclass
class Listing:
    """What a walk of a folder found, and what it had to leave out."""

    files: list[Path] = field(default_factory=list)
    """Regular files (resolved), sorted by their path relative to the folder."""
    outside: int = 0
    """Links that lead outside the folder, or nowhere."""
    unreadable_folders: int = 0
    """Sub-folders that could not be listed (no permission, gone, an I/O error)."""

    def skipped_text(self) -> str:
        """What was left out, for the input description: ``""`` when nothing was."""
        parts = []
        if self.outside:
            parts.append(f"{self.outside} links leading outside skipped")
        if self.unreadable_folders:
            noun = "folder" if self.unreadable_folders == 1 else "folders"
            parts.append(f"{self.unreadable_folders} unreadable {noun} skipped")
        return ", ".join(parts)


def list_files_under(root: Path) -> Listing:
    """Every regular file under ``root``, recursively, never leaving ``root``.

    Symlinked folders are not entered (that also rules out loops); a symlinked file
    is kept only when its target lies inside ``root``, and is listed by its target.
    The walk keeps its own stack rather than recursing, so folders nested deeper
    than Python's recursion limit are walked like any other; folders that cannot be
    listed are counted, not silently dropped.

    Args:
        root: the folder to walk.
    """
    base = root.resolve()
    listing = Listing()
    found: dict[Path, Path] = {}
    pending = [str(base)]
    while pending:
        folder = pending.pop()
        try:
            with os.scandir(folder) as scan:
                entries = list(scan)
        except OSError:
            listing.unreadable_folders += 1
            continue
        for entry in entries:
            try:
                if entry.is_symlink():
                    if not entry.is_dir():  # a linked folder is simply not entered
                        _add_link(Path(entry.path), base, found, listing)
                elif entry.is_dir(follow_symlinks=False):
                    pending.append(entry.path)
                elif entry.is_file(follow_symlinks=False):
                    path = Path(entry.path)
                    found.setdefault(path, path)
            except OSError:
                listing.outside += 1
    ordered = sorted(found.items(), key=lambda pair: pair[1].relative_to(base).as_posix())
    listing.files = [target for target, _listed in ordered]
    return listing


def _add_link(path: Path, base: Path, found: dict[Path, Path], listing: Listing) -> None:
    try:
        target = path.resolve(strict=True)
    except (OSError, RuntimeError):
        listing.outside += 1
        return
    if not target.is_relative_to(base) or not target.is_file():
        listing.outside += 1
        return
    found.setdefault(target, path)


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
    """Exactly ``size`` bytes of text: lines of 3-16 words, paragraphs now and then.

    Exact, so the corpus's total is known before it is written and its progress can
    say "38 of 120 MB".
    """
    text = b""
    while len(text) < size:
        text += _text(rng, vocab, cum, size - len(text))
    return text[: size - 1] + b"\n"


def _text(rng: random.Random, vocab: list[str], cum: list[float], size: int) -> bytes:
    """About ``size`` bytes of text, a few percent more as a rule."""
    # A word and its space average about 7.3 bytes; draw them all at once (choices is
    # fast). Too few is rare and costs one more, short draw.
    words = rng.choices(vocab, cum_weights=cum, k=max(1, size // 7))
    lines: list[str] = []
    at = 0
    while at < len(words):
        n = rng.randint(3, 16)
        lines.append(" ".join(words[at : at + n]))
        at += n
        if rng.random() < 0.08:
            lines.append("")
    return ("\n".join(lines) + "\n").encode()


def corpus_sizes(items: int) -> list[int]:
    """The size of each of the corpus's files, in bytes (log-normal, 1 KB to 512 KB)."""
    # Drawn apart from the text, so the sizes (and the total) are known up front.
    rng = random.Random(CORPUS_SEED + 1)
    return [int(min(512 * 1024, max(1024, math.exp(rng.gauss(10.5, 1.0))))) for _ in range(items)]


def corpus_dir(items: int, cache: Path | None = None) -> Path:
    """Where the default corpus of ``items`` files lives (or will), in ``cache``."""
    return (cache or cache_root()) / f"corpus-v{CORPUS_VERSION}-{items}"


class CorpusStopped(Exception):
    """The run was stopped while the corpus was being generated (nothing is left behind)."""


_TEMP_MARK = ".tmp-"


def sweep_stale_corpus_temps(cache: Path) -> int:
    """Delete half-made corpora whose generating process is gone; return how many.

    A process killed while generating (SIGKILL, a power cut) cannot clean up; its
    folder carries its pid, so any later start can tell it is orphaned.
    """
    removed = 0
    try:
        candidates = list(cache.glob(f".corpus-v*{_TEMP_MARK}*"))
    except OSError:
        return 0
    for path in candidates:
        pid_text = path.name.split(_TEMP_MARK, 1)[1].split("-", 1)[0]
        if pid_text.isdigit() and not process_alive(int(pid_text)):
            shutil.rmtree(path, ignore_errors=True)
            removed += 1
    return removed


def sweep_old_corpora(cache: Path) -> int:
    """Delete corpora an older version of conc-tui generated; return how many.

    Nothing reads them again once the version changed (version 1 of the app's was 145 MB).
    """
    removed = 0
    with contextlib.suppress(OSError):
        for path in cache.glob("corpus-v*-*"):
            version = path.name.split("-")[1][1:]
            if version.isdigit() and int(version) < CORPUS_VERSION:
                shutil.rmtree(path, ignore_errors=True)
                removed += 1
    return removed


def ensure_corpus(
    items: int,
    cache: Path | None = None,
    stop: Callable[[], bool] | None = None,
    progress: Callable[[CorpusProgress], None] | None = None,
) -> Path:
    """Generate the default text corpus once, and return its folder.

    The corpus is deterministic (seeded): ``items`` text files of pseudo-words with
    Zipf-like frequencies, sizes spread log-normally from 1 KB to 512 KB (about 60 KB on
    average, so ~24 MB for the default 400 and ~118 MB for the app's 2,000), in 16
    sub-folders. It is built in a private temporary folder and renamed into place, so
    two processes generating it at once do not clash: the loser of the rename discards
    its copy. Whatever ends the generation early (a full disk, a stop) removes the
    temporary folder.

    Args:
        items: how many files.
        cache: the folder to keep it in; the user's cache when None.
        stop: asked between files; when it says yes, generation ends.
        progress: told after every file written (and once before the first) how
            far the generation is; not called when the corpus is already there.

    Raises:
        OSError: the corpus cannot be written there (read-only, full).
        CorpusStopped: ``stop`` said yes.
    """
    cache = cache or cache_dir()
    final = corpus_dir(items, cache)
    if final.is_dir():
        return final
    sweep_stale_corpus_temps(cache)
    sweep_old_corpora(cache)
    rng = random.Random(CORPUS_SEED)
    vocab = _vocabulary(rng)
    cum: list[float] = []
    total = 0.0
    for rank in range(1, len(vocab) + 1):
        total += 1.0 / rank
        cum.append(total)
    sizes = corpus_sizes(items)
    total_bytes, written = sum(sizes), 0
    if progress is not None:
        progress(CorpusProgress(0, items, 0, total_bytes))
    temp = final.parent / f".{final.name}{_TEMP_MARK}{os.getpid()}-{uuid.uuid4().hex[:8]}"
    temp.mkdir(parents=True)
    try:
        for i, size in enumerate(sizes):
            if stop is not None and stop():
                raise CorpusStopped
            folder = temp / f"part-{i % 16:02d}"
            folder.mkdir(exist_ok=True)
            (folder / f"doc-{i:05d}.txt").write_bytes(_document(rng, vocab, cum, size))
            written += size
            if progress is not None:
                progress(CorpusProgress(i + 1, items, written, total_bytes))
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


def provide_corpus(
    items: int,
    stop: Callable[[], bool] | None = None,
    progress: Callable[[CorpusProgress], None] | None = None,
) -> tuple[Path, str]:
    """The corpus folder, from the cache or, when that cannot be written, the temp folder.

    Returns:
        The folder, and a note for the input description when it is not in the cache
        (where it tried to write and why that failed), else ``""``.

    Raises:
        WorkloadError: neither place can hold it; the sentence names both and why.
        CorpusStopped: the run was stopped while generating.
    """
    preferred = cache_root()
    sweep_stale_corpus_temps(preferred)
    if corpus_dir(items, preferred).is_dir():  # a read-only cache that has it serves
        return corpus_dir(items, preferred), ""
    try:
        return ensure_corpus(items, cache_dir(), stop, progress), ""
    except OSError as exc:
        first = f"cannot write the cache {preferred} ({_why(exc)})"
    try:
        fallback = fallback_cache_dir()
        return ensure_corpus(items, fallback, stop, progress), f"{first}, so it is in {fallback}"
    except OSError as exc:
        raise WorkloadError(
            f"{first}, nor the temp folder {system_temp_dir()} ({_why(exc)}); "
            "free some space or point XDG_CACHE_HOME or TMPDIR at a writable folder"
        ) from exc


def _why(exc: OSError) -> str:
    return exc.strerror or str(exc) or type(exc).__name__


# --- Counting in chunks -------------------------------------------------------------

CHUNK_BYTES = 256 * 1024
"""How much of a file is in memory at once: a 2 GB file costs what a small one does."""


class ChunkCounter:
    """Counts bytes, lines and words of data that arrives in chunks.

    The counts equal those of the whole data at once (``data.count(b"\\n")`` plus
    an unterminated last line, ``len(data.split())``), wherever the chunks split it:
    a word cut in two by a boundary counts once.
    """

    def __init__(self) -> None:
        self.size = 0
        self.newlines = 0
        self.words = 0
        self._last = b""

    def add(self, chunk: bytes) -> None:
        """Count one more chunk."""
        if not chunk:
            return
        self.size += len(chunk)
        self.newlines += chunk.count(b"\n")
        self.words += len(chunk.split())
        if self._last and not self._last.isspace() and not chunk[:1].isspace():
            self.words -= 1  # the previous chunk ended inside this word
        self._last = chunk[-1:]

    @property
    def lines(self) -> int:
        """Newlines, plus one for a last line without one."""
        return self.newlines + (1 if self.size and self._last != b"\n" else 0)


def count_chunks(chunks: Iterable[bytes]) -> tuple[int, int, int]:
    """Bytes, lines and words of the data the chunks make up, in that order."""
    counter = ChunkCounter()
    for chunk in chunks:
        counter.add(chunk)
    return counter.size, counter.lines, counter.words


# --- The workload ---------------------------------------------------------------------


class SharedLogHandler(InstrumentedFileHandler):
    """The shared log's handler, which fails the item whose line cannot be written.

    ``logging`` reports a failed write by printing "--- Logging error ---" and a
    traceback to stderr and carrying on: on a full disk that is every line of the
    run (50,412 of them measured) and nobody hears that the log is incomplete. Here
    the error reaches the item that logged, which fails with the reason. A name that
    is not UTF-8 is written with its odd bytes escaped (``\\xff``), not refused.
    """

    def __init__(self, path: Path) -> None:
        super().__init__(path, mode="a", encoding="utf-8", errors="backslashreplace")

    def handleError(self, record: logging.LogRecord) -> None:  # noqa: N802 - logging's name
        raise  # noqa: PLE0704 - called by emit() inside its except block


class FilesWorkload(Workload):
    """Read files, count and hash them, and log a line per file to one shared log."""

    name: ClassVar[str] = "files"
    description: ClassVar[str] = "read, count and hash files; log one line each"

    def __init__(self, options: WorkloadOptions) -> None:
        self.options = options
        self.latency_s = options.io_latency_ms / 1000.0
        self.root: Path | None = None
        self.skipped = 0
        self.skipped_text = ""
        self.corpus_note = ""
        self.stopped_early = False
        self.log_path: Path | None = None
        self._items: list[Item] = []
        # Unique per workload, so a second run in one process gets its own logger.
        self._logger_name = f"conc_tui.files.{uuid.uuid4().hex[:12]}"
        self._handler: SharedLogHandler | None = None
        self._logger: logging.Logger | None = None

    def prepare(self, work_dir: Path) -> None:
        """List the files (generating the default corpus if needed).

        Raises:
            WorkloadError: the folder is missing, is not a folder, or has no files;
                or the corpus can be written neither to the cache nor the temp folder.
        """
        work_dir.mkdir(parents=True, exist_ok=True)
        self.log_path = work_dir / LOG_NAME
        if self.options.files is None:
            try:
                root, self.corpus_note = provide_corpus(
                    self.options.items_for("files"), self.stop_requested, self.preparing
                )
            except CorpusStopped:
                self.stopped_early = True
                return
        else:
            root = Path(self.options.files).expanduser()
            if not root.exists():
                raise WorkloadError(f"the files folder {str(root)!r} does not exist")
            if not root.is_dir():
                raise WorkloadError(f"--files must be a folder, but {str(root)!r} is not one")
        listing = list_files_under(root)
        self.skipped = listing.outside + listing.unreadable_folders
        self.skipped_text = listing.skipped_text()
        if not listing.files:
            raise WorkloadError(f"the files folder {str(root)!r} contains no readable files")
        base = root.resolve()
        self.root = base
        self._items = [
            Item(index=i, key=path.relative_to(base).as_posix(), payload=str(path))
            for i, path in enumerate(listing.files)
        ]

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
        handler = SharedLogHandler(self.log_path)
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
            with contextlib.suppress(OSError):  # a full disk refuses the last flush too
                self._handler.close()
        self._handler = None
        self._logger = None

    def run(self, item: Item) -> ItemResult:
        if self._logger is None:
            self.attach()
        logger = self._logger
        assert logger is not None
        counter = ChunkCounter()
        sha = hashlib.sha256()
        try:
            _read_in_chunks(item.payload, self.latency_s, counter, sha)
        except OSError as exc:
            reason = exc.strerror or type(exc).__name__
            with contextlib.suppress(OSError):  # the read failure is the item's reason
                logger.warning("FAILED %s: %s", printable(item.key), reason)
            raise OSError(exc.errno, f"cannot read {item.key}: {reason}") from exc
        digest = sha.hexdigest()
        try:
            logger.info(
                "%s bytes=%d lines=%d words=%d sha256=%s",
                printable(item.key),  # the log is for people reading it on a terminal
                counter.size,
                counter.lines,
                counter.words,
                digest[:16],
            )
        except OSError as exc:
            # Every later line would fail the same way: the run is broken, not the item.
            raise RunBroken(f"cannot write the shared log {self.log_path}: {_why(exc)}") from exc
        return ItemResult(index=item.index, key=item.key, ok=True, digest=digest, size=counter.size)

    def describe(self) -> str:
        if self.stopped_early:
            return "the files corpus (stopped while it was being generated)"
        if self.options.files is None:
            where = f"the generated corpus in {self.root or 'the cache'}"
            if self.corpus_note:
                where += f" ({self.corpus_note})"
        else:
            where = str(self.root or self.options.files)
        text = f"{len(self._items)} files from {where}"
        if self.skipped_text:
            text += f" ({self.skipped_text})"
        if self.latency_s > 0:
            text += f" with {self.options.io_latency_ms:g} ms simulated latency per read"
        return text

    def __getstate__(self) -> dict[str, Any]:
        # The handler and logger belong to one process; a worker opens its own.
        state = self.__dict__.copy()
        state["_handler"] = None
        state["_logger"] = None
        return state


def _read_in_chunks(path: str, latency_s: float, counter: ChunkCounter, sha: Any) -> None:
    """Feed the file to ``counter`` and ``sha`` a chunk at a time; each read is an I/O wait."""
    recorder = current_recorder()
    fd = os.open(path, _OPEN_FLAGS)
    with os.fdopen(fd, "rb") as handle:
        first = True
        while True:
            with recorder.waiting(WorkerState.WAIT_IO):
                if first and latency_s > 0:
                    time.sleep(latency_s)
                # A buffered read returns short only at the end of the file.
                chunk = handle.read(CHUNK_BYTES)
            first = False
            counter.add(chunk)
            sha.update(chunk)
            if len(chunk) < CHUNK_BYTES:
                return

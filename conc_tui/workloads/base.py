"""The contract between a workload (what a task does) and a model (how tasks run).

A workload lists its items, runs one item synchronously (for the serial baseline,
threads and processes) and, where it has a natural asynchronous form, asynchronously
(for asyncio). Workloads report waits through :func:`current_recorder`, so the same
code is instrumented under every model.

Workload objects are pickled into worker processes, so they hold only plain data;
per-process resources (a log handler, an HTTP session) are opened in :meth:`attach`.
"""

from __future__ import annotations

import hashlib
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar, Protocol

from conc_tui.messages import Preparation


class WorkloadError(Exception):
    """Bad input for a workload: a missing folder, no usable files, a bad URL.

    The message is one sentence a user can act on; the CLI prints it and exits 2.
    """


class RunBroken(Exception):
    """Raised by :meth:`Workload.run` when the whole run cannot go on, not just this item.

    A shared output that cannot be written (the log on a full disk) is not one bad
    input: every later item would fail the same way. The item fails with this
    reason, and the run is reported as failed with it.
    """


@dataclass(frozen=True)
class Item:
    """One unit of work."""

    index: int
    """Position in the order items were created; also the telemetry item id."""
    key: str
    """Stable identity used by the checksum: a relative path, a URL path, a band."""
    payload: str = ""
    """What the task needs: an absolute path, a full URL, a number."""


@dataclass(frozen=True)
class ItemResult:
    """What one task produced; ``digest`` makes it checkable across models."""

    index: int
    key: str
    ok: bool
    digest: str = ""
    size: int = 0
    """Bytes read, fetched or written: a measured count, shown as throughput."""
    error: str = ""
    discovered: tuple[str, ...] = field(default=())
    """Links found by a crawler, for the coordinator's frontier."""
    fatal: bool = False
    """The item failed with :class:`RunBroken`: the run, not just the item, failed."""
    skipped: bool = False
    """Neither done nor failed: left alone on purpose (``error`` says why), like a
    crawler's redirect to another host. Never ``ok``."""


def checksum(results: Iterable[ItemResult]) -> str:
    """A digest of every successful result, independent of the order they finished in.

    It covers exactly the items the run did. A fixed-size run does every input once,
    so every model must agree on it. A timed run (``--duration``) does the inputs
    round after round under keys ``key #2``, ``key #3``... until its time is up, so its
    checksum covers those rounds too: two timed runs agree only when they did the same
    number of items, which is what it says, and no more.
    """
    h = hashlib.sha256()
    for key, digest in sorted((r.key, r.digest) for r in results if r.ok):
        # A file name that is not UTF-8 reaches us with its bytes as lone surrogates
        # (surrogateescape); encoding them back gives those bytes, and UTF-8 names
        # encode as they always did, so existing checksums do not change.
        h.update(key.encode("utf-8", "surrogateescape"))
        h.update(b"\0")
        h.update(digest.encode())
        h.update(b"\n")
    return h.hexdigest()[:16]


class StopFlag(Protocol):
    """What a run's stop flag offers (a ``threading.Event`` or a multiprocessing one)."""

    def is_set(self) -> bool: ...


class StopCheck:
    """Asks whether the run was told to stop; cheap enough to call between files.

    It stays behind when a workload is pickled into a pool worker (it unpickles as a
    check that always says no): a multiprocessing flag can only be inherited, and a
    worker never prepares input, which is the only place that asks.
    """

    def __init__(self, flag: StopFlag | None = None) -> None:
        self._flag = flag

    def __call__(self) -> bool:
        return self._flag is not None and self._flag.is_set()

    def __reduce__(self) -> tuple[Any, ...]:
        return (StopCheck, ())


class PreparationSink:
    """Where a workload says how its preparation goes (the runner forwards it).

    Like :class:`StopCheck`, it stays behind when pickled into a pool worker (it
    unpickles as a sink that drops everything): workers never prepare input.
    """

    def __init__(self, send: Callable[[Preparation], None] | None = None) -> None:
        self._send = send

    def __call__(self, note: Preparation) -> None:
        if self._send is not None:
            self._send(note)

    def __reduce__(self) -> tuple[Any, ...]:
        return (PreparationSink, ())


class Workload(ABC):
    """Base class of the four workloads."""

    name: ClassVar[str]
    description: ClassVar[str]
    has_async: ClassVar[bool] = False
    """True when :meth:`run_async` is a real asynchronous implementation."""
    cycles: ClassVar[bool] = True
    """A timed run takes the initial items again once they are all handed out (see
    :class:`~conc_tui.models.base.Frontier`); False where a repeat would not be the same
    work again (a crawl, whose pages would come from a cache the second time)."""
    workers: int = 1
    """How many workers will run items at once (set by :meth:`plan_run`)."""
    stop_requested: StopCheck = StopCheck()
    """True once the run was told to stop (set by :meth:`plan_run`)."""
    preparing: PreparationSink = PreparationSink()
    """Where :meth:`prepare` reports its progress (set by :meth:`plan_run`)."""

    def plan_run(
        self,
        workers: int,
        stop: StopFlag | None = None,
        preparing: Callable[[Preparation], None] | None = None,
    ) -> None:
        """Say, before :meth:`prepare`, how many workers will run and what signals a stop.

        A workload sizes per-item memory by the worker count (the image pixel budget),
        stops a long preparation (generating a corpus) when the flag is set, and
        says how that preparation goes to ``preparing`` (see :data:`Preparation`).
        """
        self.workers = max(1, workers)
        self.stop_requested = StopCheck(stop)
        self.preparing = PreparationSink(preparing)

    def prepare(self, work_dir: Path) -> None:  # noqa: B027 - optional hook
        """Get inputs ready in the coordinating process (outside the timed run).

        Raises:
            WorkloadError: when the input cannot be used.
        """

    @abstractmethod
    def initial_items(self) -> list[Item]:
        """The items known before the run starts."""

    def total_items(self) -> int | None:
        """How many items the run will have, or None when it is only known at the end."""
        return len(self.initial_items())

    def on_result(self, result: ItemResult) -> list[Item]:
        """New items a finished one leads to (a crawler's new links). Coordinator only."""
        return []

    def attach(self) -> None:  # noqa: B027 - optional hook
        """Open per-process resources (called once in every process that runs tasks)."""

    def detach(self) -> None:  # noqa: B027 - optional hook
        """Close what :meth:`attach` opened."""

    @abstractmethod
    def run(self, item: Item) -> ItemResult:
        """Run one item, blocking. Raise on failure; the model records the reason."""

    async def run_async(self, item: Item) -> ItemResult:
        """Run one item on an event loop. Only meaningful when ``has_async``."""
        raise NotImplementedError(f"{self.name} has no asynchronous form")

    async def attach_async(self) -> None:  # noqa: B027 - optional hook
        """Open per-loop resources (an HTTP session) inside the running loop."""

    async def detach_async(self) -> None:  # noqa: B027 - optional hook
        """Close what :meth:`attach_async` opened."""

    def close(self) -> None:  # noqa: B027 - optional hook
        """Release what :meth:`prepare` started (a local web server)."""

    def describe(self) -> str:
        """One line naming the input, for run headers."""
        return self.description

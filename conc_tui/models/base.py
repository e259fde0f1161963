"""What every model shares: the run context, the frontier of items, running one item."""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable
from concurrent.futures import FIRST_COMPLETED, BrokenExecutor, Future, wait
from dataclasses import dataclass, field
from typing import Protocol

# Re-exported: the models and the runner import them from here; they live apart so
# that an interpreter worker can run items without importing concurrent.futures.
from conc_tui.models.running import describe_error as describe_error
from conc_tui.models.running import failed_result
from conc_tui.models.running import run_item as run_item
from conc_tui.models.running import run_item_async as run_item_async
from conc_tui.telemetry.link import TelemetryLink
from conc_tui.telemetry.recorder import NULL_RECORDER, Recorder
from conc_tui.workloads.base import Item, ItemResult, Workload


class StopFlag(Protocol):
    """A threading.Event or a multiprocessing.Event: set when the user stops the run."""

    def is_set(self) -> bool: ...


@dataclass
class RunContext:
    """Everything a model needs to run one workload."""

    workload: Workload
    workers: int
    link: TelemetryLink | None = None
    """Where telemetry goes (None: telemetry off)."""
    stop: StopFlag = field(default_factory=threading.Event)
    to_thread: bool = False
    duration_s: float | None = None
    """A timed run: items are handed out (inputs cycled) until this many seconds pass."""

    def local_recorder(self, label: str, *, os_thread: bool = True) -> Recorder:
        if self.link is None:
            return NULL_RECORDER
        return self.link.local_recorder(label, os_thread=os_thread)

    def frontier(self) -> Frontier:
        """The items to hand out, with this run's deadline. Every model takes its items
        from here, so none can forget a timed run's end (the interpreters model once did)."""
        return Frontier(self.workload, self.duration_s)

    def pool_starting(self) -> None:
        """Note the moment the pool is created: workers' start-up is measured from it."""
        if self.link is not None:
            self.link.pool_starting()


@dataclass
class Outcome:
    """What a model hands back: every item's result, and why the run broke if it did."""

    results: list[ItemResult]
    error: str = ""
    async_mode: str | None = None


class Frontier:
    """The items still to run, growing as results name new ones (a crawl's links).

    A timed run (``duration_s``) hands items out until its deadline, then none: the
    items in flight finish and the run ends normally. Meanwhile a workload that
    :attr:`~conc_tui.workloads.base.Workload.cycles` gets its initial items again once
    they are all handed out, each round under fresh indexes and keys (``a.jpg #2``), so
    every item stays unique; a crawl never cycles, and one that runs out of pages
    before the deadline simply finishes.
    """

    def __init__(self, workload: Workload, duration_s: float | None = None) -> None:
        self._workload = workload
        self._initial = workload.initial_items()
        self._pending: deque[Item] = deque(self._initial)
        self._deadline = time.monotonic() + duration_s if duration_s is not None else None
        self._cycles = self._deadline is not None and workload.cycles and bool(self._initial)
        self._round = 1
        self._next_index = max((item.index for item in self._initial), default=-1) + 1
        self.in_flight = 0
        self.results: list[ItemResult] = []

    @property
    def time_up(self) -> bool:
        """True once a timed run's deadline has passed (never for a fixed-size run)."""
        return self._deadline is not None and time.monotonic() >= self._deadline

    def take(self) -> Item | None:
        if self.time_up:
            return None
        if not self._pending and self._cycles:
            self._next_round()
        if not self._pending:
            return None
        self.in_flight += 1
        return self._pending.popleft()

    def _next_round(self) -> None:
        self._round += 1
        for offset, item in enumerate(self._initial):
            self._pending.append(
                Item(self._next_index + offset, f"{item.key} #{self._round}", item.payload)
            )
        self._next_index += len(self._initial)

    def complete(self, result: ItemResult) -> None:
        self.in_flight -= 1
        self.results.append(result)
        self._pending.extend(self._workload.on_result(result))

    @property
    def exhausted(self) -> bool:
        return (self.time_up or not self._pending) and self.in_flight == 0


def drive_pool(
    submit: Callable[[Item], Future[ItemResult]],
    frontier: Frontier,
    capacity: int,
    stop: StopFlag,
) -> str:
    """Feed a pool from the frontier until it is exhausted or the run is stopped.

    At most ``capacity`` items are queued at once, so a stop takes effect quickly and
    a crawl's frontier can grow while pages are fetched. Returns an error text when
    the pool itself broke (a worker process died), else "".
    """
    in_flight: dict[Future[ItemResult], Item] = {}
    while True:
        while len(in_flight) < capacity and not stop.is_set():
            item = frontier.take()
            if item is None:
                break
            in_flight[submit(item)] = item
        if not in_flight:
            return ""
        done, _ = wait(in_flight, timeout=0.1, return_when=FIRST_COMPLETED)
        if stop.is_set():
            # Items that finished count, also as the stop arrives; the rest are dropped.
            for future in in_flight:
                future.cancel()
            done = {future for future in in_flight if future.done() and not future.cancelled()}
            in_flight = {future: in_flight[future] for future in done}
        for future in done:
            item = in_flight.pop(future)
            try:
                result = future.result()
            except BrokenExecutor as exc:
                for other in in_flight:
                    other.cancel()
                frontier.complete(failed_result(item, exc))
                return broken_pool_reason(exc)
            except Exception as exc:  # e.g. a result that cannot be pickled
                result = failed_result(item, exc)
            frontier.complete(result)
        if stop.is_set():
            return ""


def broken_pool_reason(exc: BaseException) -> str:
    return (
        "a worker process died unexpectedly, so the pool broke "
        f"({type(exc).__name__}); the run stopped"
    )

"""What every model shares: the run context, the frontier of items, running one item."""

from __future__ import annotations

import threading
from collections import deque
from collections.abc import Callable
from concurrent.futures import FIRST_COMPLETED, BrokenExecutor, Future, wait
from dataclasses import dataclass, field
from typing import Protocol

from conc_tui.telemetry.link import TelemetryLink
from conc_tui.telemetry.recorder import NULL_RECORDER, Recorder
from conc_tui.telemetry.states import WorkerState
from conc_tui.workloads.base import Item, ItemResult, RunBroken, Workload

_RUNNING = WorkerState.RUNNING
_IDLE = WorkerState.IDLE


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

    def local_recorder(self, label: str, *, os_thread: bool = True) -> Recorder:
        if self.link is None:
            return NULL_RECORDER
        return self.link.local_recorder(label, os_thread=os_thread)

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
    """The items still to run, growing as results name new ones (a crawl's links)."""

    def __init__(self, workload: Workload) -> None:
        self._workload = workload
        self._pending: deque[Item] = deque(workload.initial_items())
        self.in_flight = 0
        self.results: list[ItemResult] = []

    def take(self) -> Item | None:
        if not self._pending:
            return None
        self.in_flight += 1
        return self._pending.popleft()

    def complete(self, result: ItemResult) -> None:
        self.in_flight -= 1
        self.results.append(result)
        self._pending.extend(self._workload.on_result(result))


def describe_error(exc: BaseException) -> str:
    """One line naming what went wrong with an item."""
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
    name = type(exc).__name__
    line = f"{name}: {text}" if text else name
    return line[:200]


def failed_result(item: Item, exc: BaseException) -> ItemResult:
    fatal = isinstance(exc, RunBroken)
    return ItemResult(item.index, item.key, ok=False, error=describe_error(exc), fatal=fatal)


def run_item(workload: Workload, item: Item, recorder: Recorder) -> ItemResult:
    """Run one item synchronously, recording its start, end and outcome."""
    recorder.state(_RUNNING)
    try:
        result = workload.run(item)
    except Exception as exc:  # a failing item is counted, never fatal to the run
        result = failed_result(item, exc)
    return _finished(recorder, item, result)


async def run_item_async(workload: Workload, item: Item, recorder: Recorder) -> ItemResult:
    """Run one item on the event loop, recording its start, end and outcome."""
    recorder.state(_RUNNING)
    try:
        result = await workload.run_async(item)
    except Exception as exc:
        result = failed_result(item, exc)
    return _finished(recorder, item, result)


def _finished(recorder: Recorder, item: Item, result: ItemResult) -> ItemResult:
    if result.ok or result.skipped:  # a skipped item is dealt with, not failed
        recorder.item_done(item.index)
    else:
        recorder.item_failed(item.index)
    recorder.state(_IDLE)
    return result


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
            for future in in_flight:
                future.cancel()
            return ""
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


def broken_pool_reason(exc: BaseException) -> str:
    return (
        "a worker process died unexpectedly, so the pool broke "
        f"({type(exc).__name__}); the run stopped"
    )

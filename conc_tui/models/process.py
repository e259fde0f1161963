"""The process pool: workers each with their own interpreter, memory, GIL and tools.

Pools are created with the "spawn" start method: a fresh interpreter per worker. It
is the costly start-up the analogy talks about (and it is measured), and it never
forks a process that already runs threads (a pool of threads may have run before).
"""

from __future__ import annotations

import multiprocessing
import multiprocessing.util
import os
import signal
import threading
import time
from concurrent.futures import ProcessPoolExecutor
from multiprocessing.context import BaseContext
from typing import Any

from conc_tui.models.base import Frontier, Outcome, RunContext, drive_pool, run_item
from conc_tui.telemetry.link import TelemetryLink
from conc_tui.telemetry.recorder import (
    NULL_RECORDER,
    Recorder,
    current_recorder,
    set_current_recorder,
)
from conc_tui.workloads.base import Item, ItemResult, Workload

PARENT_CHECK_S = 0.25

# Set once in each worker process by the pool initializer.
_workload: Workload | None = None


def mp_context() -> BaseContext:
    return multiprocessing.get_context("spawn")


def watch_parent(parent_pid: int) -> None:
    """Exit when the coordinating process is gone, so no worker outlives a crash."""
    while True:
        time.sleep(PARENT_CHECK_S)
        if os.getppid() != parent_pid:
            os._exit(70)


def _init_worker(workload: Workload, channel: Any, counter: Any, parent_pid: int) -> None:
    global _workload
    # Ctrl+C reaches the whole process group; the coordinator decides what stops.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    threading.Thread(target=watch_parent, args=(parent_pid,), daemon=True).start()
    recorder: Recorder = NULL_RECORDER
    if channel is not None:
        link = TelemetryLink(channel, counter)
        recorder = link.local_recorder(f"pid {os.getpid()}")
        # Ship the last events when the pool shuts this worker down.
        multiprocessing.util.Finalize(None, link.flush_all, exitpriority=100)
    set_current_recorder(recorder)
    workload.attach()
    _workload = workload


def _task(item: Item) -> ItemResult:
    assert _workload is not None, "the pool initializer did not run"
    return run_item(_workload, item, current_recorder())


def _kill_workers(pool: ProcessPoolExecutor) -> None:
    # ProcessPoolExecutor has no public way to stop busy workers before Python 3.14.
    processes = getattr(pool, "_processes", None) or {}
    for process in list(processes.values()):
        if process.is_alive():
            process.kill()
    for process in list(processes.values()):
        process.join(timeout=1)


def run(ctx: RunContext) -> Outcome:
    workload = ctx.workload
    link = ctx.link
    channel = link.connection if link is not None else None
    counter = link.counter if link is not None else None
    frontier = Frontier(workload)
    ctx.pool_starting()
    pool = ProcessPoolExecutor(
        max_workers=ctx.workers,
        mp_context=mp_context(),
        initializer=_init_worker,
        initargs=(workload, channel, counter, os.getpid()),
    )
    error = ""
    try:
        error = drive_pool(
            lambda item: pool.submit(_task, item), frontier, ctx.workers * 2, ctx.stop
        )
    finally:
        if ctx.stop.is_set() or error:
            pool.shutdown(wait=False, cancel_futures=True)
            _kill_workers(pool)
        else:
            pool.shutdown(wait=True)
    return Outcome(frontier.results, error)

"""The process pool: workers each with their own interpreter, memory, GIL and tools.

Workers come from a fork server (see :func:`pool_context`) or are spawned: either way
a fresh interpreter, never a fork of the runner, which has threads of its own. Their
start-up is the cost the analogy talks about, and it is measured.
"""

from __future__ import annotations

import multiprocessing
import multiprocessing.util
import os
import signal
import tempfile
from concurrent.futures import ProcessPoolExecutor
from multiprocessing.context import BaseContext
from typing import Any

from conc_tui.lifecycle import exit_with
from conc_tui.models.base import Outcome, RunContext, drive_pool, run_item
from conc_tui.telemetry.link import TelemetryLink
from conc_tui.telemetry.recorder import (
    NULL_RECORDER,
    Recorder,
    current_recorder,
    set_current_recorder,
)
from conc_tui.workloads.base import Item, ItemResult, Workload

# Set once in each worker process by the pool initializer.
_workload: Workload | None = None


def mp_context() -> BaseContext:
    """The "spawn" context: a fresh interpreter, safe from any process with threads."""
    return multiprocessing.get_context("spawn")


# The fork server listens on a Unix socket inside a "pymp-*" folder in the temp
# folder; Linux caps such paths at 107 bytes.
_SOCKET_PATH_MAX = 107
_SOCKET_SUFFIX = len("/pymp-xxxxxxxx/listener-xxxxxxxx")


def _socket_path_fits() -> bool:
    return len(tempfile.gettempdir()) + _SOCKET_SUFFIX < _SOCKET_PATH_MAX


def pool_context(workload: Workload) -> BaseContext:
    """Where pool workers come from: a fork server if the platform has one, else spawn.

    The fork server is a fresh, single-threaded interpreter that imports the workload
    once and then forks a worker per request: a worker is ready in milliseconds
    instead of importing everything again (Python 3.14 made it Linux's default).
    Starting the server itself is still a cost, measured as the first worker's
    start-up.
    """
    if "forkserver" not in multiprocessing.get_all_start_methods() or not _socket_path_fits():
        return mp_context()
    context = multiprocessing.get_context("forkserver")
    context.set_forkserver_preload([__name__, type(workload).__module__])
    return context


def _init_worker(workload: Workload, channel: Any, counter: Any, runner_pid: int) -> None:
    global _workload
    # Ctrl+C reaches the whole process group; the coordinator decides what stops.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    # The runner, not the parent: a forked worker's parent is the fork server, which
    # waits for its workers to close the runner's pipe, so each would wait for the other.
    exit_with(runner_pid)
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


def _workers_of(pool: ProcessPoolExecutor) -> list[Any]:
    # ProcessPoolExecutor has no public way to stop busy workers before Python 3.14,
    # and shutdown() drops its own list: take it first.
    return list((getattr(pool, "_processes", None) or {}).values())


def _kill_workers(processes: list[Any]) -> None:
    for process in processes:
        if process.is_alive():
            process.kill()
    for process in processes:
        process.join(timeout=1)


def run(ctx: RunContext) -> Outcome:
    workload = ctx.workload
    link = ctx.link
    channel = link.connection if link is not None else None
    counter = link.counter if link is not None else None
    frontier = ctx.frontier()
    ctx.pool_starting()
    pool = ProcessPoolExecutor(
        max_workers=ctx.workers,
        mp_context=pool_context(workload),
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
            workers = _workers_of(pool)
            pool.shutdown(wait=False, cancel_futures=True)
            _kill_workers(workers)
        else:
            pool.shutdown(wait=True)
    return Outcome(frontier.results, error)

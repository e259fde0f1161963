"""The thread pool: workers sharing one process, its memory, its log handler and its GIL."""

from __future__ import annotations

import itertools
import threading
from concurrent.futures import ThreadPoolExecutor

from conc_tui.models.base import Outcome, RunContext, drive_pool, run_item
from conc_tui.telemetry.recorder import current_recorder, set_current_recorder
from conc_tui.workloads.base import Item, ItemResult


def run(ctx: RunContext) -> Outcome:
    workload = ctx.workload
    numbers = itertools.count(1)
    numbers_lock = threading.Lock()

    def start_worker() -> None:
        with numbers_lock:
            number = next(numbers)
        set_current_recorder(ctx.local_recorder(f"thread {number}"))

    def task(item: Item) -> ItemResult:
        return run_item(workload, item, current_recorder())

    workload.attach()
    try:
        frontier = ctx.frontier()
        ctx.pool_starting()
        pool = ThreadPoolExecutor(
            max_workers=ctx.workers,
            thread_name_prefix="conc-tui-worker",
            initializer=start_worker,
        )
        try:
            error = drive_pool(
                lambda item: pool.submit(task, item), frontier, ctx.workers * 2, ctx.stop
            )
        finally:
            # Threads cannot be killed: a stop lets the running items finish.
            pool.shutdown(wait=True, cancel_futures=True)
    finally:
        workload.detach()
    return Outcome(frontier.results, error)

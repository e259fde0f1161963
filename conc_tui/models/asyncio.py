"""One event loop, one thread, N tasks: the secretary juggling calls.

A workload with a real asynchronous form (the crawler) awaits its network waits, so
many requests are in flight at once. The others have no asynchronous form: they run on
the loop as they are and block it — every other task waits, which the loop-lag
heartbeat shows — unless the user asks for ``asyncio.to_thread``.
"""

from __future__ import annotations

import asyncio
import threading

from conc_tui.messages import AsyncMode, WorkThread
from conc_tui.models.base import (
    Outcome,
    RunContext,
    run_item,
    run_item_async,
)
from conc_tui.telemetry.recorder import Recorder, set_current_recorder
from conc_tui.telemetry.states import LOOP_HEARTBEAT_NS
from conc_tui.workloads.base import Item, ItemResult

HEARTBEAT_S = LOOP_HEARTBEAT_NS / 1e9
NATIVE, BLOCKING, TO_THREAD = "native async", "blocking the loop", "to_thread"


def mode_for(ctx: RunContext) -> str:
    if ctx.workload.has_async:
        return NATIVE
    return TO_THREAD if ctx.to_thread else BLOCKING


def run(ctx: RunContext) -> Outcome:
    mode = mode_for(ctx)
    results = asyncio.run(_main(ctx, mode))
    return Outcome(results, async_mode=mode)


async def _main(ctx: RunContext, mode: str) -> list[ItemResult]:
    workload = ctx.workload
    link = ctx.link
    frontier = ctx.frontier()
    changed = asyncio.Condition()
    seen_threads: set[int] = set()

    def note_thread() -> None:
        tid = threading.get_native_id()
        if link is not None and tid not in seen_threads:
            seen_threads.add(tid)
            link.send_control(WorkThread(tid))

    if link is not None:
        link.send_control(AsyncMode(mode))
    note_thread()

    async def next_item() -> Item | None:
        async with changed:
            while not ctx.stop.is_set():
                item = frontier.take()
                if item is not None:
                    return item
                if frontier.in_flight == 0:
                    changed.notify_all()
                    return None
                await changed.wait()
            return None

    def in_thread(item: Item, recorder: Recorder) -> ItemResult:
        note_thread()
        return run_item(workload, item, recorder)

    async def worker(recorder: Recorder) -> None:
        set_current_recorder(recorder)  # this task's own context
        while (item := await next_item()) is not None:
            if mode == NATIVE:
                result = await run_item_async(workload, item, recorder)
            elif mode == TO_THREAD:
                result = await asyncio.to_thread(in_thread, item, recorder)
            else:
                result = run_item(workload, item, recorder)  # blocks every other task
            async with changed:
                frontier.complete(result)
                changed.notify_all()

    async def heartbeat() -> None:
        if link is None:
            return
        loop = asyncio.get_running_loop()
        lag_recorder = link.system_recorder
        # A first tick on time: a loop blocked from its very start then shows its lag
        # growing from here, instead of nothing until the block ends.
        lag_recorder.loop_lag(0)
        # Each tick is shipped at once (20 small writes a second): the observer then
        # knows when the loop last ticked to within the pipe's latency, not a flush
        # interval, and can show a stall as soon as a beat is overdue.
        lag_recorder.flush()
        while True:
            started = loop.time()
            try:
                await asyncio.sleep(HEARTBEAT_S)
            except asyncio.CancelledError:
                # Cancelled while overdue: the loop was blocked, and that stall counts.
                overdue = loop.time() - started - HEARTBEAT_S
                if overdue > 0:
                    lag_recorder.loop_lag(int(overdue * 1e6))
                raise
            lag_recorder.loop_lag(int((loop.time() - started - HEARTBEAT_S) * 1e6))
            lag_recorder.flush()

    async def watch_stop(tasks: list[asyncio.Task[None]]) -> None:
        while not ctx.stop.is_set():
            await asyncio.sleep(0.05)
        for task in tasks:
            task.cancel()

    workload.attach()
    if mode == NATIVE:
        await workload.attach_async()
    beat = asyncio.create_task(heartbeat())
    try:
        ctx.pool_starting()
        # Tasks are registered as they are created: they cost almost nothing to start,
        # even when a blocking workload keeps them from running for a long time.
        recorders = [
            ctx.local_recorder(f"task {n + 1}", os_thread=False) for n in range(ctx.workers)
        ]
        tasks = [asyncio.create_task(worker(recorder)) for recorder in recorders]
        watcher = asyncio.create_task(watch_stop(tasks))
        await asyncio.gather(*tasks, return_exceptions=True)
        watcher.cancel()
    finally:
        beat.cancel()
        if mode == NATIVE:
            await workload.detach_async()
        workload.detach()
    return frontier.results

"""Blocked loop: one blocking call in one task stops every task on the event loop.

Fifty tasks wait on the network for real: each keeps a TCP connection to a small echo
server on 127.0.0.1 (its own thread and event loop, so it keeps answering) and makes
round trips, each reply delayed by ``LATENCY_S``. A monitor task measures loop lag:
it asks to wake every ``TICK_S``, and the lag is the longest gap between its
wake-ups. One more task calls ``time.sleep`` for ``block_s``: the loop can run nothing
else until it returns, so no round trip completes and the lag is at least the
blocking time. Fixed: the same wait as ``await asyncio.to_thread(time.sleep, ...)``,
so the loop keeps running.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
import time
from dataclasses import dataclass

from conc_tui.hazards import timeline
from conc_tui.hazards.base import fmt_s, step
from conc_tui.hazards.timeline import LaneState, Marker

TASKS = 50
BLOCK_S = 1.0
QUICK_BLOCK_S = 0.3
LATENCY_S = 0.01
TICK_S = 0.01
WARMUP_S = 0.3
AFTER_S = 0.3
WAIT_KIND = "TCP round trips to an echo server on 127.0.0.1 (10 ms reply delay)"


@dataclass(frozen=True)
class LoopRun:
    """One run of the fifty network tasks beside the task that waits."""

    blocking_call: str
    tasks: int
    block_s: float
    """How long the waiting call took, measured around it."""
    max_lag_s: float
    """The longest gap between wake-ups of a task that asks to run every TICK_S."""
    round_trips: int
    round_trips_during_block: int
    """Round trips completed strictly inside the blocking call's window."""
    tasks_progressed_during_block: int
    """How many of the tasks completed at least one round trip in that window."""
    elapsed_s: float


@dataclass(frozen=True)
class BlockedLoopResult:
    """The loop with ``time.sleep`` in a task, then with ``asyncio.to_thread``."""

    wait_kind: str
    broken: LoopRun
    fixed: LoopRun

    @property
    def hazard_shown(self) -> bool:
        b = self.broken
        return b.max_lag_s >= b.block_s and b.round_trips_during_block == 0

    @property
    def fixed_clean(self) -> bool:
        f = self.fixed
        # Every task moved during the wait and no stall covered it; a loaded machine may
        # still delay the loop by tens of ms, which is lag but not this hazard.
        return f.tasks_progressed_during_block == f.tasks and f.max_lag_s < f.block_s

    @property
    def sentence(self) -> str:
        b, f = self.broken, self.fixed
        return (
            f"One task's time.sleep({b.block_s:.2f} s) held the loop: the lag reached "
            f"{fmt_s(b.max_lag_s)} and {b.tasks - b.tasks_progressed_during_block} of "
            f"{b.tasks} network tasks made no progress meanwhile "
            f"({b.round_trips_during_block} round trips); through asyncio.to_thread the lag "
            f"stayed at {fmt_s(f.max_lag_s)} and {f.tasks_progressed_during_block} tasks "
            f"completed {f.round_trips_during_block} round trips during the same wait."
        )


class _EchoServer:
    """A line echo server on 127.0.0.1 in its own thread and event loop."""

    def __init__(self, latency_s: float) -> None:
        self.latency_s = latency_s
        self.port = 0
        self._ready = threading.Event()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stop: asyncio.Event | None = None
        self._thread = threading.Thread(target=self._main, name="hazard-echo", daemon=True)

    def __enter__(self) -> _EchoServer:
        self._thread.start()
        if not self._ready.wait(10):
            raise RuntimeError("the loopback echo server did not start within 10 s")
        return self

    def __exit__(self, *exc: object) -> None:
        if self._loop is not None and self._stop is not None:
            self._loop.call_soon_threadsafe(self._stop.set)
        self._thread.join(timeout=5)

    def _main(self) -> None:
        asyncio.run(self._serve())

    async def _serve(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._stop = asyncio.Event()
        server = await asyncio.start_server(self._handle, "127.0.0.1", 0)
        self.port = server.sockets[0].getsockname()[1]
        self._ready.set()
        async with server:
            await self._stop.wait()
            server.close()

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        with contextlib.suppress(ConnectionError):
            while line := await reader.readline():
                await asyncio.sleep(self.latency_s)
                writer.write(line)
                await writer.drain()
        writer.close()


async def _client(port: int, stop: asyncio.Event, done_at: list[float], lane: Marker) -> None:
    lane.mark(LaneState.WAIT_IO, "connecting")
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    lane.mark(LaneState.RUNNING)
    try:
        while not stop.is_set():
            writer.write(b"ping\n")
            await writer.drain()
            lane.mark(LaneState.WAIT_IO, "awaits the echo")
            await reader.readline()
            lane.mark(LaneState.RUNNING)
            done_at.append(time.perf_counter())
    finally:
        writer.close()
        with contextlib.suppress(ConnectionError):
            await writer.wait_closed()
        lane.mark(LaneState.DONE)


async def _lag_monitor(stop: asyncio.Event, lags: list[float]) -> None:
    # The lag is the gap between two consecutive wake-ups of a task that asks to run
    # every TICK_S: the longest time the loop ran nothing else. A blocking call starts
    # after one wake-up and ends before the next, so the gap covers all of it.
    last = time.perf_counter()
    while not stop.is_set():
        await asyncio.sleep(TICK_S)
        now = time.perf_counter()
        lags.append(now - last)
        last = now


async def _scenario(port: int, tasks: int, block_s: float, blocking: bool) -> LoopRun:
    stop = asyncio.Event()
    done_at: list[list[float]] = [[] for _ in range(tasks)]
    lags: list[float] = []
    began = time.perf_counter()
    # The waiting task is this coroutine itself; its lane comes first, so that with the
    # fifty network tasks compressed on screen it is never the one left out.
    waiter = timeline.thread_lane("waiter")
    lanes = [timeline.thread_lane(f"task {n + 1}") for n in range(tasks)]
    clients = [
        asyncio.create_task(_client(port, stop, done_at[n], lanes[n]), name=f"net-{n}")
        for n in range(tasks)
    ]
    monitor = asyncio.create_task(_lag_monitor(stop, lags), name="lag-monitor")
    waiter.mark(LaneState.WAIT_IO, f"asyncio.sleep({WARMUP_S:g})")
    await asyncio.sleep(WARMUP_S)
    start = time.perf_counter()
    if blocking:
        waiter.mark(LaneState.BLOCKED, f"time.sleep({block_s:g}) holds the loop")
        time.sleep(block_s)  # the hazard: nothing else on this loop runs until it returns
    else:
        waiter.mark(LaneState.WAIT_IO, f"awaits asyncio.to_thread(time.sleep, {block_s:g})")
        await asyncio.to_thread(time.sleep, block_s)
    end = time.perf_counter()
    waiter.mark(LaneState.WAIT_IO, f"asyncio.sleep({AFTER_S:g})")
    await asyncio.sleep(AFTER_S)
    waiter.mark(LaneState.DONE)
    stop.set()
    await asyncio.gather(*clients, monitor)
    during = [sum(1 for t in times if start < t < end) for times in done_at]
    return LoopRun(
        blocking_call=(
            f"time.sleep({block_s:g})"
            if blocking
            else f"await asyncio.to_thread(time.sleep, {block_s:g})"
        ),
        tasks=tasks,
        block_s=end - start,
        max_lag_s=max(lags, default=0.0),
        round_trips=sum(len(times) for times in done_at),
        round_trips_during_block=sum(during),
        tasks_progressed_during_block=sum(1 for count in during if count),
        elapsed_s=time.perf_counter() - began,
    )


def run_loop(*, blocking: bool, tasks: int = TASKS, block_s: float = BLOCK_S) -> LoopRun:
    """Run the tasks on a fresh event loop beside one task that waits ``block_s``."""
    with _EchoServer(LATENCY_S) as server:
        return asyncio.run(_scenario(server.port, tasks, block_s, blocking))


def run(quick: bool = False) -> BlockedLoopResult:
    """The blocking wait, then the same wait handed to a thread."""
    block_s = QUICK_BLOCK_S if quick else BLOCK_S
    step(f"broken: time.sleep({block_s:g}) in one of {TASKS + 1} tasks")
    broken = run_loop(blocking=True, block_s=block_s)
    step(f"fixed: await asyncio.to_thread(time.sleep, {block_s:g})")
    fixed = run_loop(blocking=False, block_s=block_s)
    return BlockedLoopResult(wait_kind=WAIT_KIND, broken=broken, fixed=fixed)

"""Memory: N processes against N threads against N asyncio tasks holding the same data.

Each worker builds the same dictionary and holds it while the memory is measured.
Every model runs in fresh spawned interpreters, so nothing is inherited from this
process and the figures are what each model costs from scratch: N processes are N
interpreters; N threads or N tasks share one. The measure is the unique set size
(memory that would be freed if the process ended; psutil ``memory_full_info().uss``)
where the OS gives it, RSS otherwise, summed over the processes of the model.
"""

from __future__ import annotations

import asyncio
import threading
from dataclasses import dataclass
from typing import Any

import psutil

from conc_tui.hazards import timeline
from conc_tui.hazards.base import fmt_bytes, join_or_kill, spawn_context, step
from conc_tui.hazards.timeline import LaneState, Marker

WORKERS = 4
QUICK_WORKERS = 2
WORK_ITEMS = 20_000
READY_TIMEOUT_S = 30.0


def _build() -> dict[int, str]:
    """The work every worker does: an index of WORK_ITEMS strings, held until released."""
    return {n: f"item-{n:08d}" for n in range(WORK_ITEMS)}


HOLDS = "holds its data while it is measured"


def _hold_in_process(ready: Any, release: Any, lane: Marker) -> None:
    lane.mark(LaneState.RUNNING, "builds its data")
    data = _build()
    lane.mark(LaneState.IDLE, HOLDS)
    ready.put(len(data))
    release.wait(READY_TIMEOUT_S)
    lane.mark(LaneState.DONE)


def _hold_in_threads(workers: int, ready: Any, release: Any, lanes: list[Marker]) -> None:
    built = threading.Barrier(workers + 1)
    held: list[dict[int, str]] = []

    def one(lane: Marker) -> None:
        lane.mark(LaneState.RUNNING, "builds its data")
        held.append(_build())
        lane.mark(LaneState.IDLE, HOLDS)
        built.wait(READY_TIMEOUT_S)
        release.wait(READY_TIMEOUT_S)
        lane.mark(LaneState.DONE)

    threads = [threading.Thread(target=one, args=(lane,), daemon=True) for lane in lanes]
    for thread in threads:
        thread.start()
    built.wait(READY_TIMEOUT_S)
    ready.put(len(held))
    for thread in threads:
        thread.join()


def _hold_in_tasks(workers: int, ready: Any, release: Any, lanes: list[Marker]) -> None:
    async def one(held: list[dict[int, str]], gate: asyncio.Event, lane: Marker) -> None:
        lane.mark(LaneState.RUNNING, "builds its data")
        held.append(_build())
        lane.mark(LaneState.IDLE, HOLDS)
        await gate.wait()
        lane.mark(LaneState.DONE)

    async def main() -> None:
        held: list[dict[int, str]] = []
        gate = asyncio.Event()
        tasks = [asyncio.create_task(one(held, gate, lane)) for lane in lanes]
        while len(held) < workers:
            await asyncio.sleep(0.01)
        ready.put(len(held))
        await asyncio.to_thread(release.wait, READY_TIMEOUT_S)
        gate.set()
        await asyncio.gather(*tasks)

    asyncio.run(main())


def _hold_nothing(ready: Any, release: Any, lane: Marker) -> None:
    lane.mark(LaneState.IDLE, "an interpreter doing nothing, measured")
    ready.put(0)
    release.wait(READY_TIMEOUT_S)
    lane.mark(LaneState.DONE)


@dataclass(frozen=True)
class ModelMemory:
    """What one model's processes used while its workers held their data."""

    model: str
    workers: int
    processes: int
    total_bytes: int
    per_worker_bytes: float
    """Total over workers for processes; above one idle interpreter for threads and tasks."""


@dataclass(frozen=True)
class MemoryResult:
    """Processes (broken: the cost), threads and asyncio tasks (fixed: shared memory)."""

    measure: str
    """``uss`` or ``rss``: which figure the OS gave."""
    start_method: str
    """Always ``spawn``: a forked child would share its parent's pages until written,
    and its memory would depend on what the parent happened to hold."""
    idle_interpreter_bytes: int
    broken: ModelMemory
    fixed: ModelMemory
    tasks: ModelMemory

    @property
    def hazard_shown(self) -> bool:
        return self.broken.total_bytes > self.fixed.total_bytes

    @property
    def fixed_clean(self) -> bool:
        return max(self.fixed.total_bytes, self.tasks.total_bytes) < self.broken.total_bytes

    @property
    def sentence(self) -> str:
        b, f, t = self.broken, self.fixed, self.tasks
        return (
            f"Holding the same data, {b.workers} processes used {fmt_bytes(b.total_bytes)} "
            f"({self.measure.upper()}, {fmt_bytes(b.per_worker_bytes)} each, an idle "
            f"interpreter with this module loaded being "
            f"{fmt_bytes(self.idle_interpreter_bytes)}), against "
            f"{fmt_bytes(f.total_bytes)} for {f.workers} threads and "
            f"{fmt_bytes(t.total_bytes)} for {t.workers} asyncio tasks in one process: "
            f"{b.total_bytes / max(1, f.total_bytes):.1f}× the threads' memory."
        )


def _memory_of(pid: int) -> tuple[int, str]:
    process = psutil.Process(pid)
    try:
        return int(process.memory_full_info().uss), "uss"
    except (psutil.AccessDenied, AttributeError, NotImplementedError):
        return int(process.memory_info().rss), "rss"


def _measure(model: str, workers: int) -> tuple[int, int, str]:
    """Start the model's processes, wait until all data is built, measure, release.

    Returns the total memory, how many processes it was summed over, and the measure.
    """
    ctx = spawn_context()
    ready, release = ctx.Queue(), ctx.Event()
    starting: list[Marker] = []
    if model == "process":
        starting = [timeline.process_lane(f"process {n + 1}") for n in range(workers)]
        children = [
            ctx.Process(target=_hold_in_process, args=(ready, release, lane), daemon=True)
            for lane in starting
        ]
    else:
        target = {"thread": _hold_in_threads, "async": _hold_in_tasks}.get(model)
        noun = {"thread": "thread", "async": "task"}.get(model, "interpreter")
        lanes = [timeline.process_lane(f"{noun} {n + 1}") for n in range(workers)]
        starting = lanes if target else lanes[:1]
        children = [
            ctx.Process(target=target, args=(workers, ready, release, lanes), daemon=True)
            if target
            else ctx.Process(target=_hold_nothing, args=(ready, release, lanes[0]), daemon=True)
        ]
    for lane in starting:
        # The interpreter the worker runs in starts first: its lane shows how long.
        lane.mark(LaneState.IDLE, "its interpreter starts")
    try:
        for child in children:
            child.start()
        for _ in children:
            ready.get(timeout=READY_TIMEOUT_S)
        measured = [_memory_of(child.pid or 0) for child in children]
    finally:
        release.set()
        join_or_kill(children, timeout=10)
        ready.close()
        ready.join_thread()
    return sum(size for size, _ in measured), len(children), measured[0][1]


def run(quick: bool = False) -> MemoryResult:
    """Measure an idle interpreter, then processes, threads and tasks holding the data."""
    workers = QUICK_WORKERS if quick else WORKERS
    step("an idle interpreter, for reference")
    idle, _, measure = _measure("idle", 1)
    results: dict[str, ModelMemory] = {}
    labels = {"process": "broken: processes", "thread": "fixed: threads", "async": "fixed: tasks"}
    for model in ("process", "thread", "async"):
        step(f"{labels[model]}, {workers} holding the same data")
        total, processes, _ = _measure(model, workers)
        # A process's worker is the whole interpreter; a thread or task is what it adds
        # to the one interpreter they share.
        extra = total if model == "process" else total - idle
        results[model] = ModelMemory(model, workers, processes, total, extra / workers)
    return MemoryResult(
        measure=measure,
        start_method=spawn_context().get_start_method(),
        idle_interpreter_bytes=idle,
        broken=results["process"],
        fixed=results["thread"],
        tasks=results["async"],
    )

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

from conc_tui.hazards.base import fmt_bytes, spawn_context, step

WORKERS = 4
QUICK_WORKERS = 2
WORK_ITEMS = 20_000
READY_TIMEOUT_S = 30.0


def _build() -> dict[int, str]:
    """The work every worker does: an index of WORK_ITEMS strings, held until released."""
    return {n: f"item-{n:08d}" for n in range(WORK_ITEMS)}


def _hold_in_process(ready: Any, release: Any) -> None:
    data = _build()
    ready.put(len(data))
    release.wait(READY_TIMEOUT_S)


def _hold_in_threads(workers: int, ready: Any, release: Any) -> None:
    built = threading.Barrier(workers + 1)
    held: list[dict[int, str]] = []

    def one() -> None:
        held.append(_build())
        built.wait(READY_TIMEOUT_S)
        release.wait(READY_TIMEOUT_S)

    threads = [threading.Thread(target=one, daemon=True) for _ in range(workers)]
    for thread in threads:
        thread.start()
    built.wait(READY_TIMEOUT_S)
    ready.put(len(held))
    for thread in threads:
        thread.join()


def _hold_in_tasks(workers: int, ready: Any, release: Any) -> None:
    async def one(held: list[dict[int, str]], gate: asyncio.Event) -> None:
        held.append(_build())
        await gate.wait()

    async def main() -> None:
        held: list[dict[int, str]] = []
        gate = asyncio.Event()
        tasks = [asyncio.create_task(one(held, gate)) for _ in range(workers)]
        while len(held) < workers:
            await asyncio.sleep(0.01)
        ready.put(len(held))
        await asyncio.to_thread(release.wait, READY_TIMEOUT_S)
        gate.set()
        await asyncio.gather(*tasks)

    asyncio.run(main())


def _hold_nothing(ready: Any, release: Any) -> None:
    ready.put(0)
    release.wait(READY_TIMEOUT_S)


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
    if model == "process":
        children = [
            ctx.Process(target=_hold_in_process, args=(ready, release), daemon=True)
            for _ in range(workers)
        ]
    else:
        target = {"thread": _hold_in_threads, "async": _hold_in_tasks}.get(model)
        children = [
            ctx.Process(target=target, args=(workers, ready, release), daemon=True)
            if target
            else ctx.Process(target=_hold_nothing, args=(ready, release), daemon=True)
        ]
    try:
        for child in children:
            child.start()
        for _ in children:
            ready.get(timeout=READY_TIMEOUT_S)
        measured = [_memory_of(child.pid or 0) for child in children]
    finally:
        release.set()
        for child in children:
            child.join(timeout=10)
            if child.is_alive():
                child.kill()
                child.join()
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
        idle_interpreter_bytes=idle,
        broken=results["process"],
        fixed=results["thread"],
        tasks=results["async"],
    )

"""The price of processes: thousands of tiny tasks, each pickled and sent to a worker.

Every task given to a process pool is pickled, written down a pipe, read and unpickled
by a worker, and its result comes back the same way. For tasks of a few microseconds
of work that crossing costs more than the work, so processes lose to a plain loop.
The bytes are measured, not computed: the kernel's count of bytes this process wrote
(``write_chars`` in /proc/self/io, through psutil) around ``Pool.map``, divided by the
task count, next to ``len(pickle.dumps(task))``. Fixed: ``chunksize`` packs many tasks
into one message, so the cost per task falls. A sweep of task sizes finds where
processes start to beat the loop (the break-even).
"""

from __future__ import annotations

import math
import os
import pickle
import random
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from functools import partial
from typing import Any

import psutil

from conc_tui.hazards import timeline
from conc_tui.hazards.base import fmt_bytes, mp_context, step
from conc_tui.hazards.timeline import LaneState, Marker

Task = tuple[int, bytes]
"""(loop iterations of work, a payload record)."""

TASKS = 5_000
QUICK_TASKS = 1_000
PAYLOAD_BYTES = 2_048
TINY_UNITS = 20
SWEEP_UNITS = (30, 100, 300, 1_000, 3_000, 10_000, 30_000)
SWEEP_TASKS = 200
QUICK_SWEEP_TASKS = 60


def work(task: Task) -> int:
    """The task: a pure-Python loop of ``task[0]`` steps over its payload's length."""
    units, payload = task
    acc = len(payload)
    for n in range(units):
        acc = (acc * 31 + n) & 0xFFFF
    return acc


def _noop(_: int) -> int:
    return 0


def make_tasks(count: int, units: int, payload_bytes: int = PAYLOAD_BYTES) -> list[Task]:
    """Tasks with distinct payloads, so pickle cannot share one object between them."""
    rng = random.Random(count * 7919 + units)
    return [(units, rng.randbytes(payload_bytes)) for _ in range(count)]


def _bytes_written() -> int | None:
    """Bytes this process has written through system calls so far; None if not counted."""
    try:
        return int(getattr(psutil.Process().io_counters(), "write_chars"))  # noqa: B009
    except (AttributeError, psutil.Error, NotImplementedError):
        return None


def _timed(call: Callable[[], Any]) -> float:
    began = time.perf_counter()
    call()
    return time.perf_counter() - began


@dataclass(frozen=True)
class PoolMap:
    """One ``Pool.map`` over the tasks."""

    chunksize: int
    wall_s: float
    bytes_written_per_task: float | None
    """Measured: bytes this process wrote during the map, per task (None if not counted)."""


@dataclass(frozen=True)
class SweepPoint:
    """Serial against processes (chunksize 1) at one task size."""

    units: int
    work_us: float
    """Microseconds of work per task, measured serially."""
    serial_s: float
    processes_s: float
    """On processes, one task per message."""
    processes_chunked_s: float
    """On processes, in chunks (four per worker)."""


@dataclass(frozen=True)
class OverheadResult:
    """Tiny tasks run serially, on threads, on processes, and on processes chunked."""

    tasks: int
    workers: int
    start_method: str
    work_us: float
    """Microseconds of work per tiny task, measured serially."""
    pickled_bytes_per_task: float
    """len(pickle.dumps(task)), averaged over the tasks."""
    pool_startup_s: float
    serial_s: float
    threads_s: float
    crossing_us: float
    """Wall time per task of a map with the work removed: the crossing alone."""
    broken: PoolMap
    fixed: PoolMap
    sweep: tuple[SweepPoint, ...]
    break_even_us: float | None
    """Work per task from which processes beat serial (chunksize 1); None if not reached."""
    break_even_chunked_us: float | None
    """The same with chunks; None if not reached."""

    @property
    def hazard_shown(self) -> bool:
        return self.broken.wall_s > self.serial_s

    @property
    def fixed_clean(self) -> bool:
        return self.fixed.wall_s < self.broken.wall_s

    @property
    def sentence(self) -> str:
        b, f = self.broken, self.fixed
        measured = (
            f"{fmt_bytes(b.bytes_written_per_task)} written per task (pickle.dumps gives "
            f"{fmt_bytes(self.pickled_bytes_per_task)})"
            if b.bytes_written_per_task is not None
            else f"{fmt_bytes(self.pickled_bytes_per_task)} pickled per task"
        )

        def reached(value: float | None) -> str:
            return f"{value:.0f} µs" if value is not None else "never"

        largest = self.sweep[-1].work_us
        even = (
            f"processes beat the loop from {reached(self.break_even_us)} of work per task "
            f"one by one and from {reached(self.break_even_chunked_us)} in chunks "
            f"(tried up to {largest:.0f} µs)"
        )
        return (
            f"{self.tasks:,} tasks of {self.work_us:.1f} µs took {self.serial_s:.3f} s in a loop "
            f"and {self.threads_s:.3f} s on threads, but {b.wall_s:.3f} s on "
            f"{self.workers} processes (plus {self.pool_startup_s:.3f} s start-up by "
            f"{self.start_method}), with "
            f"{measured} and {self.crossing_us:.0f} µs of crossing per task; chunksize "
            f"{f.chunksize} cut it to {f.wall_s:.3f} s, and {even}."
        )


def _pool_map(pool: Any, tasks: Sequence[Task], chunksize: int) -> PoolMap:
    before = _bytes_written()
    wall = _timed(lambda: pool.map(work, tasks, chunksize=chunksize))
    after = _bytes_written()
    per_task = None if before is None or after is None else (after - before) / len(tasks)
    return PoolMap(chunksize=chunksize, wall_s=wall, bytes_written_per_task=per_task)


def _serial(tasks: Sequence[Task]) -> float:
    return _timed(lambda: [work(task) for task in tasks])


def _chunksize(count: int, workers: int) -> int:
    # Four chunks per worker: few messages, yet a slow worker does not hold up the end.
    return max(1, math.ceil(count / (workers * 4)))


def _sweep(
    pool: Any, count: int, workers: int, lane: Marker
) -> tuple[tuple[SweepPoint, ...], float | None, float | None]:
    """Grow the task until processes beat the loop, one task per message and in chunks."""
    points: list[SweepPoint] = []
    single: float | None = None
    chunked: float | None = None
    size = _chunksize(count, workers)
    for units in SWEEP_UNITS:
        tasks = make_tasks(count, units)
        lane.mark(LaneState.RUNNING, f"a loop of {units}-unit tasks")
        serial = _serial(tasks)
        lane.mark(LaneState.WAIT_IO, f"awaits pool.map of {units}-unit tasks")
        one = _timed(partial(pool.map, work, tasks, chunksize=1))
        many = _timed(partial(pool.map, work, tasks, chunksize=size))
        work_us = serial / count * 1e6
        points.append(SweepPoint(units, work_us, serial, one, many))
        if single is None and one < serial:
            single = work_us
        if chunked is None and many < serial:
            chunked = work_us
        if single is not None and chunked is not None:
            break
    return tuple(points), single, chunked


def run(quick: bool = False, workers: int | None = None) -> OverheadResult:
    """Measure the tiny tasks every way, then sweep task sizes for the break-even."""
    count = QUICK_TASKS if quick else TASKS
    workers = workers or max(2, min(os.cpu_count() or 1, 4))
    tasks = make_tasks(count, TINY_UNITS)
    empty = [(0, payload) for _, payload in tasks]
    pickled = sum(len(pickle.dumps(task)) for task in tasks) / count
    step(f"{count:,} tiny tasks in a loop, then on {workers} threads")
    main = timeline.thread_lane("main")
    main.mark(LaneState.RUNNING, "the loop")
    serial = _serial(tasks)
    main.mark(LaneState.WAIT_IO, f"awaits {workers} threads")
    with ThreadPoolExecutor(workers) as threads:
        threads_s = _timed(lambda: list(threads.map(work, tasks)))
    ctx = mp_context()
    main.mark(LaneState.WAIT_IO, f"starts a pool of {workers} processes")
    before = set(ctx.active_children())
    began = time.perf_counter()
    pool = ctx.Pool(workers)
    try:
        # Start-up counts until every worker has answered once, not only until fork.
        pool.map(_noop, range(workers), chunksize=1)
        startup = time.perf_counter() - began
        main.mark(LaneState.DONE)
        pids = [child.pid for child in set(ctx.active_children()) - before if child.pid]
        with timeline.sampled_processes(sorted(pids)):
            step(f"broken: {workers} processes, one task per message")
            main = timeline.thread_lane("main")
            main.mark(LaneState.WAIT_IO, "awaits pool.map, one task per message")
            broken = _pool_map(pool, tasks, 1)
            main.mark(LaneState.WAIT_IO, "awaits pool.map of empty tasks: the crossing")
            crossing = _timed(lambda: pool.map(work, empty, chunksize=1)) / count * 1e6
            main.mark(LaneState.DONE)
            step(f"fixed: chunksize {_chunksize(count, workers)}")
            main = timeline.thread_lane("main")
            main.mark(
                LaneState.WAIT_IO, f"awaits pool.map in chunks of {_chunksize(count, workers)}"
            )
            fixed = _pool_map(pool, tasks, _chunksize(count, workers))
            main.mark(LaneState.DONE)
            step("bigger and bigger tasks, until processes win")
            main = timeline.thread_lane("main")
            sweep, break_even, break_even_chunked = _sweep(
                pool, QUICK_SWEEP_TASKS if quick else SWEEP_TASKS, workers, main
            )
            main.mark(LaneState.DONE)
    finally:
        pool.close()
        pool.join()
    return OverheadResult(
        tasks=count,
        workers=workers,
        start_method=ctx.get_start_method(),
        work_us=serial / count * 1e6,
        pickled_bytes_per_task=pickled,
        pool_startup_s=startup,
        serial_s=serial,
        threads_s=threads_s,
        crossing_us=crossing,
        broken=broken,
        fixed=fixed,
        sweep=sweep,
        break_even_us=break_even,
        break_even_chunked_us=break_even_chunked,
    )

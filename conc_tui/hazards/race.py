"""Race condition: an interruptible read-modify-write on a shared counter loses updates.

Threads add 1 to a shared counter by reading it, yielding, and writing back the value
they read plus one. ``time.sleep(0)`` between the read and the write releases the GIL,
so another thread may run in between, read the same old value, and one of the two
increments is lost. Without the yield the race is still there but CPython 3.11 switches
threads only every 5 ms, so it shows rarely; the yield makes it show on every run.
Fixed: the same loop holding a ``threading.Lock`` around the read and the write.

Beside them: processes with their own counters lose nothing (nothing is shared), and
processes sharing one ``multiprocessing.Value`` updated with ``v.value += 1`` outside
``v.get_lock()`` lose updates too: the seed's "no race conditions" holds only while
nothing is shared.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from multiprocessing.sharedctypes import Synchronized
from typing import TYPE_CHECKING, Any

from conc_tui.hazards import timeline
from conc_tui.hazards.base import fmt_s, join_or_kill, mp_context, step

if TYPE_CHECKING:
    from conc_tui.hazards.base import StartContext
from conc_tui.hazards.timeline import LaneState, Marker

YIELD_POINT = "time.sleep(0) between the read and the write (it releases the GIL)"
THREADS = 4
INCREMENTS = 2_000
QUICK_INCREMENTS = 500
PROCESSES = 2
PROCESS_INCREMENTS = 100_000
QUICK_PROCESS_INCREMENTS = 20_000


@dataclass(frozen=True)
class CounterRun:
    """One run of workers adding to counters."""

    workers: int
    increments_each: int
    expected: int
    """The exact total: workers × increments each."""
    final: int
    """What the counter(s) held at the end."""
    lost: int
    """Updates that vanished: expected − final."""
    elapsed_s: float
    lock_wait_s: float | None
    """Total time the workers spent waiting for the lock; None when there is no lock."""


@dataclass(frozen=True)
class RaceResult:
    """Threads without and with a lock, and processes with and without sharing."""

    yield_point: str
    broken: CounterRun
    """Threads, shared counter, no lock."""
    fixed: CounterRun
    """Threads, shared counter, a lock."""
    processes_private: CounterRun
    """Processes, each with its own counter, summed at the end."""
    processes_shared_unlocked: CounterRun
    """Processes sharing one multiprocessing.Value, updated outside its lock."""
    start_method: str

    @property
    def hazard_shown(self) -> bool:
        return self.broken.lost > 0

    @property
    def fixed_clean(self) -> bool:
        return self.fixed.lost == 0 and self.processes_private.lost == 0

    @property
    def sentence(self) -> str:
        b, f = self.broken, self.fixed
        shared = self.processes_shared_unlocked
        wait = f.lock_wait_s or 0.0
        if b.lost:
            first = (
                f"{b.workers} threads lost {b.lost:,} of {b.expected:,} updates "
                f"({b.lost / b.expected:.0%}) without a lock"
            )
        else:
            first = f"{b.workers} threads happened to lose none of {b.expected:,} updates this run"
        private = self.processes_private
        return (
            f"{first}, and lost {f.lost:,} with one, at the price of {fmt_s(wait)} the "
            f"threads spent in all waiting for it; {private.workers} processes with their "
            f"own counters lost {private.lost:,}, but {shared.workers} sharing one "
            f"multiprocessing.Value without its lock lost {shared.lost:,} of "
            f"{shared.expected:,}."
        )


class _Box:
    """A shared counter: a plain attribute, read and written in two steps."""

    value = 0


def _racy_adder(box: _Box, increments: int, start: threading.Barrier, lane: Marker) -> None:
    start.wait()
    lane.mark(LaneState.RUNNING, "read, yield, write: no lock")
    for _ in range(increments):
        seen = box.value
        time.sleep(0)  # the yield point: another thread may read the same old value now
        box.value = seen + 1
    lane.mark(LaneState.DONE)


def _locked_adder(
    box: _Box,
    increments: int,
    start: threading.Barrier,
    lock: threading.Lock,
    waits: list[float],
    slot: int,
    lane: Marker,
) -> None:
    start.wait()
    waited = 0.0
    for _ in range(increments):
        lane.mark(LaneState.WAIT_LOCK, "waits for the counter's lock")
        asked = time.perf_counter()
        with lock:
            waited += time.perf_counter() - asked
            lane.mark(LaneState.HOLDING, "holds the counter's lock")
            seen = box.value
            time.sleep(0)  # the same yield point: harmless while the lock is held
            box.value = seen + 1
        lane.mark(LaneState.RUNNING)
    lane.mark(LaneState.DONE)
    waits[slot] = waited


def count_with_threads(threads: int, increments: int, *, locked: bool) -> CounterRun:
    """Run ``threads`` threads adding 1 to one shared counter ``increments`` times each."""
    box = _Box()
    start = threading.Barrier(threads)
    lock = threading.Lock()
    waits = [0.0] * threads
    lanes = [timeline.thread_lane(f"thread {n + 1}") for n in range(threads)]
    workers = [
        threading.Thread(
            target=_locked_adder if locked else _racy_adder,
            args=(box, increments, start, lock, waits, n, lanes[n])
            if locked
            else (box, increments, start, lanes[n]),
            name=f"race-adder-{n}",
            daemon=True,
        )
        for n in range(threads)
    ]
    began = time.perf_counter()
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    elapsed = time.perf_counter() - began
    expected = threads * increments
    return CounterRun(
        workers=threads,
        increments_each=increments,
        expected=expected,
        final=box.value,
        lost=expected - box.value,
        elapsed_s=elapsed,
        lock_wait_s=sum(waits) if locked else None,
    )


def _private_adder(increments: int, results: Any, slot: int, go: Any, lane: Marker) -> None:
    lane.mark(LaneState.IDLE, "waits for the start")
    go.wait(10)
    lane.mark(LaneState.RUNNING, "adds to its own counter")
    count = 0
    for _ in range(increments):
        count += 1
    results[slot] = count
    lane.mark(LaneState.DONE)


def _shared_unlocked_adder(
    increments: int, shared: Synchronized[int], go: Any, lane: Marker
) -> None:
    lane.mark(LaneState.IDLE, "waits for the start")
    go.wait(10)
    lane.mark(LaneState.RUNNING, "v.value += 1 outside its lock")
    for _ in range(increments):
        # Reading and writing .value each take the Value's lock, but not together: the
        # read-modify-write in between is as interruptible as the threads' one.
        shared.value += 1
    lane.mark(LaneState.DONE)


def count_with_processes(
    processes: int, increments: int, *, shared: bool, ctx: StartContext | None = None
) -> CounterRun:
    """Processes adding to their own counters, or to one shared Value without its lock
    (started by ``ctx``, by default :func:`mp_context`)."""
    ctx = ctx or mp_context()
    # Every child waits at this gate, so they all count at once rather than one after
    # the other as they happen to start.
    go = ctx.Event()
    lanes = [timeline.process_lane(f"process {n + 1}") for n in range(processes)]
    if shared:
        counter = ctx.Value("q", 0)
        children = [
            ctx.Process(target=_shared_unlocked_adder, args=(increments, counter, go, lanes[n]))
            for n in range(processes)
        ]
    else:
        # Each child counts in its own memory; the array only carries the totals back.
        totals = ctx.Array("q", processes)
        children = [
            ctx.Process(target=_private_adder, args=(increments, totals, n, go, lanes[n]))
            for n in range(processes)
        ]
    began = time.perf_counter()
    for lane, child in zip(lanes, children, strict=True):
        # Marked by the parent down the child's own pipe: the lane shows the start-up.
        lane.mark(LaneState.IDLE, "starting")
        child.start()
    go.set()
    join_or_kill(children, timeout=30)
    elapsed = time.perf_counter() - began
    final = int(counter.value) if shared else int(sum(totals[:]))
    expected = processes * increments
    return CounterRun(
        workers=processes,
        increments_each=increments,
        expected=expected,
        final=final,
        lost=expected - final,
        elapsed_s=elapsed,
        lock_wait_s=None,
    )


def run(quick: bool = False) -> RaceResult:
    """Run the four counters one after the other and return what each lost."""
    increments = QUICK_INCREMENTS if quick else INCREMENTS
    proc_increments = QUICK_PROCESS_INCREMENTS if quick else PROCESS_INCREMENTS
    step("broken: threads, shared counter, no lock")
    broken = count_with_threads(THREADS, increments, locked=False)
    step("fixed: threads, shared counter, a lock")
    fixed = count_with_threads(THREADS, increments, locked=True)
    # One start method for both, chosen once: the figure reports the one they used.
    ctx = mp_context()
    step("beside: processes, each its own counter")
    private = count_with_processes(PROCESSES, proc_increments, shared=False, ctx=ctx)
    step("beside: processes sharing a Value, without its lock")
    shared = count_with_processes(PROCESSES, proc_increments, shared=True, ctx=ctx)
    return RaceResult(
        yield_point=YIELD_POINT,
        broken=broken,
        fixed=fixed,
        processes_private=private,
        processes_shared_unlocked=shared,
        start_method=ctx.get_start_method(),
    )

"""Switching: how often the OS switches the workers out, threads against processes.

Every worker spins on pure-Python work for a set time and reads its own context-switch
counters at the start and the end: ``/proc/thread-self/status`` for a thread
(``voluntary_ctxt_switches``, ``nonvoluntary_ctxt_switches``), psutil's
``num_ctx_switches()`` for a process. A voluntary switch is the worker giving up the
CPU (waiting for the GIL, a lock, I/O); an involuntary one is the scheduler taking it
away because another runnable worker's turn came. Broken: four workers per core;
fixed: one per core. What a switch costs is measured too, as the time of a hand-off
ping-ponged between two threads (a queue) and between two processes (a pipe).
"""

from __future__ import annotations

import os
import queue
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import psutil

from conc_tui.hazards import timeline
from conc_tui.hazards.base import join_or_kill, mp_context, step
from conc_tui.hazards.timeline import LaneState, Marker

SPIN_S = 1.0
QUICK_SPIN_S = 0.3
OVERSUBSCRIBE = 4
PING_PONGS = 2_000
BATCHES = 3
"""Hand-offs are timed in batches and the fastest counts: the one other load disturbed least."""
QUICK_PING_PONGS = 300
THREAD_STATUS = "/proc/thread-self/status"
SLICE_S = 0.02
"""How often a spinning worker checks whether it got its share of a core."""

Counters = tuple[int, int]
"""(voluntary, involuntary) context switches."""


def _thread_counters() -> Counters | None:
    try:
        with open(THREAD_STATUS) as status:
            fields = dict(line.split(":", 1) for line in status if ":" in line)
        return (
            int(fields["voluntary_ctxt_switches"]),
            int(fields["nonvoluntary_ctxt_switches"]),
        )
    except (OSError, KeyError, ValueError):
        return None


def _process_counters() -> Counters | None:
    try:
        switches = psutil.Process().num_ctx_switches()
    except (psutil.Error, NotImplementedError):
        return None
    return switches.voluntary, switches.involuntary


def _spin(
    seconds: float, counters: Any, lane: Marker, waiting: LaneState
) -> tuple[Counters | None, Counters | None, int, float]:
    before = counters()
    began = time.perf_counter()
    steps, acc = 0, 0
    # Every SLICE_S the worker compares its own CPU clock with the wall clock: under
    # half of the slice on a core means it spent the rest ready but waiting its turn.
    # Marked only when that changes, and read once a slice, so the spin stays the spin.
    slice_end, cpu_at, shown = began + SLICE_S, time.thread_time(), LaneState.RUNNING
    lane.mark(shown)
    while (now := time.perf_counter()) - began < seconds:
        if now >= slice_end:
            cpu = time.thread_time()
            share = (cpu - cpu_at) / (now - slice_end + SLICE_S)
            state = LaneState.RUNNING if share >= 0.5 else waiting
            if state is not shown:
                lane.mark(state, f"{share:.0%} of a core" if state is waiting else "")
                shown = state
            slice_end, cpu_at = now + SLICE_S, cpu
        for n in range(1_000):
            acc = (acc * 31 + n) & 0xFFFF
        steps += 1
    elapsed = time.perf_counter() - began
    lane.mark(LaneState.DONE)
    return before, counters(), steps, elapsed


def _spin_in_process(seconds: float, go: Any, out: Any, lane: Marker) -> None:
    go.wait(30)
    out.put(_spin(seconds, _process_counters, lane, LaneState.WAIT_CPU))


@dataclass(frozen=True)
class SwitchRun:
    """One set of workers spinning at once."""

    model: str
    workers: int
    cores: int
    seconds: float
    voluntary_per_s: float | None
    """Summed over the workers, per second of their run; None where the OS gives none."""
    involuntary_per_s: float | None
    work_steps: int
    """Thousand-iteration steps done by all workers: what the switching cost in work."""


@dataclass(frozen=True)
class SwitchingResult:
    """Threads and processes, oversubscribed (broken) and one per core (fixed)."""

    cores: int
    broken: SwitchRun
    """Threads, four per core."""
    fixed: SwitchRun
    """Threads, one per core."""
    processes_broken: SwitchRun
    processes_fixed: SwitchRun
    thread_handoff_us: float
    process_handoff_us: float

    @property
    def hazard_shown(self) -> bool:
        # Oversubscribed threads queue for the GIL: every wait for it is a switch.
        return _switches(self.broken) > _switches(self.fixed)

    @property
    def fixed_clean(self) -> bool:
        return _switches(self.fixed) < _switches(self.broken)

    @property
    def sentence(self) -> str:
        def rates(run: SwitchRun) -> str:
            if run.voluntary_per_s is None or run.involuntary_per_s is None:
                return f"{run.workers} {run.model} (switches not counted by this OS)"
            return (
                f"{run.workers} {run.model} {run.voluntary_per_s:,.0f} voluntary and "
                f"{run.involuntary_per_s:,.0f} involuntary"
            )

        if self.process_handoff_us < self.thread_handoff_us:
            why = "cheaper between processes here: a thread hand-off also passes the GIL"
        else:
            why = "dearer between processes, as the seed says"
        return (
            f"Spinning on {self.cores} cores, switches per second were: "
            f"{rates(self.broken)}, {rates(self.fixed)}; {rates(self.processes_broken)}, "
            f"{rates(self.processes_fixed)}; a hand-off cost {self.thread_handoff_us:.0f} µs "
            f"between threads and {self.process_handoff_us:.0f} µs between processes "
            f"({why}), "
            f"each a switch plus the wake-up around it."
        )


def _switches(run: SwitchRun) -> float:
    return (run.voluntary_per_s or 0.0) + (run.involuntary_per_s or 0.0)


def _summarize(
    model: str,
    workers: int,
    seconds: float,
    samples: list[tuple[Counters | None, Counters | None, int, float]],
) -> SwitchRun:
    counted = [(b, a, t) for b, a, _, t in samples if b is not None and a is not None]
    wall = max((t for *_, t in counted), default=0.0)
    if len(counted) == len(samples) and wall > 0:
        voluntary: float | None = sum(a[0] - b[0] for b, a, _ in counted) / wall
        involuntary: float | None = sum(a[1] - b[1] for b, a, _ in counted) / wall
    else:
        voluntary = involuntary = None
    return SwitchRun(
        model=model,
        workers=workers,
        cores=os.cpu_count() or 1,
        seconds=seconds,
        voluntary_per_s=voluntary,
        involuntary_per_s=involuntary,
        work_steps=sum(steps for _, _, steps, _ in samples),
    )


def spin_threads(workers: int, seconds: float) -> SwitchRun:
    """``workers`` threads spinning at once in this process."""
    samples: list[tuple[Counters | None, Counters | None, int, float]] = []
    go = threading.Barrier(workers)

    def one(lane: Marker) -> None:
        go.wait(30)
        samples.append(_spin(seconds, _thread_counters, lane, LaneState.WAIT_GIL))

    threads = [
        threading.Thread(
            target=one, args=(timeline.thread_lane(f"thread {n + 1}"),), name=f"spin-{n}"
        )
        for n in range(workers)
    ]
    for thread in threads:
        thread.daemon = True
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return _summarize("threads", workers, seconds, samples)


def spin_processes(workers: int, seconds: float) -> SwitchRun:
    """``workers`` processes spinning at once."""
    ctx = mp_context()
    go, out = ctx.Event(), ctx.Queue()
    lanes = [timeline.process_lane(f"process {n + 1}") for n in range(workers)]
    children = [
        ctx.Process(target=_spin_in_process, args=(seconds, go, out, lanes[n]), daemon=True)
        for n in range(workers)
    ]
    for lane, child in zip(lanes, children, strict=True):
        lane.mark(LaneState.IDLE, "starting")
        child.start()
    go.set()
    samples = [out.get(timeout=seconds + 30) for _ in children]
    join_or_kill(children, timeout=10)
    out.close()
    out.join_thread()
    return _summarize("processes", workers, seconds, samples)


def _ping_pong(round_trip: Callable[[int], None], rounds: int) -> float:
    began = time.perf_counter()
    for n in range(rounds):
        round_trip(n)
    return time.perf_counter() - began


def thread_handoff_us(rounds: int) -> float:
    """Microseconds per one-way hand-off between two threads through two queues (best batch)."""
    ping: queue.SimpleQueue[int] = queue.SimpleQueue()
    pong: queue.SimpleQueue[int] = queue.SimpleQueue()

    def echo() -> None:
        while (n := ping.get()) >= 0:
            pong.put(n)

    partner = threading.Thread(target=echo, daemon=True)
    partner.start()

    def round_trip(n: int) -> None:
        ping.put(n)
        pong.get()

    elapsed = min(_ping_pong(round_trip, rounds) for _ in range(BATCHES))
    ping.put(-1)
    partner.join()
    return elapsed / (2 * rounds) * 1e6


def _echo_pipe(conn: Any) -> None:
    while (n := conn.recv()) >= 0:
        conn.send(n)


def process_handoff_us(rounds: int) -> float:
    """Microseconds per one-way hand-off between two processes through a pipe (best batch)."""
    ctx = mp_context()
    here, there = ctx.Pipe()
    partner = ctx.Process(target=_echo_pipe, args=(there,), daemon=True)
    partner.start()
    here.send(0)
    here.recv()  # the partner is up: its start-up is not a hand-off

    def round_trip(n: int) -> None:
        here.send(n)
        here.recv()

    elapsed = min(_ping_pong(round_trip, rounds) for _ in range(BATCHES))
    here.send(-1)
    join_or_kill([partner], timeout=10)
    here.close()
    there.close()
    return elapsed / (2 * rounds) * 1e6


def run(quick: bool = False) -> SwitchingResult:
    """Threads then processes, four per core then one per core; then the hand-offs."""
    seconds = QUICK_SPIN_S if quick else SPIN_S
    cores = os.cpu_count() or 1
    rounds = QUICK_PING_PONGS if quick else PING_PONGS
    many = cores * OVERSUBSCRIBE
    step(f"broken: {many} threads spinning on {cores} cores")
    broken = spin_threads(many, seconds)
    step(f"fixed: {cores} threads")
    fixed = spin_threads(cores, seconds)
    step(f"broken: {many} processes")
    processes_broken = spin_processes(many, seconds)
    step(f"fixed: {cores} processes")
    processes_fixed = spin_processes(cores, seconds)
    step("the cost of one hand-off, threads then processes")
    return SwitchingResult(
        cores=cores,
        broken=broken,
        fixed=fixed,
        processes_broken=processes_broken,
        processes_fixed=processes_fixed,
        thread_handoff_us=thread_handoff_us(rounds),
        process_handoff_us=process_handoff_us(rounds),
    )

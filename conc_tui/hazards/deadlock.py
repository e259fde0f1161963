"""Deadlock: two workers take two locks in opposite order, and each waits for the other.

The locks are instrumented: every worker publishes which locks it holds and which one
it is waiting for, and a watcher builds the wait-for graph from that (worker → the
worker holding the lock it waits for). A cycle that stays put while no worker finishes
a round is a deadlock. Recovery needs the workers' help, because a Python thread stuck
in ``Lock.acquire()`` cannot be killed: so the instrument waits with
``acquire(timeout=POLL_S)`` in a loop that checks a cancel flag. The deadlock is real
(without the flag both would wait forever); the flag lets them give up, release what
they hold and return, so no thread or process is left. Processes that ignore the flag
are killed, and counted.

Fixed: both workers take the locks in one global order, and every round completes.
The same runs with two processes and two ``multiprocessing.Lock``s.
"""

from __future__ import annotations

import threading
import time
from collections.abc import MutableSequence, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from conc_tui.hazards import timeline
from conc_tui.hazards.base import fmt_s, join_or_kill, mp_context, step

if TYPE_CHECKING:
    from conc_tui.hazards.base import StartContext
from conc_tui.hazards.timeline import LaneState, Marker

LOCK_NAMES = ("lock-1", "lock-2")
WORKER_NAMES = ("A", "B")
POLL_S = 0.02
"""How often a waiting worker checks the cancel flag, and the watcher the graph."""
CONFIRM_S = 0.2
"""How long a cycle must stand, with no round finished, before it counts as a deadlock."""
GIVE_UP_S = 8.0
"""A run that neither finishes nor deadlocks by then is cancelled as stalled."""
HOLD_S = 0.005
"""Work done while holding the first lock: the window in which the other takes its own."""
ROUNDS = 20
QUICK_ROUNDS = 5
NOBODY = -1


class _Cancelled(Exception):
    """Raised inside a worker when the watcher cancels the run."""


@dataclass(frozen=True)
class WaitEdge:
    """One arrow of the wait-for cycle: who holds what and waits for what."""

    worker: str
    holds: tuple[str, ...]
    waits_for: str
    held_by: str


@dataclass(frozen=True)
class DeadlockRun:
    """One run of two workers taking two locks, ``rounds`` times each."""

    kind: str
    """``threads`` or ``processes``."""
    lock_orders: tuple[str, ...]
    """Each worker's lock order, such as ``A: lock-1 → lock-2``."""
    rounds_each: int
    rounds_done: tuple[int, ...]
    deadlocked: bool
    detected_after_s: float | None
    """Seconds from the start until the cycle was confirmed; None when none was."""
    cycle: tuple[WaitEdge, ...]
    cancelled: bool
    """True when the watcher had to cancel the run (deadlock or stall)."""
    killed: int
    """Workers that did not leave on cancel and had to be killed (processes only)."""
    left_alive: int
    """Workers still alive after recovery: 0 means nothing was left behind."""
    elapsed_s: float


@dataclass(frozen=True)
class DeadlockResult:
    """Threads and processes, each in opposite lock order and then in one order."""

    broken: DeadlockRun
    fixed: DeadlockRun
    processes_broken: DeadlockRun
    processes_fixed: DeadlockRun
    instrument: str
    start_method: str

    @property
    def hazard_shown(self) -> bool:
        return self.broken.deadlocked and self.processes_broken.deadlocked

    @property
    def fixed_clean(self) -> bool:
        runs = (self.fixed, self.processes_fixed)
        return all(not r.deadlocked and sum(r.rounds_done) == 2 * r.rounds_each for r in runs)

    @property
    def sentence(self) -> str:
        b, f, pb, pf = self.broken, self.fixed, self.processes_broken, self.processes_fixed
        if b.deadlocked and b.cycle:
            a, c = b.cycle[0], b.cycle[-1]
            first = (
                f"Two threads taking two locks in opposite order deadlocked after "
                f"{_rounds(sum(b.rounds_done))} ({a.worker} held {', '.join(a.holds)} and waited "
                f"for {a.waits_for}, {c.worker} held {', '.join(c.holds)} and waited for "
                f"{c.waits_for}), found in {fmt_s(b.detected_after_s or 0.0)} and cancelled "
                f"with {_left(b.left_alive, 'thread')}"
            )
        else:
            first = f"Two threads in opposite order finished {sum(b.rounds_done)} rounds this time"
        proc = (
            f"two processes sharing two multiprocessing.Locks deadlocked too, found in "
            f"{fmt_s(pb.detected_after_s or 0.0)}, {_left(pb.left_alive, 'process')}"
            if pb.deadlocked
            else f"two processes in opposite order finished {sum(pb.rounds_done)} rounds"
        )
        return (
            f"{first}; {proc}; taking the locks in one order, threads finished "
            f"{sum(f.rounds_done)} of {2 * f.rounds_each} rounds and processes "
            f"{sum(pf.rounds_done)} of {2 * pf.rounds_each}."
        )


def _rounds(count: int) -> str:
    return f"{count} round" if count == 1 else f"{count} rounds"


def _left(count: int, noun: str) -> str:
    if count == 0:
        return f"no {noun} left"
    return f"{count} {noun}{'es' if noun == 'process' else 's'} left"


def _transfer_rounds(
    me: int,
    locks: Sequence[Any],
    order: Sequence[int],
    rounds: int,
    holds: MutableSequence[int],
    waits: MutableSequence[int],
    done: MutableSequence[int],
    cancel: Any,
    start: Any,
    lane: Marker,
) -> None:
    """Take the locks in ``order``, work a little, release; ``rounds`` times.

    Each step is marked on the worker's lane: waiting for a lock (and what it holds
    meanwhile), holding, running between rounds, done or cancelled.
    """
    lane.mark(LaneState.IDLE, "waits for the start")
    start.wait(10)
    lane.mark(LaneState.RUNNING)
    taken: list[int] = []
    try:
        for _ in range(rounds):
            taken = []
            try:
                for index in order:
                    lane.mark(LaneState.WAIT_LOCK, _waiting(index, taken))
                    waits[me] = index
                    # The flag is checked before every attempt, not only after a failed
                    # one, so a cancelled run stops at once rather than finishing its
                    # rounds when the other worker's release frees the lock it wanted.
                    while cancel.is_set() or not locks[index].acquire(timeout=POLL_S):
                        if cancel.is_set():
                            raise _Cancelled
                    waits[me] = NOBODY
                    taken.append(index)
                    holds[me] |= 1 << index
                    lane.mark(LaneState.HOLDING, "holds " + _lock_list(taken))
                    time.sleep(HOLD_S)
            finally:
                waits[me] = NOBODY
                for index in reversed(taken):
                    holds[me] &= ~(1 << index)
                    locks[index].release()
            lane.mark(LaneState.RUNNING)
            done[me] += 1
    except _Cancelled:
        let_go = f": let go of {_lock_list(taken)}" if taken else ""
        lane.mark(LaneState.DONE, f"cancelled{let_go}")
        return
    lane.mark(LaneState.DONE, f"{rounds} rounds done")


def _lock_list(indexes: Sequence[int]) -> str:
    return ", ".join(LOCK_NAMES[index] for index in indexes)


def _waiting(index: int, taken: Sequence[int]) -> str:
    held = f", holds {_lock_list(taken)}" if taken else ""
    return f"waits for {LOCK_NAMES[index]}{held}"


def find_cycle(holds: Sequence[int], waits: Sequence[int]) -> tuple[WaitEdge, ...]:
    """The wait-for cycle in the published state, or () when there is none."""
    workers = len(holds)

    def holder(lock: int) -> int:
        return next((w for w in range(workers) if holds[w] & (1 << lock)), NOBODY)

    for first in range(workers):
        path: list[int] = []
        current = first
        while current != NOBODY and current not in path and waits[current] != NOBODY:
            path.append(current)
            current = holder(waits[current])
        if current == first and path:
            return tuple(
                WaitEdge(
                    worker=WORKER_NAMES[w],
                    holds=tuple(LOCK_NAMES[n] for n in range(len(LOCK_NAMES)) if holds[w] >> n & 1),
                    waits_for=LOCK_NAMES[waits[w]],
                    held_by=WORKER_NAMES[holder(waits[w])],
                )
                for w in path
            )
    return ()


def _watch(
    alive: Any,
    holds: Sequence[int],
    waits: Sequence[int],
    done: Sequence[int],
    began: float,
) -> tuple[tuple[WaitEdge, ...], float | None, bool]:
    """Poll the wait-for graph until the workers finish, deadlock or stall.

    Returns the confirmed cycle, when it was confirmed, and whether to cancel.
    """
    seen_since: float | None = None
    seen_done = list(done)
    last_progress = time.perf_counter()
    while alive():
        time.sleep(POLL_S)
        now = time.perf_counter()
        progress = list(done)
        if progress != seen_done:
            seen_done, last_progress, seen_since = progress, now, None
        # Copies, so the cycle is read from one consistent-enough moment; a cycle that
        # only appeared through a torn read does not survive CONFIRM_S without progress.
        cycle = find_cycle(list(holds), list(waits))
        if not cycle:
            seen_since = None
        elif seen_since is None:
            seen_since = now
        elif now - seen_since >= CONFIRM_S and now - last_progress >= CONFIRM_S:
            return cycle, now - began, True
        if now - began > GIVE_UP_S:
            return (), None, True
    return (), None, False


def _orders(opposite: bool) -> tuple[tuple[int, int], tuple[int, int]]:
    return ((0, 1), (1, 0)) if opposite else ((0, 1), (0, 1))


def _describe(orders: Sequence[Sequence[int]]) -> tuple[str, ...]:
    return tuple(
        f"{WORKER_NAMES[w]}: " + " → ".join(LOCK_NAMES[i] for i in order)
        for w, order in enumerate(orders)
    )


def _start_and_watch(
    workers: Sequence[Any],
    lanes: Sequence[Marker],
    holds: Sequence[int],
    waits: Sequence[int],
    done: Sequence[int],
    cancel: Any,
    began: float,
) -> tuple[tuple[WaitEdge, ...], float | None, bool]:
    """Start the two workers (threads or processes alike), watch them until they finish
    or deadlock, and ask them to cancel when they must."""
    for lane, worker in zip(lanes, workers, strict=True):
        lane.mark(LaneState.IDLE, "starting")
        worker.start()
    cycle, detected, must_cancel = _watch(
        lambda: any(w.is_alive() for w in workers), holds, waits, done, began
    )
    if must_cancel:
        cancel.set()
    return cycle, detected, must_cancel


def run_threads(*, opposite: bool, rounds: int) -> DeadlockRun:
    """Two threads, two ``threading.Lock``s; opposite order when ``opposite``."""
    locks = [threading.Lock() for _ in LOCK_NAMES]
    holds, waits, done = [0, 0], [NOBODY, NOBODY], [0, 0]
    cancel, start = threading.Event(), threading.Barrier(2)
    orders = _orders(opposite)
    lanes = [timeline.thread_lane(f"thread {name}") for name in WORKER_NAMES]
    workers = [
        threading.Thread(
            target=_transfer_rounds,
            args=(w, locks, orders[w], rounds, holds, waits, done, cancel, start, lanes[w]),
            name=f"deadlock-{WORKER_NAMES[w]}",
            daemon=True,
        )
        for w in range(2)
    ]
    began = time.perf_counter()
    cycle, detected, must_cancel = _start_and_watch(
        workers, lanes, holds, waits, done, cancel, began
    )
    for worker in workers:
        worker.join(timeout=5)
    return DeadlockRun(
        kind="threads",
        lock_orders=_describe(orders),
        rounds_each=rounds,
        rounds_done=tuple(done),
        deadlocked=bool(cycle),
        detected_after_s=detected,
        cycle=cycle,
        cancelled=must_cancel,
        killed=0,
        left_alive=sum(w.is_alive() for w in workers),
        elapsed_s=time.perf_counter() - began,
    )


def run_processes(*, opposite: bool, rounds: int, ctx: StartContext | None = None) -> DeadlockRun:
    """Two processes, two ``multiprocessing.Lock``s; opposite order when ``opposite``
    (started by ``ctx``, by default :func:`mp_context`)."""
    ctx = ctx or mp_context()
    locks = [ctx.Lock() for _ in LOCK_NAMES]
    # Raw shared ints: each slot is written by one worker only and read by the watcher.
    holds, waits, done = ctx.RawArray("i", 2), ctx.RawArray("i", [NOBODY] * 2), ctx.RawArray("i", 2)
    cancel, start = ctx.Event(), ctx.Barrier(2)
    orders = _orders(opposite)
    lanes = [timeline.process_lane(f"process {name}") for name in WORKER_NAMES]
    workers = [
        ctx.Process(
            target=_transfer_rounds,
            args=(w, locks, orders[w], rounds, holds, waits, done, cancel, start, lanes[w]),
            name=f"deadlock-{WORKER_NAMES[w]}",
            daemon=True,
        )
        for w in range(2)
    ]
    began = time.perf_counter()
    cycle, detected, must_cancel = _start_and_watch(
        workers, lanes, holds, waits, done, cancel, began
    )
    killed = join_or_kill(workers, timeout=5, after_kill=5)
    left = sum(w.is_alive() for w in workers)
    for worker in workers:
        if not worker.is_alive():
            worker.close()
    return DeadlockRun(
        kind="processes",
        lock_orders=_describe(orders),
        rounds_each=rounds,
        rounds_done=tuple(done),
        deadlocked=bool(cycle),
        detected_after_s=detected,
        cycle=cycle,
        cancelled=must_cancel,
        killed=killed,
        left_alive=left,
        elapsed_s=time.perf_counter() - began,
    )


def run(quick: bool = False) -> DeadlockResult:
    """Threads then processes, each broken (opposite order) then fixed (one order)."""
    rounds = QUICK_ROUNDS if quick else ROUNDS
    step("broken: two threads, locks in opposite order")
    broken = run_threads(opposite=True, rounds=rounds)
    step("fixed: two threads, one lock order")
    fixed = run_threads(opposite=False, rounds=rounds)
    # One start method for both, chosen once: the figure reports the one they used.
    ctx = mp_context()
    step("broken: two processes, locks in opposite order")
    processes_broken = run_processes(opposite=True, rounds=rounds, ctx=ctx)
    step("fixed: two processes, one lock order")
    processes_fixed = run_processes(opposite=False, rounds=rounds, ctx=ctx)
    return DeadlockResult(
        broken=broken,
        fixed=fixed,
        processes_broken=processes_broken,
        processes_fixed=processes_fixed,
        instrument=(
            f"locks taken with acquire(timeout={POLL_S}) in a loop that publishes who holds "
            f"and who waits for each lock; a wait-for cycle standing {CONFIRM_S} s with no "
            "round finished is a deadlock, and a cancel flag lets the workers release and leave"
        ),
        start_method=ctx.get_start_method(),
    )

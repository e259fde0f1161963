"""What each experiment's workers do, as it happens: one timeline of states per worker.

A worker marks each change of state where it happens in the experiment's own code
(just before ``lock.acquire()``, just after it, around the blocking call...) with a
monotonic timestamp. A thread's marks go to a list it alone appends to; a process's
marks cross back through its own pipe, one small message each (smaller than the
pipe's atomic write, so a worker killed mid-run never leaves half a message).

A *recording* is one variant of an experiment (``broken: ...``, ``fixed: ...``):
:func:`begin` starts one and ends the previous, and every lane made meanwhile belongs
to it. When streaming (the ``demo --stream`` the app runs), a flusher thread sends
each recording's new bins every :data:`FLUSH_S` as one batch (each lane's dominant
state per :data:`BIN_S`, so what is sent does not grow with the rate of marks); see
:mod:`conc_tui.hazards.stream` for the wire format.

``time.monotonic`` is CLOCK_MONOTONIC on Linux: one clock for the whole machine, so a
child process's marks and the parent's share a time axis.
"""

from __future__ import annotations

import contextlib
import math
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from enum import Enum
from multiprocessing.connection import Connection, Pipe
from typing import Protocol


class LaneState(str, Enum):
    """What a worker of an experiment is doing; the value is its name on the wire."""

    RUNNING = "running"
    WAIT_LOCK = "lock"
    """Waiting to acquire a lock (the mark's detail says which, and what it holds)."""
    HOLDING = "holding"
    """Running while holding a lock."""
    BLOCKED = "blocked"
    """Making a blocking call that stops everything else on its event loop."""
    WAIT_IO = "io"
    """Waiting on the network, a thread or a timer without holding anything up."""
    WAIT_GIL = "gil"
    """A thread ready to run that got less than half of its last slice on a core:
    waiting for the GIL (or, on a busy machine, a core)."""
    WAIT_CPU = "cpu"
    """A process ready to run that got less than half of its last slice on a core."""
    IDLE = "idle"
    DONE = "done"
    FAILED = "failed"


STATES_BY_NAME: dict[str, LaneState] = {state.value: state for state in LaneState}

FLUSH_S = 0.1
"""How often a streaming recording sends its new marks."""

BIN_S = 0.01
"""What crosses to the screen is each lane's state per bin of this many seconds (the
state that dominated the bin), not every mark: the locked counter alone makes about
25,000 marks a second, and the screen could never show them one by one. 10 ms is
under a screen cell once a variant runs past 1.5 s at 160 columns; shorter variants
are drawn at 10 ms steps."""

GRACE_S = 0.03
"""A bin is sent once this long has passed since its end, so a process's mark that
was still in its pipe is counted in its own bin; a mark later than that is counted
in the first bin not sent yet."""

ACTIVE = (LaneState.RUNNING, LaneState.HOLDING, LaneState.BLOCKED)
"""States in which the worker is doing something; a bin or cell where it did any of
them, however briefly, shows it rather than the wait around it."""
PASSIVE = (LaneState.WAIT_IO, LaneState.IDLE)


def dominant(totals: dict[LaneState, float]) -> LaneState:
    """The state a bin or cell shows, from the seconds spent in each state there.

    The state the worker spent most of it in, except that a worker that did anything
    at all (ran, held a lock, blocked the loop) shows that rather than an I/O wait or
    idleness around it: a task that makes a round trip every 10 ms runs for
    microseconds each time, and its lane must show it moving. A failure always shows.
    """
    if LaneState.FAILED in totals:
        return LaneState.FAILED
    most = max(totals, key=lambda state: totals[state])
    if most in PASSIVE:
        active = [state for state in ACTIVE if state in totals]
        if active:
            return max(active, key=lambda state: totals[state])
    return most


Mark = tuple[float, LaneState, str]
"""(seconds since the variant began, state, detail: empty, or a few words such as
``holds lock-1, waits for lock-2``)."""


class Marker(Protocol):
    """Anything a worker marks its state changes on: a thread's lane or a process's."""

    def mark(self, state: LaneState, detail: str = "") -> None:
        """The worker is in ``state`` from now on."""
        ...


class ThreadLane:
    """A lane written by one thread (or one asyncio task) of this process."""

    def __init__(self) -> None:
        self.raw: list[tuple[float, LaneState, str]] = []
        """(monotonic time, state, detail), appended by the worker only."""

    def mark(self, state: LaneState, detail: str = "") -> None:
        """The worker is in ``state`` from now on."""
        # One append: atomic under the GIL, and about a third of a microsecond.
        self.raw.append((time.monotonic(), state, detail))


class ProcessLane:
    """A lane written by a child process: pickled into it, it sends marks up its pipe."""

    def __init__(self, sender: Connection) -> None:
        self._sender = sender

    def mark(self, state: LaneState, detail: str = "") -> None:
        """The worker is in ``state`` from now on (sent to the parent at once)."""
        with contextlib.suppress(OSError):  # the parent stopped listening: not our problem
            self._sender.send((time.monotonic(), state.value, detail))


@dataclass
class Recording:
    """One variant's lanes, named, in the order they were made."""

    title: str
    index: int
    began: float = field(default_factory=time.monotonic)
    names: list[str] = field(default_factory=list)
    threads: dict[int, ThreadLane] = field(default_factory=dict)
    pipes: dict[int, Connection] = field(default_factory=dict)
    senders: list[Connection] = field(default_factory=list)
    """The children's ends, kept to close them with the recording."""
    marks: list[list[Mark]] = field(default_factory=list)
    """Every mark collected so far, per lane, in time order."""
    ended_at: float | None = None
    binned_s: float = 0.0
    """The bins sent cover the variant up to here."""
    _bins_sent: int = 0
    _binned: list[int] = field(default_factory=list)
    """Per lane: the marks already counted in bins sent."""
    _carry: list[tuple[LaneState, str] | None] = field(default_factory=list)
    """Per lane: its state where the bins sent end."""
    _shown: list[tuple[LaneState, str] | None] = field(default_factory=list)
    """Per lane: the (state, detail) of the last bin sent that changed it."""
    _read: dict[int, int] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def thread_lane(self, name: str) -> ThreadLane:
        """A new lane for a thread or task of this process."""
        lane = ThreadLane()
        with self._lock:
            self.threads[self._add(name)] = lane
        return lane

    def process_lane(self, name: str) -> ProcessLane:
        """A new lane for a child process: pass the result to the child."""
        receiver, sender = Pipe(duplex=False)
        with self._lock:
            self.pipes[self._add(name)] = receiver
            self.senders.append(sender)
        return ProcessLane(sender)

    def _add(self, name: str) -> int:
        self.names.append(name)
        self.marks.append([])
        self._binned.append(0)
        self._carry.append(None)
        self._shown.append(None)
        return len(self.names) - 1

    def collect(self) -> None:
        """Move every mark made since the last call into :attr:`marks`."""
        with self._lock:
            for index, lane in self.threads.items():
                start = self._read.get(index, 0)
                new = lane.raw[start:]
                self._read[index] = start + len(new)
                self.marks[index] += [(t - self.began, s, d) for t, s, d in new]
            for index, receiver in self.pipes.items():
                got: list[Mark] = []
                with contextlib.suppress(OSError, EOFError):
                    while receiver.poll():
                        t, state, detail = receiver.recv()
                        got.append((t - self.began, LaneState(state), detail))
                self.marks[index] += got

    def take_bins(self) -> list[tuple[int, Mark]]:
        """The bins closed since the last call, as (lane, mark) where a lane's binned
        state changes: the mark's time is the bin's start, its state the one that
        dominated the bin (:func:`dominant`), its detail that of the state's last mark
        there. Every bin up to the end once the recording is closed; while it runs,
        those that ended :data:`GRACE_S` ago."""
        self.collect()
        with self._lock:
            ended = self.ended_at is not None
            elapsed = self.elapsed()
            if ended:
                closed = math.ceil(elapsed / BIN_S - 1e-9)
            else:
                closed = max(0, math.floor((elapsed - GRACE_S) / BIN_S))
            first = self._bins_sent
            if closed <= first:
                return []
            new: list[tuple[int, Mark]] = []
            for lane, marks in enumerate(self.marks):
                at, carry, shown = self._binned[lane], self._carry[lane], self._shown[lane]
                for k in range(first, closed):
                    start, end = k * BIN_S, min((k + 1) * BIN_S, elapsed)
                    totals: dict[LaneState, float] = {}
                    details: dict[LaneState, str] = {}
                    if carry is not None:
                        details[carry[0]] = carry[1]
                    was, since = carry, start
                    # The last bin takes every mark left; a late mark counts from the
                    # start of the first bin not sent.
                    while at < len(marks) and (marks[at][0] < end or k == closed - 1 and ended):
                        t, state, detail = marks[at]
                        t = min(max(t, start), end)
                        if was is not None:
                            totals[was[0]] = totals.get(was[0], 0.0) + max(t - since, 1e-9)
                        was, since = (state, detail), t
                        details[state] = detail
                        at += 1
                    if was is not None:
                        totals[was[0]] = totals.get(was[0], 0.0) + max(end - since, 1e-9)
                    carry = was
                    if not totals:
                        continue
                    state = dominant(totals)
                    pick = (state, details.get(state, ""))
                    if pick != shown:
                        new.append((lane, (start, *pick)))
                        shown = pick
                self._binned[lane], self._carry[lane], self._shown[lane] = at, carry, shown
            self._bins_sent = closed
            self.binned_s = elapsed if ended else closed * BIN_S
        return new

    def now(self) -> list[tuple[LaneState, str] | None]:
        """Each lane's state and detail at its last mark (None: no mark yet)."""
        with self._lock:
            return [(marks[-1][1], marks[-1][2]) if marks else None for marks in self.marks]

    def elapsed(self) -> float:
        """Seconds from the start to the end, or to now while it runs."""
        end = self.ended_at if self.ended_at is not None else time.monotonic()
        return end - self.began

    def close(self) -> None:
        """The variant is over: collect what is left and close the pipes."""
        if self.ended_at is None:
            self.ended_at = time.monotonic()
        self.collect()
        with self._lock:
            for connection in [*self.pipes.values(), *self.senders]:
                connection.close()
            self.pipes.clear()
            self.senders.clear()


Sink = Callable[[Recording, list[tuple[int, Mark]]], None]
"""Receives a recording's new bins, as marks where a lane's binned state changes
(:meth:`Recording.take_bins`; the streamer writes them out as one batch)."""

_lock = threading.Lock()
_current: Recording | None = None
_count = 0
_sink: Sink | None = None
_flusher: threading.Thread | None = None
_stop_flusher = threading.Event()


def current() -> Recording | None:
    """The recording lanes are added to now, if any."""
    return _current


def begin(title: str) -> Recording:
    """Start recording a new variant, ending the one before."""
    global _current, _count
    end()
    with _lock:
        _current = Recording(title=title, index=_count)
        _count += 1
        return _current


def end() -> None:
    """End the current variant: its last marks are flushed and its pipes closed."""
    global _current
    with _lock:
        recording, _current = _current, None
    if recording is not None:
        recording.close()
        _flush(recording)


@contextlib.contextmanager
def recording(title: str) -> Iterator[Recording]:
    """Record one variant for the ``with`` block (the tests read it afterwards)."""
    started = begin(title)
    try:
        yield started
    finally:
        if _current is started:
            end()
        else:
            started.close()


def thread_lane(name: str) -> Marker:
    """A lane for a thread or task, in the current recording (or kept nowhere)."""
    recording_now = _current
    return recording_now.thread_lane(name) if recording_now is not None else _NOWHERE


def process_lane(name: str) -> Marker:
    """A lane to hand to a child process (or one that keeps nothing, not recording)."""
    recording_now = _current
    return recording_now.process_lane(name) if recording_now is not None else _NOWHERE


class _Nowhere:
    """The lane of a worker run outside any recording: marks cost a call and vanish."""

    def mark(self, state: LaneState, detail: str = "") -> None:
        """Keep nothing."""


_NOWHERE = _Nowhere()


def _flush(recording_now: Recording) -> None:
    sink = _sink
    if sink is not None:
        sink(recording_now, recording_now.take_bins())


def _flush_loop() -> None:
    while not _stop_flusher.wait(FLUSH_S):
        recording_now = _current
        if recording_now is not None:
            _flush(recording_now)


def stream_to(sink: Sink | None) -> None:
    """Send every recording's new marks to ``sink`` every :data:`FLUSH_S` (None: stop).

    The flusher is a thread of its own, so the marks keep flowing while every worker
    is stuck (a deadlock, a blocked loop): a stall shows while it lasts.
    """
    global _sink, _flusher
    if _flusher is not None:
        _stop_flusher.set()
        _flusher.join()
        _flusher = None
    _sink = sink
    if sink is not None:
        _stop_flusher.clear()
        _flusher = threading.Thread(target=_flush_loop, name="hazard-lanes", daemon=True)
        _flusher.start()


SAMPLE_S = 0.04
"""How often :func:`sampled_processes` reads its processes' CPU clocks."""


@contextlib.contextmanager
def sampled_processes(pids: list[int], noun: str = "process") -> Iterator[None]:
    """Lanes for processes the experiment cannot mark from inside (a ``Pool``'s workers,
    whose tasks are too small to time without changing what they cost): this process
    reads each one's CPU clock every :data:`SAMPLE_S` and marks it running when it got
    at least half of a core in that slice, idle otherwise. The lanes follow
    :func:`begin`: each variant gets its own.
    """
    import psutil  # here: the workers' own modules need not load it

    stop = threading.Event()

    def cpu(process: psutil.Process) -> float | None:
        try:
            times = process.cpu_times()
        except psutil.Error:
            return None
        return float(times.user + times.system)

    def sample() -> None:
        processes = [psutil.Process(pid) for pid in pids]
        seen: Recording | None = None
        lanes: list[Marker] = []
        shown: list[LaneState | None] = []
        last = [cpu(process) for process in processes]
        at = time.monotonic()
        stopping = False
        while not stopping:
            # One last pass after the stop, so a process that ended shows as done.
            stopping = stop.wait(SAMPLE_S)
            now, recording_now = time.monotonic(), _current
            if recording_now is not seen:
                seen = recording_now
                lanes = [thread_lane(f"{noun} {n + 1}") for n in range(len(pids))]
                shown = [None] * len(pids)
            for n, process in enumerate(processes):
                used = cpu(process)
                if used is None or last[n] is None:
                    state = LaneState.DONE
                else:
                    share = (used - (last[n] or 0.0)) / max(now - at, 1e-6)
                    state = LaneState.RUNNING if share >= 0.5 else LaneState.IDLE
                if state is not shown[n]:
                    lanes[n].mark(state)
                    shown[n] = state
                last[n] = used
            at = now

    sampler = threading.Thread(target=sample, name="hazard-sampler", daemon=True)
    sampler.start()
    try:
        yield
    finally:
        stop.set()
        sampler.join()

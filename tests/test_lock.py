"""The instrumented log lock: waits are recorded, holds never overlap, re-entry is silent."""

from __future__ import annotations

import logging
import os
import threading
from collections import deque
from pathlib import Path

import pytest
from fakes import LocalRecorder

from conc_tui.telemetry.lock import InstrumentedFileHandler, InstrumentedRLock
from conc_tui.telemetry.recorder import set_current_recorder
from conc_tui.telemetry.states import Event, EventKind, WorkerState


def _hold_intervals(events: list[Event], lock_id: int) -> list[tuple[int, int, int]]:
    """(start_ns, end_ns, worker) for every acquire/release pair of one lock."""
    open_by_worker: dict[int, int] = {}
    intervals = []
    for t, worker, kind, _value, extra in sorted(events):
        if extra != lock_id:
            continue
        if kind == EventKind.LOCK_ACQUIRED:
            assert worker not in open_by_worker, "acquired twice without a release"
            open_by_worker[worker] = t
        elif kind == EventKind.LOCK_RELEASED:
            intervals.append((open_by_worker.pop(worker), t, worker))
    assert not open_by_worker, "a hold never ended"
    return sorted(intervals)


def test_contended_handler_records_waits_and_disjoint_holds(tmp_path: Path) -> None:
    sink: deque[Event] = deque()
    handler = InstrumentedFileHandler(tmp_path / "shared.log", encoding="utf-8")
    logger = logging.getLogger("test_lock.contended")
    logger.propagate = False
    logger.setLevel(logging.INFO)
    logger.addHandler(handler)
    threads_n, lines_each = 6, 150
    start = threading.Barrier(threads_n)

    def worker(worker_id: int) -> None:
        recorder = LocalRecorder(worker_id, sink.append)
        set_current_recorder(recorder)
        recorder.state(WorkerState.RUNNING)
        start.wait()
        for i in range(lines_each):
            logger.info("worker %d line %d %s", worker_id, i, "x" * 200)

    try:
        threads = [threading.Thread(target=worker, args=(n,)) for n in range(threads_n)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    finally:
        logger.removeHandler(handler)
        handler.close()

    events = list(sink)
    lock_id = os.getpid()
    waits = [e for e in events if e[2] == EventKind.STATE and e[3] == WorkerState.WAIT_LOCK]
    assert waits, "six threads hammering one handler never had to wait"
    assert all(e[4] == lock_id for e in waits)
    # Every wait ends by returning to RUNNING (the state before the wait).
    for worker_id in range(threads_n):
        states = [e[3] for e in events if e[1] == worker_id and e[2] == EventKind.STATE]
        assert states[-1] == WorkerState.RUNNING

    intervals = _hold_intervals(events, lock_id)
    assert len(intervals) == threads_n * lines_each  # one pair per emitted record
    for (_s1, end1, _w1), (start2, _e2, _w2) in zip(intervals, intervals[1:], strict=False):
        assert start2 >= end1, "two workers held the log lock at the same time"
    lines = (tmp_path / "shared.log").read_text().splitlines()
    assert len(lines) == threads_n * lines_each


def test_reentrant_acquire_emits_one_pair() -> None:
    sink: deque[Event] = deque()
    set_current_recorder(LocalRecorder(1, sink.append))
    lock = InstrumentedRLock(lock_id=77)
    with lock, lock:  # re-entered twice, then once more by hand
        assert lock.acquire()
        lock.release()
    kinds = [(e[2], e[4]) for e in sink]
    assert kinds == [(EventKind.LOCK_ACQUIRED, 77), (EventKind.LOCK_RELEASED, 77)]


def test_uncontended_acquire_records_no_wait() -> None:
    sink: deque[Event] = deque()
    set_current_recorder(LocalRecorder(1, sink.append))
    lock = InstrumentedRLock()
    for _ in range(10):
        with lock:
            pass
    assert all(e[2] != EventKind.STATE for e in sink)
    assert lock.lock_id == os.getpid()


def test_non_blocking_and_timeout_acquire_fail_while_held_elsewhere() -> None:
    lock = InstrumentedRLock(lock_id=5)
    held = threading.Event()
    done = threading.Event()

    def holder() -> None:
        with lock:
            held.set()
            done.wait(5)

    thread = threading.Thread(target=holder)
    thread.start()
    held.wait(5)
    try:
        sink: deque[Event] = deque()
        set_current_recorder(LocalRecorder(2, sink.append))
        assert lock.acquire(blocking=False) is False
        assert lock.acquire(timeout=0.01) is False
        # A timed-out wait is still a wait, and ends back in RUNNING.
        states = [e[3] for e in sink if e[2] == EventKind.STATE]
        assert states == [WorkerState.WAIT_LOCK, WorkerState.RUNNING]
        with pytest.raises(RuntimeError, match="does not hold"):
            lock.release()
    finally:
        done.set()
        thread.join()


def test_fork_reinit_frees_the_lock_and_takes_the_new_pid() -> None:
    lock = InstrumentedRLock()
    lock.acquire()
    lock._at_fork_reinit()
    assert lock.acquire(blocking=False)
    lock.release()


def test_handler_uses_the_instrumented_lock(tmp_path: Path) -> None:
    handler = InstrumentedFileHandler(tmp_path / "x.log")
    try:
        assert isinstance(handler.lock, InstrumentedRLock)
        handler.acquire()
        handler.release()
    finally:
        handler.close()

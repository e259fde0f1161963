"""An instrumented re-entrant lock: the "shared tool" the threads analogy talks about.

Python's ``logging`` guards every handler with an ``RLock``; all threads that log
through one handler queue for it. :class:`InstrumentedRLock` is a drop-in for that
lock which tells the current worker's recorder when it had to wait, and when it held
the lock:

* an uncontended acquire costs one extra non-blocking attempt (about 0.5 us) and no
  state change, so instrumentation does not slow the common case down;
* a contended one records ``WAIT_LOCK`` (with the lock id), blocks, then returns the
  worker to the state it was in;
* the outermost acquire and release record ``LOCK_ACQUIRED`` / ``LOCK_RELEASED``;
  re-entrant inner acquires record nothing.

The release event is recorded *before* the lock is actually let go and the acquire
event *after* it is taken, so the hold intervals of one lock never overlap in time.

The lock id is the process id: every process has its own handler and therefore its
own lock. Under multiprocessing nobody queues, because nobody shares -- that is the
lesson the lock panel shows.
"""

from __future__ import annotations

import logging
import os
import threading
from types import TracebackType

from conc_tui.telemetry.recorder import current_recorder
from conc_tui.telemetry.states import WorkerState

_owner_id: int | None = None


def set_lock_owner_id(owner_id: int) -> None:
    """Name this interpreter's new locks ``owner_id``, not the pid (subinterpreters share it)."""
    global _owner_id
    _owner_id = owner_id


class InstrumentedRLock:
    """A re-entrant lock that reports waits and holds to :func:`current_recorder`.

    It offers what ``logging.Handler`` uses of ``threading.RLock`` on Python
    3.10-3.13: ``acquire``, ``release``, the context-manager protocol and
    ``_at_fork_reinit``.

    Args:
        lock_id: the id reported in events; defaults to this process's pid (and
            follows the pid into a forked child).
    """

    def __init__(self, lock_id: int | None = None) -> None:
        self._lock = threading.RLock()
        self._fixed_id = lock_id is not None
        self.lock_id: int = lock_id if lock_id is not None else _owner_id or os.getpid()
        # Only the owning thread ever writes its own ident here, so another thread
        # reading a stale value can never mistake itself for the owner.
        self._owner: int | None = None
        self._depth = 0

    def acquire(self, blocking: bool = True, timeout: float = -1) -> bool:
        """Take the lock, recording a wait only when another thread holds it.

        Args:
            blocking: wait for the lock when it is taken (as ``RLock.acquire``).
            timeout: longest wait in seconds; -1 waits forever.

        Returns:
            True when the lock was taken.
        """
        me = threading.get_ident()
        if self._owner == me:
            # Re-entry by the holder never blocks and is not a new hold.
            self._lock.acquire()
            self._depth += 1
            return True
        if not self._lock.acquire(False):
            if not blocking:
                return False
            recorder = current_recorder()
            previous = recorder.state_now
            recorder.state(WorkerState.WAIT_LOCK, self.lock_id)
            try:
                taken = self._lock.acquire(True, timeout)
            finally:
                recorder.state(previous if previous != WorkerState.IDLE else WorkerState.RUNNING)
            if not taken:
                return False
        self._owner = me
        self._depth = 1
        current_recorder().lock_acquired(self.lock_id)
        return True

    def release(self) -> None:
        """Let go once; the outermost release records ``LOCK_RELEASED``.

        Raises:
            RuntimeError: when the calling thread does not hold the lock.
        """
        if self._owner != threading.get_ident():
            raise RuntimeError("cannot release a lock this thread does not hold")
        self._depth -= 1
        if self._depth == 0:
            self._owner = None
            # Recorded while still holding, so the next holder's acquire comes later.
            current_recorder().lock_released(self.lock_id)
        self._lock.release()

    def __enter__(self) -> bool:
        return self.acquire()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.release()

    def _at_fork_reinit(self) -> None:
        """Reset in a forked child (``logging`` calls this): unlocked, child's pid."""
        self._lock = threading.RLock()
        self._owner = None
        self._depth = 0
        if not self._fixed_id:
            self.lock_id = os.getpid()

    def __repr__(self) -> str:
        state = f"held by {self._owner} depth {self._depth}" if self._owner else "free"
        return f"<InstrumentedRLock id={self.lock_id} {state}>"


class InstrumentedFileHandler(logging.FileHandler):
    """A ``FileHandler`` whose lock is an :class:`InstrumentedRLock`.

    Every thread that logs through one of these queues on that lock, and the queue
    shows up in telemetry as ``WAIT_LOCK`` time and lock hold intervals.
    """

    def createLock(self) -> None:  # noqa: N802 - logging's name
        # The base method also registers the handler for re-initialisation after
        # fork(); keep that and swap only the lock object.
        super().createLock()
        self.lock = InstrumentedRLock()  # type: ignore[assignment]

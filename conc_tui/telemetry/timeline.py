"""A fixed-size timeline of one worker's states: how its lane is drawn.

Time is cut into columns of equal length (``column_ns``) counted from the run's
origin. Each column accumulates how many nanoseconds the worker spent in each state;
the column shows the state it spent most time in. The ring keeps the last
``columns`` columns, so memory stays the same however long a run lasts.
"""

from __future__ import annotations

from array import array

from conc_tui.telemetry.states import STATE_COUNT, WorkerState

_RUNNING = int(WorkerState.RUNNING)
_FAILED = int(WorkerState.FAILED)
EMPTY = 255  # a column with no recorded time


class Timeline:
    """Per-state time in each of the last ``columns`` columns."""

    def __init__(self, columns: int, column_ns: int, origin_ns: int) -> None:
        self.columns = columns
        self.column_ns = column_ns
        self.origin_ns = origin_ns
        self._acc = array("q", bytes(8 * columns * STATE_COUNT))
        self._shown = bytearray(columns)  # cached dominant state per slot
        self._stale = bytearray(b"\x01" * columns)
        self._failed = bytearray(columns)  # an item failed in this column
        self.head = -1  # newest absolute column with data

    def column_of(self, t_ns: int) -> int:
        return (t_ns - self.origin_ns) // self.column_ns

    def _open_through(self, column: int) -> None:
        """Make ``column`` the newest, clearing the slots the ring reuses."""
        if column <= self.head:
            return
        first = max(self.head + 1, column - self.columns + 1)
        for c in range(first, column + 1):
            slot = c % self.columns
            base = slot * STATE_COUNT
            for s in range(STATE_COUNT):
                self._acc[base + s] = 0
            self._failed[slot] = 0
            self._stale[slot] = 1
        self.head = column

    def add(self, state: int, start_ns: int, end_ns: int) -> None:
        """Account the interval [start_ns, end_ns) to ``state``."""
        if end_ns <= start_ns:
            return
        first = self.column_of(start_ns)
        last = self.column_of(end_ns - 1)
        self._open_through(last)
        oldest = self.head - self.columns + 1
        for c in range(max(first, oldest), last + 1):
            col_start = self.origin_ns + c * self.column_ns
            piece = min(end_ns, col_start + self.column_ns) - max(start_ns, col_start)
            slot = c % self.columns
            self._acc[slot * STATE_COUNT + state] += piece
            self._stale[slot] = 1

    def mark_failure(self, t_ns: int) -> None:
        column = self.column_of(t_ns)
        self._open_through(column)
        if column > self.head - self.columns:
            self._failed[column % self.columns] = 1

    def running_ns(self, column: int) -> int:
        if not self.head - self.columns < column <= self.head:
            return 0
        return self._acc[(column % self.columns) * STATE_COUNT + _RUNNING]

    def relabel_running(self, column: int, state: int) -> None:
        """Move a column's running time to ``state`` (a GIL or core wait found later)."""
        if not self.head - self.columns < column <= self.head:
            return
        base = (column % self.columns) * STATE_COUNT
        self._acc[base + state] += self._acc[base + _RUNNING]
        self._acc[base + _RUNNING] = 0
        self._stale[column % self.columns] = 1

    def _dominant(self, slot: int) -> int:
        if self._failed[slot]:
            return _FAILED
        if self._stale[slot]:
            base = slot * STATE_COUNT
            acc = self._acc
            best, best_ns = EMPTY, 0
            for s in range(STATE_COUNT):
                if acc[base + s] > best_ns:
                    best, best_ns = s, acc[base + s]
            self._shown[slot] = best
            self._stale[slot] = 0
        return self._shown[slot]

    def lane(self, now_ns: int, current: int, since_ns: int) -> bytes:
        """The last ``columns`` columns up to ``now_ns``, oldest first.

        Columns after the worker's last event show its current state, which it has
        been in since ``since_ns`` (events from other processes arrive in batches).
        """
        now_col = self.column_of(now_ns)
        since_col = self.column_of(since_ns)
        out = bytearray(self.columns)
        first = now_col - self.columns + 1
        for i in range(self.columns):
            c = first + i
            if c < 0:
                out[i] = WorkerState.IDLE
            elif c > since_col or c > self.head:
                out[i] = current
            elif c < self.head - self.columns + 1:
                out[i] = WorkerState.IDLE
            else:
                shown = self._dominant(c % self.columns)
                if shown == EMPTY:
                    shown = current if c >= since_col else WorkerState.IDLE
                out[i] = shown
        return bytes(out)

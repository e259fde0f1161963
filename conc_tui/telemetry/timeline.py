"""A fixed-size timeline of one worker's states: how its lane is drawn.

Time is cut into columns of equal length (``column_ns``) counted from the run's
origin. Each column accumulates how many nanoseconds the worker spent in each state;
the column shows the state it spent most time in. The ring keeps the last
``columns`` columns, so memory stays the same however long a run lasts.

Running, waiting for the GIL and waiting for a core count together as "running" when
the main state of a column is chosen: the GIL and core waits are measured later, per
sample interval, and moved out of the running time of that interval's columns in
proportion (:meth:`Timeline.move_running`). Once a column is complete its label is
fixed by error diffusion (:meth:`Timeline.finalize`), so a lane shows the same share
of GIL-wait cells among its running cells as the worker's measured share.
"""

from __future__ import annotations

from array import array

from conc_tui.telemetry.states import STATE_COUNT, WorkerState

_RUNNING = int(WorkerState.RUNNING)
_WAIT_GIL = int(WorkerState.WAIT_GIL)
_WAIT_CPU = int(WorkerState.WAIT_CPU)
_FAILED = int(WorkerState.FAILED)
_OTHERS = tuple(s for s in range(STATE_COUNT) if s not in (_RUNNING, _WAIT_GIL, _WAIT_CPU))
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
        self._fresh = array("q", bytes(8 * columns))  # running ns not yet given a GIL share
        self._label = bytearray(b"\xff" * columns)  # fixed running-group label, or EMPTY
        self.head = -1  # newest absolute column with data
        self.final_through = -1  # newest column whose running-group label is fixed
        self.gil_carry = 0.0
        self.cpu_carry = 0.0
        # The core the worker was seen on, per column: its own ring, because OS
        # samples and events open columns independently. Samples fill every column up
        # to the newest they saw, so the ring holds the columns up to _core_through.
        self._cores = bytearray(b"\xff" * columns)
        self._core_through = -1

    def note_core(self, t_ns: int, core: int | None) -> None:
        """Record the core an OS sample at ``t_ns`` saw the worker on.

        The sample speaks for the interval since the previous one, so every column
        from the last noted one up to ``t_ns``'s gets it (at most the ring's length).
        """
        column = self.column_of(t_ns)
        if column < 0 or column <= self._core_through - self.columns:
            return
        value = EMPTY if core is None or not 0 <= core < EMPTY else core
        first = max(self._core_through + 1, column - self.columns + 1, 0)
        if first > column:
            first = column  # a late sample for a column already noted: the newest wins
        for c in range(first, column + 1):
            self._cores[c % self.columns] = value
        self._core_through = max(self._core_through, column)

    def lane_cores(self, now_ns: int) -> bytes:
        """The core of each of the last ``columns`` columns up to ``now_ns``, oldest
        first; 255 where no sample saw the worker on a core. Slices, no loop per cell:
        the observer builds one for every worker of every snapshot."""
        n = self.columns
        now_col = self.column_of(now_ns)
        first = now_col - n + 1
        lo = max(first, 0, self._core_through - n + 1)
        hi = min(now_col, self._core_through)
        if hi < lo:
            return b"\xff" * n
        a, b = lo % n, hi % n
        known = self._cores[a : b + 1] if a <= b else self._cores[a:] + self._cores[: b + 1]
        return b"\xff" * (lo - first) + bytes(known) + b"\xff" * (now_col - hi)

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
            self._fresh[slot] = 0
            self._label[slot] = EMPTY
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
            if state == _RUNNING:
                self._fresh[slot] += piece
            self._stale[slot] = 1

    def mark_failure(self, t_ns: int) -> None:
        column = self.column_of(t_ns)
        self._open_through(column)
        if column > self.head - self.columns:
            self._failed[column % self.columns] = 1

    def _live(self, column: int) -> bool:
        return self.head - self.columns < column <= self.head

    def take_fresh(self, column: int) -> int:
        """Running ns added to ``column`` since the last call: each ns gets one GIL share."""
        if not self._live(column):
            return 0
        slot = column % self.columns
        fresh = self._fresh[slot]
        self._fresh[slot] = 0
        return fresh

    def move_running(self, column: int, gil_ns: int, cpu_ns: int) -> None:
        """Move measured GIL and core waits out of a column's running time."""
        if not self._live(column):
            return
        base = (column % self.columns) * STATE_COUNT
        acc = self._acc
        gil_ns = min(gil_ns, acc[base + _RUNNING])
        cpu_ns = min(cpu_ns, acc[base + _RUNNING] - gil_ns)
        acc[base + _RUNNING] -= gil_ns + cpu_ns
        acc[base + _WAIT_GIL] += gil_ns
        acc[base + _WAIT_CPU] += cpu_ns
        self._stale[column % self.columns] = 1

    def finalize(self, through: int) -> None:
        """Fix the labels of complete columns up to ``through`` (inclusive).

        Among columns whose main state is running, each adds its GIL and core-wait
        fractions to a carry; a carry past one half labels the column and gives one
        back. Over N such columns the lane shows within one cell of the measured waits.
        """
        first = max(self.final_through + 1, self.head - self.columns + 1)
        through = min(through, self.head)
        acc = self._acc
        for c in range(first, through + 1):
            slot = c % self.columns
            base = slot * STATE_COUNT
            running, gil, cpu = acc[base + _RUNNING], acc[base + _WAIT_GIL], acc[base + _WAIT_CPU]
            group = running + gil + cpu
            if group <= 0 or group < max(acc[base + s] for s in _OTHERS):
                continue
            self.gil_carry += gil / group
            self.cpu_carry += cpu / group
            if self.gil_carry >= 0.5 and self.gil_carry >= self.cpu_carry:
                label = _WAIT_GIL
                self.gil_carry -= 1.0
            elif self.cpu_carry >= 0.5:
                label = _WAIT_CPU
                self.cpu_carry -= 1.0
            else:
                label = _RUNNING
            self._label[slot] = label
            self._stale[slot] = 1
        if through > self.final_through:
            self.final_through = through

    def _dominant(self, slot: int) -> int:
        if self._failed[slot]:
            return _FAILED
        if self._stale[slot]:
            base = slot * STATE_COUNT
            acc = self._acc
            best, best_ns = EMPTY, 0
            for s in _OTHERS:
                if acc[base + s] > best_ns:
                    best, best_ns = s, acc[base + s]
            group = acc[base + _RUNNING] + acc[base + _WAIT_GIL] + acc[base + _WAIT_CPU]
            if group > 0 and group >= best_ns:
                best = self._label[slot]
                if best == EMPTY:
                    best = max((_RUNNING, _WAIT_GIL, _WAIT_CPU), key=lambda s: acc[base + s])
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

"""A run's whole history of lanes, kept UI-side at the finest scale.

Snapshots carry each lane's last 240 columns (24 s at 0.1 s), enough to draw the
screen but not to scroll back through a run. Rather than lengthen the engine's ring
(every snapshot would then pickle the whole run, for every worker, several times a
second), the UI writes each snapshot's columns into a per-worker store at their
absolute column. Later snapshots overwrite the newest columns, which the observer
relabels as measurements arrive, so the store ends up with the same final labels.

The store is bounded: :data:`MAX_COLUMNS` columns a worker (one hour at 0.1 s, 36 KB a
worker for states and as much for cores); a run longer than that keeps its newest hour.

No Textual here: the history is plain data, drawn by :mod:`conc_tui.widgets.lanes`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import lru_cache

from conc_tui.telemetry.snapshot import Snapshot
from conc_tui.telemetry.states import STATE_COUNT, WorkerState

MAX_COLUMNS = 36_000
"""Columns kept per worker; older ones are dropped (one hour at 0.1 s a column)."""

NO_CORE = 255
RUNNING = int(WorkerState.RUNNING)
IDLE = int(WorkerState.IDLE)


@dataclass
class LaneRecord:
    """One worker's states and cores, from absolute column ``first`` on."""

    label: str
    first: int = 0
    states: bytearray = field(default_factory=bytearray)
    cores: bytearray = field(default_factory=bytearray)

    def write(self, end: int, lane: bytes, cores: bytes) -> None:
        """Write ``lane`` so that its last cell lands on absolute column ``end``."""
        start = end - len(lane) + 1
        if not self.states:
            self.first = max(0, start)
        if start < self.first:
            lane, cores = lane[self.first - start :], cores[self.first - start :]
            start = self.first
        offset = start - self.first
        grow = offset + len(lane) - len(self.states)
        if grow > 0:
            self.states.extend(bytes([IDLE]) * grow)
            self.cores.extend(bytes([NO_CORE]) * grow)
        self.states[offset : offset + len(lane)] = lane
        if cores:
            self.cores[offset : offset + len(cores)] = cores
        drop = len(self.states) - MAX_COLUMNS
        if drop > 0:
            del self.states[:drop]
            del self.cores[:drop]
            self.first += drop

    def states_between(self, start: int, stop: int) -> bytes:
        """States of absolute columns [start, stop), idle where nothing is known."""
        return _window(self.states, self.first, start, stop, IDLE)

    def cores_between(self, start: int, stop: int) -> bytes:
        return _window(self.cores, self.first, start, stop, NO_CORE)


def _window(data: bytearray, first: int, start: int, stop: int, fill: int) -> bytes:
    if stop <= start:
        return b""
    lo, hi = start - first, stop - first
    inner = bytes(data[max(0, lo) : max(0, min(len(data), hi))])
    before = min(stop - start, max(0, -lo))
    after = (stop - start) - before - len(inner)
    return bytes([fill]) * before + inner + bytes([fill]) * after


@dataclass
class LoopLag:
    """Where the event loop was measured late: the columns a stall covered."""

    blocked: bytearray = field(default_factory=bytearray)

    def note(self, end: int, lag_s: float, column_s: float, allowance_s: float) -> None:
        """A lag of ``lag_s`` seen at column ``end``: the loop did not turn for the
        ``lag_s`` before it, so those columns were blocked (past the allowance)."""
        if end < 0:
            return
        if len(self.blocked) <= end:
            self.blocked.extend(bytes(end + 1 - len(self.blocked)))
        if lag_s <= allowance_s:
            return
        span = int(lag_s / column_s)
        for c in range(max(0, end - span), end + 1):
            self.blocked[c] = 1

    def between(self, start: int, stop: int) -> bytes:
        return _window(self.blocked, 0, start, stop, 0)


LAG_ALLOWANCE_S = 0.06
"""A heartbeat this late is a stall (the observer's own allowance for loop ticks)."""


@dataclass
class RunHistory:
    """Every lane of one run, at the snapshot's column length."""

    column_s: float = 0.1
    end: int = -1
    """Newest absolute column seen."""
    elapsed_s: float = 0.0
    lanes: dict[int, LaneRecord] = field(default_factory=dict)
    order: list[int] = field(default_factory=list)
    unconfirmed: dict[int, int] = field(default_factory=dict)
    lag: LoopLag = field(default_factory=LoopLag)

    def add(self, snapshot: Snapshot) -> None:
        """Write a snapshot's lanes into the history."""
        self.column_s = snapshot.column_s or self.column_s
        end = int(snapshot.elapsed_s / self.column_s) if snapshot.elapsed_s > 0 else 0
        self.end = max(self.end, end)
        self.elapsed_s = max(self.elapsed_s, snapshot.elapsed_s)
        for view in snapshot.worker_views:
            record = self.lanes.get(view.worker_id)
            if record is None:
                record = self.lanes[view.worker_id] = LaneRecord(view.label)
                self.order.append(view.worker_id)
            record.label = view.label
            record.write(end, view.lane, view.lane_cores)
            self.unconfirmed[view.worker_id] = view.lane_unconfirmed
        if snapshot.loop is not None:
            self.lag.note(end, snapshot.loop.lag_ms / 1000, self.column_s, LAG_ALLOWANCE_S)

    @property
    def drawn(self) -> bool:
        """Whether the run has anything to draw yet."""
        return bool(self.order) and self.end > 0


@lru_cache(maxsize=8192)
def main_state(cells: bytes) -> int:
    """The state most of ``cells`` show (a failure shows whatever else happened).

    Ties go to the busier-looking state: running before waits before idle.
    """
    if not cells:
        return IDLE
    if int(WorkerState.FAILED) in cells:
        return int(WorkerState.FAILED)
    first = cells[0]
    if cells.count(first) == len(cells):
        return first
    best, best_n = first, -1
    for state in _TIE_ORDER:
        n = cells.count(state)
        if n > best_n:
            best, best_n = state, n
    return best


_TIE_ORDER = (
    RUNNING,
    int(WorkerState.WAIT_GIL),
    int(WorkerState.WAIT_CPU),
    int(WorkerState.WAIT_LOCK),
    int(WorkerState.WAIT_IO),
    int(WorkerState.DONE),
    IDLE,
)
assert len(_TIE_ORDER) == STATE_COUNT - 1


def bounds(cell: int, factor: float) -> tuple[int, int]:
    """Fine columns [start, stop) that coarse cell ``cell`` covers at ``factor``."""
    return round(cell * factor), max(round((cell + 1) * factor), round(cell * factor) + 1)


def edges(first_cell: int, count: int, factor: float, start: int) -> list[int]:
    """Where ``count`` coarse cells from ``first_cell`` begin and end, as offsets from
    fine column ``start``: cell i covers [edges[i], edges[i + 1])."""
    out = [round(k * factor) - start for k in range(first_cell, first_cell + count + 1)]
    for i in range(1, len(out)):
        if out[i] <= out[i - 1]:
            out[i] = out[i - 1] + 1
    return out


def coarse(
    cells: bytes,
    first_cell: int,
    count: int,
    start: int,
    factor: float,
    cut: list[int] | None = None,
) -> bytes:
    """Resample fine columns (``cells`` begins at absolute column ``start``) into
    ``count`` coarse cells from ``first_cell``, each showing its main state (``cut``:
    the cells' :func:`edges`, when the caller already has them)."""
    if factor == 1:
        return cells
    if cut is None:
        cut = edges(first_cell, count, factor, start)
    return bytes([main_state(cells[cut[i] : cut[i + 1]]) for i in range(count)])

"""Worker states and the compact event record every worker emits."""

from __future__ import annotations

import struct
from enum import IntEnum


class WorkerState(IntEnum):
    """What a worker is doing at one moment.

    The order matters only for display priority: a timeline cell that saw a failure
    shows the failure, whatever else happened in it.
    """

    IDLE = 0
    RUNNING = 1
    WAIT_LOCK = 2
    WAIT_IO = 3
    WAIT_GIL = 4
    WAIT_CPU = 5
    DONE = 6
    FAILED = 7


STATE_COUNT = len(WorkerState)

STATE_LABELS: dict[WorkerState, str] = {
    WorkerState.IDLE: "idle",
    WorkerState.RUNNING: "running",
    WorkerState.WAIT_LOCK: "waiting for a lock",
    WorkerState.WAIT_IO: "waiting for I/O",
    WorkerState.WAIT_GIL: "waiting for the GIL",
    WorkerState.WAIT_CPU: "waiting for a free core",
    WorkerState.DONE: "done",
    WorkerState.FAILED: "failed",
}


class EventKind(IntEnum):
    """The kinds of record a worker emits."""

    STATE = 0
    """``value`` is the new :class:`WorkerState`; ``extra`` is a lock id for WAIT_LOCK,
    else the thread's CPU clock (see :data:`CPU_MARK_MASK`)."""
    ITEM_DONE = 1
    """``extra`` is the item's index."""
    ITEM_FAILED = 2
    """``extra`` is the item's index."""
    LOCK_ACQUIRED = 3
    """``extra`` is the lock id."""
    LOCK_RELEASED = 4
    """``extra`` is the lock id."""
    LOOP_LAG = 5
    """``extra`` is how late the event loop's heartbeat woke up, in microseconds."""


LOOP_HEARTBEAT_NS = 50_000_000
"""How long the event loop's heartbeat sleeps between LOOP_LAG records."""

CPU_MARK_MASK = 0xFFFFFFFF
"""A STATE event other than WAIT_LOCK carries, in ``extra``, the worker thread's own CPU
clock (``time.thread_time_ns``) in microseconds modulo 2**32 (it wraps after 71 minutes
of CPU): the observer learns how much CPU each running span used, exactly."""


# One event: monotonic time in ns, worker id, kind, value, extra. 16 bytes, so a batch
# of events crosses a process boundary as one ``bytes`` blob for about 1 us an event.
EVENT = struct.Struct("<qHBBI")

Event = tuple[int, int, int, int, int]
"""(t_ns, worker_id, kind, value, extra) as unpacked from :data:`EVENT`."""


def pack_events(events: list[Event]) -> bytes:
    """Pack events into one blob."""
    pack = EVENT.pack
    return b"".join(pack(*event) for event in events)


def unpack_events(blob: bytes) -> list[Event]:
    """Unpack a blob made by :func:`pack_events`."""
    return list(EVENT.iter_unpack(blob))

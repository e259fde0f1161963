"""The runner's end of the telemetry pipe: how workers hand their events to the observer.

A run executes in its own "runner" process, and the telemetry is folded in another
(the observer: the lab, or the CLI process). Were they one process, the folding thread
would queue for the GIL behind the very threads it watches and fall silent for a
second at a time (measured: one sample in 0.9 s with four pure-Python threads).

Every worker — a thread of the runner, an asyncio task, a pool process — writes
packed batches of events to one pipe. Each write is one frame of at most
``PIPE_BUF`` bytes, which the OS writes atomically, so frames from many writers never
interleave and no lock is needed.
"""

from __future__ import annotations

import contextlib
import os
import pickle
import threading
import time
from typing import Any

from conc_tui.messages import ControlNote, PoolStarting, WorkerHello
from conc_tui.telemetry.recorder import BatchRecorder, flush_together

SYSTEM_WORKER = 0
"""Worker id of events that belong to no lane (the event loop's heartbeat)."""

FLUSHER_PERIOD_S = 0.025
EVENTS_FRAME = b"E"
CONTROL_FRAME = b"C"


class TelemetryLink:
    """Registers workers and sends their events and notes down the telemetry pipe."""

    def __init__(self, connection: Any, counter: Any) -> None:
        self.connection = connection
        """A ``multiprocessing`` Connection (write end); pool workers get it too."""
        self.counter = counter
        """A shared ``multiprocessing.Value`` handing out worker ids across processes."""
        self._recorders: list[BatchRecorder] = []
        self._lock = threading.Lock()
        self.system_recorder = self._recorder(SYSTEM_WORKER)
        self._flusher = threading.Thread(
            target=self._flush_forever, name="conc-tui-flusher", daemon=True
        )
        self._flusher.start()

    def _flush_forever(self) -> None:
        """Ship what workers left in their buffers, a few dozen times a second.

        Without it, a worker that entered a long wait or a long computation right
        after its last batch would look stuck in its previous state. The thread
        sleeps between rounds; under CPU-bound threads it may get the GIL late, and
        then the workers' own due-time flushes carry the events.
        """
        while True:
            time.sleep(FLUSHER_PERIOD_S)
            with self._lock:
                pending = [recorder for recorder in self._recorders if recorder.pending]
            if pending:
                flush_together(pending, self.send_events)

    def send_events(self, blob: bytes) -> None:
        # If the observer is gone, the run is about to be stopped: drop the events.
        with contextlib.suppress(OSError):
            self.connection.send_bytes(EVENTS_FRAME + blob)

    def send_control(self, note: ControlNote) -> None:
        """Send a low-rate note (see :mod:`conc_tui.messages`) to the observer."""
        with contextlib.suppress(OSError):
            self.connection.send_bytes(CONTROL_FRAME + pickle.dumps(note))

    def allocate_id(self) -> int:
        with self.counter.get_lock():
            self.counter.value += 1
            return int(self.counter.value)

    def _recorder(self, worker_id: int) -> BatchRecorder:
        recorder = BatchRecorder(worker_id, self.send_events)
        with self._lock:
            self._recorders.append(recorder)
        return recorder

    def local_recorder(self, label: str, *, os_thread: bool = True) -> BatchRecorder:
        """Register a worker of this process and return its recorder.

        Call it from the worker's own thread: its native thread id is what the observer
        reads the OS counters of. ``os_thread=False`` for asyncio tasks, which share
        the loop's thread.
        """
        worker_id = self.allocate_id()
        tid = threading.get_native_id() if os_thread else None
        self.hello(worker_id, label, os.getpid(), tid)
        return self._recorder(worker_id)

    def hello(self, worker_id: int, label: str, pid: int, tid: int | None) -> None:
        self.send_control(WorkerHello(worker_id, label, pid, tid, time.monotonic_ns()))

    def pool_starting(self) -> None:
        self.send_control(PoolStarting(time.monotonic_ns()))

    def flush_all(self) -> None:
        """Ship what this process's recorders still hold (at the end of a run)."""
        with self._lock:
            recorders = list(self._recorders)
        for recorder in recorders:
            recorder.flush()

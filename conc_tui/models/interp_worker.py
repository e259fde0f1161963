"""What runs inside each subinterpreter of the interpreters model, and nothing more.

Every interpreter imports its modules afresh, and that import is most of its start-up,
so this module imports only what a worker needs to run items: the recorder, the
telemetry frame's marker and :func:`~conc_tui.models.running.run_item`. Not the model
(:mod:`conc_tui.models.interp`, which drives the pool from the runner), not
``concurrent.futures`` (which brings ``logging``), not psutil (which refuses to load
in a subinterpreter anyway).

Telemetry: an interpreter cannot use the runner's ``multiprocessing`` connection, but
a file descriptor is the process's, so each worker writes its frames straight to the
telemetry pipe's fd with ``os.write`` (each frame under ``PIPE_BUF``: atomic). A
subinterpreter gets no daemon flusher thread, so every state change is shipped at
once (one write each) instead of waiting for a batch.
"""

from __future__ import annotations

import contextlib
import functools
import os
import pickle
import struct
import sys
from typing import Any

from conc_tui.models.running import run_item
from conc_tui.telemetry.link import EVENTS_FRAME
from conc_tui.telemetry.recorder import (
    NULL_RECORDER,
    BatchRecorder,
    Recorder,
    set_current_recorder,
)
from conc_tui.telemetry.states import WorkerState
from conc_tui.workloads.base import Item, Workload

_HEADER = struct.Struct("!i")  # multiprocessing.Connection's length prefix
# Loaded by the workloads that log through an instrumented handler, at their top: by
# the time a worker attaches, the workload's module (so this one) is imported if used.
_LOCK_MODULE = "conc_tui.telemetry.lock"


def _write_frame(fd: int, blob: bytes) -> None:
    frame = EVENTS_FRAME + blob
    # Under PIPE_BUF, so one write, atomic among all writers; a gone observer means
    # the run is being stopped: drop the events.
    with contextlib.suppress(OSError):
        os.write(fd, _HEADER.pack(len(frame)) + frame)


class PipeRecorder(BatchRecorder):
    """A batch recorder that writes to the telemetry pipe's descriptor itself.

    No flusher thread runs beside the worker, so each state change leaves at once:
    a worker entering a long computation is seen doing so.
    """

    def __init__(self, worker_id: int, fd: int) -> None:
        super().__init__(worker_id, functools.partial(_write_frame, fd))

    def state(self, state: WorkerState, extra: int = 0) -> None:
        super().state(state, extra)
        self.flush()


class _Worker:
    """What one subinterpreter keeps between the items it runs."""

    def __init__(self, workload: Workload, recorder: Recorder, results: Any) -> None:
        self.workload = workload
        self.recorder = recorder
        self.results = results


_worker: _Worker | None = None


def attach(workload_blob: bytes, worker_id: int, fd: int, results: Any) -> None:
    """Set this interpreter up as a worker (run inside it, once)."""
    global _worker
    recorder: Recorder = PipeRecorder(worker_id, fd) if fd >= 0 else NULL_RECORDER
    lock_module = sys.modules.get(_LOCK_MODULE)
    if lock_module is not None:
        # The interpreters share the pid that names a lock, not the locks themselves.
        lock_module.set_lock_owner_id(worker_id)
    workload: Workload = pickle.loads(workload_blob)
    set_current_recorder(recorder)
    workload.attach()
    _worker = _Worker(workload, recorder, results)


def run(item_blob: bytes) -> None:
    """Run one item and queue its pickled result (run inside the interpreter)."""
    worker = _worker
    assert worker is not None, "attach did not run"
    # Each call may come with a fresh thread state, hence a fresh context.
    set_current_recorder(worker.recorder)
    item: Item = pickle.loads(item_blob)
    result = run_item(worker.workload, item, worker.recorder)
    worker.results.put(pickle.dumps(result))


def detach() -> None:
    """Close what the workload opened and ship the last events (run inside it)."""
    worker = _worker
    if worker is None:
        return
    try:
        worker.workload.detach()
    finally:
        worker.recorder.flush()

"""The observer's side of telemetry: read the runner's frames, sample the OS, publish.

The hub lives in the observing process (the lab, or the CLI process), never in the
process that runs the workload, so it keeps its own GIL: however hard the run's
threads fight over theirs, the hub samples and publishes on time.
"""

from __future__ import annotations

import pickle
import time
from collections.abc import Callable
from multiprocessing.connection import Connection
from typing import NoReturn

from conc_tui.messages import AsyncMode, ControlNote, PoolStarting, WorkerHello, WorkThread
from conc_tui.telemetry.aggregator import Aggregator
from conc_tui.telemetry.link import CONTROL_FRAME, EVENTS_FRAME
from conc_tui.telemetry.recorder import FLUSH_INTERVAL_NS
from conc_tui.telemetry.snapshot import Phase, ProcessView, Snapshot
from conc_tui.telemetry.states import Event, unpack_events
from conc_tui.telemetry.system import ProcessSampler, read_thread_sched

# Batches arrive up to a flush interval late: the lane is relabelled only up to here.
_SETTLE_NS = 2 * FLUSH_INTERVAL_NS
_EVENTS = EVENTS_FRAME[0]
_CONTROL = CONTROL_FRAME[0]


class TelemetryHub:
    """Folds one run's telemetry stream into an :class:`Aggregator`."""

    def __init__(
        self,
        aggregator: Aggregator,
        connection: Connection | None,
        runner_pid: int,
        *,
        sample_interval: float = 0.1,
        event_log: list[Event] | None = None,
    ) -> None:
        self.aggregator = aggregator
        self.connection = connection
        self.runner_pid = runner_pid
        self.sample_interval = sample_interval
        self.phase = Phase.PREPARING
        self.message = "preparing the input"
        self.items_total: int | None = None
        self.input_text = ""
        self.closed = connection is None
        self._event_log = event_log
        """Every event folded, in order: for tests of the telemetry's invariants."""
        self._process_sampler = ProcessSampler()
        self._next_sample = 0.0

    # -- reading -------------------------------------------------------------------

    def read_available(self) -> None:
        """Fold every frame that is already waiting, without blocking."""
        connection = self.connection
        if connection is None or self.closed:
            return
        try:
            while connection.poll():
                self._handle(connection.recv_bytes())
        except (EOFError, OSError):
            self.closed = True  # every writer (the runner and its pool) is gone

    def drain(self, timeout: float = 1.0) -> None:
        """Read until every writer has closed the pipe, or ``timeout`` seconds pass."""
        connection = self.connection
        deadline = time.monotonic() + timeout
        while connection is not None and not self.closed:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return
            try:
                if connection.poll(min(remaining, 0.05)):
                    self._handle(connection.recv_bytes())
            except (EOFError, OSError):
                self.closed = True

    def _handle(self, frame: bytes) -> None:
        kind = frame[0]
        if kind == _EVENTS:
            events = unpack_events(frame[1:])
            if self._event_log is not None:
                self._event_log.extend(events)
            self.aggregator.feed(events)
        elif kind == _CONTROL:
            self._control(pickle.loads(frame[1:]))

    def _control(self, note: ControlNote) -> None:
        agg = self.aggregator
        if isinstance(note, WorkerHello):
            agg.register(note.worker_id, note.label, note.pid, note.tid, note.t_ns)
        elif isinstance(note, PoolStarting):
            agg.pool_started_ns = note.t_ns
        elif isinstance(note, AsyncMode):
            agg.async_mode = note.mode
        elif isinstance(note, WorkThread):
            agg.work_threads.add(note.tid)
        else:
            # A note without a branch here is a type error (mypy), not a silent loss.
            unhandled: NoReturn = note
            raise TypeError(f"unknown control note {unhandled!r}")

    # -- sampling and publishing ---------------------------------------------------

    def sample_if_due(self) -> None:
        now = time.monotonic()
        if now >= self._next_sample:
            self._next_sample = now + self.sample_interval
            self.sample()

    def sample(self) -> None:
        """Read the OS counters of every worker thread and process."""
        agg = self.aggregator
        now_ns = time.monotonic_ns()
        pids = [self.runner_pid]
        for track in list(agg.tracks.values()):
            if track.pid is not None and track.pid not in pids:
                pids.append(track.pid)
            if track.tid is None or track.pid is None:
                continue
            sched = read_thread_sched(track.pid, track.tid)
            if sched is not None:
                agg.apply_thread_sample(
                    track.worker_id,
                    now_ns,
                    sched.cpu_ns,
                    sched.delay_ns,
                    sched.core,
                    now_ns - _SETTLE_NS,
                )
        if agg.work_threads and agg.model == "async":
            shared = {}
            for tid in agg.work_threads:
                sched = read_thread_sched(self.runner_pid, tid)
                if sched is not None:
                    shared[tid] = (sched.cpu_ns, sched.delay_ns)
            agg.note_shared_threads(now_ns, shared)
        agg.account_unsampled(now_ns - _SETTLE_NS)
        views = []
        for s in self._process_sampler.sample(pids):
            role = "coordinator" if s.pid == self.runner_pid else "worker"
            views.append(ProcessView(s.pid, role, s.cpu_percent, s.rss_bytes, s.core, s.threads))
            if role == "worker":
                for track in agg.tracks.values():
                    if track.pid == s.pid:
                        agg.apply_process_sample(
                            track.worker_id, s.cpu_percent, s.rss_bytes, s.core, now_ns
                        )
        agg.set_processes(tuple(views))

    def snapshot(self) -> Snapshot:
        return self.aggregator.snapshot(
            time.monotonic_ns(),
            self.phase,
            items_total=self.items_total,
            message=self.message,
            input_text=self.input_text,
        )

    def publish(self, on_snapshot: Callable[[Snapshot], None]) -> None:
        on_snapshot(self.snapshot())

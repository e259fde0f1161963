"""The telemetry hub: one thread that collects events, samples the OS and publishes.

Workers in this process hand events to a deque; worker processes send packed batches
over a multiprocessing queue. Every few milliseconds the hub drains both into the
:class:`Aggregator`; a few times a second it samples the OS and, when someone is
watching, publishes a :class:`Snapshot`. Doing all of this on one thread keeps the
aggregator lock-free and adds a single, mostly sleeping thread to the run.
"""

from __future__ import annotations

import os
import queue
import threading
import time
from collections import deque
from collections.abc import Callable
from multiprocessing.context import BaseContext
from typing import Any

from conc_tui.telemetry.aggregator import Aggregator
from conc_tui.telemetry.recorder import FLUSH_INTERVAL_NS, LocalRecorder
from conc_tui.telemetry.snapshot import Phase, ProcessView, Snapshot
from conc_tui.telemetry.states import Event, unpack_events
from conc_tui.telemetry.system import ProcessSampler, read_thread_sched

SYSTEM_WORKER = 0
"""Worker id of events that belong to no lane (the event loop's heartbeat)."""

Op = Callable[[Aggregator], None]
_REMOTE_LAG_NS = 2 * FLUSH_INTERVAL_NS


class TelemetryHub:
    """Collects a run's telemetry on a background thread."""

    def __init__(
        self,
        aggregator: Aggregator,
        *,
        mp_context: BaseContext | None = None,
        on_snapshot: Callable[[Snapshot], None] | None = None,
        snapshot_interval: float = 0.1,
        sample_interval: float = 0.2,
        poll_interval: float = 0.05,
        event_log: list[Event] | None = None,
    ) -> None:
        self.aggregator = aggregator
        self.on_snapshot = on_snapshot
        self.snapshot_interval = snapshot_interval
        self.sample_interval = sample_interval
        self.poll_interval = poll_interval
        self.phase = Phase.PREPARING
        self.message = ""
        self.items_total: int | None = None
        self.input_text = ""
        self._events: deque[Event] = deque()
        self._ops: deque[Op] = deque()
        self._id_lock = threading.Lock()
        self._next_id = SYSTEM_WORKER + 1
        self.process_queue: Any = mp_context.Queue() if mp_context is not None else None
        self.id_counter: Any = mp_context.Value("i", 0) if mp_context is not None else None
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="conc-tui-telemetry", daemon=True)
        self._process_sampler = ProcessSampler()
        self._coordinator_pid = os.getpid()
        self.system_recorder = LocalRecorder(SYSTEM_WORKER, self._events.append)
        self._event_log = event_log
        """Every event folded, in order: for tests of the telemetry's invariants."""

    # -- called from worker threads ----------------------------------------------

    def allocate_id(self) -> int:
        if self.id_counter is not None:
            with self.id_counter.get_lock():
                self.id_counter.value += 1
                return int(self.id_counter.value)
        with self._id_lock:
            worker_id = self._next_id
            self._next_id += 1
            return worker_id

    def local_recorder(self, label: str, *, os_thread: bool = True) -> LocalRecorder:
        """Register a worker running in this process and return its recorder.

        Call it from the worker's own thread: the thread's native id is what the
        sampler reads the OS counters of. ``os_thread=False`` for asyncio tasks,
        which share the loop's thread.
        """
        worker_id = self.allocate_id()
        tid = threading.get_native_id() if os_thread else None
        self.register(worker_id, label, os.getpid(), tid)
        return LocalRecorder(worker_id, self._events.append)

    def register(self, worker_id: int, label: str, pid: int | None, tid: int | None) -> None:
        t_ns = time.monotonic_ns()
        self.call(lambda agg: agg.register(worker_id, label, pid, tid, t_ns))

    def call(self, op: Op) -> None:
        """Run ``op`` on the aggregator's thread before any event recorded after this call.

        (Each drain applies the queued ops first, then the events.)
        """
        self._ops.append(op)

    def _take_events_op(self) -> Op:
        events = self._events
        batch: list[Event] = []
        try:
            while True:
                batch.append(events.popleft())
        except IndexError:
            pass
        return lambda agg: self._feed(agg, batch)

    def _feed(self, agg: Aggregator, events: list[Event]) -> None:
        if self._event_log is not None:
            self._event_log.extend(events)
        agg.feed(events)

    # -- lifecycle ---------------------------------------------------------------

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        """Stop the thread and fold in everything still queued."""
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout=2)
        self._drain(final=True)

    def publish(self) -> Snapshot:
        snapshot = self.aggregator.snapshot(
            time.monotonic_ns(),
            self.phase,
            items_total=self.items_total,
            message=self.message,
            input_text=self.input_text,
        )
        if self.on_snapshot is not None:
            self.on_snapshot(snapshot)
        return snapshot

    # -- the thread --------------------------------------------------------------

    def _loop(self) -> None:
        next_sample = next_snapshot = time.monotonic()
        while not self._stop.wait(self.poll_interval):
            self._drain()
            now = time.monotonic()
            if now >= next_sample:
                self.sample()
                next_sample = now + self.sample_interval
            if self.on_snapshot is not None and now >= next_snapshot:
                self.publish()
                next_snapshot = now + self.snapshot_interval

    def _drain(self, final: bool = False) -> None:
        agg = self.aggregator
        ops = self._ops
        try:
            while True:
                ops.popleft()(agg)
        except IndexError:
            pass
        self._take_events_op()(agg)
        if self.process_queue is not None:
            self._drain_process_queue(final)

    def _drain_process_queue(self, final: bool) -> None:
        agg = self.aggregator
        misses = 0
        while True:
            try:
                message = self.process_queue.get(timeout=0.05) if final else self.process_queue.get_nowait()
            except queue.Empty:
                # After the pool shut down, data may still be in the pipe: look twice.
                misses += 1
                if not final or misses >= 2:
                    return
                continue
            except (EOFError, OSError, ValueError):
                return
            misses = 0
            if message[0] == "ev":
                self._feed(agg, unpack_events(message[1]))
            elif message[0] == "hello":
                _, worker_id, label, pid, tid, t_ns = message
                agg.register(worker_id, label, pid, tid, t_ns)

    def sample(self) -> None:
        """Read the OS counters of every worker thread and process."""
        agg = self.aggregator
        now_ns = time.monotonic_ns()
        pids = [self._coordinator_pid]
        for track in list(agg.tracks.values()):
            if track.pid is not None and track.pid not in pids:
                pids.append(track.pid)
            if track.tid is None or track.pid is None:
                continue
            sched = read_thread_sched(track.pid, track.tid)
            if sched is not None:
                # Events from other processes come in batches up to a flush interval late.
                settled = now_ns if track.pid == self._coordinator_pid else now_ns - _REMOTE_LAG_NS
                agg.apply_thread_sample(
                    track.worker_id, now_ns, sched.cpu_ns, sched.delay_ns, sched.core, settled
                )
        samples = self._process_sampler.sample(pids)
        views = []
        for s in samples:
            role = "coordinator" if s.pid == self._coordinator_pid else "worker"
            views.append(ProcessView(s.pid, role, s.cpu_percent, s.rss_bytes, s.core, s.threads))
            if role == "worker":
                for track in agg.tracks.values():
                    if track.pid == s.pid:
                        agg.apply_process_sample(track.worker_id, s.cpu_percent, s.rss_bytes, s.core)
        agg.set_processes(tuple(views))

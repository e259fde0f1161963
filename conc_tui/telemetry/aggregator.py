"""Fold worker events and OS samples into per-worker timelines, totals and snapshots.

The aggregator is owned by one thread (the lab's telemetry hub), so it takes no locks.
It keeps a fixed amount of state per worker and per lock, whatever the event rate or
the length of the run.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable
from dataclasses import dataclass, field

from conc_tui.telemetry.snapshot import LockView, LoopView, Phase, ProcessView, Snapshot, WorkerView
from conc_tui.telemetry.states import STATE_COUNT, Event, EventKind, WorkerState
from conc_tui.telemetry.timeline import Timeline

DEFAULT_COLUMNS = 240
DEFAULT_COLUMN_NS = 100_000_000

_RUNNING = int(WorkerState.RUNNING)
_WAIT_LOCK = int(WorkerState.WAIT_LOCK)
_WAIT_IO = int(WorkerState.WAIT_IO)
_WAIT_GIL = int(WorkerState.WAIT_GIL)
_WAIT_CPU = int(WorkerState.WAIT_CPU)
_DONE = int(WorkerState.DONE)
_FAILED = int(WorkerState.FAILED)


@dataclass
class WorkerTrack:
    """Everything known about one worker."""

    worker_id: int
    label: str
    pid: int | None
    tid: int | None
    registered_ns: int
    timeline: Timeline
    state: int = int(WorkerState.IDLE)
    since_ns: int = 0
    state_ns: list[int] = field(default_factory=lambda: [0] * STATE_COUNT)
    done: int = 0
    failed: int = 0
    lock_wait_since: int | None = None
    # OS figures, filled by the sampler.
    cpu_percent: float | None = None
    rss_bytes: int | None = None
    core: int | None = None
    gil_ns: float = 0.0
    cpu_wait_ns: float = 0.0
    sampled_running_ns: int = 0
    measured_running_ns: int = 0
    """Running time covered by OS samples: the base of the GIL and core-wait shares."""
    sampled_cpu_ns: int | None = None
    sampled_delay_ns: int | None = None
    sampled_at_ns: int | None = None
    gil_carry: float = 0.0
    cpu_carry: float = 0.0
    startup_s: float | None = None

    def running_ns(self, now_ns: int) -> int:
        """Wall time spent running so far, including the open interval."""
        total = self.state_ns[_RUNNING] + self.state_ns[_WAIT_GIL] + self.state_ns[_WAIT_CPU]
        if self.state == _RUNNING:
            total += max(0, now_ns - self.since_ns)
        return total


@dataclass
class LockTrack:
    holder: int | None = None
    hold_since: int = 0
    waiters: dict[int, int] = field(default_factory=dict)  # worker -> waiting since


@dataclass
class LockTotals:
    acquisitions: int = 0
    contended: int = 0
    total_wait_ns: int = 0
    longest_wait_ns: int = 0
    total_hold_ns: int = 0


class Aggregator:
    """Turns a stream of events into the current picture of a run."""

    def __init__(
        self,
        *,
        model: str,
        workload: str,
        workers: int,
        origin_ns: int,
        columns: int = DEFAULT_COLUMNS,
        column_ns: int = DEFAULT_COLUMN_NS,
        gil_possible: bool = False,
    ) -> None:
        self.model = model
        self.workload = workload
        self.workers_requested = workers
        self.origin_ns = origin_ns
        self.columns = columns
        self.column_ns = column_ns
        self.gil_possible = gil_possible
        """Only threads of one process compete for one GIL; elsewhere it is not shown."""
        self.tracks: dict[int, WorkerTrack] = {}
        self.locks: dict[int, LockTrack] = {}
        self.lock_totals = LockTotals()
        self.items_done = 0
        self.items_failed = 0
        self.bytes_done = 0
        self._done_per_column: deque[tuple[int, int]] = deque(maxlen=columns)
        self.lag_last_us = 0
        self.lag_max_us = 0
        self.lag_sum_us = 0
        self.lag_count = 0
        self.max_in_flight = 0
        self.processes: tuple[ProcessView, ...] = ()
        self.peak_rss_bytes = 0
        self.pool_started_ns: int | None = None
        self.work_threads: set[int] = set()
        self.async_mode: str | None = None

    # -- workers -----------------------------------------------------------------

    def register(
        self, worker_id: int, label: str, pid: int | None, tid: int | None, t_ns: int
    ) -> None:
        if worker_id in self.tracks:
            return
        track = WorkerTrack(
            worker_id=worker_id,
            label=label,
            pid=pid,
            tid=tid,
            registered_ns=t_ns,
            timeline=Timeline(self.columns, self.column_ns, self.origin_ns),
            since_ns=t_ns,
        )
        if self.pool_started_ns is not None:
            track.startup_s = max(0.0, (t_ns - self.pool_started_ns) / 1e9)
        self.tracks[worker_id] = track

    def mark_worker_failed(self, worker_id: int, t_ns: int) -> None:
        track = self.tracks.get(worker_id)
        if track is not None:
            self._set_state(track, int(WorkerState.FAILED), t_ns)

    def finish(self, t_ns: int) -> None:
        """The run is over: every worker that did not fail is done."""
        for track in self.tracks.values():
            if track.state != WorkerState.FAILED:
                self._set_state(track, int(WorkerState.DONE), t_ns)

    # -- events ------------------------------------------------------------------

    def feed(self, events: Iterable[Event]) -> None:
        tracks = self.tracks
        for t_ns, worker_id, kind, value, extra in events:
            if kind == EventKind.LOOP_LAG:
                self._loop_lag(extra)
                continue
            track = tracks.get(worker_id)
            if track is None:
                continue
            if kind == EventKind.STATE:
                self._set_state(track, value, t_ns, extra)
            elif kind == EventKind.ITEM_DONE:
                track.done += 1
                self.items_done += 1
                self._count_done(t_ns)
            elif kind == EventKind.ITEM_FAILED:
                track.failed += 1
                self.items_failed += 1
                track.timeline.mark_failure(t_ns)
            elif kind == EventKind.LOCK_ACQUIRED:
                self._lock_acquired(track, extra, t_ns)
            elif kind == EventKind.LOCK_RELEASED:
                self._lock_released(track, extra, t_ns)

    def _set_state(self, track: WorkerTrack, state: int, t_ns: int, extra: int = 0) -> None:
        # Events of one worker arrive in order; a late batch never rewinds the clock.
        start = track.since_ns
        if t_ns < start:
            t_ns = start
        previous = track.state
        track.timeline.add(previous, start, t_ns)
        track.state_ns[previous] += t_ns - start
        track.state = state
        track.since_ns = t_ns
        if state == _WAIT_LOCK:
            track.lock_wait_since = t_ns
            self.locks.setdefault(extra, LockTrack()).waiters[track.worker_id] = t_ns
        if previous == _WAIT_IO or state == _WAIT_IO:
            in_flight = self.in_flight()
            if in_flight > self.max_in_flight:
                self.max_in_flight = in_flight

    def _count_done(self, t_ns: int) -> None:
        column = (t_ns - self.origin_ns) // self.column_ns
        if self._done_per_column and self._done_per_column[-1][0] == column:
            self._done_per_column[-1] = (column, self._done_per_column[-1][1] + 1)
        else:
            self._done_per_column.append((column, 1))

    def _lock_acquired(self, track: WorkerTrack, lock_id: int, t_ns: int) -> None:
        lock = self.locks.setdefault(lock_id, LockTrack())
        totals = self.lock_totals
        totals.acquisitions += 1
        waited_since = lock.waiters.pop(track.worker_id, None)
        if waited_since is not None:
            wait = max(0, t_ns - waited_since)
            totals.contended += 1
            totals.total_wait_ns += wait
            totals.longest_wait_ns = max(totals.longest_wait_ns, wait)
        track.lock_wait_since = None
        lock.holder = track.worker_id
        lock.hold_since = t_ns

    def _lock_released(self, track: WorkerTrack, lock_id: int, t_ns: int) -> None:
        lock = self.locks.get(lock_id)
        if lock is None or lock.holder != track.worker_id:
            return
        self.lock_totals.total_hold_ns += max(0, t_ns - lock.hold_since)
        lock.holder = None

    def _loop_lag(self, lag_us: int) -> None:
        self.lag_last_us = lag_us
        self.lag_max_us = max(self.lag_max_us, lag_us)
        self.lag_sum_us += lag_us
        self.lag_count += 1

    def in_flight(self) -> int:
        return sum(1 for t in self.tracks.values() if t.state == _WAIT_IO)

    # -- OS samples --------------------------------------------------------------

    def apply_thread_sample(
        self,
        worker_id: int,
        t_ns: int,
        cpu_ns: int,
        delay_ns: int,
        core: int | None,
        settled_ns: int | None = None,
    ) -> None:
        """Compare a worker thread's OS CPU time with the time it was meant to run.

        Running wall time that the OS did not count as CPU time was spent either
        runnable but without a core (the scheduler's run-queue delay) or, for threads
        of one process, waiting for the GIL. The totals are exact shares; the lane
        shows the same share of its running columns as waits (error diffusion), so
        a thread that waited 40% of the time shows about 40% waiting cells.

        ``settled_ns`` is the time up to which this worker's events are surely in
        (batches from other processes arrive late); the lane is relabelled up to it.
        """
        track = self.tracks.get(worker_id)
        if track is None:
            return
        track.core = core
        settled = t_ns if settled_ns is None else settled_ns
        if settled > track.since_ns and track.state not in (_DONE, _FAILED):
            # Put the open interval on the timeline so its columns can be relabelled.
            self._set_state(track, track.state, settled)
        running = track.running_ns(t_ns)
        if track.sampled_cpu_ns is None or track.sampled_delay_ns is None:
            track.sampled_cpu_ns, track.sampled_delay_ns = cpu_ns, delay_ns
            track.sampled_running_ns, track.sampled_at_ns = running, t_ns
            return
        d_running = running - track.sampled_running_ns
        d_cpu = cpu_ns - track.sampled_cpu_ns
        d_delay = delay_ns - track.sampled_delay_ns
        previous_at = t_ns if track.sampled_at_ns is None else track.sampled_at_ns
        d_wall = t_ns - previous_at
        start_ns = previous_at - (t_ns - settled)
        track.sampled_cpu_ns, track.sampled_delay_ns = cpu_ns, delay_ns
        track.sampled_running_ns, track.sampled_at_ns = running, t_ns
        if d_wall > 0:
            track.cpu_percent = 100.0 * d_cpu / d_wall
        if d_running <= 0:
            return
        cpu_share = min(1.0, max(0.0, d_cpu / d_running))
        cpu_wait = min(1.0 - cpu_share, max(0.0, d_delay / d_running))
        gil = max(0.0, 1.0 - cpu_share - cpu_wait) if self.gil_possible else 0.0
        track.gil_ns += gil * d_running
        track.cpu_wait_ns += cpu_wait * d_running
        track.measured_running_ns += d_running
        self._dither(track, start_ns, settled, gil, cpu_wait)

    def _dither(
        self, track: WorkerTrack, start_ns: int, end_ns: int, gil: float, cpu_wait: float
    ) -> None:
        timeline = track.timeline
        for column in range(timeline.column_of(start_ns), timeline.column_of(end_ns) + 1):
            running = timeline.running_ns(column)
            if running <= 0:
                continue
            weight = running / self.column_ns
            track.gil_carry += gil * weight
            track.cpu_carry += cpu_wait * weight
            if track.gil_carry >= 0.5 and track.gil_carry >= track.cpu_carry:
                timeline.relabel_running(column, _WAIT_GIL)
                track.gil_carry -= 1.0
            elif track.cpu_carry >= 0.5:
                timeline.relabel_running(column, _WAIT_CPU)
                track.cpu_carry -= 1.0

    def apply_process_sample(
        self, worker_id: int, cpu_percent: float, rss_bytes: int, core: int | None
    ) -> None:
        track = self.tracks.get(worker_id)
        if track is not None:
            track.cpu_percent = cpu_percent
            track.rss_bytes = rss_bytes
            track.core = core

    def set_processes(self, processes: tuple[ProcessView, ...]) -> None:
        self.processes = processes
        total = sum(p.rss_bytes for p in processes)
        self.peak_rss_bytes = max(self.peak_rss_bytes, total)

    # -- totals and snapshots ----------------------------------------------------

    def gil_wait_share(self) -> float | None:
        """GIL waits over the running time the OS samples covered (threads only)."""
        if not self.gil_possible:
            return None
        running = sum(t.measured_running_ns for t in self.tracks.values())
        return sum(t.gil_ns for t in self.tracks.values()) / running if running else 0.0

    def cpu_wait_share(self) -> float | None:
        """Waits for a free core over the running time the OS samples covered."""
        running = sum(t.measured_running_ns for t in self.tracks.values())
        if not running:
            return None
        return sum(t.cpu_wait_ns for t in self.tracks.values()) / running

    def throughput(self, now_ns: int, window_ns: int = 1_000_000_000) -> float:
        """Items finished a second over the last ``window_ns`` (or the run so far)."""
        now_col = (now_ns - self.origin_ns) // self.column_ns
        first_col = now_col - window_ns // self.column_ns
        done = sum(n for c, n in self._done_per_column if c > first_col)
        span_ns = min(window_ns, max(1, now_ns - self.origin_ns))
        return done / (span_ns / 1e9)

    def rate_history(self, now_ns: int) -> tuple[float, ...]:
        now_col = (now_ns - self.origin_ns) // self.column_ns
        counts = dict(self._done_per_column)
        first = now_col - self.columns + 1
        return tuple(float(counts.get(c, 0)) for c in range(first, now_col + 1))

    def lock_view(self) -> LockView | None:
        if not self.locks:
            return None
        holder = next((lk.holder for lk in self.locks.values() if lk.holder is not None), None)
        waiting: list[tuple[int, int]] = []
        for lock in self.locks.values():
            waiting.extend((since, wid) for wid, since in lock.waiters.items())
        totals = self.lock_totals
        return LockView(
            holder=holder,
            waiters=tuple(wid for _, wid in sorted(waiting)),
            acquisitions=totals.acquisitions,
            contended=totals.contended,
            total_wait_s=totals.total_wait_ns / 1e9,
            longest_wait_s=totals.longest_wait_ns / 1e9,
            total_hold_s=totals.total_hold_ns / 1e9,
            locks=len(self.locks),
        )

    def loop_view(self, now_ns: int) -> LoopView | None:
        if self.model != "async":
            return None
        return LoopView(
            in_flight=self.in_flight(),
            max_in_flight=self.max_in_flight,
            lag_ms=self.lag_last_us / 1000,
            lag_max_ms=self.lag_max_us / 1000,
            lag_mean_ms=(self.lag_sum_us / self.lag_count / 1000) if self.lag_count else 0.0,
            requests_per_s=self.throughput(now_ns),
            blocking=self.async_mode or "",
            threads=len(self.work_threads) or None,
        )

    def worker_views(self, now_ns: int) -> tuple[WorkerView, ...]:
        views = []
        for track in self.tracks.values():
            running = track.running_ns(now_ns)
            measured = track.measured_running_ns
            views.append(
                WorkerView(
                    worker_id=track.worker_id,
                    label=track.label,
                    state=track.state,
                    lane=track.timeline.lane(now_ns, track.state, track.since_ns),
                    items_done=track.done,
                    items_failed=track.failed,
                    pid=track.pid,
                    tid=track.tid,
                    cpu_percent=track.cpu_percent,
                    rss_bytes=track.rss_bytes,
                    core=track.core,
                    gil_wait_share=(track.gil_ns / measured if measured else 0.0)
                    if self.gil_possible
                    else None,
                    cpu_wait_share=(track.cpu_wait_ns / measured if measured else 0.0)
                    if track.sampled_cpu_ns is not None
                    else None,
                    busy_s=running / 1e9,
                    startup_s=track.startup_s,
                )
            )
        return tuple(views)

    def startup_s(self) -> float | None:
        values = [t.startup_s for t in self.tracks.values() if t.startup_s is not None]
        return max(values) if values else None

    def snapshot(
        self,
        now_ns: int,
        phase: Phase,
        *,
        items_total: int | None,
        message: str = "",
        input_text: str = "",
    ) -> Snapshot:
        return Snapshot(
            model=self.model,
            workload=self.workload,
            workers=self.workers_requested,
            phase=phase,
            elapsed_s=max(0.0, (now_ns - self.origin_ns) / 1e9),
            items_total=items_total,
            items_done=self.items_done,
            items_failed=self.items_failed,
            throughput=self.throughput(now_ns),
            column_s=self.column_ns / 1e9,
            worker_views=self.worker_views(now_ns),
            processes=self.processes,
            lock=self.lock_view(),
            loop=self.loop_view(now_ns),
            rate_history=self.rate_history(now_ns),
            startup_s=self.startup_s(),
            message=message,
            input=input_text,
        )

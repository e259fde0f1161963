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
from conc_tui.telemetry.states import (
    CPU_MARK_MASK,
    LOOP_HEARTBEAT_NS,
    STATE_COUNT,
    Event,
    EventKind,
    WorkerState,
)
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
_MARK_WRAP = CPU_MARK_MASK + 1
# A heartbeat is due a beat after the last one; its tick is shipped at once, so only a
# little transit time (the pipe, the observer's poll) is allowed on top: time beyond
# both is certainly a stall of the loop.
_TICK_TRANSIT_NS = 10_000_000
_LAG_ALLOWANCE_NS = LOOP_HEARTBEAT_NS + _TICK_TRANSIT_NS
TO_THREAD = "to_thread"


def unwrap_mark(mark_us: int, near_ns: int) -> int:
    """The full CPU clock (ns) of a wrapped microsecond mark, nearest to ``near_ns``."""
    near_us = near_ns // 1000
    delta = (mark_us - near_us) % _MARK_WRAP
    if delta >= _MARK_WRAP // 2:
        delta -= _MARK_WRAP
    return (near_us + delta) * 1000


@dataclass
class WorkerTrack:
    """Everything known about one worker."""

    worker_id: int
    label: str
    pid: int | None
    tid: int | None
    timeline: Timeline
    state: int = int(WorkerState.IDLE)
    since_ns: int = 0
    state_ns: list[int] = field(default_factory=lambda: [0] * STATE_COUNT)
    done: int = 0
    failed: int = 0
    # OS figures, filled by the sampler.
    cpu_percent: float | None = None
    rss_bytes: int | None = None
    core: int | None = None
    gil_ns: float = 0.0
    cpu_wait_ns: float = 0.0
    measured_running_ns: int = 0
    """Running time whose CPU is known: the base of the GIL and core-wait shares."""
    measured_cpu_ns: int = 0
    """CPU used in that running time."""
    sampled_cpu_ns: int | None = None
    sampled_delay_ns: int | None = None
    sampled_at_ns: int | None = None
    delay_share: float = 0.0
    """Of the thread's time off a core over the last sample interval, the share it was
    runnable but waiting for one (the OS's run-queue delay); the rest it slept."""
    readings: deque[tuple[int, int]] = field(default_factory=lambda: deque(maxlen=3))
    """Recent (time, CPU clock) readings of the OS, to cut an open running span."""
    # The running span in progress, from the CPU marks on the worker's own events.
    run_mark: int | None = None
    """The thread's CPU clock (wrapped us) when the span began or was last cut."""
    run_start: int | None = None
    """When its current running stretch began (None while it waits for a lock)."""
    run_wall: int = 0
    """Running time of the span before ``run_start``."""
    # Running spans whose wall and CPU are known but not yet turned into waits.
    pend_wall: int = 0
    pend_cpu: int = 0
    pend_until: int = 0
    """Spans are known up to here; the lane's columns before it are complete."""
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
        self._done_per_column: deque[tuple[int, int]] = deque(maxlen=columns)
        self.lag_last_us = 0
        self.lag_max_us = 0
        self.lag_sum_us = 0
        self.lag_count = 0
        self.last_tick_ns: int | None = None
        self.ended_ns: int | None = None
        self.settled_ns = origin_ns
        """Events up to here are surely in (the latest sample's horizon)."""
        self.max_in_flight = 0
        self.processes: tuple[ProcessView, ...] = ()
        self.peak_rss_bytes = 0
        self.pool_started_ns: int | None = None
        self.work_threads: set[int] = set()
        self._shared_readings: dict[int, tuple[int, int, int]] = {}
        self._shared_delay_share = 0.0
        self.async_mode: str | None = None

    @property
    def gil_applies(self) -> bool:
        """Threads of one process compete for one GIL: a thread pool, or to_thread."""
        return self.gil_possible or self.async_mode == TO_THREAD

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
            timeline=Timeline(self.columns, self.column_ns, self.origin_ns),
            since_ns=t_ns,
        )
        if self.pool_started_ns is not None:
            track.startup_s = max(0.0, (t_ns - self.pool_started_ns) / 1e9)
        self.tracks[worker_id] = track

    def mark_worker_failed(self, worker_id: int, t_ns: int) -> None:
        track = self.tracks.get(worker_id)
        if track is not None:
            self._end(track, _FAILED, t_ns)

    def finish(self, t_ns: int) -> None:
        """The run is over: every worker that did not fail is done, and nobody queues."""
        for track in self.tracks.values():
            if track.state != _FAILED:
                self._end(track, _DONE, t_ns)
            # Spans that ended after the last sample are measured now, with the last
            # delay share the OS gave; every column of the lane is then final.
            delay_share = track.delay_share if track.tid is not None else self._shared_delay_share
            self._account(track, delay_share)
            track.timeline.finalize(track.timeline.head)
        for lock in self.locks.values():
            lock.waiters.clear()
            lock.holder = None
        self.ended_ns = t_ns

    def _end(self, track: WorkerTrack, state: int, t_ns: int) -> None:
        # No CPU mark comes with the end: the open span's tail stays unmeasured.
        track.run_mark = track.run_start = None
        track.run_wall = 0
        self._extend(track, t_ns)
        track.state = state

    # -- events ------------------------------------------------------------------

    def feed(self, events: Iterable[Event]) -> None:
        tracks = self.tracks
        for t_ns, worker_id, kind, value, extra in events:
            if kind == EventKind.LOOP_LAG:
                self._loop_lag(t_ns, extra)
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

    def _extend(self, track: WorkerTrack, t_ns: int) -> None:
        """Account the open interval up to ``t_ns`` to the current state."""
        start = track.since_ns
        if t_ns > start:
            track.timeline.add(track.state, start, t_ns)
            track.state_ns[track.state] += t_ns - start
            track.since_ns = t_ns

    def _set_state(self, track: WorkerTrack, state: int, t_ns: int, extra: int) -> None:
        # Events of one worker arrive in order; a late batch never rewinds the clock.
        if t_ns < track.since_ns:
            t_ns = track.since_ns
        previous = track.state
        self._extend(track, t_ns)
        track.state = state
        if previous in (_RUNNING, _WAIT_LOCK) or state == _RUNNING:
            self._cpu_edge(track, previous, state, t_ns, extra)
        if state == _WAIT_LOCK and previous != _WAIT_LOCK:
            self.locks.setdefault(extra, LockTrack()).waiters[track.worker_id] = t_ns
        if previous == _WAIT_IO or state == _WAIT_IO:
            in_flight = self.in_flight()
            if in_flight > self.max_in_flight:
                self.max_in_flight = in_flight

    @staticmethod
    def _cpu_edge(track: WorkerTrack, previous: int, state: int, t_ns: int, mark: int) -> None:
        """Follow a running span by the CPU marks on its edges.

        A lock wait's event carries the lock id, not a mark, so a span that waits for
        the log's lock goes on through the wait: its wall time leaves out the wait,
        its CPU includes the little the blocked thread used.
        """
        if state == _WAIT_LOCK:
            if track.run_start is not None:
                track.run_wall += t_ns - track.run_start
                track.run_start = None
            return
        if track.run_mark is not None:
            if state == _RUNNING and (previous == _RUNNING or track.run_start is None):
                if track.run_start is None:
                    track.run_start = t_ns  # back from the lock wait: the span goes on
                return
            wall = track.run_wall
            if track.run_start is not None:
                wall += t_ns - track.run_start
            track.pend_wall += wall
            track.pend_cpu += ((mark - track.run_mark) & CPU_MARK_MASK) * 1000
            track.pend_until = t_ns
            track.run_mark = track.run_start = None
            track.run_wall = 0
        if state == _RUNNING:
            track.run_mark = mark
            track.run_start = t_ns
            track.run_wall = 0

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
        lock.holder = track.worker_id
        lock.hold_since = t_ns

    def _lock_released(self, track: WorkerTrack, lock_id: int, t_ns: int) -> None:
        lock = self.locks.get(lock_id)
        if lock is None or lock.holder != track.worker_id:
            return
        self.lock_totals.total_hold_ns += max(0, t_ns - lock.hold_since)
        lock.holder = None

    def _loop_lag(self, t_ns: int, lag_us: int) -> None:
        if self.last_tick_ns is None or t_ns > self.last_tick_ns:
            self.last_tick_ns = t_ns
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
        """Turn a worker thread's running spans into running, GIL and core-wait time.

        The worker's own events mark its CPU clock on the edges of each running span,
        so the CPU it used while running is known exactly (reading a file or waiting
        for the log's lock costs CPU too, and is left out). Running wall time that was
        not CPU was spent runnable without a core (the run-queue delay, attributed in
        proportion to CPU) or, for threads of one process, waiting for the GIL. The
        OS reading (the same clock, from ``schedstat``) cuts a long span at the last
        reading before ``settled_ns``, so a thread that runs for seconds is measured
        as it goes.

        ``settled_ns`` is the time up to which this worker's events are surely in
        (batches from other processes arrive late); the lane is relabelled up to it.
        """
        track = self.tracks.get(worker_id)
        if track is None:
            return
        track.core = core
        track.timeline.note_core(t_ns, core)
        settled = t_ns if settled_ns is None else settled_ns
        if settled > self.settled_ns:
            self.settled_ns = settled
        if track.state not in (_DONE, _FAILED):
            self._extend(track, settled)
        track.readings.append((t_ns, cpu_ns))
        if track.state == _RUNNING and track.run_start is not None and track.run_mark is not None:
            for at_ns, cpu_then in reversed(track.readings):
                if at_ns <= settled:
                    if at_ns > track.run_start:
                        self._cut_span(track, at_ns, cpu_then)
                    break
        if track.sampled_cpu_ns is not None and track.sampled_delay_ns is not None:
            d_cpu = cpu_ns - track.sampled_cpu_ns
            d_delay = delay_ns - track.sampled_delay_ns
            d_wall = t_ns - (t_ns if track.sampled_at_ns is None else track.sampled_at_ns)
            if d_wall > 0:
                track.cpu_percent = 100.0 * d_cpu / d_wall
            if d_wall > d_cpu:
                track.delay_share = min(1.0, max(0.0, d_delay / (d_wall - d_cpu)))
        track.sampled_cpu_ns, track.sampled_delay_ns, track.sampled_at_ns = cpu_ns, delay_ns, t_ns
        self._account(track, track.delay_share)

    @staticmethod
    def _cut_span(track: WorkerTrack, at_ns: int, cpu_then: int) -> None:
        """Close the open running span at an OS reading and go on from there."""
        assert track.run_mark is not None and track.run_start is not None
        started_cpu = unwrap_mark(track.run_mark, cpu_then)
        track.pend_wall += track.run_wall + at_ns - track.run_start
        track.pend_cpu += max(0, cpu_then - started_cpu)
        track.pend_until = at_ns
        track.run_mark = (cpu_then // 1000) & CPU_MARK_MASK
        track.run_start = at_ns
        track.run_wall = 0

    def note_shared_threads(self, t_ns: int, readings: dict[int, tuple[int, int]]) -> None:
        """OS readings (tid -> CPU, delay) of the threads that run many workers' items
        (``to_thread``): their run-queue delay share stands in for that of the tasks
        they served, whose own CPU comes from their events' marks."""
        off = delay = 0
        for tid, (cpu_ns, delay_ns) in readings.items():
            before = self._shared_readings.get(tid)
            self._shared_readings[tid] = (t_ns, cpu_ns, delay_ns)
            if before is not None:
                off += (t_ns - before[0]) - (cpu_ns - before[1])
                delay += delay_ns - before[2]
        if off > 0:
            self._shared_delay_share = min(1.0, max(0.0, delay / off))

    def account_unsampled(self, settled_ns: int) -> None:
        """Measure the workers that have no OS thread of their own (asyncio tasks)."""
        if settled_ns > self.settled_ns:
            self.settled_ns = settled_ns
        for track in self.tracks.values():
            if track.tid is None:
                if track.state not in (_DONE, _FAILED):
                    self._extend(track, settled_ns)
                self._account(track, self._shared_delay_share)

    def _account(self, track: WorkerTrack, delay_share: float) -> None:
        """Split the spans known since the last sample into running and waits.

        Running wall time off a core was either runnable without a core or asleep
        (for a thread of one process: waiting for the GIL). The OS counts only the
        thread's whole delay, so the running spans' part of it is taken in proportion
        to their time off a core.
        """
        wall = track.pend_wall
        if wall <= 0:
            return
        cpu = min(track.pend_cpu, wall)
        delay = (wall - cpu) * delay_share
        gil = wall - cpu - delay if self.gil_applies else 0.0
        track.gil_ns += gil
        track.cpu_wait_ns += delay
        track.measured_running_ns += wall
        track.measured_cpu_ns += cpu
        track.pend_wall = track.pend_cpu = 0
        timeline = track.timeline
        last = timeline.column_of(track.pend_until)
        gil_share, delay_share = gil / wall, delay / wall
        for column in range(timeline.final_through + 1, last + 1):
            fresh = timeline.take_fresh(column)
            if fresh > 0:
                timeline.move_running(
                    column, int(fresh * gil_share + 0.5), int(fresh * delay_share + 0.5)
                )
        timeline.finalize(last - 1)

    def apply_process_sample(
        self,
        worker_id: int,
        cpu_percent: float,
        rss_bytes: int,
        core: int | None,
        t_ns: int | None = None,
    ) -> None:
        track = self.tracks.get(worker_id)
        if track is not None:
            track.cpu_percent = cpu_percent
            track.rss_bytes = rss_bytes
            track.core = core
            if t_ns is not None:
                track.timeline.note_core(t_ns, core)

    def set_processes(self, processes: tuple[ProcessView, ...]) -> None:
        self.processes = processes
        total = sum(p.rss_bytes for p in processes)
        self.peak_rss_bytes = max(self.peak_rss_bytes, total)

    # -- totals and snapshots ----------------------------------------------------

    def gil_wait_share(self) -> float | None:
        """GIL waits over the running time measured so far (threads only; None before)."""
        if not self.gil_applies:
            return None
        running = sum(t.measured_running_ns for t in self.tracks.values())
        return sum(t.gil_ns for t in self.tracks.values()) / running if running else None

    def cpu_wait_share(self) -> float | None:
        """Waits for a free core over the running time measured so far."""
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

    def live_lag_ms(self, now_ns: int) -> float:
        """How late the loop is now: its last heartbeat's lag, or, while no heartbeat
        came for longer than a beat and a flush, the time it has been stalled since."""
        lag_ms = self.lag_last_us / 1000
        if self.last_tick_ns is not None:
            if self.ended_ns is not None:
                now_ns = min(now_ns, self.ended_ns)
            stalled_ns = now_ns - self.last_tick_ns - _LAG_ALLOWANCE_NS
            lag_ms = max(lag_ms, stalled_ns / 1e6)
        return lag_ms

    def loop_view(self, now_ns: int) -> LoopView | None:
        if self.model != "async":
            return None
        lag_ms = self.live_lag_ms(now_ns)
        return LoopView(
            in_flight=self.in_flight(),
            max_in_flight=self.max_in_flight,
            lag_ms=lag_ms,
            lag_max_ms=max(self.lag_max_us / 1000, lag_ms),
            lag_mean_ms=(self.lag_sum_us / self.lag_count / 1000) if self.lag_count else 0.0,
            requests_per_s=self.throughput(now_ns),
            blocking=self.async_mode or "",
            threads=len(self.work_threads) or None,
        )

    def worker_views(self, now_ns: int) -> tuple[WorkerView, ...]:
        views = []
        gil_applies = self.gil_applies
        settled_ns = self.settled_ns
        for track in self.tracks.values():
            running = track.running_ns(now_ns)
            measured = track.measured_running_ns
            timeline = track.timeline
            # Cells after what the worker's events (or a sample past them) confirm
            # only repeat its last known state.
            confirmed_col = timeline.column_of(max(track.since_ns, settled_ns))
            views.append(
                WorkerView(
                    worker_id=track.worker_id,
                    label=track.label,
                    state=track.state,
                    lane=timeline.lane(now_ns, track.state, track.since_ns),
                    lane_cores=timeline.lane_cores(now_ns),
                    items_done=track.done,
                    items_failed=track.failed,
                    pid=track.pid,
                    tid=track.tid,
                    cpu_percent=track.cpu_percent,
                    rss_bytes=track.rss_bytes,
                    core=track.core,
                    gil_wait_share=track.gil_ns / measured if measured and gil_applies else None,
                    cpu_wait_share=track.cpu_wait_ns / measured if measured else None,
                    busy_s=running / 1e9,
                    startup_s=track.startup_s,
                    lane_unconfirmed=max(
                        0, min(timeline.columns, timeline.column_of(now_ns) - confirmed_col)
                    ),
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

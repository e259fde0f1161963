"""Test doubles: a fake run controller and an in-process recorder.

They live here, not in the package, so nothing the user runs can show a made-up
figure. :func:`make_snapshot` is a pure function of its arguments (no clock, no
threads, no randomness beyond a seed), and :class:`FakeController` replays it on a
background thread at about 10 Hz, like the real controller does; every snapshot it
makes says in its message that it is demo data. :class:`LocalRecorder` hands each
event straight to a list, for tests of what workers record.
"""

from __future__ import annotations

import subprocess
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Any

from conc_tui.config import DEFAULT_ITEMS, RunConfig, WorkloadOptions
from conc_tui.controller import SnapshotCallback
from conc_tui.telemetry.recorder import Recorder
from conc_tui.telemetry.snapshot import (
    LockView,
    LoopView,
    Phase,
    ProcessView,
    RunResult,
    Snapshot,
    WorkerView,
)
from conc_tui.telemetry.states import Event
from conc_tui.telemetry.states import WorkerState as S

COLUMN_S = 0.1
"""Seconds one fake timeline column (and one fake step) stands for."""
LANE_COLUMNS = 120
DEMO_NOTE = "demo data from the fake controller, not a measurement"

# Items finished per worker per step, by (model, workload): only the proportions
# matter, and they follow what the real models do (threads flat on pure-Python CPU
# work, processes flat on network waits only because of their start-up cost...).
_RATE = {
    "serial": {"images": 0.05, "files": 1.0, "web": 0.1, "cpu": 0.05},
    "process": {"images": 0.05, "files": 0.6, "web": 0.08, "cpu": 0.05},
    "thread": {"images": 0.04, "files": 0.8, "web": 0.08, "cpu": 0.05},
    "async": {"images": 0.05, "files": 1.0, "web": 0.04, "cpu": 0.05},
}


def _noise(*parts: int) -> float:
    """A deterministic value in [0, 1) from integers (a small integer hash)."""
    h = 2166136261
    for part in parts:
        h = ((h ^ (part & 0xFFFFFFFF)) * 16777619) & 0xFFFFFFFF
    h ^= h >> 15
    h = (h * 2246822519) & 0xFFFFFFFF
    h ^= h >> 13
    return h / 2**32


def _state_at(model: str, workload: str, workers: int, worker: int, col: int, seed: int) -> int:
    """The state one fake worker is in during one timeline column."""
    r = _noise(seed, worker, col)
    if model == "thread":
        if workload == "cpu":
            # Only one thread runs Python at a time: a thread runs about 1/N of the time.
            return S.RUNNING if r < 1.0 / workers else S.WAIT_GIL
        if workload == "images":
            return S.RUNNING if r < 0.8 else S.WAIT_GIL
        if workload == "files":
            return S.WAIT_IO if r < 0.45 else S.WAIT_LOCK if r < 0.7 else S.RUNNING
        return S.WAIT_IO if r < 0.85 else S.RUNNING
    if model == "async":
        if workload == "web":
            return S.WAIT_IO if r < 0.9 else S.RUNNING
        # Blocking work on the loop: one task at a time runs, the rest sit idle.
        return S.RUNNING if (col // 5) % workers == worker else S.IDLE
    if model == "process":
        if workload in ("web", "files"):
            return S.WAIT_IO if r < 0.7 else S.RUNNING
        cores = 8
        return S.WAIT_CPU if workers > cores and r < 1 - cores / workers else S.RUNNING
    # serial
    if workload in ("web", "files"):
        return S.WAIT_IO if r < 0.6 else S.RUNNING
    return S.RUNNING


def _label(model: str, worker: int) -> str:
    if model in ("process",):
        return f"pid {4200 + worker}"
    if model == "async":
        return f"task {worker}"
    if model == "serial":
        return "main"
    return f"thread {worker}"


def make_snapshot(
    model: str,
    workload: str,
    workers: int,
    step: int,
    *,
    seed: int = 0,
    options: WorkloadOptions | None = None,
    phase: Phase | None = None,
    cores: int = 8,
    lane_columns: int = LANE_COLUMNS,
) -> Snapshot:
    """Build the snapshot a run would show after ``step`` steps of 0.1 s.

    Pure: the same arguments always give the same snapshot.

    Args:
        model: One of the config's models.
        workload: One of the config's workloads.
        workers: Worker count (the serial model always has one).
        step: How many 0.1 s steps have passed since the run began.
        seed: Varies the fake timelines.
        options: Workload options (only ``items`` is used).
        phase: Force a phase (e.g. FAILED); by default RUNNING until every item is
            done, then FINISHED with a result.
        cores: How many cores the fake machine has (for ``WorkerView.core``).
        lane_columns: The longest timeline kept.

    Returns:
        A frozen :class:`Snapshot`.
    """
    opts = options or WorkloadOptions()
    workers = 1 if model == "serial" else workers
    total_items = opts.items if opts.items is not None else DEFAULT_ITEMS[workload]
    items_total: int | None = None if workload == "web" else total_items
    rate = _RATE.get(model, _RATE["serial"])[workload]
    if model == "thread" and workload == "cpu":
        rate /= workers  # the GIL: N threads do the work of one
    startup_steps = 3 if model == "process" else 0
    working_steps = max(0, step - startup_steps)
    done = min(total_items, int(working_steps * rate * workers))
    failed = 1 if workload == "web" and done > 20 else 0
    finished_at = startup_steps + int(total_items / max(rate * workers, 1e-9)) + 1
    if phase is None:
        phase = Phase.FINISHED if done >= total_items else Phase.RUNNING
    elapsed = round(min(step, finished_at) * COLUMN_S, 3)

    first_col = max(0, step - lane_columns + 1)
    views: list[WorkerView] = []
    for w in range(workers):
        lane = bytearray()
        for col in range(first_col, step + 1):
            if col < startup_steps:
                lane.append(S.IDLE)
            elif col >= finished_at:
                lane.append(S.DONE)
            else:
                lane.append(_state_at(model, workload, workers, w, col, seed))
        if phase is Phase.FAILED and lane:
            lane[-1] = S.FAILED
        state = lane[-1] if lane else S.IDLE
        running_share = lane.count(S.RUNNING) / len(lane) if lane else 0.0
        gil_share = lane.count(S.WAIT_GIL) / len(lane) if model == "thread" and lane else None
        if model == "process":
            core: int | None = w % cores
        elif model in ("async", "serial"):
            core = 0
        else:
            core = int(_noise(seed, w, step // 10) * cores)
        views.append(
            WorkerView(
                worker_id=w,
                label=_label(model, w),
                state=state,
                lane=bytes(lane),
                items_done=done // workers + (1 if w < done % workers else 0),
                items_failed=1 if failed and w == 0 else 0,
                pid=4200 + w if model == "process" else 4100,
                tid=4300 + w if model == "thread" else None,
                cpu_percent=round(100 * running_share, 1),
                rss_bytes=(38 + 3 * w % 11) * 2**20 if model == "process" else None,
                core=core,
                lane_cores=bytes([255 if core is None else core]) * len(lane),
                gil_wait_share=None if gil_share is None else round(gil_share, 3),
                busy_s=round(running_share * elapsed, 2),
                startup_s=round(0.08 + 0.01 * w, 3) if model == "process" else None,
            )
        )

    processes: tuple[ProcessView, ...] = ()
    if model == "process":
        processes = tuple(
            ProcessView(
                pid=v.pid or 0,
                role="worker",
                cpu_percent=v.cpu_percent or 0.0,
                rss_bytes=v.rss_bytes or 0,
                core=v.core,
                threads=1,
            )
            for v in views
        )
    lock: LockView | None = None
    if model in ("thread", "process", "serial") and workload == "files":
        waiters = tuple(v.worker_id for v in views if v.state == S.WAIT_LOCK)
        holders = [v.worker_id for v in views if v.state == S.RUNNING]
        acquisitions = done
        contended = int(acquisitions * (0.35 if model == "thread" else 0.0))
        lock = LockView(
            holder=holders[0] if holders and phase.active else None,
            waiters=waiters if phase.active else (),
            acquisitions=acquisitions,
            contended=contended,
            total_wait_s=round(contended * 0.0021, 3),
            longest_wait_s=0.014 if contended else 0.0,
            total_hold_s=round(acquisitions * 0.0004, 3),
            locks=workers if model == "process" else 1,
        )
    loop: LoopView | None = None
    if model == "async":
        in_flight = sum(1 for v in views if v.state == S.WAIT_IO) if phase.active else 0
        blocking = "native async" if workload == "web" else "blocking the loop"
        lag = 0.4 + 3 * _noise(seed, step) if workload == "web" else 180 + 40 * _noise(seed, step)
        loop = LoopView(
            in_flight=in_flight,
            max_in_flight=max(in_flight, int(workers * 0.95)),
            lag_ms=round(lag, 1),
            lag_max_ms=round(lag * 2.5, 1),
            lag_mean_ms=round(lag * 0.8, 1),
            requests_per_s=round(rate * workers / COLUMN_S, 1),
            blocking=blocking,
            threads=1,
        )

    throughput = round(rate * workers / COLUMN_S, 1) if phase.active else 0.0
    rate_history = tuple(
        rate * workers if startup_steps <= c < finished_at else 0.0
        for c in range(first_col, step + 1)
    )
    result: RunResult | None = None
    if phase in (Phase.FINISHED, Phase.FAILED, Phase.STOPPED):
        result = RunResult(
            model=model,
            workload=workload,
            workers=workers,
            wall_s=elapsed,
            items_done=done,
            items_failed=failed,
            checksum="demo",
            throughput=round(done / elapsed, 1) if elapsed else 0.0,
            bytes_processed=done * 4096,
            cpu_s=round(elapsed * min(workers, cores) * 0.9, 2),
            mean_cores_busy=1.0,
            peak_rss_bytes=40 * 2**20,
            startup_s=startup_steps * COLUMN_S,
            status=phase.value,
            reason="the demo was told to fail" if phase is Phase.FAILED else "",
        )
    failures: tuple[tuple[str, str], ...] = (
        (("/page/17.html", "HTTP 404 Not Found"),) if failed else ()
    )
    if phase is Phase.FAILED:
        message = f"Run failed: the demo was told to fail ({DEMO_NOTE})."
    elif phase is Phase.STOPPED:
        message = f"Stopped by the user ({DEMO_NOTE})."
    else:
        message = f"Running {workload} under {model} ({DEMO_NOTE})."
    return Snapshot(
        model=model,
        workload=workload,
        workers=workers,
        phase=phase,
        elapsed_s=elapsed,
        items_total=items_total,
        items_done=done,
        items_failed=failed,
        throughput=throughput,
        column_s=COLUMN_S,
        worker_views=tuple(views),
        processes=processes,
        lock=lock,
        loop=loop,
        rate_history=rate_history,
        startup_s=startup_steps * COLUMN_S if model == "process" else None,
        message=message,
        result=result,
        input=f"demo {workload}",
        failures=failures,
    )


def make_result(
    model: str = "thread", workload: str = "cpu", wall_s: float = 1.0, **changes: Any
) -> RunResult:
    """A plausible finished result, for tests of what is said about results.

    ``changes`` override any field.
    """
    result = RunResult(
        model=model,
        workload=workload,
        workers=1 if model == "serial" else 4,
        wall_s=wall_s,
        items_done=24,
        items_failed=0,
        checksum="0123456789abcdef",
        throughput=24 / wall_s,
        bytes_processed=3 * 1024 * 1024,
        cpu_s=2.5,
        mean_cores_busy=1.5,
        peak_rss_bytes=80 * 1024 * 1024,
        startup_s=0.05,
    )
    return replace(result, **changes)


class FixedCores:
    """A core source with fixed values, for the app: no psutil, nothing timing-dependent.

    Args:
        history: The per-core busy percentages it reports, oldest first; by default
            eight samples of ``cores`` cores at 0, 25, 50, 75, 100, 0, ...
        cores: How many cores the default history has.
    """

    def __init__(
        self, history: tuple[tuple[float, ...], ...] | None = None, *, cores: int = 4
    ) -> None:
        self.calls = 0
        self._history = history or (tuple(float(25 * (i % 5)) for i in range(cores)),) * 8

    def sample(self) -> tuple[float, ...]:
        self.calls += 1
        return self._history[-1]

    def history(self) -> tuple[tuple[float, ...], ...]:
        return self._history


@dataclass
class FakeController:
    """A :class:`~conc_tui.controller.RunController` that replays :func:`make_snapshot`.

    It records what it was asked to do, so tests can assert on it.

    Args:
        interval: Seconds between snapshots (0.1 gives the real controller's 10 Hz).
        seed: Passed to :func:`make_snapshot`.
    """

    interval: float = 0.1
    seed: int = 0
    started: list[RunConfig] = field(default_factory=list)
    """Every config :meth:`start` was called with, in order."""
    stop_calls: int = 0
    closed: bool = False
    _thread: threading.Thread | None = field(default=None, repr=False)
    _stop: threading.Event = field(default_factory=threading.Event, repr=False)

    def start(self, config: RunConfig, on_snapshot: SnapshotCallback) -> None:
        """Start replaying a fake run of ``config`` (stopping any current one)."""
        config.validate()
        self._halt()
        self.started.append(config)
        self._stop = threading.Event()
        self._thread = threading.Thread(
            target=self._run,
            args=(config, on_snapshot, self._stop),
            name="fake-controller",
            daemon=True,
        )
        self._thread.start()

    def _run(self, config: RunConfig, on_snapshot: SnapshotCallback, stop: threading.Event) -> None:
        step = 0
        while True:
            stopped = stop.is_set()
            snap = make_snapshot(
                config.model,
                config.workload,
                config.workers,
                step,
                seed=self.seed,
                options=config.options,
                phase=Phase.STOPPED if stopped else None,
            )
            # Like the lab's, each snapshot says what options its run used.
            snap = replace(snap, options=config.options)
            if stopped:
                on_snapshot(snap)
                return
            on_snapshot(snap)
            if not snap.phase.active:
                return
            step += 1
            stop.wait(self.interval)

    def _halt(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=1.0)
            self._thread = None

    def request_stop(self) -> None:
        """Stop at once: a fake run has nothing to wind down."""
        self.stop()

    def stop(self) -> None:
        """Stop the current fake run; it sends a final STOPPED snapshot."""
        self.stop_calls += 1
        self._halt()

    def close(self) -> None:
        """Stop and forget everything."""
        self._halt()
        self.closed = True

    @property
    def running(self) -> bool:
        """True while a fake run is replaying."""
        return self._thread is not None and self._thread.is_alive()


class LocalRecorder(Recorder):
    """Hands each event straight to an in-process sink (a list's ``append``)."""

    def __init__(self, worker_id: int, sink: Callable[[Event], object]) -> None:
        super().__init__(worker_id)
        self._sink = sink

    def _emit(self, kind: int, value: int, extra: int) -> None:
        self._sink((time.monotonic_ns(), self.worker_id, kind, value, extra))


def pid_of_a_finished_process() -> int:
    """A pid that belonged to a process which has exited (for sweeps of leftovers)."""
    done = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"],
        capture_output=True,
        text=True,
        check=True,
    )
    return int(done.stdout.strip())

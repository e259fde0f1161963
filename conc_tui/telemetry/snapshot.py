"""Immutable snapshots of a run: everything a pane draws, and nothing it computes.

A snapshot is built by the aggregator a few times a second and may cross a process
boundary (pickled), so it holds only plain values.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import Enum
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from conc_tui.config import WorkloadOptions
    from conc_tui.messages import Preparation


class Phase(str, Enum):
    """Where a run is in its life."""

    IDLE = "idle"
    """Nothing started yet: the pane waits for Space."""
    PREPARING = "preparing"
    """Generating inputs, starting the local site, starting the pool."""
    RUNNING = "running"
    FINISHED = "finished"
    FAILED = "failed"
    STOPPED = "stopped"

    @property
    def active(self) -> bool:
        return self in (Phase.PREPARING, Phase.RUNNING)


@dataclass(frozen=True)
class WorkerView:
    """One worker: a process, a thread or an asyncio task."""

    worker_id: int
    label: str
    """Short name shown at the start of the lane: "pid 4242", "thread 3", "task 7"."""
    state: int
    """Current :class:`~conc_tui.telemetry.states.WorkerState`."""
    lane: bytes
    """One WorkerState per timeline column, oldest first; the last is the newest."""
    items_done: int = 0
    items_failed: int = 0
    pid: int | None = None
    tid: int | None = None
    cpu_percent: float | None = None
    """Of one core, from the OS, over the last sampling interval."""
    rss_bytes: int | None = None
    """Resident memory of this worker's process (processes only)."""
    core: int | None = None
    """The CPU core this worker last ran on, from the OS."""
    gil_wait_share: float | None = None
    """Share of this thread's running time spent waiting for the GIL (threads only)."""
    cpu_wait_share: float | None = None
    """Share of its running time spent waiting for a free core (runnable, not running)."""
    busy_s: float = 0.0
    """Seconds spent running (including GIL and core waits)."""
    startup_s: float | None = None
    """Seconds from pool creation until this worker was ready."""
    lane_unconfirmed: int = 0
    """How many of the lane's newest cells only repeat the last state reported (no
    event or sample has confirmed them yet)."""
    lane_cores: bytes = b""
    """The core an OS sample saw the worker on, per lane column (aligned with
    ``lane``); 255 where none did. Empty when not measured."""


@dataclass(frozen=True)
class LockView:
    """The shared log's lock, as a live object."""

    holder: int | None
    """Worker id of the current holder, if any."""
    waiters: tuple[int, ...]
    """Worker ids queued for it, longest waiting first."""
    acquisitions: int
    contended: int
    """Acquisitions that had to wait."""
    total_wait_s: float
    longest_wait_s: float
    total_hold_s: float
    locks: int = 1
    """How many distinct locks there are (one per process under multiprocessing)."""

    @property
    def contention_share(self) -> float:
        return self.contended / self.acquisitions if self.acquisitions else 0.0


@dataclass(frozen=True)
class LoopView:
    """The asyncio event loop: one thread juggling every task."""

    in_flight: int
    """Tasks waiting on the network right now ("calls on hold")."""
    max_in_flight: int
    lag_ms: float
    """How late the loop's heartbeat woke up most recently."""
    lag_max_ms: float
    lag_mean_ms: float
    requests_per_s: float
    blocking: str
    """How the workload runs on the loop: "native async", "blocking the loop", "to_thread"."""
    threads: int | None = None
    """OS threads in the process doing all of it."""


@dataclass(frozen=True)
class ProcessView:
    """One OS process of the run (the coordinator or a pool worker)."""

    pid: int
    role: str
    cpu_percent: float
    rss_bytes: int
    core: int | None
    threads: int


@dataclass(frozen=True)
class RunResult:
    """The measured outcome of a finished run; ``conc-tui run --json`` prints this."""

    model: str
    workload: str
    workers: int
    wall_s: float
    items_done: int
    items_failed: int
    checksum: str
    throughput: float
    """Items a second over the wall time."""
    bytes_processed: int
    cpu_s: float
    """CPU seconds used by the run's processes (coordinator and workers)."""
    mean_cores_busy: float
    peak_rss_bytes: int
    startup_s: float | None
    """Seconds from creating the pool until every worker was ready (None without telemetry)."""
    lock_wait_s: float | None = None
    lock_hold_s: float | None = None
    lock_acquisitions: int | None = None
    lock_contended: int | None = None
    gil_wait_share: float | None = None
    cpu_wait_share: float | None = None
    loop_lag_mean_ms: float | None = None
    loop_lag_max_ms: float | None = None
    async_mode: str | None = None
    telemetry: bool = True
    status: str = "finished"
    """"finished", "failed" (the run itself broke) or "stopped" (by the user)."""
    reason: str = ""
    failures: tuple[tuple[str, str], ...] = ()
    """Up to 20 (item key, reason) pairs of failed items."""
    input: str = ""
    server_cpu_s: float | None = None
    """CPU seconds of the server the workload started for its input (the local web
    site); not in ``cpu_s``, which counts the runner and its workers. None without one."""
    others_cores_busy: float | None = None
    """Cores other programs on the machine kept busy on average during the run."""
    machine_cores: int | None = None
    """Logical cores of the machine the run was measured on."""
    calls_on_hold_mean: float | None = None
    """Asyncio only: calls in flight on average, sampled 10 times a second."""


@dataclass(frozen=True)
class Snapshot:
    """Everything a pane shows about one run at one moment."""

    model: str
    workload: str
    workers: int
    phase: Phase
    elapsed_s: float
    items_total: int | None
    items_done: int
    items_failed: int
    throughput: float
    """Items a second over the last second."""
    column_s: float
    """Seconds each timeline column covers."""
    worker_views: tuple[WorkerView, ...] = ()
    processes: tuple[ProcessView, ...] = ()
    lock: LockView | None = None
    loop: LoopView | None = None
    rate_history: tuple[float, ...] = ()
    """Items finished per timeline column, oldest first."""
    startup_s: float | None = None
    message: str = ""
    """A sentence for the user: what is happening, or why the run failed."""
    result: RunResult | None = None
    input: str = ""
    failures: tuple[tuple[str, str], ...] = field(default=())
    cores_busy: float | None = None
    """Cores the run's processes kept busy on average so far (the OS's CPU times)."""
    others_cores_busy: float | None = None
    """Cores other programs kept busy over about the last second; None until measured."""
    preparation: Preparation | None = None
    """While preparing: the newest word on the input being made (files of the corpus
    written so far, the local site starting or ready); None once the run runs."""
    options: WorkloadOptions | None = None
    """The options the run was started with (the lab sets them): what a pane compares
    with its next run's. None where nobody set them."""

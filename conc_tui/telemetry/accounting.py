"""Whose CPU a run used: the run's whole process tree, and every other program meanwhile.

Pool workers come from a fork server, so they are not the runner's children and the
runner's own resource usage never counts them. The observer therefore polls the
runner's process tree a few times a second and keeps each process's last CPU reading,
keyed by (pid, create time) so that a reused pid is never merged with its predecessor.

A process that exits between two polls loses at most one interval of CPU, and usually
none: when its parent (in the tree) reaps it, the parent's "children" CPU counter jumps
by the child's lifetime total, which replaces the child's last reading. Processes the
workload started while preparing its input (the local web site) are the workload's
server, not workers: their CPU is counted apart.

The machine's busy time comes from ``/proc/stat`` (psutil); what the run's tree, its
server and the observer did not use of it, other programs did.
"""

from __future__ import annotations

import resource
import time
from collections import deque
from dataclasses import dataclass

import psutil

LIVE_WINDOW_S = 1.0
"""The live "other programs" figure is an average over about this long."""
FULL_SCAN_S = 1.0
EARLY_SCAN_S = 0.2
"""In a run's first seconds, when its pool starts, new members are looked for sooner:
the live cores-busy figure would otherwise miss the workers for up to a second."""
EARLY_S = 2.0
"""How often the whole process table is scanned for new members of the tree.

Finding a process's descendants means reading the parent of every process on the
machine (2.3 ms for 87 processes here, far more on a desktop with hundreds): done ten
times a second it cost the observer more than the run's own telemetry. Between scans
only the known members are read (about 45 us each). A member found late loses nothing
(its CPU counter starts at zero when it is born), and one that is born and reaped
between two scans is in its parent's children counter."""


def machine_busy_s() -> float:
    """CPU seconds every core of the machine spent busy since boot, summed over cores.

    Idle and I/O wait are not busy. Steal (time a hypervisor gave another virtual
    machine) is left out: it is not a program on this machine.
    """
    t = psutil.cpu_times()
    return float(
        t.user
        + t.system
        + getattr(t, "nice", 0.0)
        + getattr(t, "irq", 0.0)
        + getattr(t, "softirq", 0.0)
    )


def own_cpu_s() -> float:
    """CPU seconds (user + system) of the calling process, every thread included."""
    me = resource.getrusage(resource.RUSAGE_SELF)
    return me.ru_utime + me.ru_stime


@dataclass
class _Reading:
    """The last reading of one process of the tree."""

    ppid: int
    role: str
    """"runner", "server" (the workload's own helper) or "worker" (everything else)."""
    base_s: float
    """Its CPU (own + reaped children) when the window opened; 0 for a process born later."""
    own_s: float
    children_s: float
    """CPU of its children that it has reaped (they count in its total once gone)."""
    alive: bool = True

    @property
    def total_s(self) -> float:
        return self.own_s + self.children_s


@dataclass(frozen=True)
class CpuAccount:
    """The CPU a run's window saw, split by whose it was."""

    window_s: float
    """Seconds between the first and the last poll."""
    run_s: float
    """CPU of the runner and every process that worked for it."""
    server_s: float
    """CPU of the processes the workload started to serve its input (the local site)."""
    observer_s: float
    """CPU of the observing process itself."""
    machine_busy_s: float
    """Busy time of the whole machine, all cores summed."""
    processes: int
    """How many distinct processes of the run were seen."""

    @property
    def others_s(self) -> float:
        """CPU that other programs used meanwhile (never below zero)."""
        return max(0.0, self.machine_busy_s - self.run_s - self.server_s - self.observer_s)

    @property
    def others_cores(self) -> float:
        """Cores other programs kept busy on average."""
        return self.others_s / self.window_s if self.window_s > 0 else 0.0


class TreeCpuMeter:
    """Polls one run's process tree and the machine; sums CPU over a window.

    Call :meth:`open` when the run's clock starts, :meth:`poll` a few times a second,
    and :meth:`close` when it stops.
    """

    def __init__(self, root_pid: int, *, scan_interval_s: float = FULL_SCAN_S) -> None:
        self.root_pid = root_pid
        self.scan_interval_s = scan_interval_s
        self._root: psutil.Process | None = None
        self._members_known: list[psutil.Process] = []
        self._next_scan = 0.0
        self._readings: dict[tuple[int, float], _Reading] = {}
        self._pending_reaped: dict[int, float] = {}
        """Per parent pid: last readings of its children that vanished, not yet seen
        again in its children counter (they must not be counted twice)."""
        self._overlap_s = 0.0
        self._server_pids: frozenset[int] = frozenset()
        self._opened_at: float | None = None
        self._machine0 = 0.0
        self._observer0 = 0.0
        self._history: deque[tuple[float, float, float]] = deque()
        """(monotonic time, machine busy, run + server + observer CPU) per poll."""
        self.account: CpuAccount | None = None

    @property
    def opened(self) -> bool:
        return self._opened_at is not None

    def open(self, server_pids: frozenset[int] = frozenset()) -> None:
        """Start the window: every process alive now is counted from its current CPU."""
        self._server_pids = server_pids
        self._opened_at = time.monotonic()
        self._machine0 = machine_busy_s()
        self._observer0 = own_cpu_s()
        self._poll_tree(baseline=True, scan=True)
        self._remember()

    def poll(self) -> None:
        """Read every process of the tree once (about a millisecond for a few processes)."""
        if self._opened_at is None or self.account is not None:
            return
        self._poll_tree(baseline=False)
        self._remember()

    def close(self) -> CpuAccount:
        """End the window and return what it counted."""
        if self.account is not None:
            return self.account
        if self._opened_at is None:  # the run ended before its clock started
            self.account = CpuAccount(0.0, 0.0, 0.0, 0.0, 0.0, 0)
            return self.account
        self._poll_tree(baseline=False, scan=True)
        opened_at = self._opened_at
        run_s, server_s = self._sums()
        self.account = CpuAccount(
            window_s=time.monotonic() - opened_at,
            run_s=run_s,
            server_s=server_s,
            observer_s=own_cpu_s() - self._observer0,
            machine_busy_s=machine_busy_s() - self._machine0,
            processes=len(self._readings),
        )
        return self.account

    # -- live figures ------------------------------------------------------------------

    def open_s(self) -> float:
        """Seconds since the window opened (0 before)."""
        return time.monotonic() - self._opened_at if self._opened_at is not None else 0.0

    def run_cpu_s(self) -> float:
        """CPU of the run's processes since the window opened (server excluded)."""
        return self._sums()[0]

    def live_others_cores(self) -> float | None:
        """Cores other programs kept busy over about the last second; None before that."""
        if len(self._history) < 2:
            return None
        t0, busy0, ours0 = self._history[0]
        t1, busy1, ours1 = self._history[-1]
        if t1 - t0 < LIVE_WINDOW_S / 3:
            return None
        return max(0.0, (busy1 - busy0) - (ours1 - ours0)) / (t1 - t0)

    def _remember(self) -> None:
        now = time.monotonic()
        run_s, server_s = self._sums()
        observer_s = own_cpu_s() - self._observer0
        self._history.append((now, machine_busy_s(), run_s + server_s + observer_s))
        while len(self._history) > 2 and now - self._history[1][0] >= LIVE_WINDOW_S:
            self._history.popleft()

    # -- the tree ----------------------------------------------------------------------

    def _sums(self) -> tuple[float, float]:
        run_s = server_s = 0.0
        for reading in self._readings.values():
            spent = reading.total_s - reading.base_s
            if reading.role == "server":
                server_s += spent
            else:
                run_s += spent
        # A reaped child is in its parent's children counter and in its own last
        # reading; the overlap was counted twice. Helpers are reaped by the runner
        # only when the run is over, so the overlap is the workers'.
        return max(0.0, run_s - self._overlap_s), server_s

    def _members(self, *, scan: bool) -> list[psutil.Process]:
        now = time.monotonic()
        if not scan and now < self._next_scan and self._members_known:
            return self._members_known
        interval = self.scan_interval_s
        if self._opened_at is not None and now - self._opened_at < EARLY_S:
            interval = min(interval, EARLY_SCAN_S)
        self._next_scan = now + interval
        self._members_known = self._scan()
        return self._members_known

    def _scan(self) -> list[psutil.Process]:
        if self._root is None:
            try:
                self._root = psutil.Process(self.root_pid)
            except psutil.NoSuchProcess:
                return []
        try:
            return [self._root, *self._root.children(recursive=True)]
        except psutil.NoSuchProcess:
            return []

    def _poll_tree(self, *, baseline: bool, scan: bool = False) -> None:
        current: dict[tuple[int, float], tuple[int, int, float, float]] = {}
        for proc in self._members(scan=scan):
            try:
                with proc.oneshot():
                    key = (proc.pid, proc.create_time())
                    times = proc.cpu_times()
                    ppid = proc.ppid()
            except (psutil.NoSuchProcess, psutil.AccessDenied):
                continue
            children = getattr(times, "children_user", 0.0) + getattr(times, "children_system", 0.0)
            current[key] = (proc.pid, ppid, times.user + times.system, children)
        # Children that vanished first: their parent's counter may already hold them.
        for key, gone in self._readings.items():
            if gone.alive and key not in current:
                gone.alive = False
                if gone.role != "server":
                    self._pending_reaped[gone.ppid] = (
                        self._pending_reaped.get(gone.ppid, 0.0) + gone.total_s
                    )
        for key, (pid, ppid, own, children) in current.items():
            reading = self._readings.get(key)
            if reading is None:
                role = "worker"
                if pid == self.root_pid:
                    role = "runner"
                elif pid in self._server_pids or ppid in self._server_pids:
                    role = "server"
                reading = _Reading(ppid, role, own + children if baseline else 0.0, own, children)
                self._readings[key] = reading
                continue
            grown = children - reading.children_s
            pending = self._pending_reaped.get(pid, 0.0)
            if grown > 0 and pending > 0:
                absorbed = min(grown, pending)
                self._overlap_s += absorbed
                self._pending_reaped[pid] = pending - absorbed
            reading.own_s, reading.children_s = own, children

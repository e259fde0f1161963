"""What the OS says about the run's processes and threads (Linux /proc, psutil).

Each call here costs tens of microseconds, so they are made a few times a second by
one sampling loop, never per event.
"""

from __future__ import annotations

import os
import resource
from dataclasses import dataclass

import psutil

_TICK_NS = 1_000_000_000 // (os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100)


@dataclass(frozen=True)
class ThreadSched:
    """One OS thread's scheduler counters."""

    cpu_ns: int
    """CPU time the thread has used."""
    delay_ns: int
    """Time it was runnable but waiting for a core (0 where the OS does not say)."""
    core: int | None
    """The core it last ran on."""


def read_thread_sched(pid: int, tid: int) -> ThreadSched | None:
    """Read a thread's CPU time, run-queue delay and last core, or None if it is gone.

    ``/proc/<pid>/task/<tid>/schedstat`` gives CPU time and run-queue delay in ns.
    Where it is missing, the ``stat`` file's utime/stime (in clock ticks) stand in and
    the delay is unknown (0).
    """
    base = f"/proc/{pid}/task/{tid}"
    try:
        with open(f"{base}/stat", "rb") as f:
            stat = f.read()
    except OSError:
        return None
    # The command name may contain spaces and parentheses: split after the last ')'.
    fields = stat[stat.rfind(b")") + 2 :].split()
    try:
        core: int | None = int(fields[36])
    except (IndexError, ValueError):
        core = None
    try:
        with open(f"{base}/schedstat", "rb") as f:
            parts = f.read().split()
        return ThreadSched(int(parts[0]), int(parts[1]), core)
    except (OSError, IndexError, ValueError):
        try:
            ticks = int(fields[11]) + int(fields[12])
        except (IndexError, ValueError):
            return None
        return ThreadSched(ticks * _TICK_NS, 0, core)


@dataclass(frozen=True)
class ProcessSample:
    pid: int
    cpu_percent: float
    rss_bytes: int
    core: int | None
    threads: int


class ProcessSampler:
    """Samples a changing set of processes, keeping psutil handles for CPU deltas."""

    def __init__(self) -> None:
        self._handles: dict[int, psutil.Process] = {}

    def sample(self, pids: list[int]) -> list[ProcessSample]:
        samples = []
        for pid in pids:
            handle = self._handles.get(pid)
            try:
                if handle is None:
                    handle = psutil.Process(pid)
                    handle.cpu_percent(None)  # the first call only sets the baseline
                    self._handles[pid] = handle
                with handle.oneshot():
                    cpu = handle.cpu_percent(None)
                    rss = handle.memory_info().rss
                    core = handle.cpu_num() if hasattr(handle, "cpu_num") else None
                    threads = handle.num_threads()
            except (psutil.NoSuchProcess, psutil.AccessDenied, psutil.ZombieProcess):
                self._handles.pop(pid, None)
                continue
            samples.append(ProcessSample(pid, cpu, rss, core, threads))
        return samples


def cpu_seconds_self_and_children() -> tuple[float, float]:
    """CPU seconds (user + system) of this process and of its reaped children."""
    me = resource.getrusage(resource.RUSAGE_SELF)
    kids = resource.getrusage(resource.RUSAGE_CHILDREN)
    return me.ru_utime + me.ru_stime, kids.ru_utime + kids.ru_stime


def peak_rss_self_and_children() -> int:
    """The largest resident size this process or any reaped child reached (bytes)."""
    me = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    kids = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    return max(me, kids) * 1024

"""Instruments nobody in this project wrote, or that read the kernel directly.

conc-tui's figures are checked against these in ``bench_truth``. They deliberately
share no code with ``conc_tui``: the process-tree poller reads ``/proc`` itself (not
psutil, which conc-tui uses), and thread states come from py-spy, which reads the
interpreter's memory and the kernel's thread states from outside the process.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import subprocess
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


def _read_stat(pid: str) -> tuple[int, int, int] | None:
    """(parent pid, utime + stime in ticks, start time in ticks) of one process."""
    try:
        raw = Path(f"/proc/{pid}/stat").read_bytes()
    except OSError:
        return None
    fields = raw[raw.rfind(b")") + 2 :].split()
    # After the command name: state(0) ppid(1) ... utime(11) stime(12) ... starttime(19)
    return int(fields[1]), int(fields[11]) + int(fields[12]), int(fields[19])


@dataclass
class ProcTreePoller:
    """Polls the CPU time of every descendant of ``root`` from ``/proc``, 20 times a second.

    Each process's last reading is kept (keyed by pid and start time, so a reused pid
    is not merged), so a worker that exits between polls still counts up to its last
    poll. ``root`` itself (the observing CLI) is not counted.
    """

    root: int
    interval: float = 0.05
    last_ticks: dict[tuple[int, int], int] = field(default_factory=dict)
    _stop: threading.Event = field(default_factory=threading.Event)
    _thread: threading.Thread | None = None

    def poll(self) -> None:
        table: dict[int, tuple[int, int, int]] = {}
        for name in os.listdir("/proc"):
            if name.isdigit():
                stat = _read_stat(name)
                if stat is not None:
                    table[int(name)] = stat
        children: dict[int, list[int]] = {}
        for pid, (ppid, _, _) in table.items():
            children.setdefault(ppid, []).append(pid)
        stack = list(children.get(self.root, []))
        while stack:
            pid = stack.pop()
            _, ticks, start = table[pid]
            self.last_ticks[(pid, start)] = ticks
            stack.extend(children.get(pid, []))

    def _loop(self) -> None:
        while not self._stop.is_set():
            self.poll()
            time.sleep(self.interval)

    def start(self) -> ProcTreePoller:
        self._thread = threading.Thread(target=self._loop, daemon=True)
        self._thread.start()
        return self

    def stop(self) -> float:
        """Stop polling; the CPU seconds of the whole tree below ``root``."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
        return sum(self.last_ticks.values()) / CLOCK_TICKS


def pyspy_path() -> str | None:
    return shutil.which("py-spy")


@dataclass
class ThreadStates:
    """py-spy's view of some threads: how often each was seen in each state."""

    samples: int = 0
    asleep_without_gil: int = 0
    holding_gil: int = 0
    active_without_gil: int = 0
    per_thread: Counter[str] = field(default_factory=Counter)

    @property
    def asleep_share(self) -> float | None:
        return self.asleep_without_gil / self.samples if self.samples else None


def _frame_files(frames: list[dict[str, object]]) -> list[str]:
    return [str(f.get("filename") or "") for f in frames]


def sample_threads_with_pyspy(
    pid: int,
    *,
    thread_prefix: str,
    inside: str,
    exclude_frames: tuple[str, ...] = (),
    stop: threading.Event,
    states: ThreadStates,
) -> None:
    """Dump ``pid``'s threads with py-spy until ``stop`` is set, counting thread states.

    Counts only threads whose name starts with ``thread_prefix`` and whose stack has a
    frame from a file ending with ``inside`` (the workload's code: the thread is doing
    an item), and skips samples with a frame whose function name is in
    ``exclude_frames`` (e.g. ``acquire``: asleep on the log's lock, not on the GIL).
    ``--nonblocking`` reads without pausing the process, so the sampling does not
    change what it measures (beyond taking some CPU of its own).
    """
    exe = pyspy_path()
    assert exe is not None
    while not stop.is_set():
        done = subprocess.run(
            [exe, "dump", "--pid", str(pid), "--nonblocking", "--json"],
            capture_output=True,
            text=True,
        )
        if done.returncode != 0:
            time.sleep(0.02)
            continue
        try:
            threads = json.loads(done.stdout)
        except json.JSONDecodeError:
            continue
        for thread in threads:
            name = str(thread.get("thread_name") or "")
            if not name.startswith(thread_prefix):
                continue
            frames = thread.get("frames") or []
            if not any(f.endswith(inside) for f in _frame_files(frames)):
                continue
            if any(str(f.get("name")) in exclude_frames for f in frames):
                continue
            states.samples += 1
            states.per_thread[name] += 1
            if thread.get("owns_gil"):
                states.holding_gil += 1
            elif thread.get("active"):
                states.active_without_gil += 1
            else:
                states.asleep_without_gil += 1


def children_of(pid: int) -> list[tuple[int, str]]:
    """Direct children of ``pid`` with their command lines, from /proc."""
    out = []
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        stat = _read_stat(name)
        if stat is None or stat[0] != pid:
            continue
        try:
            cmdline = Path(f"/proc/{name}/cmdline").read_bytes().replace(b"\0", b" ").decode()
        except OSError:
            continue
        out.append((int(name), cmdline))
    return out


def find_runner(cli_pid: int, timeout: float = 20.0) -> int | None:
    """The CLI's runner process: its spawned child that is not a resource tracker."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for pid, cmdline in children_of(cli_pid):
            if "spawn_main" in cmdline and "resource_tracker" not in cmdline:
                return pid
        time.sleep(0.01)
    return None


class CpuHogs:
    """Pure-Python busy loops in separate processes, bounded in time: a busy machine."""

    def __init__(self, count: int, seconds: float) -> None:
        self.processes = [
            subprocess.Popen(
                ["timeout", str(int(seconds)), "python3", "-c", "while 1: pass"],
                start_new_session=True,
            )
            for _ in range(count)
        ]

    def __enter__(self) -> CpuHogs:
        return self

    def __exit__(self, *exc: object) -> None:
        for p in self.processes:
            # `timeout` leads its own session: kill it and the loop it started.
            with contextlib.suppress(ProcessLookupError):
                os.killpg(p.pid, signal.SIGKILL)
            p.wait()

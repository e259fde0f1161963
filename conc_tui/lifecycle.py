"""Process lifecycle: who starts whom, who notices a death, who cleans up after it.

A run is a tree of processes: the observer (the CLI, or a lab under the app), the
runner it spawns, and what the runner starts (a fork server and its pool workers, a
local web site), with a multiprocessing resource tracker beside them. The promise is
that whatever dies, the rest of that run is gone within a second or two:

- every process of a run watches the one it serves (:func:`exit_with`), by pid, not by
  "my parent" (a pool worker's parent is the fork server, which never exits while a
  worker holds its client's pipe, so each would wait for the other for good);
- a lab leads its own process group (:func:`start_group_leader`), so one
  :func:`kill_group` ends what a run started;
- run folders carry their owner's pid, so a later start sweeps what a killed process
  left (:func:`remove_orphaned_run_dirs`).

No Textual here.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import select
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import IO

import psutil

# Re-exported: its home is psutil-free, for the workloads that run in subinterpreters.
from conc_tui.pids import process_alive as process_alive

RUN_PREFIX = "conc-tui-run-"
WATCH_POLL_S = 0.1
"""How often a watcher polls where the kernel cannot tell it (no pidfd)."""
TRACKER_GRACE_S = 0.5
"""How long a resource tracker gets to unlink what the killed processes left behind."""
HANGUP_DEADLINE_S = 1.5
"""The longest a process whose terminal hung up spends stopping its runs."""
_PR_SET_PDEATHSIG = 1
EXIT_OWNER_GONE = 70
"""Exit status of a process that left because the process it served died."""


# -- run folders ---------------------------------------------------------------------


def new_run_dir() -> Path:
    """A fresh folder for one run's outputs and logs, owned by this process."""
    return Path(tempfile.mkdtemp(prefix=f"{RUN_PREFIX}{os.getpid()}-"))


def remove_run_dirs_of(pid: int) -> None:
    """Delete the run folders a (dead) process created; its finally-blocks never ran."""
    for path in Path(tempfile.gettempdir()).glob(f"{RUN_PREFIX}{pid}-*"):
        shutil.rmtree(path, ignore_errors=True)


def remove_orphaned_run_dirs() -> int:
    """Delete run folders whose owning process is gone; return how many were removed."""
    removed = 0
    for path in Path(tempfile.gettempdir()).glob(f"{RUN_PREFIX}*"):
        pid_text = path.name[len(RUN_PREFIX) :].split("-", 1)[0]
        if not pid_text.isdigit() or process_alive(int(pid_text)):
            continue
        shutil.rmtree(path, ignore_errors=True)
        removed += 1
    return removed


# -- liveness --------------------------------------------------------------------------


def _wait_for_exit(pid: int) -> None:
    """Block until ``pid`` has exited (a zombie counts), however it died."""
    try:
        fd = os.pidfd_open(pid)
    except (AttributeError, OSError):
        fd = -1
    if fd >= 0:
        # The kernel wakes us the moment the process exits: no polling delay, even
        # on a busy machine where a polling thread would wait for its time slice.
        try:
            select.select([fd], [], [])
        finally:
            os.close(fd)
        return
    while process_alive(pid):
        time.sleep(WATCH_POLL_S)


def watch(
    pid: int, on_gone: Callable[[], object], name: str = "conc-tui-watch"
) -> threading.Thread:
    """Call ``on_gone`` (on a daemon thread) once process ``pid`` has exited."""

    def run() -> None:
        _wait_for_exit(pid)
        on_gone()

    thread = threading.Thread(target=run, name=name, daemon=True)
    thread.start()
    return thread


def exit_with(pid: int, *, parent_thread_lives: bool = False) -> None:
    """Leave at once when process ``pid`` dies, so no part of a run outlives it.

    For the processes a run starts: the runner watches its observer, a pool worker its
    runner. ``os._exit``: cleanup is the owner's job, and the owner is gone.

    Args:
        pid: The process this one serves.
        parent_thread_lives: ``pid`` is this process's parent, and the thread that
            started this process lives as long as this process should: then the
            kernel is asked to kill it too (:func:`die_with_parent`), which needs no
            GIL and no time slice.
    """
    if parent_thread_lives:
        die_with_parent(pid)
    if not process_alive(pid):
        os._exit(EXIT_OWNER_GONE)
    watch(pid, lambda: os._exit(EXIT_OWNER_GONE), name=f"conc-tui-exit-with-{pid}")


def die_with_parent(parent_pid: int) -> None:
    """Ask Linux to SIGKILL this process when the thread that started it ends.

    A second line of defence next to :func:`exit_with`, which needs the GIL to act:
    the kernel does not. Beware that it fires on the death of the parent *thread*, so
    use it only where the starting thread lives as long as the child should.
    """
    if not sys.platform.startswith("linux"):
        return
    with contextlib.suppress(OSError, AttributeError):
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(_PR_SET_PDEATHSIG, int(signal.SIGKILL), 0, 0, 0)
    if os.getppid() != parent_pid:  # it died before the request was in place
        os._exit(EXIT_OWNER_GONE)


# -- process groups --------------------------------------------------------------------


def start_group_leader(
    argv: Sequence[str],
    stdin: int | IO[bytes] | None,
    stdout: int | IO[bytes] | None,
    stderr: int | IO[bytes] | None,
) -> subprocess.Popen[bytes]:
    """Start ``argv`` leading a new session (and so its own process group).

    Terminal signals do not reach it, and one :func:`kill_group` of its pid ends it and
    everything it starts.
    """
    return subprocess.Popen(
        list(argv), stdin=stdin, stdout=stdout, stderr=stderr, start_new_session=True
    )


def _is_resource_tracker(process: psutil.Process) -> bool:
    try:
        return any("multiprocessing.resource_tracker" in part for part in process.cmdline())
    except (psutil.NoSuchProcess, psutil.AccessDenied, psutil.ZombieProcess):
        return False


def group_members(pgid: int, exclude: int | None = None) -> list[psutil.Process]:
    """The live processes of one process group (a run's lab and everything it started)."""
    members: list[psutil.Process] = []
    for pid in psutil.pids():
        if pid == exclude:
            continue
        try:
            if os.getpgid(pid) == pgid:
                members.append(psutil.Process(pid))
        except (ProcessLookupError, PermissionError, psutil.NoSuchProcess):
            continue
    return members


def kill_group(pgid: int, *, exclude: int | None = None) -> int:
    """SIGKILL every process of a group, letting its resource trackers clean up first.

    A multiprocessing resource tracker unlinks the named semaphores (``/dev/shm/sem.*``)
    of processes that died without doing it themselves, and exits once every process
    that used it is gone. Killing it together with the rest would leak those files, so
    it is spared until the others are dead, then given :data:`TRACKER_GRACE_S`.

    Args:
        pgid: The process group (a lab's pid: it leads its own session).
        exclude: A pid to leave alone (the calling lab itself).

    Returns:
        How many processes were signalled.
    """
    members = group_members(pgid, exclude)
    trackers = [p for p in members if _is_resource_tracker(p)]
    others = [p for p in members if p not in trackers]
    for process in others:
        with contextlib.suppress(psutil.NoSuchProcess):
            process.kill()
    wait_dead(others, timeout=1.0)
    if trackers and exclude is None:
        # Every holder of the trackers' pipe is gone now, so they see EOF and finish.
        for process in wait_dead(trackers, timeout=TRACKER_GRACE_S):
            with contextlib.suppress(psutil.NoSuchProcess):
                process.kill()
    return len(members)


def wait_dead(processes: list[psutil.Process], timeout: float) -> list[psutil.Process]:
    """Wait until each process has exited; return the ones still running at the timeout.

    A zombie counts as dead: its files are closed, and who reaps it (its parent, or
    init for orphans, which in some containers never does) is not worth waiting for.
    """
    deadline = time.monotonic() + timeout
    alive = list(processes)
    while alive:
        still: list[psutil.Process] = []
        for process in alive:
            try:
                if process.status() != psutil.STATUS_ZOMBIE:
                    still.append(process)
            except psutil.NoSuchProcess:
                pass
        alive = still
        if not alive or time.monotonic() >= deadline:
            break
        time.sleep(0.01)
    return alive


# -- saying what died ------------------------------------------------------------------


def _duration(seconds: float) -> str:
    if seconds < 1.0:
        return f"{seconds * 1000:.0f} ms"
    return f"{seconds:.1f} s"


def describe_exit(what: str, code: int | None, elapsed_s: float) -> str:
    """One phrase for a process that ended when it should not have.

    Args:
        what: The process, as the user knows it ("the lab process").
        code: Its exit status, negative for a signal (as :mod:`subprocess` gives it).
        elapsed_s: How long the run had been going.
    """
    after = _duration(elapsed_s)
    if code is None:
        return f"{what} vanished after {after}"
    if code < 0:
        try:
            name = signal.Signals(-code).name
        except ValueError:
            name = f"signal {-code}"
        return f"{what} was killed ({name}) after {after}"
    return f"{what} exited with status {code} after {after}"


# -- what child processes print ---------------------------------------------------------


@contextlib.contextmanager
def tracebacks_as_one_line(prog: str) -> Iterator[None]:
    """Fold tracebacks that this process and its children print on stderr to one line.

    For output meant for programs (``--json``): a crashed run's reason is already in
    the document, and stderr gets ``prog: <the exception line>`` instead of a
    traceback. Anything else printed meanwhile is passed on unchanged.
    """
    sys.stderr.flush()
    saved = os.dup(2)
    with tempfile.TemporaryFile() as captured:
        os.dup2(captured.fileno(), 2)
        try:
            yield
        finally:
            sys.stderr.flush()
            os.dup2(saved, 2)
            os.close(saved)
            captured.seek(0)
            text = captured.read().decode(errors="replace")
            sys.stderr.write(_fold_tracebacks(text, prog))
            sys.stderr.flush()


def _fold_tracebacks(text: str, prog: str) -> str:
    out: list[str] = []
    in_traceback = False
    for line in text.splitlines():
        if line.startswith("Traceback (most recent call last):"):
            in_traceback = True
        elif in_traceback and line and not line.startswith((" ", "\t")):
            # The first unindented line after the frames names the exception.
            out.append(f"{prog}: {line}")
            in_traceback = False
        elif not in_traceback:
            out.append(line)
    return "".join(f"{line}\n" for line in out)


# -- a terminal that went away ---------------------------------------------------------


def leave_now(
    shutdown: Callable[[], object], exit_code: int, deadline_s: float = HANGUP_DEADLINE_S
) -> None:
    """Run ``shutdown`` on a fresh thread, then end the process, however that went.

    For a process whose terminal is gone: its main thread may be blocked for good (a
    UI writing into a queue whose consumer died on EIO), so neither the shutdown nor
    the exit may depend on it. Should ``shutdown`` itself hang, the process leaves
    after ``deadline_s`` anyway. Returns at once; only the first call counts.
    """
    with _leaving_lock:
        if _leaving.is_set():
            return
        _leaving.set()

    def finish() -> None:
        try:
            shutdown()
        finally:
            os._exit(exit_code)

    last_resort = threading.Timer(deadline_s, os._exit, (exit_code,))
    last_resort.daemon = True
    last_resort.start()
    threading.Thread(target=finish, name="conc-tui-leave", daemon=True).start()


_leaving = threading.Event()
_leaving_lock = threading.Lock()


def exit_by(deadline_s: float, shutdown: Callable[[], object], exit_code: int) -> None:
    """Make sure the process is gone ``deadline_s`` from now, however its exit goes.

    The graceful way out runs as usual; should the process still be here at the
    deadline (its main thread blocked on a terminal that went away), :func:`leave_now`
    ends it. A daemon timer: a process that exited in time never sees it fire.
    """
    timer = threading.Timer(deadline_s, leave_now, (shutdown, exit_code, TRACKER_GRACE_S))
    timer.daemon = True
    timer.start()

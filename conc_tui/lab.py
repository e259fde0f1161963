"""The lab: each run lives in a child process that streams snapshots back.

The UI process never runs a workload. It starts ``python -m conc_tui lab`` with
pipes: the run's config goes in on stdin (then "stop" lines), snapshots come back
on stdout as length-prefixed pickles, and anything the run prints goes to a log
file. So the UI keeps its GIL to itself, pools are created in a process whose
stderr is a real file, and one ``killpg`` ends every process a run started.

No Textual here: the app wraps :class:`LabController` and posts messages.
"""

from __future__ import annotations

import contextlib
import os
import pickle
import shutil
import signal
import struct
import subprocess
import sys
import threading
import time
import traceback
from dataclasses import replace
from pathlib import Path
from typing import IO

from conc_tui.config import ConfigError, RunConfig
from conc_tui.controller import SnapshotCallback
from conc_tui.lifecycle import (
    describe_exit,
    kill_group,
    new_run_dir,
    remove_run_dirs_of,
    start_group_leader,
)
from conc_tui.telemetry.snapshot import Phase, Snapshot
from conc_tui.workloads.base import WorkloadError

_FRAME = struct.Struct("<I")
STOP_GRACE_S = 0.7
"""How long a run gets to stop cleanly before its process group is killed."""
CLOSE_GRACE_S = 0.1
"""The same, when the app quits: the user is waiting, and the kill path is clean too."""
ORPHAN_GRACE_S = 0.3
"""How long a lab whose UI died waits for its run to stop before killing its group
(nobody is left to see a clean stop; the whole run must be gone within 2 s)."""


def error_snapshot(config: RunConfig, phase: Phase, message: str) -> Snapshot:
    """A snapshot that only says what happened (the run could not start, or died)."""
    return Snapshot(
        model=config.model,
        workload=config.workload,
        workers=config.workers,
        phase=phase,
        elapsed_s=0.0,
        items_total=None,
        items_done=0,
        items_failed=0,
        throughput=0.0,
        column_s=0.1,
        message=message,
        options=config.options,
    )


# -- the child side ------------------------------------------------------------------


def lab_main() -> int:
    """Entry point of ``conc-tui lab`` (started by :class:`LabController`)."""
    # fd 1 carries the snapshot stream; everything printed goes to stderr (the log).
    stream = os.fdopen(os.dup(1), "wb", buffering=0)
    os.dup2(2, 1)
    config = RunConfig.from_json(sys.stdin.readline())
    stop = threading.Event()
    write_lock = threading.Lock()

    def send(snapshot: Snapshot) -> None:
        # Each snapshot says what options its run used: the pane compares them with
        # the next run's to tell what Space would start.
        snapshot = replace(snapshot, options=config.options)
        blob = pickle.dumps(snapshot, protocol=pickle.HIGHEST_PROTOCOL)
        try:
            with write_lock:
                stream.write(_FRAME.pack(len(blob)) + blob)
        except (BrokenPipeError, OSError):
            stop.set()  # nobody is watching any more

    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    threading.Thread(target=_watch_stdin, args=(stop,), daemon=True).start()

    from conc_tui.engine import execute

    try:
        execute(config, on_snapshot=send, stop=stop)
    except (ConfigError, WorkloadError) as exc:
        send(error_snapshot(config, Phase.FAILED, str(exc)))
    except Exception as exc:
        traceback.print_exc()
        send(error_snapshot(config, Phase.FAILED, f"the run crashed: {exc}"))
    return 0


def _watch_stdin(stop: threading.Event) -> None:
    """Stop on a "stop" line, and when the UI is gone (stdin closes)."""
    for line in sys.stdin:
        if line.strip() == "stop":
            stop.set()
    stop.set()
    # The UI died: give the run a moment to end cleanly, then leave no matter what.
    timer = threading.Timer(ORPHAN_GRACE_S, _kill_own_group)
    timer.daemon = True
    timer.start()


def _kill_own_group() -> None:
    """Last resort when the UI is gone and the run would not stop."""
    try:
        # This process is spared: it still holds the resource tracker's pipe, and its
        # exit is what lets the tracker clean up and leave.
        kill_group(os.getpgid(0), exclude=os.getpid())
        remove_run_dirs_of(os.getpid())
    finally:
        os._exit(1)


# -- the UI side ---------------------------------------------------------------------


class LabController:
    """Runs one pane's runs, each in a fresh lab process.

    Args:
        log_dir: Where the labs' logs go. By default a run folder of this process
            (``conc-tui-run-<pid>-*`` in the temp folder), deleted by :meth:`close`
            and, should this process be killed, by the next start's orphan sweep.
    """

    def __init__(self, log_dir: Path | None = None) -> None:
        self._log_dir = log_dir
        self._own_log_dir: Path | None = None
        self._process: subprocess.Popen[bytes] | None = None
        self._reader: threading.Thread | None = None
        self._finished = threading.Event()
        self._stopping = False
        self._stop_asked = 0.0
        self._started = 0.0
        self._lock = threading.Lock()
        self._switch: threading.Thread | None = None
        self.log_path: Path | None = None

    @property
    def running(self) -> bool:
        """True while a run is being started, or its lab lives and has not finished."""
        if self._switch is not None and self._switch.is_alive():
            return True
        process = self._process
        return process is not None and process.poll() is None and not self._finished.is_set()

    def _logs(self) -> Path:
        if self._log_dir is not None:
            return self._log_dir
        if self._own_log_dir is None or not self._own_log_dir.is_dir():
            self._own_log_dir = new_run_dir()
        return self._own_log_dir

    def start(self, config: RunConfig, on_snapshot: SnapshotCallback) -> None:
        """Start a run in a new lab process (stopping the current one first).

        With a run still live, stopping it takes up to a grace period, so the switch
        happens on a background thread and this returns at once (the caller is the
        UI's event loop); a failure to start is then reported as a FAILED snapshot.

        Raises:
            OSError: no run was live, and the log folder cannot be written or the
                process cannot start.
        """
        self._wait_for_switch()
        process = self._process
        if process is not None and process.poll() is None:
            self.request_stop()
            self._switch = threading.Thread(
                target=self._switch_to,
                args=(config, on_snapshot),
                name="conc-tui-lab-switch",
                daemon=True,
            )
            self._switch.start()
            return
        self.stop()
        self._spawn(config, on_snapshot)

    def _wait_for_switch(self) -> None:
        switch = self._switch
        if switch is not None:
            switch.join(timeout=STOP_GRACE_S + 2)
            self._switch = None

    def _switch_to(self, config: RunConfig, on_snapshot: SnapshotCallback) -> None:
        self.stop()
        try:
            self._spawn(config, on_snapshot)
        except OSError as exc:
            on_snapshot(error_snapshot(config, Phase.FAILED, f"could not start the run: {exc}"))

    def _spawn(self, config: RunConfig, on_snapshot: SnapshotCallback) -> None:
        with self._lock:
            self.log_path = self._logs() / f"lab-{config.model}-{config.workload}.log"
            with open(self.log_path, "ab") as log:
                process = start_group_leader(
                    [sys.executable, "-m", "conc_tui", "lab"],
                    stdin=subprocess.PIPE,
                    stdout=subprocess.PIPE,
                    stderr=log,
                )
            self._started = time.monotonic()
            assert process.stdin is not None and process.stdout is not None
            self._process = process
            self._finished = threading.Event()
            self._stopping = False
            try:
                process.stdin.write((config.to_json() + "\n").encode())
                process.stdin.flush()
            except (BrokenPipeError, OSError):
                pass  # the lab died at once; the reader reports it with its exit status
            self._reader = threading.Thread(
                target=self._read,
                args=(process, process.stdout, config, on_snapshot, self._finished),
                name="conc-tui-lab-reader",
                daemon=True,
            )
            self._reader.start()

    def request_stop(self) -> None:
        """Ask the run to stop, without waiting."""
        process = self._process
        if process is None or process.poll() is not None:
            return
        if not self._stopping:
            self._stop_asked = time.monotonic()
        self._stopping = True
        try:
            assert process.stdin is not None
            process.stdin.write(b"stop\n")
            process.stdin.flush()
        except (BrokenPipeError, OSError, ValueError):
            pass

    def stop(self, timeout: float = STOP_GRACE_S) -> None:
        """Stop the run: cleanly if it can within ``timeout``, else kill its processes."""
        process = self._process
        if process is None:
            return
        self.request_stop()
        # The grace counts from the request: when the app asked every pane at once,
        # the later panes have already had their time while the first one waited.
        left = timeout - (time.monotonic() - self._stop_asked)
        with contextlib.suppress(subprocess.TimeoutExpired):
            process.wait(timeout=max(0.0, left))
        # Whatever is left of the group (a slow worker, the local site) goes now; the
        # lab leads its own session, so its pid is the group id.
        kill_group(process.pid)
        with contextlib.suppress(subprocess.TimeoutExpired):
            process.wait(timeout=1)
        # A killed lab never ran the engine's cleanup of its run folder.
        remove_run_dirs_of(process.pid)
        if process.stdin is not None:
            with contextlib.suppress(OSError):
                process.stdin.close()
        if self._reader is not None:
            self._reader.join(timeout=1)
        self._process = None

    def close(self) -> None:
        """Stop the run quickly and delete this controller's log folder."""
        self.request_stop()
        self._wait_for_switch()
        self.stop(timeout=CLOSE_GRACE_S)
        if self._own_log_dir is not None:
            shutil.rmtree(self._own_log_dir, ignore_errors=True)
            self._own_log_dir = None

    def _read(
        self,
        process: subprocess.Popen[bytes],
        stdout: IO[bytes],
        config: RunConfig,
        on_snapshot: SnapshotCallback,
        finished: threading.Event,
    ) -> None:
        last: Snapshot | None = None
        try:
            while True:
                header = stdout.read(_FRAME.size)
                if len(header) < _FRAME.size:
                    break
                (size,) = _FRAME.unpack(header)
                blob = stdout.read(size)
                if len(blob) < size:
                    break
                last = pickle.loads(blob)
                if last.phase not in (Phase.PREPARING, Phase.RUNNING):
                    finished.set()
                on_snapshot(last)
        finally:
            stdout.close()
        if finished.is_set():
            # The lab exits right after its final snapshot: reap it, leave no zombie.
            with contextlib.suppress(subprocess.TimeoutExpired):
                process.wait(timeout=STOP_GRACE_S)
            return
        finished.set()
        code = process.wait()
        elapsed = time.monotonic() - self._started
        if self._stopping:
            message = "stopped"
            phase = Phase.STOPPED
        else:
            died = describe_exit("the run's lab process", code, elapsed)
            message = f"{died}; its log is {self.log_path}"
            phase = Phase.FAILED
        base = last if last is not None else error_snapshot(config, phase, message)
        on_snapshot(replace(base, phase=phase, message=message, elapsed_s=elapsed))
        if not self._stopping:
            # What the dead lab started would leave by itself (each part watches the
            # one it serves); killing the group now makes that immediate.
            kill_group(process.pid)
            remove_run_dirs_of(process.pid)

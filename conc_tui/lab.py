"""The lab: each run lives in a child process that streams snapshots back.

The UI process never runs a workload. It starts ``python -m conc_tui lab`` with
pipes: the run's config goes in on stdin (then "stop" lines), snapshots come back
on stdout as length-prefixed pickles, and anything the run prints goes to a log
file. So the UI keeps its GIL to itself, pools are created in a process whose
stderr is a real file, and one ``killpg`` ends every process a run started.

No Textual here: the app wraps :class:`LabController` and posts messages.
"""

from __future__ import annotations

import os
import pickle
import signal
import struct
import subprocess
import sys
import threading
import traceback
from pathlib import Path
from typing import IO

from conc_tui.config import ConfigError, RunConfig
from conc_tui.controller import SnapshotCallback
from conc_tui.telemetry.snapshot import Phase, Snapshot
from conc_tui.workloads.base import WorkloadError

_FRAME = struct.Struct("<I")
STOP_GRACE_S = 0.7
"""How long a run gets to stop cleanly before its process group is killed."""


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
    threading.Timer(STOP_GRACE_S * 2, _kill_own_group).start()


def _kill_own_group() -> None:
    try:
        os.killpg(os.getpgid(0), signal.SIGKILL)
    finally:
        os._exit(1)


# -- the UI side ---------------------------------------------------------------------


class LabController:
    """Runs one pane's runs, each in a fresh lab process."""

    def __init__(self, log_dir: Path | None = None) -> None:
        self._log_dir = log_dir
        self._process: subprocess.Popen[bytes] | None = None
        self._reader: threading.Thread | None = None
        self._finished = threading.Event()
        self._stopping = False
        self._lock = threading.Lock()
        self.log_path: Path | None = None

    @property
    def running(self) -> bool:
        process = self._process
        return process is not None and process.poll() is None and not self._finished.is_set()

    def start(self, config: RunConfig, on_snapshot: SnapshotCallback) -> None:
        self.stop()
        with self._lock:
            log_dir = self._log_dir or Path(os.environ.get("TMPDIR", "/tmp"))
            self.log_path = log_dir / f"lab-{config.model}-{os.getpid()}.log"
            with open(self.log_path, "ab") as log:
                process = subprocess.Popen(
                    [sys.executable, "-m", "conc_tui", "lab"],
                    stdin=subprocess.PIPE,
                    stdout=subprocess.PIPE,
                    stderr=log,
                    # Its own process group: terminal signals do not reach the run, and
                    # one killpg ends the lab, its pool workers and its local site.
                    start_new_session=True,
                )
            assert process.stdin is not None and process.stdout is not None
            process.stdin.write((config.to_json() + "\n").encode())
            process.stdin.flush()
            self._process = process
            self._finished = threading.Event()
            self._stopping = False
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
        try:
            process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            pass
        # Whatever is left of the group (a slow worker, the local site) goes now.
        try:
            os.killpg(process.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass
        try:
            process.wait(timeout=1)
        except subprocess.TimeoutExpired:
            pass
        if process.stdin is not None:
            try:
                process.stdin.close()
            except OSError:
                pass
        if self._reader is not None:
            self._reader.join(timeout=1)
        self._process = None

    def close(self) -> None:
        self.stop()

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
            return
        finished.set()
        code = process.wait()
        if self._stopping:
            message = "stopped"
            phase = Phase.STOPPED
        else:
            message = (
                f"the lab process ended unexpectedly (exit status {code}); "
                f"its log is {self.log_path}"
            )
            phase = Phase.FAILED
        base = last if last is not None else error_snapshot(config, phase, message)
        from dataclasses import replace

        on_snapshot(replace(base, phase=phase, message=message))

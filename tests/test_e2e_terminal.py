"""Every way out of the app, in a real terminal (tmux), with runs live in all panes.

Each test starts ``python -m conc_tui`` under ``tui-drive`` with its own TMPDIR,
starts a run in panes 1, 2 and 3 (processes on images, threads on files, asyncio on
the local site: a lab, a runner, pool workers, resource trackers and a web server),
then leaves by a key or a signal. It asserts what ``tui-drive`` reports (exited within
the bound, terminal restored, no descendant alive) and that no temporary file or
named semaphore is left behind.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
TUI_DRIVE = Path(os.environ.get("TUI_DRIVE", ROOT.parent / "shared" / "tools" / "tui-drive"))
START_ALL = "Space 2 Space 3 Space sleep:3"
"""Start a run in every pane, then give the runs time to get going."""
LONG_RUNS = ["--items", "400", "--io-latency", "100", "--latency", "1000"]
"""Slow enough that no run finishes before the test quits, with small inputs (the
400-file corpus is 29 MB; 5,000 files would be 360 MB to generate)."""

pytestmark = [
    pytest.mark.skipif(shutil.which("tmux") is None, reason="tmux is not installed"),
    pytest.mark.skipif(not TUI_DRIVE.exists(), reason="tui-drive is not available"),
    pytest.mark.skipif(sys.platform != "linux", reason="reads /proc"),
]


class SemaphoreWatch:
    """Collects the named semaphores that the processes of one test have mapped.

    Only processes whose environment carries this test's TMPDIR count, so semaphores
    of other programs running at the same time are never blamed on the app.
    """

    def __init__(self, tmp: Path) -> None:
        self.marker = f"TMPDIR={tmp}".encode()
        self.seen: set[str] = set()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self) -> SemaphoreWatch:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()

    def _run(self) -> None:
        while not self._stop.wait(0.2):
            for entry in Path("/proc").iterdir():
                if not entry.name.isdigit():
                    continue
                try:
                    if self.marker not in (entry / "environ").read_bytes():
                        continue
                    maps = (entry / "maps").read_text()
                except OSError:
                    continue
                self.seen.update(re.findall(r"/dev/shm/(sem\.mp-\S+)", maps))

    def leaked(self) -> list[str]:
        """The semaphores seen in use that still exist in /dev/shm."""
        return sorted(name for name in self.seen if Path("/dev/shm", name).exists())


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


def _drive(tmp: Path, quit_args: list[str], quit_wait: float) -> tuple[int, str]:
    env_cmd = ["env", f"TMPDIR={tmp}", f"PYTHONPATH={ROOT}", sys.executable]
    cmd = [
        sys.executable,
        str(TUI_DRIVE),
        "--cols",
        "160",
        "--rows",
        "48",
        "--wait",
        "2.5",
        "--keys",
        START_ALL,
        "--key-delay",
        "0.3",
        "--quit-wait",
        str(quit_wait),
        *quit_args,
        "--",
        *env_cmd,
        "-m",
        "conc_tui",
        *LONG_RUNS,
    ]
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=60, cwd=ROOT)
    return done.returncode, done.stdout + done.stderr


def _family(report: str) -> list[int]:
    """The pids tui-drive listed before quitting (the app and every descendant)."""
    block = report.split("processes before quit:", 1)[1].split("exited:", 1)[0]
    return [int(m) for m in re.findall(r"^\s+(\d+) ", block, re.MULTILINE)]


def _check_family(report: str) -> None:
    family = _family(report)
    # The point of the test is that these existed: a lab per pane, its runner, pool
    # workers and resource trackers (the local site too, unless a busy machine had not
    # started it yet; when it is listed, it is checked like the rest).
    assert len(family) >= 8, report
    listed = report.split("processes before quit:", 1)[1].split("exited:", 1)[0]
    assert listed.count("conc_tui lab") >= 2, report  # a busy CI may be slow to start one
    assert "resource_tracker" in report and "spawn_main" in report, report


@pytest.mark.parametrize(
    "quit_args",
    [
        ["--quit", "q"],
        ["--quit", "C-q"],
        ["--quit", "C-c"],
        ["--signal", "TERM"],
        ["--signal", "HUP"],
        ["--signal", "INT"],
    ],
    ids=["q", "ctrl+q", "ctrl+c", "SIGTERM", "SIGHUP", "SIGINT"],
)
def test_every_way_out_is_fast_and_clean(quit_args: list[str], tmp_path: Path) -> None:
    with SemaphoreWatch(tmp_path) as semaphores:
        # tui-drive waits 0.2 s after a quit key, then polls every 0.1 s up to this
        # bound: "exited: True" means the app was gone within 1 s of the key or signal.
        code, report = _drive(tmp_path, quit_args, quit_wait=1.0)
    _check_family(report)
    assert "exited: True" in report, report
    assert "alternate screen off, cursor visible, mouse tracking off" in report, report
    assert "survivors: 0" in report, report
    assert code == 0, report
    assert list(tmp_path.iterdir()) == [], "temporary files were left behind"
    # The pools' queues use named semaphores: the proof that this check can fail.
    assert semaphores.seen, "no semaphore was seen in use"
    assert semaphores.leaked() == [], "named semaphores were left in /dev/shm"


def test_sigkill_of_the_ui_ends_every_child_and_the_next_start_sweeps(tmp_path: Path) -> None:
    _code, report = _drive(tmp_path, ["--signal", "KILL"], quit_wait=1.0)
    _check_family(report)
    family = _family(report)
    ui = family[0]
    assert not _alive(ui)
    # tui-drive has already spent about 0.6 s after the kill; the rest of 2 s is here.
    deadline = time.monotonic() + 1.4
    survivors = [p for p in family if _alive(p)]
    while survivors and time.monotonic() < deadline:
        time.sleep(0.05)
        survivors = [p for p in survivors if _alive(p)]
    assert survivors == [], f"still alive 2 s after SIGKILL of the UI: {survivors}\n{report}"
    # The killed UI could not delete its own log folder; the next start does.
    time.sleep(0.3)
    left = sorted(p.name for p in tmp_path.iterdir())
    assert any(name.startswith(f"conc-tui-run-{ui}-") for name in left), left
    env = {**os.environ, "TMPDIR": str(tmp_path), "PYTHONPATH": str(ROOT)}
    subprocess.run(
        [sys.executable, "-m", "conc_tui", "run", "--model", "serial", "--workload", "cpu"]
        + ["--items", "1"],
        env=env,
        capture_output=True,
        timeout=60,
        check=True,
    )
    assert list(tmp_path.iterdir()) == []


@pytest.mark.xfail(
    reason="open: started from pytest, the app does not redraw after tmux resize-window "
    "(the same commands typed in a shell do); the Pilot resize test covers the notice",
    strict=False,
)
def test_a_burst_of_resizes_in_a_real_terminal_does_not_crash(tmp_path: Path) -> None:
    """200x60 down to 40x12 and back, then 50 resizes in 5 s, with runs live."""
    name = f"conc-resize-{os.getpid()}"
    command = f"env TMPDIR={tmp_path} PYTHONPATH={ROOT} {sys.executable} -m conc_tui " + " ".join(
        LONG_RUNS
    )

    def tmux(*args: str) -> str:
        return subprocess.run(["tmux", *args], capture_output=True, text=True).stdout

    tmux("new-session", "-d", "-s", name, "-x", "200", "-y", "60", command)
    try:
        time.sleep(3)
        pid = int(tmux("display-message", "-p", "-t", name, "#{pane_pid}").strip())
        for key in ("Space", "2", "Space", "3", "Space"):
            tmux("send-keys", "-t", name, key)
            time.sleep(0.3)
        tmux("resize-window", "-t", name, "-x", "40", "-y", "12")
        time.sleep(1.0)
        # (The too-small notice itself is asserted in test_reliability's Pilot test.)
        for n in range(50):
            tmux(
                "resize-window",
                "-t",
                name,
                "-x",
                str(40 + (n * 37) % 161),
                "-y",
                str(12 + (n * 13) % 49),
            )
            time.sleep(0.1)
        tmux("resize-window", "-t", name, "-x", "200", "-y", "60")
        time.sleep(1.5)
        assert _alive(pid), "the app died during the resizes"
        screen = tmux("capture-pane", "-p", "-t", name)
        assert "too small" not in screen and "Traceback" not in screen
        assert "Processes" in screen and "Asyncio" in screen
        tmux("send-keys", "-t", name, "q")
        deadline = time.monotonic() + 3
        while _alive(pid) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert not _alive(pid)
    finally:
        tmux("kill-session", "-t", name)
    assert list(tmp_path.iterdir()) == []

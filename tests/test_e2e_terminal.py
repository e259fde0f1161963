"""Every way out of the app, in a real terminal (tmux), with runs live in all panes.

Each test starts ``python -m conc_tui`` in a real terminal (tmux, driven by
``tests/tmux_terminal.py``) with its own TMPDIR,
starts a run in panes 1, 2 and 3 (processes on images, threads on files, asyncio on
the local site: a lab, a runner, pool workers, resource trackers and a web server),
then leaves by a key or a signal. It asserts that the app exited within the bound,
the terminal is restored, no descendant is alive, and no temporary file or named
semaphore is left behind.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import pytest
from tmux_terminal import TMUX, Terminal, TerminalState, alive, command_line, descendants

ROOT = Path(__file__).resolve().parents[1]
LONG_RUNS = ["--items", "400", "--io-latency", "100", "--latency", "1000"]
"""Slow enough that no run finishes before the test quits, with small inputs (the
400-file corpus is 29 MB; 5,000 files would be 360 MB to generate)."""
EXIT_WITHIN_S = 1.2
"""A quit key or signal to the app gone: one second, plus the time to type the key."""

pytestmark = [
    pytest.mark.skipif(TMUX is None, reason="tmux is not installed"),
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


def _app(tmp: Path) -> list[str]:
    return [
        "env", f"TMPDIR={tmp}", f"PYTHONPATH={ROOT}", sys.executable, "-m", "conc_tui",
        *LONG_RUNS,
    ]  # fmt: skip


@dataclass
class Quit:
    """How the app was left, and what was left of it."""

    family: list[int]
    """The app and every process it had started, just before quitting."""
    exited: bool
    state: TerminalState
    survivors: list[int]
    listing: str


def _run_and_quit(tmp: Path, key: str | None = None, signum: int | None = None) -> Quit:
    """Start a run in every pane, then quit by ``key`` or ``signum``."""
    with Terminal(_app(tmp), cols=160, rows=48, cwd=ROOT) as terminal:
        terminal.wait_for_text("Press Space", timeout=30)
        terminal.press("Space", "2", "Space", "3", "Space", "sleep:3")
        family = [terminal.pid, *descendants(terminal.pid)]
        listing = "\n".join(f"{pid} {command_line(pid)}" for pid in family)
        if key is not None:
            terminal.press(key, delay=0)
        else:
            assert signum is not None
            terminal.signal(signum)
        exited = terminal.exited_within(EXIT_WITHIN_S)
        # What the app started gets the rest of two seconds to go.
        deadline = time.monotonic() + 2.0 - EXIT_WITHIN_S
        survivors = [pid for pid in family if alive(pid)]
        while survivors and time.monotonic() < deadline:
            time.sleep(0.05)
            survivors = [pid for pid in survivors if alive(pid)]
        state = terminal.state()
    return Quit(family, exited, state, survivors, listing)


def _check_family(quit: Quit) -> None:
    # The point of the test is that these existed: a lab per pane, its runner, pool
    # workers and resource trackers (the local site too, unless a busy machine had not
    # started it yet; when it is listed, it is checked like the rest).
    assert len(quit.family) >= 8, quit.listing
    assert quit.listing.count("conc_tui lab") >= 2, quit.listing  # a busy CI may be slow
    assert "resource_tracker" in quit.listing and "spawn_main" in quit.listing, quit.listing


@pytest.mark.parametrize(
    ("key", "signum"),
    [
        ("q", None),
        ("C-q", None),
        ("C-c", None),
        (None, signal.SIGTERM),
        (None, signal.SIGHUP),
        (None, signal.SIGINT),
    ],
    ids=["q", "ctrl+q", "ctrl+c", "SIGTERM", "SIGHUP", "SIGINT"],
)
def test_every_way_out_is_fast_and_clean(
    key: str | None, signum: int | None, tmp_path: Path
) -> None:
    with SemaphoreWatch(tmp_path) as semaphores:
        quit = _run_and_quit(tmp_path, key, signum)
    _check_family(quit)
    assert quit.exited, f"still running {EXIT_WITHIN_S} s after the key or signal"
    assert quit.state.clean, quit.state
    assert quit.survivors == [], quit.listing
    assert list(tmp_path.iterdir()) == [], "temporary files were left behind"
    # The pools' queues use named semaphores: the proof that this check can fail.
    assert semaphores.seen, "no semaphore was seen in use"
    assert semaphores.leaked() == [], "named semaphores were left in /dev/shm"


def test_sigkill_of_the_ui_ends_every_child_and_the_next_start_sweeps(tmp_path: Path) -> None:
    quit = _run_and_quit(tmp_path, signum=signal.SIGKILL)
    _check_family(quit)
    ui = quit.family[0]
    assert not alive(ui)
    assert quit.survivors == [], f"still alive 2 s after SIGKILL of the UI\n{quit.listing}"
    # The killed UI could not delete its own log folder; the next start does.
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


def test_a_burst_of_resizes_in_a_real_terminal_does_not_crash(tmp_path: Path) -> None:
    """200x60 down to 40x12 and back, then 50 resizes in 5 s, with runs live."""
    with Terminal(_app(tmp_path), cols=200, rows=60, cwd=ROOT) as terminal:
        terminal.wait_for_text("Press Space", timeout=30)
        terminal.press("Space", "2", "Space", "3", "Space")
        terminal.resize(40, 12)
        # Wait for the redraw rather than a fixed time: the notice is the proof.
        terminal.wait_for_text("too small", timeout=10)
        for n in range(50):
            terminal.resize(40 + (n * 37) % 161, 12 + (n * 13) % 49)
            time.sleep(0.1)
        terminal.resize(200, 60)
        screen = terminal.wait_for_text("Asyncio", timeout=10)
        deadline = time.monotonic() + 10
        while "too small" in screen and time.monotonic() < deadline:
            time.sleep(0.1)
            screen = terminal.screen()
        assert alive(terminal.pid), "the app died during the resizes"
        assert "too small" not in screen and "Traceback" not in screen, screen
        assert "Processes" in screen and "Asyncio" in screen, screen
        terminal.press("q", delay=0)
        assert terminal.exited_within(3)
        assert terminal.state().clean
    assert list(tmp_path.iterdir()) == []

"""A real terminal for end-to-end tests: one program in a private tmux server.

The tests type keys as a person would, read the screen, quit by a key or a signal,
and then ask what a user would see: did the program exit, is the terminal back to
normal (alternate screen off, cursor visible, mouse tracking off), and is any process
it started still running. Each :class:`Terminal` has its own tmux server (``-L``), so
tests never touch anyone's tmux sessions, and a shell keeps the pane open after the
program exits, so the terminal's state can still be read.
"""

from __future__ import annotations

import os
import shlex
import shutil
import signal
import subprocess
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

TMUX = shutil.which("tmux")
HOLD = "sleep 86400"


def _terminal_env() -> dict[str, str]:
    """This process's environment, less what would pin the program's terminal size.

    Under pytest ``COLUMNS`` and ``LINES`` are set (80×24), and Textual, like most
    programs, believes them over the terminal: the app then never follows a resize.
    """
    return {k: v for k, v in os.environ.items() if k not in ("COLUMNS", "LINES")}


def alive(pid: int) -> bool:
    """True while ``pid`` runs (a zombie has finished)."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return False
    return state != "Z"


def descendants(pid: int) -> list[int]:
    """Every live descendant of ``pid``, read from /proc."""
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            parent = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
        except (OSError, IndexError, ValueError):
            continue
        children.setdefault(parent, []).append(int(entry.name))
    found: list[int] = []
    todo = [pid]
    while todo:
        for child in children.get(todo.pop(), []):
            if alive(child):
                found.append(child)
                todo.append(child)
    return found


def command_line(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode().strip()
    except OSError:
        return ""


@dataclass(frozen=True)
class TerminalState:
    """What the terminal looks like after the program left."""

    alternate_screen: bool
    cursor_visible: bool
    mouse_tracking: bool

    @property
    def clean(self) -> bool:
        return not self.alternate_screen and self.cursor_visible and not self.mouse_tracking


class Terminal:
    """Run ``command`` in a ``cols`` × ``rows`` terminal; use as a context manager."""

    def __init__(
        self, command: Sequence[str], cols: int = 160, rows: int = 48, cwd: Path | None = None
    ) -> None:
        if TMUX is None:
            raise RuntimeError("tmux is not installed")
        self.command = list(command)
        self.cols = cols
        self.rows = rows
        self.cwd = cwd
        self.server = f"conc-tui-test-{os.getpid()}-{id(self):x}"
        self.shell_pid = 0
        self.pid = 0
        """The program's process (the shell's child)."""

    def tmux(self, *args: str, check: bool = False) -> str:
        done = subprocess.run(
            [str(TMUX), "-L", self.server, "-f", "/dev/null", *args],
            env=_terminal_env(),
            capture_output=True,
            text=True,
            timeout=10,
            check=check,
        )
        return done.stdout

    def __enter__(self) -> Terminal:
        # A shell holds the pane open after the program exits (a dead pane reports a
        # hidden cursor whatever the program did), as a terminal window would.
        # (tmux hands one string to the shell.)
        held = f"{shlex.join(self.command)}; exec {HOLD}"
        self.tmux(
            "new-session", "-d", "-s", "t", "-x", str(self.cols), "-y", str(self.rows),
            *(["-c", str(self.cwd)] if self.cwd else []),
            held,
            check=True,
        )  # fmt: skip
        self.shell_pid = int(self.tmux("display-message", "-p", "-t", "t", "#{pane_pid}"))
        deadline = time.monotonic() + 10
        while not self.pid:
            children = [pid for pid in descendants(self.shell_pid) if command_line(pid) != HOLD]
            if children:
                self.pid = min(children)
            elif time.monotonic() > deadline:
                raise RuntimeError(f"{self.command[0]} did not start in the terminal")
            else:
                time.sleep(0.02)
        return self

    def __exit__(self, *exc: object) -> None:
        family = [self.pid, *descendants(self.shell_pid)] if self.pid else []
        self.tmux("kill-server")
        for pid in family:  # a failed test must not leave its processes running
            if alive(pid):
                os.kill(pid, signal.SIGKILL)

    # -- acting ----------------------------------------------------------------------

    def press(self, *keys: str, delay: float = 0.3) -> None:
        """Type tmux key names ("q", "Space", "C-c"); "sleep:2" waits two seconds."""
        for key in keys:
            if key.startswith("sleep:"):
                time.sleep(float(key.split(":", 1)[1]))
                continue
            self.tmux("send-keys", "-t", "t", key)
            time.sleep(delay)

    def resize(self, cols: int, rows: int) -> None:
        self.tmux("resize-window", "-t", "t", "-x", str(cols), "-y", str(rows))

    def signal(self, signum: int) -> None:
        os.kill(self.pid, signum)

    # -- looking ---------------------------------------------------------------------

    def screen(self) -> str:
        return self.tmux("capture-pane", "-p", "-t", "t")

    def wait_for_text(self, text: str, timeout: float = 10.0) -> str:
        """The screen, once it shows ``text``; AssertionError with the screen if never."""
        deadline = time.monotonic() + timeout
        while True:
            screen = self.screen()
            if text in screen:
                return screen
            if time.monotonic() > deadline:
                raise AssertionError(f"{text!r} never appeared; the screen:\n{screen}")
            time.sleep(0.1)

    def exited_within(self, timeout: float) -> bool:
        deadline = time.monotonic() + timeout
        while alive(self.pid):
            if time.monotonic() > deadline:
                return False
            time.sleep(0.05)
        return True

    def state(self, settle_s: float = 1.0) -> TerminalState:
        """The terminal's modes, once they are clean or ``settle_s`` has passed.

        tmux reads the program's last output after the program is gone, so the
        restoring escape sequences can land a moment after the exit.
        """
        deadline = time.monotonic() + settle_s
        state = self._modes()
        while not state.clean and time.monotonic() < deadline:
            time.sleep(0.05)
            state = self._modes()
        return state

    def _modes(self) -> TerminalState:
        flags = self.tmux(
            "display-message", "-p", "-t", "t", "#{alternate_on} #{cursor_flag} #{mouse_any_flag}"
        ).split()
        alternate, cursor, mouse = (flags + ["?"] * 3)[:3]
        return TerminalState(alternate == "1", cursor == "1", mouse == "1")

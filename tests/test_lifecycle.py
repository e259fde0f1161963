"""Whatever dies, every process a run started is gone within two seconds.

A process-model run is a tree: the observer (the CLI, or a lab under the app), the
runner it spawned, the runner's fork server, the pool workers the fork server forked,
and a resource tracker. Each case here kills one part of that tree in a real process
and times how long the rest takes to go; one case does it with the cores busy.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import pty
import select
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import psutil
import pytest

from conc_tui import lifecycle
from conc_tui.app import ConcApp
from conc_tui.config import RunConfig, WorkloadOptions
from conc_tui.lab import LabController
from conc_tui.telemetry.snapshot import Phase, Snapshot

ROOT = Path(__file__).resolve().parents[1]
GONE_WITHIN_S = 2.0
LONG_CPU = ["--model", "process", "--workload", "cpu", "--items", "4000"]


def _alive(pid: int) -> bool:
    return lifecycle.process_alive(pid)


def _tree(pid: int) -> list[psutil.Process]:
    try:
        return psutil.Process(pid).children(recursive=True)
    except psutil.NoSuchProcess:
        return []


def _cmd(process: psutil.Process) -> str:
    try:
        return " ".join(process.cmdline())
    except psutil.Error:
        return ""


def _wait_for_pool(root: int, workers: int = 2, timeout: float = 30) -> list[psutil.Process]:
    """Wait until ``root``'s tree holds a runner, a fork server and its workers."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        tree = _tree(root)
        servers = [p for p in tree if "forkserver" in _cmd(p)]
        forked = [p for p in servers if p.ppid() in {s.pid for s in servers}]
        if len(forked) >= workers and any("resource_tracker" in _cmd(p) for p in tree):
            return tree
        time.sleep(0.05)
    raise AssertionError(f"the pool never started under {root}: {[_cmd(p) for p in _tree(root)]}")


def _time_until_gone(pids: list[int], limit: float = 10.0) -> float:
    started = time.monotonic()
    while time.monotonic() - started < limit:
        if not any(_alive(pid) for pid in pids):
            return time.monotonic() - started
        time.sleep(0.02)
    left = [_cmd(psutil.Process(pid)) for pid in pids if _alive(pid)]
    for pid in pids:  # leave nothing behind for the next test
        if _alive(pid):
            os.kill(pid, signal.SIGKILL)
    raise AssertionError(f"still alive {limit:g} s later: {left}")


def _runner(tree: list[psutil.Process], observer: int) -> psutil.Process:
    return next(p for p in tree if p.ppid() == observer and "spawn_main" in _cmd(p))


def _worker(tree: list[psutil.Process]) -> psutil.Process:
    servers = {p.pid for p in tree if "forkserver" in _cmd(p)}
    return next(p for p in tree if p.ppid() in servers)


@pytest.fixture
def busy_cores() -> Iterator[None]:
    """Two pure-Python loops: the machine is as busy as it has cores (or more)."""
    hog = "import time\nend = time.monotonic() + 60\nwhile time.monotonic() < end: pass"
    hogs = [
        subprocess.Popen([sys.executable, "-c", hog]) for _ in range(max(2, os.cpu_count() or 2))
    ]
    try:
        time.sleep(0.3)
        yield
    finally:
        for hog in hogs:
            hog.kill()
            hog.wait()


def _cli(*args: str) -> subprocess.Popen[str]:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    # Its own process group, so a test can Ctrl+C it as a terminal would (the group).
    return subprocess.Popen(
        [sys.executable, "-m", "conc_tui", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
        start_new_session=True,
    )


Fault = Callable[[subprocess.Popen[str], list[psutil.Process]], None]


def _ctrl_c(cli: subprocess.Popen[str], tree: list[psutil.Process]) -> None:
    os.killpg(cli.pid, signal.SIGINT)


def _term_cli(cli: subprocess.Popen[str], tree: list[psutil.Process]) -> None:
    cli.send_signal(signal.SIGTERM)


def _kill_cli(cli: subprocess.Popen[str], tree: list[psutil.Process]) -> None:
    cli.kill()


def _kill_runner(cli: subprocess.Popen[str], tree: list[psutil.Process]) -> None:
    os.kill(_runner(tree, cli.pid).pid, signal.SIGKILL)


def _kill_worker(cli: subprocess.Popen[str], tree: list[psutil.Process]) -> None:
    os.kill(_worker(tree).pid, signal.SIGKILL)


FAULTS: dict[str, Fault] = {
    "ctrl-c": _ctrl_c,
    "term-cli": _term_cli,
    "kill-cli": _kill_cli,
    "kill-runner": _kill_runner,
    "kill-worker": _kill_worker,
}


@pytest.mark.slow
@pytest.mark.parametrize("fault", list(FAULTS))
def test_cli_run_leaves_nothing_behind(fault: str) -> None:
    cli = _cli("run", *LONG_CPU)
    try:
        tree = _wait_for_pool(cli.pid)
        time.sleep(0.5)
        FAULTS[fault](cli, tree)
        took = _time_until_gone([cli.pid, *(p.pid for p in tree)])
        print(f"{fault}: every process gone after {took:.2f} s")
        assert took < GONE_WITHIN_S
    finally:
        if cli.poll() is None:
            cli.kill()
        _out, err = cli.communicate(timeout=10)
    if fault == "kill-runner":
        assert "killed (SIGKILL)" in err or cli.returncode != 0


@pytest.mark.slow
def test_cli_run_leaves_nothing_behind_on_a_busy_machine(busy_cores: None) -> None:
    cli = _cli("run", *LONG_CPU)
    try:
        tree = _wait_for_pool(cli.pid, timeout=60)
        time.sleep(0.5)
        _kill_cli(cli, tree)
        took = _time_until_gone([p.pid for p in tree])
        print(f"kill -9 of the CLI, cores busy: every process gone after {took:.2f} s")
        assert took < GONE_WITHIN_S
    finally:
        if cli.poll() is None:
            cli.kill()
        cli.communicate(timeout=10)


@pytest.mark.slow
def test_ctrl_c_during_bench_leaves_nothing_behind() -> None:
    cli = _cli("bench", "--models", "process", "--workloads", "cpu", "--items", "150")
    try:
        tree = _wait_for_pool(cli.pid, timeout=60)
        time.sleep(0.3)
        _ctrl_c(cli, tree)
        took = _time_until_gone([cli.pid, *(p.pid for p in tree)])
        print(f"Ctrl+C during bench: every process gone after {took:.2f} s")
        assert took < GONE_WITHIN_S
    finally:
        if cli.poll() is None:
            cli.kill()
        cli.communicate(timeout=10)


# -- under the app: the lab, its runner, and the UI itself ----------------------------


class _Snapshots:
    def __init__(self) -> None:
        self.items: list[Snapshot] = []
        self.changed = threading.Condition()

    def __call__(self, snapshot: Snapshot) -> None:
        with self.changed:
            self.items.append(snapshot)
            self.changed.notify_all()

    def wait_for(self, check: Callable[[Snapshot], bool], timeout: float = 30) -> Snapshot:
        deadline = time.monotonic() + timeout
        with self.changed:
            while True:
                found = [s for s in self.items if check(s)]
                if found:
                    return found[0]
                left = deadline - time.monotonic()
                assert left > 0, f"no such snapshot; last: {self.items[-1:]}"
                self.changed.wait(left)


@pytest.mark.slow
@pytest.mark.parametrize("victim", ["lab", "runner"])
def test_a_killed_lab_or_runner_takes_its_run_along_and_says_when(
    victim: str, tmp_path: Path
) -> None:
    controller = LabController(log_dir=tmp_path)
    seen = _Snapshots()
    controller.start(RunConfig("process", "cpu", 2, WorkloadOptions(items=4000)), seen)
    try:
        seen.wait_for(lambda s: s.phase is Phase.RUNNING and len(s.worker_views) >= 2)
        process = controller._process
        assert process is not None
        tree = _wait_for_pool(process.pid)
        time.sleep(1.0)
        target = process.pid if victim == "lab" else _runner(tree, process.pid).pid
        os.kill(target, signal.SIGKILL)
        took = _time_until_gone([p.pid for p in tree if p.pid != target])
        print(f"kill -9 of the {victim}: every process gone after {took:.2f} s")
        assert took < GONE_WITHIN_S
        failed = seen.wait_for(lambda s: s.phase is Phase.FAILED, timeout=5)
        assert "killed (SIGKILL) after" in failed.message, failed.message
        assert failed.elapsed_s >= 1.0  # not "failed after 0 ms"
        if failed.result is not None:  # the lab lived to say how long the run took
            assert failed.result.wall_s >= 1.0
        assert not controller.running
    finally:
        controller.close()


_UI = """
import sys, time
from conc_tui.config import RunConfig, WorkloadOptions
from conc_tui.lab import LabController
controller = LabController()
controller.start(RunConfig("process", "cpu", 2, WorkloadOptions(items=4000)), lambda s: None)
print(controller._process.pid, flush=True)
time.sleep(120)
"""


@pytest.mark.slow
def test_a_killed_ui_takes_its_runs_along_on_a_busy_machine(busy_cores: None) -> None:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    ui = subprocess.Popen([sys.executable, "-c", _UI], stdout=subprocess.PIPE, text=True, env=env)
    try:
        assert ui.stdout is not None
        lab = int(ui.stdout.readline())
        tree = [psutil.Process(lab), *_wait_for_pool(lab, timeout=60)]
        time.sleep(0.5)
        ui.kill()
        took = _time_until_gone([p.pid for p in tree])
        print(f"kill -9 of the UI, cores busy: every process gone after {took:.2f} s")
        assert took < GONE_WITHIN_S
    finally:
        if ui.poll() is None:
            ui.kill()
        ui.wait()


def test_exits_are_described_with_what_died_and_when() -> None:
    assert (
        lifecycle.describe_exit("the run's process", -signal.SIGKILL, 9.46)
        == "the run's process was killed (SIGKILL) after 9.5 s"
    )
    assert (
        lifecycle.describe_exit("the lab process", 3, 0.25)
        == "the lab process exited with status 3 after 250 ms"
    )


# -- the terminal goes away ----------------------------------------------------------


def _app_on_a_pty(via_shell: bool) -> tuple[int, int]:
    """Fork ``conc-tui`` on a new pty, as a terminal window would start it.

    ``via_shell``: a shell that ignores SIGHUP leads the terminal's session, so only
    the shell hears the hang-up and the app learns of it by EIO on its next write.
    """
    env = {**os.environ, "PYTHONPATH": str(ROOT), "TERM": "xterm-256color"}
    app = [sys.executable, "-m", "conc_tui", "--items", "4000", "--latency", "1000"]
    argv = ["sh", "-c", "trap '' HUP; \"$@\"; :", "sh", *app] if via_shell else app
    pid, master = pty.fork()
    if pid == 0:  # the child, with the pty as its controlling terminal
        if via_shell:
            signal.signal(signal.SIGHUP, signal.SIG_DFL)
        os.execvpe(argv[0], argv, env)
    return pid, master


def _read_until(master: int, needle: bytes, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    seen = b""
    while time.monotonic() < deadline:
        ready, _, _ = select.select([master], [], [], 0.1)
        if ready:
            try:
                seen = (seen + os.read(master, 65536))[-200_000:]
            except OSError:
                break
            if needle in seen:
                return
    raise AssertionError(f"{needle!r} never appeared on the terminal")


class _Drain(threading.Thread):
    """Reads the terminal, as a terminal emulator does, until told to stop."""

    def __init__(self, master: int) -> None:
        super().__init__(daemon=True)
        self.master = master
        self.stop = threading.Event()

    def run(self) -> None:
        while not self.stop.is_set():
            ready, _, _ = select.select([self.master], [], [], 0.05)
            if ready:
                try:
                    os.read(self.master, 65536)
                except OSError:
                    return


def _close_terminal_with_runs_live(via_shell: bool = False) -> float:
    pid, master = _app_on_a_pty(via_shell)
    try:
        _read_until(master, b"Press Space", timeout=60)
        drain = _Drain(master)
        drain.start()
        for key in (b" ", b"2", b" ", b"3", b" "):
            os.write(master, key)
            time.sleep(0.3)
        # Wait for every pane's run to be up (a lab, a runner, workers, the site).
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            labs = [p for p in _tree(pid) if _cmd(p).endswith("-m conc_tui lab")]
            if len(labs) == 3:
                break
            time.sleep(0.1)
        time.sleep(1.5)
        family = [p.pid for p in _tree(pid) if "sh -c" not in _cmd(p)]
        if not via_shell:
            family.append(pid)
        drain.stop.set()
        drain.join()
        os.close(master)  # the window closes: the kernel hangs up the terminal
        master = -1
        took = _time_until_gone(family, limit=15)
    finally:
        if master >= 0:
            os.close(master)
        if _alive(pid):
            os.kill(pid, signal.SIGKILL)
        with contextlib.suppress(ChildProcessError):
            os.waitpid(pid, 0)
    return took


@pytest.mark.slow
@pytest.mark.parametrize("attempt", range(3))
def test_closing_the_terminal_with_runs_live_ends_everything(attempt: int) -> None:
    took = _close_terminal_with_runs_live()
    print(f"terminal closed ({attempt}): the app and every run gone after {took:.2f} s")
    assert took < GONE_WITHIN_S


@pytest.mark.slow
def test_closing_the_terminal_on_a_busy_machine_ends_everything(busy_cores: None) -> None:
    took = _close_terminal_with_runs_live()
    print(f"terminal closed, cores busy: the app and every run gone after {took:.2f} s")
    assert took < GONE_WITHIN_S


@pytest.mark.slow
def test_a_terminal_lost_without_a_hangup_signal_ends_everything() -> None:
    """The app hears nothing but EIO: its output thread dies, its queue fills."""
    took = _close_terminal_with_runs_live(via_shell=True)
    print(f"terminal lost (EIO only): the app and every run gone after {took:.2f} s")
    assert took < GONE_WITHIN_S


# -- a run that stops talking ----------------------------------------------------------


def _screen_text(app: ConcApp) -> str:
    return "\n".join(strip.text for strip in app.screen._compositor.render_strips())


async def _wait_until(pilot: Any, check: Callable[[], bool], timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return True
        await pilot.pause(0.1)
    return check()


@pytest.mark.slow
def test_a_stopped_lab_is_shown_as_not_responding_and_recovers() -> None:
    async def scenario() -> None:
        app = ConcApp()
        async with app.run_test(size=(160, 48)) as pilot:
            state = app.panes["process"]
            state.config = RunConfig("process", "cpu", 2, WorkloadOptions(items=5000))
            await pilot.press("space")
            assert await _wait_until(
                pilot,
                lambda: state.snapshot is not None and state.snapshot.phase is Phase.RUNNING,
                timeout=30,
            )
            controller = state.controller
            assert isinstance(controller, LabController) and controller._process is not None
            lab = controller._process.pid
            os.kill(lab, signal.SIGSTOP)
            try:
                stopped = time.monotonic()
                shown = await _wait_until(
                    pilot, lambda: "not responding" in _screen_text(app), timeout=5
                )
                took = time.monotonic() - stopped
                print(f"SIGSTOP of the lab: 'not responding' shown after {took:.2f} s")
                assert shown and took < 2.0
            finally:
                os.kill(lab, signal.SIGCONT)
            assert await _wait_until(
                pilot, lambda: "not responding" not in _screen_text(app), timeout=5
            )
            assert state.snapshot is not None and state.snapshot.phase is Phase.RUNNING
            await pilot.press("q")

    asyncio.run(scenario())


# -- a crashed run's --json ----------------------------------------------------------------

_CRASHING = """
from conc_tui.workloads.cpu import CpuWorkload


class CrashingWorkload(CpuWorkload):
    def prepare(self, run_dir):
        raise RuntimeError("boom while preparing")
"""

_CRASH_CLI = """
import sys
import crashing
from conc_tui import cli, engine
engine.make_workload = lambda config: crashing.CrashingWorkload(config.options)
sys.exit(cli.main(["run", "--model", "serial", "--workload", "cpu", "--items", "2", "--json"]))
"""


def test_json_of_a_crashed_run_says_one_line_on_stderr(tmp_path: Path) -> None:
    (tmp_path / "crashing.py").write_text(_CRASHING)
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT), str(tmp_path)])}
    done = subprocess.run(
        [sys.executable, "-c", _CRASH_CLI], capture_output=True, text=True, env=env, timeout=60
    )
    document = json.loads(done.stdout)
    assert document["status"] == "failed"
    assert "boom while preparing" in document["reason"]
    assert done.stderr.splitlines() == ["conc-tui: RuntimeError: boom while preparing"]
    assert done.returncode == 1

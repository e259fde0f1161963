"""Faults are survived and reported; bad input gets one clear line; nothing leaks.

Everything here is real: lab processes, pool workers, HTTP over loopback, files on
disk. The ways out of the app in a real terminal are in ``test_e2e_terminal.py``.
"""

from __future__ import annotations

import asyncio
import errno
import functools
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Coroutine, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import psutil
import pytest
from aiohttp import web
from fakes import FakeController, pid_of_a_finished_process
from PIL import Image

from conc_tui import cli
from conc_tui import engine as engine_module
from conc_tui.app import MIN_HEIGHT, MIN_WIDTH, ConcApp
from conc_tui.config import RunConfig, WorkloadOptions
from conc_tui.engine import execute
from conc_tui.lab import LabController
from conc_tui.lifecycle import RUN_PREFIX, kill_group, remove_orphaned_run_dirs
from conc_tui.telemetry.snapshot import Phase, Snapshot
from conc_tui.workloads import web as web_module
from conc_tui.workloads.base import WorkloadError
from conc_tui.workloads.images import ImagesWorkload
from conc_tui.workloads.site import LocalSite
from conc_tui.workloads.web import USER_AGENT, WebWorkload

ROOT = Path(__file__).resolve().parents[1]


def sync(test: Callable[..., Coroutine[Any, Any, None]]) -> Callable[..., None]:
    """Run an async test with asyncio.run (no async pytest plugin is required)."""

    @functools.wraps(test)
    def wrapper(*args: Any, **kwargs: Any) -> None:
        asyncio.run(test(*args, **kwargs))

    return wrapper


class Snapshots:
    """Collects a controller's snapshots and lets a test wait for one."""

    def __init__(self) -> None:
        self.items: list[Snapshot] = []
        self._changed = threading.Condition()

    def __call__(self, snapshot: Snapshot) -> None:
        with self._changed:
            self.items.append(snapshot)
            self._changed.notify_all()

    def wait_for(self, check: Callable[[Snapshot], bool], timeout: float = 30) -> Snapshot:
        deadline = time.monotonic() + timeout
        with self._changed:
            while True:
                for snapshot in self.items:
                    if check(snapshot):
                        return snapshot
                left = deadline - time.monotonic()
                assert left > 0, f"no such snapshot; last: {self.items[-1:]}"
                self._changed.wait(left)


def _group_alive(pgid: int) -> list[int]:
    alive = []
    for pid in psutil.pids():
        try:
            if os.getpgid(pid) == pgid and psutil.Process(pid).status() != psutil.STATUS_ZOMBIE:
                alive.append(pid)
        except (OSError, psutil.Error):
            continue
    return alive


# -- the lab process dies ---------------------------------------------------------------


def test_killed_lab_is_reported_and_a_restart_works(tmp_path: Path) -> None:
    controller = LabController(log_dir=tmp_path)
    seen = Snapshots()
    long_run = RunConfig("thread", "cpu", 2, WorkloadOptions(items=5000))
    controller.start(long_run, seen)
    seen.wait_for(lambda s: s.phase is Phase.RUNNING)
    process = controller._process
    assert process is not None
    lab = process.pid
    os.kill(lab, signal.SIGKILL)
    failed = seen.wait_for(lambda s: s.phase is Phase.FAILED, timeout=10)
    assert "the run's lab process was killed (SIGKILL) after" in failed.message
    assert not controller.running
    again = Snapshots()
    controller.start(RunConfig("thread", "cpu", 2, WorkloadOptions(items=4)), again)
    finished = again.wait_for(lambda s: s.phase is Phase.FINISHED)
    assert finished.result is not None and finished.result.items_done == 4
    controller.close()
    # The killed lab's runner noticed its parent was gone, or the stop swept it.
    deadline = time.monotonic() + 3
    while _group_alive(lab) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert _group_alive(lab) == []
    assert list(Path(os.environ.get("TMPDIR", "/tmp")).glob(f"{RUN_PREFIX}{lab}-*")) == []


def test_close_kills_a_busy_run_quickly_and_owns_no_files_after() -> None:
    controller = LabController()
    seen = Snapshots()
    controller.start(RunConfig("process", "cpu", 2, WorkloadOptions(items=5000)), seen)
    seen.wait_for(lambda s: s.phase is Phase.RUNNING and len(s.worker_views) >= 2)
    process = controller._process
    assert process is not None and controller.log_path is not None
    log_dir = controller.log_path.parent
    assert log_dir.name.startswith(f"{RUN_PREFIX}{os.getpid()}-")
    members = _group_alive(process.pid)
    assert len(members) >= 4  # lab, runner, two workers (and the resource tracker)
    started = time.monotonic()
    controller.close()
    assert time.monotonic() - started < 1.0
    assert _group_alive(process.pid) == []
    assert not log_dir.exists()


def test_kill_group_spares_the_resource_tracker_until_the_rest_is_gone() -> None:
    """The tracker must outlive the processes it cleans up after, then leave."""
    code = (
        "import multiprocessing as mp, sys, time\n"
        "ctx = mp.get_context('spawn')\n"
        "lock = ctx.Lock()\n"  # a named semaphore, registered with the tracker
        "print(lock._semlock.name, flush=True)\n"
        "time.sleep(60)\n"
    )
    child = subprocess.Popen(
        [sys.executable, "-c", code], stdout=subprocess.PIPE, text=True, start_new_session=True
    )
    assert child.stdout is not None
    name = child.stdout.readline().strip().lstrip("/")
    semaphore = Path("/dev/shm") / f"sem.{name}"
    assert semaphore.exists()
    # The tracker is started as the lock is made; wait until it runs its own code.
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and not any(
        "resource_tracker" in " ".join(p.cmdline()) for p in psutil.Process(child.pid).children()
    ):
        time.sleep(0.05)
    kill_group(child.pid)
    child.wait(5)
    # SIGKILL of the whole group at once would leave the semaphore file behind.
    deadline = time.monotonic() + 2
    while semaphore.exists() and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not semaphore.exists()
    assert _group_alive(child.pid) == []


def test_orphaned_run_folders_are_swept(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TMPDIR", str(tmp_path))
    import tempfile

    monkeypatch.setattr(tempfile, "tempdir", None)  # re-read TMPDIR
    orphan = tmp_path / f"{RUN_PREFIX}{pid_of_a_finished_process()}-x"
    mine = tmp_path / f"{RUN_PREFIX}{os.getpid()}-y"
    orphan.mkdir()
    mine.mkdir()
    (orphan / "lab.log").write_text("left by a killed run")
    assert remove_orphaned_run_dirs() == 1
    assert not orphan.exists() and mine.exists()


# -- the app shows faults and keeps going ---------------------------------------------


@sync
async def test_app_shows_a_dead_pool_worker_and_the_next_run_works() -> None:
    app = ConcApp()
    async with app.run_test(size=(160, 48)) as pilot:
        state = app.panes["process"]
        state.config = RunConfig("process", "cpu", 2, WorkloadOptions(items=5000))
        await pilot.press("space")
        lab_workers: list[psutil.Process] = []
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and not lab_workers:
            await pilot.pause(0.2)
            snap = state.snapshot
            if snap is not None and snap.phase is Phase.RUNNING and len(snap.worker_views) >= 2:
                # The lanes name their processes: kill one the pane itself shows.
                lab_workers = [psutil.Process(view.pid) for view in snap.worker_views if view.pid]
        assert lab_workers, "no pool worker appeared"
        lab_workers[0].kill()
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline and not (
            state.snapshot is not None and state.snapshot.phase is Phase.FAILED
        ):
            await pilot.pause(0.1)
        assert state.snapshot is not None and state.snapshot.phase is Phase.FAILED
        assert "worker process died" in state.snapshot.message
        await pilot.pause(0.3)
        assert "worker process died" in _screen_text(app)
        state.config = RunConfig("process", "cpu", 2, WorkloadOptions(items=4))
        await pilot.press("r")
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and not (
            state.snapshot is not None and state.snapshot.phase is Phase.FINISHED
        ):
            await pilot.pause(0.1)
        assert state.snapshot is not None and state.snapshot.phase is Phase.FINISHED
        assert state.snapshot.result is not None and state.snapshot.result.items_done == 4


def _screen_text(app: ConcApp) -> str:
    return "\n".join(strip.text for strip in app.screen._compositor.render_strips())


@sync
async def test_a_controller_that_cannot_start_gives_a_notification(tmp_path: Path) -> None:
    not_a_folder = tmp_path / "file"
    not_a_folder.write_text("")
    app = ConcApp(controller_factory=lambda: LabController(log_dir=not_a_folder))
    async with app.run_test(size=(160, 48)) as pilot:
        await pilot.press("space")
        await pilot.pause(0.2)
        notes = list(app._notifications)
        assert notes and notes[-1].title == "Could not start the run"
        assert "file" in notes[-1].message
        await pilot.press("2")  # the app is still alive and answering
        assert app.current == "thread"


@sync
async def test_resizing_down_and_back_up_never_crashes() -> None:
    made: list[FakeController] = []

    def factory() -> FakeController:
        made.append(FakeController(interval=0.05))
        return made[-1]

    app = ConcApp(controller_factory=factory)
    async with app.run_test(size=(200, 60)) as pilot:
        for key in ("space", "2", "space", "3", "space"):
            await pilot.press(key)
        for size in ((200, 60), (120, 40), (80, 24), (40, 12), (200, 60)):
            await pilot.resize_terminal(*size)
            await pilot.pause(0.05)
            small = size[0] < MIN_WIDTH or size[1] < MIN_HEIGHT
            assert app.screen.has_class("-too-small") is small
            if small:
                assert "Terminal too small" in _screen_text(app)
        await pilot.resize_terminal(160, 48)
        await pilot.pause(0.2)
        assert not app.screen.has_class("-too-small")
        assert all(app.panes[m].running for m in ("process", "thread", "async"))
        assert "Terminal too small" not in _screen_text(app)


# -- a task that raises is one failed item; the run goes on ------------------------------


@contextmanager
def faulty_site() -> Iterator[str]:
    """A site whose index links to a good page, an HTTP 500 and a connection reset."""

    async def index(request: web.Request) -> web.Response:
        links = "".join(f'<a href="/{p}">{p}</a>' for p in ("good", "boom", "reset"))
        return web.Response(text=f"<html><body>{links}</body></html>", content_type="text/html")

    async def good(request: web.Request) -> web.Response:
        return web.Response(text="<html>fine</html>", content_type="text/html")

    async def boom(request: web.Request) -> web.Response:
        return web.Response(status=500, text="broken")

    async def reset(request: web.Request) -> web.Response:
        assert request.transport is not None
        request.transport.abort()  # RST-like: the client sees the connection drop
        return web.Response(text="never sent")

    async def slow(request: web.Request) -> web.Response:
        await asyncio.sleep(2)
        return web.Response(text="too late")

    app = web.Application()
    for path, handler in (("/", index), ("/good", good), ("/boom", boom), ("/reset", reset)):
        app.router.add_get(path, handler)
    app.router.add_get("/slow", slow)
    with _serving(app) as url:
        yield url


@pytest.mark.parametrize("model", ["async", "thread"])
def test_http_500_and_reset_fail_only_their_items(model: str) -> None:
    with faulty_site() as url:
        result = execute(RunConfig(model, "web", 4, WorkloadOptions(url=url + "/")))
    assert result.status == "finished", result.reason
    assert (result.items_done, result.items_failed) == (2, 2)
    failures = dict(result.failures)
    assert "HTTP 500" in failures["/boom"]
    assert "/reset" in failures["/reset"]  # a reason is given (the wording is the client's)


@pytest.mark.parametrize("mode", ["blocking", "async"])
def test_a_slow_page_times_out_as_one_failed_item(
    mode: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(web_module, "FETCH_TIMEOUT_S", 0.5)
    with faulty_site() as url:
        workload = WebWorkload(WorkloadOptions(url=url + "/"))
        workload.prepare(tmp_path)
        item = type(workload.initial_items()[0])(1, "/slow", f"{url}/slow")
        started = time.monotonic()
        if mode == "blocking":
            with pytest.raises(Exception) as caught:
                workload.run(item)
            reason = str(caught.value)
        else:

            async def fetch() -> str:
                await workload.attach_async()
                try:
                    await workload.run_async(item)
                except Exception as exc:  # noqa: BLE001 - the reason is what is checked
                    return f"{type(exc).__name__}: {exc}"
                finally:
                    await workload.detach_async()
                return ""

            reason = asyncio.run(fetch())
        elapsed = time.monotonic() - started
        workload.close()
    assert elapsed < 3
    assert reason, "the slow page did not fail"


def test_a_url_that_never_answers_is_a_clear_error_not_a_hang(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import socket

    monkeypatch.setattr(web_module, "REACH_TIMEOUT_S", 0.5)
    with socket.socket() as silent:
        silent.bind(("127.0.0.1", 0))
        silent.listen(8)  # accepts connections in the kernel, never says a word
        port = silent.getsockname()[1]
        workload = WebWorkload(WorkloadOptions(url=f"http://127.0.0.1:{port}/"))
        started = time.monotonic()
        with pytest.raises(WorkloadError, match=r"no complete answer from .* within 0.5 s"):
            workload.prepare(tmp_path)
    assert time.monotonic() - started < 3


# -- the disk is full, the output folder cannot be written ---------------------------------


def test_a_full_disk_is_one_line_not_a_traceback(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    def full() -> Path:
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), "/tmp/conc-tui-run-x")

    monkeypatch.setattr(engine_module, "new_run_dir", full)
    code = cli.main(["run", "--model", "serial", "--workload", "cpu", "--items", "1"])
    err = capsys.readouterr().err
    lines = [line for line in err.splitlines() if line.strip()]
    assert code == cli.EXIT_RUN_FAILED
    assert len(lines) == 1, err
    assert "No space left on device" in lines[0] and "TMPDIR" in lines[0]


def test_an_unwritable_temp_folder_in_a_real_process(tmp_path: Path) -> None:
    # TMPDIR names a file: Python falls back to another temp folder unless none works,
    # so point every candidate at it.
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("")
    env = {**os.environ, "TMPDIR": str(blocker), "TEMP": str(blocker), "TMP": str(blocker)}
    env["PYTHONPATH"] = str(ROOT)
    code = (
        "import tempfile, sys; tempfile.tempdir = sys.argv[1]\n"
        "from conc_tui.cli import main; sys.exit(main(sys.argv[2:]))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code, str(blocker), "run", "--model", "serial"]
        + ["--workload", "cpu", "--items", "1"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == cli.EXIT_RUN_FAILED, done.stderr
    assert "Traceback" not in done.stderr
    lines = [line for line in done.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("conc-tui: error: "), done.stderr


# -- bad input end to end: the real engine's checks, in a real process ---------------------


def _images(folder: Path, count: int) -> None:
    folder.mkdir(exist_ok=True)
    for n in range(count):
        Image.new("RGB", (32, 32), (n * 40 % 256, 80, 120)).save(folder / f"{n}.png")


@pytest.mark.parametrize(
    ("setup", "args", "expected"),
    [
        ("empty", ["--workload", "images", "--images"], "has no jpeg, png or webp images"),
        ("text", ["--workload", "images", "--images"], "has no jpeg, png or webp images"),
        ("empty", ["--workload", "files", "--files"], "contains no readable files"),
    ],
    ids=["images-empty", "images-none", "files-empty"],
)
def test_unusable_folders_are_one_line_and_status_2(
    setup: str, args: list[str], expected: str, tmp_path: Path
) -> None:
    folder = tmp_path / "input"
    folder.mkdir()
    if setup == "text":
        (folder / "notes.txt").write_text("not a picture")
        (folder / "fake.png").write_text("not a picture either")
    done = subprocess.run(
        [sys.executable, "-m", "conc_tui", "run", "--model", "serial", *args, str(folder)],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=ROOT,
    )
    lines = [line for line in done.stderr.splitlines() if line.strip()]
    assert done.returncode == 2, done.stderr
    assert len(lines) == 1 and lines[0].startswith("conc-tui: error: "), done.stderr
    assert expected in lines[0].lower(), lines[0]


# -- security -------------------------------------------------------------------------------


def test_the_local_site_listens_on_loopback_only() -> None:
    with LocalSite(5, 0.0) as url:
        assert url.startswith("http://127.0.0.1:")
        pid = _site_pid(url)
        listening = [
            c for c in psutil.Process(pid).net_connections(kind="inet") if c.status == "LISTEN"
        ]
    assert listening, "the site listens nowhere"
    assert {c.laddr.ip for c in listening} == {"127.0.0.1"}
    assert all(c.laddr.port != 0 for c in listening)


def _site_pid(url: str) -> int:
    port = int(url.rsplit(":", 1)[1].strip("/"))
    for child in psutil.Process().children(recursive=True):
        try:
            if any(c.laddr.port == port for c in child.net_connections(kind="inet")):
                return child.pid
        except psutil.Error:
            continue
    raise AssertionError(f"no child listens on {port}")


def test_the_crawler_says_who_it_is(tmp_path: Path) -> None:
    agents: list[str] = []

    async def page(request: web.Request) -> web.Response:
        agents.append(request.headers.get("User-Agent", ""))
        return web.Response(text='<a href="/two">two</a>', content_type="text/html")

    for model in ("async", "thread"):
        agents.clear()
        app = web.Application()
        app.router.add_get("/", page)
        app.router.add_get("/two", page)
        with _serving(app) as url:
            result = execute(RunConfig(model, "web", 2, WorkloadOptions(url=url + "/")))
        assert result.items_done == 2
        assert agents and set(agents) == {USER_AGENT}
    assert "conc-tui" in USER_AGENT


@contextmanager
def _serving(app: web.Application) -> Iterator[str]:
    loop = asyncio.new_event_loop()
    runner = web.AppRunner(app, access_log=None)
    ready = threading.Event()
    urls: list[str] = []

    def main() -> None:
        asyncio.set_event_loop(loop)
        loop.run_until_complete(runner.setup())
        loop.run_until_complete(web.TCPSite(runner, "127.0.0.1", 0).start())
        urls.append(f"http://127.0.0.1:{runner.addresses[0][1]}")
        ready.set()
        loop.run_forever()
        loop.run_until_complete(runner.cleanup())

    thread = threading.Thread(target=main, daemon=True)
    thread.start()
    assert ready.wait(5)
    try:
        yield urls[0]
    finally:
        loop.call_soon_threadsafe(loop.stop)
        thread.join(5)


def test_images_are_read_only_under_the_named_folder(tmp_path: Path) -> None:
    inside = tmp_path / "mine"
    outside = tmp_path / "secret"
    _images(inside, 2)
    _images(outside, 3)
    (inside / "escape.png").symlink_to(outside / "0.png")
    (inside / "linked-dir").symlink_to(outside, target_is_directory=True)
    workload = ImagesWorkload(WorkloadOptions(images=str(inside)))
    workload.prepare(tmp_path / "run")
    keys = sorted(item.key for item in workload.initial_items())
    assert len(keys) == 2, keys
    assert not any("escape" in key or "linked" in key or "secret" in key for key in keys)

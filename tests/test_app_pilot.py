"""Pilot tests: press every key and check what changes, with a fake controller."""

from __future__ import annotations

import asyncio
import functools
import os
import time
from collections.abc import Callable, Coroutine
from typing import Any

import pytest
from fakes import FakeController, FixedCores, make_snapshot
from textual.widgets import ContentSwitcher, Static

from conc_tui.app import APP_ITEMS, ConcApp, step_workers
from conc_tui.config import MAX_WORKERS, RunConfig, WorkloadOptions
from conc_tui.screens.help import HelpScreen
from conc_tui.telemetry.snapshot import Phase, Snapshot
from conc_tui.widgets.lanes import WorkerLanes


def sync(test: Callable[..., Coroutine[Any, Any, None]]) -> Callable[..., None]:
    """Run an async test with asyncio.run (no async pytest plugin is required)."""

    @functools.wraps(test)
    def wrapper(*args: Any, **kwargs: Any) -> None:
        asyncio.run(test(*args, **kwargs))

    return wrapper


def make_app() -> tuple[ConcApp, list[FakeController]]:
    made: list[FakeController] = []

    def factory() -> FakeController:
        # A slow fake: runs stay live for the whole test instead of finishing.
        controller = FakeController(interval=0.5)
        made.append(controller)
        return controller

    return ConcApp(controller_factory=factory, core_sampler=FixedCores()), made


def visible(app: ConcApp) -> str | None:
    return app.query_one("#panes", ContentSwitcher).current


@sync
async def test_panes_switch_with_number_keys_and_tab() -> None:
    app, _ = make_app()
    async with app.run_test(size=(120, 40)) as pilot:
        assert visible(app) == "pane-process"
        await pilot.press("2")
        assert visible(app) == "pane-thread"
        await pilot.press("3")
        assert visible(app) == "pane-async"
        await pilot.press("4")
        assert visible(app) == "pane-interp"
        await pilot.press("tab")
        assert visible(app) == "pane-process"
        await pilot.press("shift+tab")
        assert visible(app) == "pane-interp"
        await pilot.press("shift+tab")
        assert visible(app) == "pane-async"
        await pilot.press("1")
        assert visible(app) == "pane-process" and app.current == "process"


@sync
async def test_nothing_starts_before_space_and_defaults_are_right() -> None:
    app, made = make_app()
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.pause()
        assert made == []  # controllers are created lazily
        lanes = app.query_one("#pane-process WorkerLanes", WorkerLanes)
        assert "Press Space to start" in lanes._placeholder
        configs = {m: s.config for m, s in app.panes.items()}
        assert configs["process"].workers == (os.cpu_count() or 1)
        assert configs["process"].workload == "images"
        assert (configs["thread"].workers, configs["thread"].workload) == (8, "files")
        assert (configs["async"].workers, configs["async"].workload) == (50, "web")


@sync
async def test_space_starts_and_stops_and_run_survives_pane_switch() -> None:
    app, made = make_app()
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.press("2", "space")
        await pilot.pause(0.2)
        (thread_ctl,) = made
        assert thread_ctl.started[-1] == app.panes["thread"].config
        assert thread_ctl.running
        await pilot.press("1")
        await pilot.pause(0.1)
        assert thread_ctl.running and thread_ctl.stop_calls == 0
        assert "Threads ●" in str(app.query_one("#tabs").render())
        await pilot.press("2", "space")
        await pilot.pause(0.2)
        assert thread_ctl.stop_calls == 1 and not thread_ctl.running
        assert app.panes["thread"].snapshot is not None
        assert app.panes["thread"].snapshot.phase is Phase.STOPPED


@sync
async def test_workers_keys_restart_a_running_run() -> None:
    app, made = make_app()
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.press("3", "plus")
        assert app.panes["async"].config.workers == 64
        assert made == []  # not running: + only changes the config
        await pilot.press("space")
        await pilot.pause(0.2)
        await pilot.press("minus")
        await pilot.pause(0.2)
        (ctl,) = made
        assert [c.workers for c in ctl.started] == [64, 48]


def test_worker_steps_clamp() -> None:
    assert step_workers(1, up=False) == 1
    assert step_workers(MAX_WORKERS, up=True) == MAX_WORKERS
    assert step_workers(8, up=True) == 12 and step_workers(50, up=False) == 48


@sync
async def test_workload_cycle_restart_and_baseline() -> None:
    app, made = make_app()
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.press("w")
        assert app.panes["process"].config.workload == "files"
        await pilot.press("space")
        # "w" restarts only a live run: wait for the first snapshot to say it is live.
        assert await _wait_for(pilot, lambda: app.panes["process"].running)
        await pilot.press("w")
        await pilot.pause(0.1)
        await pilot.press("r")
        await pilot.pause(0.1)
        await pilot.press("b")
        await pilot.pause(0.1)
        (ctl,) = made
        assert [(c.model, c.workload) for c in ctl.started] == [
            ("process", "files"),
            ("process", "web"),
            ("process", "web"),
            ("serial", "web"),
        ]
        assert ctl.started[-1].workers == 1


@sync
async def test_serial_result_gives_a_speedup() -> None:
    app, _ = make_app()
    async with app.run_test(size=(120, 40)) as pilot:
        serial = make_snapshot("serial", "images", 1, 1000)
        app.show_snapshot("process", serial)
        assert serial.result is not None
        options = app.panes["process"].config.options
        assert app.serial_results[("images", options)] == serial.result.wall_s
        process = make_snapshot("process", "images", 4, 1000)
        app.show_snapshot("process", process)
        await pilot.pause()
        progress = app.query_one("#pane-process .progress")
        assert process.result is not None
        speedup = f"{serial.result.wall_s / process.result.wall_s:.1f}× vs serial"  # 3.8×
        assert any(speedup in line for line in progress.lines)  # type: ignore[attr-defined]


@sync
async def test_help_screen_opens_and_blocks_pane_keys() -> None:
    app, made = make_app()
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.press("question_mark")
        assert isinstance(app.screen, HelpScreen)
        await pilot.press("space", "2")
        assert made == [] and app.current == "process"
        await pilot.press("escape")
        assert not isinstance(app.screen, HelpScreen)


@sync
async def test_quit_closes_every_controller_quickly() -> None:
    app, made = make_app()
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.press("space", "2", "space")
        await pilot.pause(0.2)
        assert len(made) == 2 and all(c.running for c in made)
        began = time.monotonic()
        await pilot.press("q")
        await pilot.pause()
    assert time.monotonic() - began < 1.0
    assert all(c.closed and not c.running for c in made)


@sync
async def test_cores_are_sampled_off_the_ui_loop_before_any_run() -> None:
    app, _ = make_app()
    async with app.run_test(size=(120, 40)) as pilot:
        sampler = app._core_sampler
        for _ in range(30):  # up to 3 s on a loaded CI box; usually 0.25 s
            await pilot.pause(0.1)
            if isinstance(sampler, FixedCores) and sampler.calls and app._cores:
                break
        assert isinstance(sampler, FixedCores) and sampler.calls >= 1
        bars = app.query_one("#pane-process CoreBars")
        assert bars.cores == 4  # type: ignore[attr-defined]


@pytest.mark.parametrize("size", [(59, 30), (100, 15)])
@sync
async def test_too_small_terminal_says_so(size: tuple[int, int]) -> None:
    app, _ = make_app()
    async with app.run_test(size=size) as pilot:
        await pilot.pause()
        assert app.screen.has_class("-too-small")
        assert app.query_one("#too-small").display
        assert not app.query_one("#panes").display


class InstantController:
    """A controller whose runs finish at once: one FINISHED snapshot per start."""

    def __init__(self) -> None:
        self.started: list[RunConfig] = []
        self.running = False

    def start(self, config: RunConfig, on_snapshot: Callable[[Snapshot], None]) -> None:
        self.started.append(config)
        on_snapshot(
            make_snapshot(config.model, config.workload, config.workers, 5, phase=Phase.FINISHED)
        )

    def request_stop(self) -> None:
        self.stop()

    def stop(self) -> None:
        pass

    def close(self) -> None:
        pass


async def _wait_for(pilot: Any, condition: Callable[[], bool], limit_s: float = 3.0) -> bool:
    deadline = time.monotonic() + limit_s
    while time.monotonic() < deadline:
        if condition():
            return True
        await pilot.pause(0.02)
    return condition()


@sync
async def test_loop_key_restarts_finished_runs_until_turned_off(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr("conc_tui.app.LOOP_PAUSE_S", 0.05)
    controllers: list[InstantController] = []

    def factory() -> InstantController:
        controllers.append(InstantController())
        return controllers[-1]

    app = ConcApp(controller_factory=factory, core_sampler=FixedCores())
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.press("2", "l")
        state = app.panes["thread"]
        assert state.loop and not app.panes["process"].loop
        assert "↻" in str(app.query_one("#tabs", Static).render())
        progress = app.query_one("#pane-thread .progress")
        assert "↻ loop" in progress.lines[0]  # type: ignore[attr-defined]
        assert controllers == []  # loop mode alone starts nothing
        await pilot.press("space")
        assert await _wait_for(pilot, lambda: len(controllers[0].started) >= 3)
        await pilot.press("l")
        assert not state.loop
        await pilot.pause(0.3)
        count = len(controllers[0].started)
        await pilot.pause(0.3)
        assert len(controllers[0].started) == count  # no more restarts once it is off
        assert all(c == state.config for c in controllers[0].started)


@sync
async def test_loop_does_not_restart_a_stopped_run(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("conc_tui.app.LOOP_PAUSE_S", 0.05)
    app, made = make_app()
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.press("l", "space")
        assert made and app.panes["process"].running
        await pilot.press("space")  # the user stops it: loop must respect that
        assert await _wait_for(pilot, lambda: not app.panes["process"].running)
        await pilot.pause(0.3)
        assert len(made[0].started) == 1


def test_app_sizes_apply_unless_items_is_given() -> None:
    app = ConcApp(controller_factory=FakeController, core_sampler=FixedCores())
    assert app.panes["process"].config.options.items == APP_ITEMS["images"]
    assert app.panes["thread"].config.options.items == APP_ITEMS["files"]
    given = ConcApp(
        controller_factory=FakeController,
        core_sampler=FixedCores(),
        options=WorkloadOptions(items=5),
    )
    assert {s.config.options.items for s in given.panes.values()} == {5}


@sync
async def test_core_samples_reaching_a_pane_before_mount_or_after_removal_are_harmless() -> None:
    """The race behind 'No nodes match CoreBars': samples come from a thread."""
    from conc_tui.app import CoresSampled
    from conc_tui.widgets.cores import CoreBars
    from conc_tui.widgets.pane import ModelPane

    app, _made = make_app()
    history = ((10.0, 90.0),)
    async with app.run_test(size=(160, 48)) as pilot:
        unmounted = ModelPane("process")
        unmounted.show_cores(history)  # no children at all yet
        unmounted.show(None, app.panes["process"].config, None)
        pane = app.query_one("#pane-process", ModelPane)
        await pane.query_one(CoreBars).remove()  # children going away
        app.on_cores_sampled(CoresSampled(history))
        app.show_snapshot("process", make_snapshot("process", "cpu", 2, 3, phase=Phase.RUNNING))
        await pane.remove()  # the pane itself going away
        app.on_cores_sampled(CoresSampled(history))
        await pilot.pause()
        assert app.is_running


@sync
async def test_a_hidden_panes_snapshot_does_not_hold_back_the_visible_panes_frame() -> None:
    """Snapshots of panes not on screen are kept, not drawn: they must not reset the
    redraw throttle, or the visible pane's next frame waits for a timer."""
    from fakes import make_snapshot

    from conc_tui.app import SnapshotArrived

    app, _ = make_app()
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.press("2")
        thread, process = app.panes["thread"], app.panes["process"]
        app.on_snapshot_arrived(
            SnapshotArrived("thread", thread.generation, make_snapshot("thread", "cpu", 2, 5))
        )
        await asyncio.sleep(0.12)  # more than one frame's interval at 10 Hz
        app.on_snapshot_arrived(
            SnapshotArrived("process", process.generation, make_snapshot("process", "cpu", 2, 5))
        )
        assert process.snapshot is not None  # kept for when the pane is shown
        newer = make_snapshot("thread", "cpu", 2, 9)
        app.on_snapshot_arrived(SnapshotArrived("thread", thread.generation, newer))
        lanes = app.query_one("#pane-thread WorkerLanes", WorkerLanes)
        # Drawn at once, not left for a timer.
        assert lanes.history.elapsed_s == pytest.approx(newer.elapsed_s)


def progress_text(app: ConcApp, model: str) -> str:
    from conc_tui.widgets.lines import LinesView

    view = app.query_one(f"#pane-{model} .progress", LinesView)
    return "\n".join(row.plain for row in view._rows)


@sync
async def test_live_frames_move_the_lanes_and_redraw_figures_a_few_times_a_second() -> None:
    """Every frame of a live run moves the lanes; its figures (progress, side panel,
    core bars) are redrawn at most every FIGURES_S, and at once when the run ends."""
    from conc_tui.app import FIGURES_S, CoresSampled, SnapshotArrived

    app, _ = make_app()
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.press("2")
        state = app.panes["thread"]
        lanes = app.query_one("#pane-thread WorkerLanes", WorkerLanes)

        def arrive(step: int, phase: Phase | None = Phase.RUNNING) -> Snapshot:
            snapshot = make_snapshot("thread", "files", 4, step, phase=phase)
            app._last_redraw = 0.0  # no frame throttle: this test is about the figures
            app.on_snapshot_arrived(SnapshotArrived("thread", state.generation, snapshot))
            return snapshot

        arrive(10)
        first = progress_text(app, "thread")
        moved = arrive(11)
        assert lanes.history.elapsed_s == pytest.approx(moved.elapsed_s)
        assert progress_text(app, "thread") == first  # too soon for the figures
        app.on_cores_sampled(CoresSampled(((5.0, 5.0),)))
        assert app._cores_due  # kept for the next figures, not drawn on its own
        state.last_heard -= 10  # a run gone quiet sends no frames: cores drawn at once
        app.on_cores_sampled(CoresSampled(((6.0, 6.0),)))
        assert not app._cores_due and app._cores == ((6.0, 6.0),)
        state.last_heard += 10
        app.on_cores_sampled(CoresSampled(((5.0, 5.0),)))
        assert app._cores_due
        app._last_figures -= FIGURES_S
        arrive(40)
        assert progress_text(app, "thread") != first
        assert not app._cores_due and app._cores == ((5.0, 5.0),)
        arrive(41)
        later = progress_text(app, "thread")
        arrive(400, phase=None)  # finished: the final figures are never held back
        assert progress_text(app, "thread") != later


@sync
async def test_panes_under_another_screen_are_not_drawn_until_it_closes() -> None:
    """With help (or race, compare, the hazard lab) over the panes, live snapshots are
    kept and not drawn; closing it draws the newest at once."""
    from conc_tui.app import SnapshotArrived

    app, _ = make_app()
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.press("2")
        state = app.panes["thread"]
        lanes = app.query_one("#pane-thread WorkerLanes", WorkerLanes)
        first = make_snapshot("thread", "files", 4, 10, phase=Phase.STOPPED)
        app.on_snapshot_arrived(SnapshotArrived("thread", state.generation, first))
        assert lanes.history.elapsed_s == pytest.approx(first.elapsed_s)
        assert app.sub_title == "nothing running"
        await pilot.press("question_mark")
        assert isinstance(app.screen, HelpScreen) and app.panes_covered
        newer = make_snapshot("thread", "files", 4, 30, phase=Phase.RUNNING)
        app._last_redraw = 0.0
        app.on_snapshot_arrived(SnapshotArrived("thread", state.generation, newer))
        app._flush_redraw()
        assert state.snapshot is newer
        assert lanes.history.elapsed_s == pytest.approx(first.elapsed_s)  # not drawn
        assert app.sub_title == "nothing running"  # the tabs wait too
        await pilot.press("escape")
        await pilot.pause()
        assert not app.panes_covered
        assert lanes.history.elapsed_s == pytest.approx(newer.elapsed_s)
        assert app.sub_title == "running: Threads"


@sync
async def test_a_hidden_panes_live_snapshots_are_posted_a_few_times_a_second() -> None:
    """A pane not on screen needs a live snapshot every HIDDEN_SNAPSHOT_S at most; the
    visible pane gets every one, and a run's last snapshot always goes through."""
    from conc_tui.app import HIDDEN_SNAPSHOT_S, SnapshotArrived

    app, _ = make_app()
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.press("2")
        posted: list[str] = []
        post = app.post_message

        def count(message: Any) -> bool:
            if isinstance(message, SnapshotArrived):
                posted.append(message.model)
            return post(message)

        app.post_message = count  # type: ignore[method-assign]
        hidden, shown = app._callback("process", 1), app._callback("thread", 1)
        for step in range(5):
            hidden(make_snapshot("process", "cpu", 2, step, phase=Phase.RUNNING))
            shown(make_snapshot("thread", "cpu", 2, step, phase=Phase.RUNNING))
        assert posted.count("thread") == 5 and posted.count("process") == 1
        hidden(make_snapshot("process", "cpu", 2, 400, phase=Phase.FINISHED))
        assert posted.count("process") == 2
        await asyncio.sleep(HIDDEN_SNAPSHOT_S)
        hidden(make_snapshot("process", "cpu", 2, 6, phase=Phase.RUNNING))
        assert posted.count("process") == 3


@sync
async def test_start_up_objects_are_frozen_out_of_the_collectors_reach() -> None:
    """A full collection walked every widget and module each time (about 80 ms with
    64 lanes live); the app freezes what start-up built once its first frame is out."""
    import gc

    gc.unfreeze()
    app, _ = make_app()
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.pause()
        await pilot.pause()
        assert gc.get_freeze_count() > 10_000


@sync
async def test_keys_typed_after_quit_open_nothing() -> None:
    """q then s before the app is gone: the compare screen opened while Textual took the
    screens down, found its widgets missing and crashed the exit with a traceback."""
    from textual import events

    from conc_tui.screens.compare import CompareScreen

    app, _ = make_app()
    async with app.run_test(size=(120, 36)) as pilot:
        await pilot.press("2", "space")
        await pilot.pause(0.2)
        app.post_message(events.Key("q", "q"))
        app.post_message(events.Key("s", "s"))
        await pilot.pause(0.3)
        assert app.closing
        assert not any(isinstance(screen, CompareScreen) for screen in app.screen_stack)
    assert app._exception is None and app.return_code == 0


@sync
async def test_race_and_compare_start_nothing_once_the_app_is_quitting() -> None:
    from conc_tui.screens.compare import CompareScreen

    app, _ = make_app()
    async with app.run_test(size=(120, 36)) as pilot:
        await pilot.press("s")
        await pilot.pause(0.2)
        screen = app.screen
        assert isinstance(screen, CompareScreen)
        assert screen.check_action("compare_again", ())
        app.close_controllers()  # what q does first
        assert not screen.check_action("compare_again", ())

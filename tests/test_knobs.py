"""The in-app knobs and the compare view, pressed with Pilot and a fake controller."""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass, field

import pytest
from fakes import FakeController, FixedCores, make_snapshot
from test_app_pilot import make_app, sync
from textual.widgets import Static

from conc_tui.app import ConcApp
from conc_tui.config import RunConfig, WorkloadOptions
from conc_tui.controller import SnapshotCallback
from conc_tui.keys import help_rows, palette_entries
from conc_tui.knobs import KNOBS, carry_knobs, knob, knob_text
from conc_tui.screens.compare import ONE_AFTER_ANOTHER, CompareScreen, on_axis
from conc_tui.telemetry.snapshot import WorkerView
from conc_tui.telemetry.states import WorkerState
from conc_tui.widgets.lanes import WorkerLanes

# (knob, keys that bring up a pane and workload where it applies, the pane, option field)
CASES = [
    ("filter", "i", ("1",), "process", "filter"),
    ("to_thread", "t", ("3", "w"), "async", "to_thread"),  # web -> cpu: a blocking workload
    ("web_latency", "n", ("3",), "async", "latency_ms"),
    ("io_latency", "o", ("2",), "thread", "io_latency_ms"),
    ("duration", "d", ("1",), "process", "duration_s"),
]


def knobs_line(app: ConcApp, model: str) -> str:
    return str(app.query_one(f"#pane-{model} .knobs", Static).render())


@pytest.mark.parametrize("name,key,setup,model,field_name", CASES)
@sync
async def test_each_knob_changes_the_config_and_header_and_restarts_the_run(
    name: str, key: str, setup: tuple[str, ...], model: str, field_name: str
) -> None:
    app, made = make_app()
    async with app.run_test(size=(160, 40)) as pilot:
        await pilot.press(*setup)
        before = app.panes[model].config
        header_before = knobs_line(app, model)
        assert key + " " in header_before  # the header names the key that turns it
        await pilot.press(key)
        after = app.panes[model].config
        assert getattr(after.options, field_name) != getattr(before.options, field_name)
        assert after.options == knob(name).turned(before.options)
        assert knobs_line(app, model) != header_before
        assert made == []  # nothing was running: only the config changed
        await pilot.press("space")
        await pilot.pause(0.2)
        await pilot.press(key)
        await pilot.pause(0.2)
        (ctl,) = made
        assert len(ctl.started) == 2  # the running run restarted with the new value
        assert ctl.started[-1] == app.panes[model].config
        assert getattr(ctl.started[-1].options, field_name) != getattr(
            ctl.started[0].options, field_name
        )


@sync
async def test_a_new_workload_keeps_the_knobs() -> None:
    app, _ = make_app()
    async with app.run_test(size=(160, 40)) as pilot:
        await pilot.press("1", "i", "d", "w")
        options = app.panes["process"].config.options
        assert app.panes["process"].config.workload == "files"
        assert options.filter == "sharpen"
        assert options.duration_s == knob("duration").values[0]


def test_knob_text_shows_only_what_concerns_the_run() -> None:
    options = WorkloadOptions(filter="median", duration_s=20.0)
    assert knob_text("thread", "images", options) == ("i filter median, holds the GIL · d 20 s run")
    assert "to_thread off" in knob_text("async", "cpu", options)
    assert "to_thread" not in knob_text("async", "web", options)  # native async already
    assert "to_thread" not in knob_text("thread", "cpu", options)
    assert "every input once" in knob_text("thread", "cpu", WorkloadOptions())
    turned = carry_knobs(WorkloadOptions(items=7), options)
    assert (turned.items, turned.filter, turned.duration_s) == (7, "median", 20.0)


def test_every_knob_and_compare_is_in_the_palette_and_help() -> None:
    actions = {action for _t, _h, action in palette_entries()}
    for k in KNOBS:
        assert f"knob({k.name!r})" in actions
    assert "compare" in actions
    keys = {keys for keys, _ in help_rows()}
    assert {k.key for k in KNOBS} | {"s"} <= keys


@sync
async def test_the_race_and_compare_never_use_timed_runs() -> None:
    made: list[FakeController] = []

    def factory() -> FakeController:
        made.append(FakeController(interval=0.5))
        return made[-1]

    app = ConcApp(
        controller_factory=factory,
        core_sampler=FixedCores(),
        options=WorkloadOptions(duration_s=20.0),
    )
    async with app.run_test(size=(160, 40)) as pilot:
        assert app.panes["process"].config.options.duration_s == 20.0
        await pilot.press("c")
        await pilot.pause(0.2)
        assert made[-1].started[0].options.duration_s is None
        await pilot.press("escape", "s")
        await pilot.pause(0.2)
        assert made[-1].started[0].options.duration_s is None


@dataclass
class RecordingController(FakeController):
    """A fast fake that logs each start and each run's end, to prove they never overlap."""

    log: list[tuple[str, str]] = field(default_factory=list)

    def start(self, config: RunConfig, on_snapshot: SnapshotCallback) -> None:
        self.log.append(("start", config.model))

        def deliver(snapshot):  # type: ignore[no-untyped-def]
            if not snapshot.phase.active:
                self.log.append(("end", config.model))
            on_snapshot(snapshot)

        super().start(config, deliver)


@sync
async def test_compare_runs_the_models_one_after_another_and_stacks_their_lanes() -> None:
    made: list[RecordingController] = []

    def factory() -> RecordingController:
        made.append(RecordingController(interval=0.01))
        return made[-1]

    app = ConcApp(
        controller_factory=factory,
        core_sampler=FixedCores(),
        options=WorkloadOptions(items=6),
    )
    async with app.run_test(size=(160, 48)) as pilot:
        await pilot.press("2", "s")
        screen = app.screen
        assert isinstance(screen, CompareScreen)
        deadline = time.monotonic() + 20
        while not screen.finished and time.monotonic() < deadline:
            await asyncio.sleep(0.1)
        await pilot.pause(0.2)
        assert screen.finished
        (ctl,) = made
        models = ["process", "thread", "async"]
        assert screen.started == models
        # Each run ended before the next started: never two at once.
        assert ctl.log == [(what, m) for m in models for what in ("start", "end")]
        assert all(c.workload == "files" for c in ctl.started)
        lanes = list(screen.query(WorkerLanes))
        assert len(lanes) == 3 and all(lane.virtual_size.height > 0 for lane in lanes)
        note = str(screen.query_one("#compare-note", Static).render())
        assert "one after another" in note and note == ONE_AFTER_ANOTHER
        titles = [str(screen.query_one(f"#compare-title-{i}", Static).render()) for i in range(3)]
        assert all("finished in" in title for title in titles)
        await pilot.press("escape")
        assert not isinstance(app.screen, CompareScreen)


def _view(lane: bytes) -> WorkerView:
    return WorkerView(worker_id=1, label="w", state=0, lane=lane)


def test_lanes_share_one_time_axis_from_each_run_start() -> None:
    running, done = int(WorkerState.RUNNING), int(WorkerState.DONE)
    short = _view(bytes([0] * 10 + [running] * 5))  # 0.5 s run at the end of its lane
    long = _view(bytes([running] * 10))  # 1.0 s run
    (a,) = on_axis([short], 0.1, 0.5, 1.0, 10)
    (b,) = on_axis([long], 0.1, 1.0, 1.0, 10)
    assert a.lane == bytes([running] * 5 + [done] * 5)  # done once its run ended
    assert b.lane == bytes([running] * 10)
    (halved,) = on_axis([long], 0.1, 1.0, 1.0, 5)
    assert len(halved.lane) == 5


@sync
async def test_a_timed_run_is_compared_with_serial_by_throughput() -> None:
    app = ConcApp(
        controller_factory=lambda: FakeController(interval=0.5),
        core_sampler=FixedCores(),
        options=WorkloadOptions(duration_s=20.0),
    )
    async with app.run_test(size=(160, 40)) as pilot:
        serial = make_snapshot("serial", "images", 1, 1000)
        app.show_snapshot("process", serial)
        assert serial.result is not None
        assert app.serial_results == {}  # its wall time is the duration: no yardstick
        timed = make_snapshot("process", "images", 4, 1000)
        assert timed.result is not None
        app.show_snapshot("process", timed)
        await pilot.pause()
        lines = app.query_one("#pane-process .progress").lines  # type: ignore[attr-defined]
        serial_rate = serial.result.items_done / serial.result.wall_s
        rate = timed.result.items_done / timed.result.wall_s
        assert any(f"{rate / serial_rate:.1f}× vs serial" in line for line in lines), lines

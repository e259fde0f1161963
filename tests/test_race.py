"""The race screen: every model runs once, in order, and the verdict names the winner."""

from __future__ import annotations

import asyncio
from dataclasses import replace

from rich.console import Console
from rich.table import Table
from textual.app import App

from conc_tui.config import RunConfig, WorkloadOptions
from conc_tui.demo import FakeController, make_snapshot
from conc_tui.screens.race import RACE_ORDER, RaceScreen, race_table
from conc_tui.telemetry.snapshot import Phase, RunResult

WORKERS = {"serial": 1, "process": 2, "thread": 4, "async": 8}


def _result(model: str, wall_s: float, checksum: str = "abc") -> RunResult:
    snap = make_snapshot(model, "cpu", WORKERS[model], 500, options=WorkloadOptions(items=4))
    assert snap.phase == Phase.FINISHED and snap.result is not None
    return replace(snap.result, wall_s=wall_s, checksum=checksum, status="finished")


def _text(table: Table) -> str:
    console = Console(width=120, record=True)
    console.print(table)
    return console.export_text()


def test_race_table_shows_speedups_and_flags_a_different_checksum() -> None:
    results = {
        "serial": _result("serial", 4.0),
        "process": _result("process", 2.0),
        "thread": _result("thread", 4.0, checksum="zzz"),
    }
    text = _text(race_table(RACE_ORDER, WORKERS, results, {}, None))
    assert "2.0×" in text  # processes: 4 s / 2 s
    assert "≠ serial" in text  # the threads' checksum differs
    assert "waiting" in text  # asyncio has not run yet


class RaceApp(App[None]):
    def __init__(self, controller: FakeController) -> None:
        super().__init__()
        self.controller = controller

    def on_mount(self) -> None:
        base = RunConfig("serial", "cpu", 1, WorkloadOptions(items=4))
        self.push_screen(RaceScreen(base, WORKERS, self.controller))


def test_race_runs_every_model_in_order_and_gives_a_verdict() -> None:
    async def scenario() -> None:
        controller = FakeController(interval=0.005)
        app = RaceApp(controller)
        async with app.run_test(size=(120, 30)) as pilot:
            screen = app.screen
            assert isinstance(screen, RaceScreen)
            for _ in range(400):
                await pilot.pause(0.01)
                if screen.finished:
                    break
            assert screen.finished
            assert [c.model for c in controller.started] == list(RACE_ORDER)
            assert [c.workers for c in controller.started] == [WORKERS[m] for m in RACE_ORDER]
            assert set(screen.results) == set(RACE_ORDER)
            winner, rule = screen.verdict_lines()
            assert winner.startswith("cpu: ") and ("over serial" in winner or "serial" in winner)
            assert rule.startswith("rule of thumb")
            await pilot.press("escape")
            await pilot.pause(0.05)
            assert not isinstance(app.screen, RaceScreen)

    asyncio.run(scenario())


def test_q_quits_the_app_from_the_race_and_closes_its_controller() -> None:
    from conc_tui.app import ConcApp

    async def scenario() -> None:
        made: list[FakeController] = []

        def factory() -> FakeController:
            made.append(FakeController(interval=0.5))
            return made[-1]

        app = ConcApp(controller_factory=factory)
        async with app.run_test(size=(120, 40)) as pilot:
            await pilot.press("c")
            await pilot.pause(0.1)
            assert isinstance(app.screen, RaceScreen)
            race_controller = made[-1]
            await pilot.press("q")
            await pilot.pause(0.2)
            assert race_controller.closed
        assert app.return_code is not None

    asyncio.run(scenario())

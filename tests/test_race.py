"""The race screen: every model runs three times, rounds interleaved, and the verdict
names a winner only when the margin stands clear of the runs' scatter."""

from __future__ import annotations

import asyncio
from dataclasses import replace

from fakes import FakeController, make_snapshot
from rich.console import Console
from rich.table import Table
from textual.app import App

from conc_tui.config import RunConfig, WorkloadOptions
from conc_tui.screens.race import RACE_ORDER, RACE_ROUNDS, RaceScreen, race_table
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


def test_race_table_shows_medians_spread_and_flags_a_different_checksum() -> None:
    results = {
        "serial": [_result("serial", w) for w in (4.0, 3.8, 4.4)],
        "process": [_result("process", w) for w in (2.0, 2.2, 1.9)],
        "thread": [_result("thread", 4.0, checksum="zzz")],
    }
    results["process"][0] = replace(results["process"][0], others_cores_busy=1.25)
    text = _text(race_table(RACE_ORDER, WORKERS, results, {}, None))
    assert "2.0×" in text  # processes: median 4.0 s / median 2.0 s
    assert "1.90–2.20" in text  # the spread of the three process runs
    assert "3/3" in text and "1/3" in text  # runs made of each
    assert "1.25" in text  # other programs' load, measured during the run
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
            assert RACE_ROUNDS == 3
            # Three rounds, interleaved as in bench: serial, process, thread, async, again.
            assert [c.model for c in controller.started] == list(RACE_ORDER) * 3
            assert [c.workers for c in controller.started] == [WORKERS[m] for m in RACE_ORDER] * 3
            assert {m: len(runs) for m, runs in screen.results.items()} == dict.fromkeys(
                RACE_ORDER, 3
            )
            winner, load, rule = screen.verdict_lines()
            # The fake's runs repeat exactly; asyncio is its fastest (1.0 s, serial 8.0 s).
            wall = {m: runs[0].wall_s for m, runs in screen.results.items()}
            assert min(wall, key=wall.__getitem__) == "async"
            async_x = wall["serial"] / wall["async"]
            process_x = wall["serial"] / wall["process"]
            assert winner.startswith(
                f"cpu: asyncio wins, {async_x:.1f}× over serial; processes {process_x:.1f}×"
            )
            assert load == "machine: other programs' load not measured"
            assert rule.endswith(
                f"not for cpu (expected processes, asyncio won {async_x:.1f}× "
                f"against {process_x:.1f}×)"
            )
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

"""SVG snapshot tests of every pane and the help screen, fed with fixed fake data.

No threads feed these screens and no clock: each test injects a :func:`make_snapshot`
result and fixed core samples, so a changed SVG means a changed layout.
Regenerate with ``pytest tests/test_app_snapshots.py --snapshot-update`` and look.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import pytest
from fakes import FakeController, FixedCores, make_snapshot

from conc_tui.app import ConcApp

SIZES = [(80, 24), (160, 48)]
HISTORY = tuple(tuple(float((17 * core + 9 * t) % 101) for core in range(8)) for t in range(12))


RUNS = {
    "process": ("images", 8, 25),
    "thread": ("files", 8, 40),
    "async": ("web", 50, 30),
}


def make_app() -> ConcApp:
    return ConcApp(controller_factory=FakeController, core_sampler=FixedCores(HISTORY))


def feed(model: str) -> Any:
    async def run_before(pilot: Any) -> None:
        app: ConcApp = pilot.app
        workload, workers, step = RUNS[model]
        state = app.panes[model]
        state.config = replace(state.config, workload=workload, workers=workers)
        await pilot.press({"process": "1", "thread": "2", "async": "3"}[model])
        app.show_cores(HISTORY)
        app.show_snapshot(model, make_snapshot(model, workload, workers, step))
        await pilot.pause()

    return run_before


@pytest.mark.parametrize("size", SIZES, ids=lambda s: f"{s[0]}x{s[1]}")
@pytest.mark.parametrize("model", list(RUNS))
def test_pane(snap_compare: Any, model: str, size: tuple[int, int]) -> None:
    assert snap_compare(make_app(), terminal_size=size, run_before=feed(model))


@pytest.mark.parametrize("size", SIZES, ids=lambda s: f"{s[0]}x{s[1]}")
def test_help_screen(snap_compare: Any, size: tuple[int, int]) -> None:
    before = feed("thread")

    async def run_before(pilot: Any) -> None:
        await before(pilot)
        await pilot.press("question_mark")
        await pilot.pause()

    assert snap_compare(make_app(), terminal_size=size, run_before=run_before)


def test_finished_with_speedup(snap_compare: Any) -> None:
    async def run_before(pilot: Any) -> None:
        app: ConcApp = pilot.app
        state = app.panes["process"]
        state.config = replace(state.config, workers=8)
        app.show_cores(HISTORY)
        app.show_snapshot("process", make_snapshot("serial", "images", 1, 1000))
        app.show_snapshot("process", make_snapshot("process", "images", 8, 1000))
        await pilot.pause()

    assert snap_compare(make_app(), terminal_size=(100, 30), run_before=run_before)

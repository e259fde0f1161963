"""Issue #9, the screen: the point is never cut, the header shows the next run, the
final rate is the run's average, a summary built from measured figures, the narrow
footer, every key in the palette, and colours that follow the theme."""

from __future__ import annotations

import asyncio
import functools
import re
from collections.abc import Callable, Coroutine
from dataclasses import replace
from typing import Any

import pytest
from fakes import FakeController, make_snapshot
from textual.widgets import Static

from conc_tui.app import ConcApp
from conc_tui.telemetry.snapshot import Phase, Snapshot
from conc_tui.widgets.card import look_for
from conc_tui.widgets.lines import LinesView
from conc_tui.widgets.panels import summary_lines


def sync(test: Callable[..., Coroutine[Any, Any, None]]) -> Callable[..., None]:
    @functools.wraps(test)
    def wrapper(*args: Any, **kwargs: Any) -> None:
        asyncio.run(test(*args, **kwargs))

    return wrapper


class FixedCores:
    def __init__(self, history: tuple[tuple[float, ...], ...] = ((10.0, 20.0),) * 4) -> None:
        self._history = history

    def sample(self) -> tuple[float, ...]:
        return self._history[-1]

    def history(self) -> tuple[tuple[float, ...], ...]:
        return self._history


def make_app(cores: tuple[tuple[float, ...], ...] | None = None) -> ConcApp:
    """The app on fake runs; ``cores`` fixes what the core bars show, whenever sampled."""
    sampler = FixedCores(cores) if cores is not None else FixedCores()
    return ConcApp(controller_factory=FakeController, core_sampler=sampler)


def finished(model: str, workload: str, workers: int, **figures: Any) -> Snapshot:
    """A finished run with a result whose figures the test chooses."""
    base = make_snapshot(model, workload, workers, 400, phase=Phase.FINISHED)
    assert base.result is not None
    result = replace(base.result, **figures)
    return replace(base, result=result, items_done=result.items_done)


def screen_text(app: ConcApp, widget: Any) -> str:
    """The text the screen shows inside a widget's region, words joined by spaces."""
    region = widget.content_region
    strips = app.screen._compositor.render_strips()
    rows = [strips[y].crop(region.x, region.right).text for y in range(region.y, region.bottom)]
    return " ".join(" ".join(rows).split())


# -- 1. "Look for" is never cut --------------------------------------------------------

LOOK_FOR_CASES = [
    (model, workload)
    for model in ("process", "thread", "async")
    for workload in ("images", "cpu", "files", "web")
]


@pytest.mark.parametrize("size", [(80, 24), (120, 36), (200, 60)], ids=lambda s: f"{s[0]}x{s[1]}")
@sync
async def test_look_for_is_shown_whole_at_every_size(size: tuple[int, int]) -> None:
    app = make_app()
    async with app.run_test(size=size) as pilot:
        for key, model in (("1", "process"), ("2", "thread"), ("3", "async")):
            await pilot.press(key)
            for workload in ("images", "cpu", "files", "web"):
                state = app.panes[model]
                state.config = replace(state.config, workload=workload)
                app.show_snapshot(model, make_snapshot(model, workload, state.config.workers, 20))
                await pilot.pause()
                card = app.query_one(f"#pane-{model} .card", Static)
                shown = screen_text(app, card)
                wanted = " ".join(f"Look for: {look_for(model, workload)}".split())
                assert wanted in shown, (size, model, workload, shown)


# -- panel values never cut mid-number ------------------------------------------------------

NUMBER_AT_EDGE = re.compile(r"\d[\d.,–]*$")


@pytest.mark.parametrize("size", [(80, 24), (120, 36)], ids=lambda s: f"{s[0]}x{s[1]}")
@pytest.mark.parametrize(
    "model,workload", [("process", "images"), ("thread", "files"), ("async", "web")]
)
@sync
async def test_panel_rows_fit_their_width(size: tuple[int, int], model: str, workload: str) -> None:
    app = make_app()
    async with app.run_test(size=size) as pilot:
        await pilot.press({"process": "1", "thread": "2", "async": "3"}[model])
        state = app.panes[model]
        state.config = replace(state.config, workload=workload, workers=8)
        app.show_snapshot(model, make_snapshot(model, workload, 8, 25))
        await pilot.pause()
        # A scroll bar that comes with these rows rewraps them after its layout.
        await pilot.pause(0.05)
        for view in app.query(f"#pane-{model} LinesView").results(LinesView):
            width = view.scrollable_content_region.width
            for row in view.rows:
                assert len(row) <= width, (view.classes, row)


# -- 3. the header shows the next run ---------------------------------------------------


@sync
async def test_header_shows_the_next_run_after_w_plus_minus_on_a_finished_run() -> None:
    app = make_app()
    async with app.run_test(size=(120, 36)) as pilot:
        await pilot.press("2")
        state = app.panes["thread"]
        state.config = replace(state.config, workload="files", workers=8)
        app.show_snapshot("thread", finished("thread", "files", 8))
        await pilot.pause()
        progress = app.query_one("#pane-thread .progress", LinesView)
        assert "thread × 8 · files" in progress.lines[0]
        assert "NEXT RUN" not in progress.lines[0]
        await pilot.press("plus")
        await pilot.pause()
        assert "NEXT RUN" in progress.lines[0] and "thread × 12 · files" in progress.lines[0]
        await pilot.press("minus", "minus")
        await pilot.pause()
        assert "thread × 6 · files" in progress.lines[0]
        await pilot.press("w")
        await pilot.pause()
        assert f"thread × 6 · {state.config.workload}" in progress.lines[0]
        assert "NEXT RUN" in progress.lines[0]
        # The figures below still belong to the last run, and say so.
        assert "last run thread × 8 · files" in progress.lines[2]


# -- 4. the final progress line is the run's average -----------------------------------


@sync
async def test_final_progress_line_shows_the_average_throughput() -> None:
    app = make_app()
    async with app.run_test(size=(120, 36)) as pilot:
        await pilot.press("2")
        state = app.panes["thread"]
        state.config = replace(state.config, workload="files", workers=8)
        snap = finished("thread", "files", 8, wall_s=4.0, items_done=500)
        # The last second's rate was 3/s; the run averaged 500 / 4 s = 125/s.
        snap = replace(snap, throughput=3.0, elapsed_s=4.0)
        app.show_snapshot("thread", snap)
        await pilot.pause()
        progress = app.query_one("#pane-thread .progress", LinesView)
        assert "avg 125.0/s" in progress.lines[1]
        assert "3.0/s" not in progress.lines[1]


# -- 5. the summary ---------------------------------------------------------------------


def test_summary_sentences_carry_the_measured_figures() -> None:
    snap = finished(
        "thread",
        "files",
        8,
        wall_s=2.0,
        lock_wait_s=9.28,  # 9.28 s over 8 threads × 2 s = 58%
        gil_wait_share=0.31,
        mean_cores_busy=1.3,
        machine_cores=2,
    )
    lines = summary_lines(snap)
    assert 2 <= len(lines) <= 3
    assert lines[0].startswith("8 threads spent 58% of their time queueing for the log's lock")
    assert "the lock, not the disk, set the pace" in lines[0]
    assert "31%" in lines[1]
    assert "1.3 cores busy of 2" in lines[2]


def test_summary_says_one_core_each_for_processes_and_nothing_unmeasured() -> None:
    snap = finished("process", "cpu", 2, mean_cores_busy=1.9, machine_cores=2)
    lines = summary_lines(snap)
    assert lines == ["2 processes kept 1.9 cores busy of 2: one core each."]
    blocked = finished(
        "async", "cpu", 8, loop_lag_mean_ms=250.0, loop_lag_max_ms=2580.0, mean_cores_busy=1.0
    )
    (loop_line, cores_line) = summary_lines(blocked)
    assert "250 ms late on average (worst 2.58 s)" in loop_line
    assert "did not yield" in loop_line
    assert "1.0 cores busy" in cores_line
    # No figures measured, nothing said; and a live run gets no summary.
    assert summary_lines(finished("thread", "cpu", 4, telemetry=False)) == []
    assert summary_lines(make_snapshot("thread", "cpu", 4, 10)) == []


@sync
async def test_summary_is_shown_when_a_run_ends() -> None:
    app = make_app()
    async with app.run_test(size=(120, 36)) as pilot:
        await pilot.press("2")
        summary = app.query_one("#pane-thread .summary", Static)
        app.show_snapshot("thread", make_snapshot("thread", "files", 8, 10))
        await pilot.pause()
        assert not summary.display
        app.show_snapshot("thread", finished("thread", "files", 8, wall_s=2.0, lock_wait_s=9.28))
        await pilot.pause()
        assert summary.display
        assert "58%" in screen_text(app, summary)


# -- 2. the footer at 80x24, and every key in the palette -------------------------------


def footer_text(app: ConcApp) -> str:
    return app.screen._compositor.render_strips()[-1].text


@sync
async def test_narrow_footer_keeps_the_keys_that_matter_most() -> None:
    app = make_app()
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        footer = footer_text(app)
        for shown in ("Tab Pane", "Space Start/stop", "w Workload", "c Race", "? Help", "q Quit"):
            assert shown in footer, footer
        assert "Serial baseline" not in footer and "Restart" not in footer
        # The keys left out of the footer still work.
        await pilot.press("plus")
        assert app.panes["process"].config.workers > 1
    app = make_app()
    async with app.run_test(size=(200, 60)) as pilot:
        await pilot.pause()
        footer = footer_text(app)
        assert "b Serial baseline" in footer and "r Restart" in footer


def test_every_key_is_in_the_palette() -> None:
    from conc_tui.keys import KEYS, palette_entries

    in_palette = {action for _title, _text, action in palette_entries()}
    assert {key.action for key in KEYS} <= in_palette
    assert "race" in in_palette


@sync
async def test_the_app_offers_every_key_as_a_palette_command() -> None:
    from conc_tui.keys import palette_entries

    app = make_app()
    async with app.run_test(size=(120, 36)) as pilot:
        await pilot.pause()
        titles = {command.title for command in app.get_system_commands(app.screen)}
        assert {title for title, _text, _action in palette_entries()} <= titles


# -- 6. colours that follow the theme, and the projector palette --------------------------


def lane_cell_styles(app: ConcApp, model: str) -> list[Any]:
    from conc_tui.widgets.lanes import WorkerLanes

    lanes = app.query_one(f"#pane-{model} WorkerLanes", WorkerLanes)
    return [seg.style for seg in lanes.render_line(0) if seg.style is not None and seg.text.strip()]


def panel_inks(app: ConcApp) -> set[Any]:
    """The colours of the progress block's styled figures (the elapsed time, dimmed)."""
    progress = app.query_one("#pane-thread .progress", LinesView)
    return {
        seg.style.color
        for seg in progress.render_line(0)
        if "elapsed" in seg.text and seg.style and seg.style.color
    }


def is_light(colour: Any) -> bool:
    red, green, blue = colour.get_truecolor()
    return (red + green + blue) / 3 > 160


@sync
async def test_light_theme_gives_the_cached_lanes_a_light_background() -> None:
    app = make_app()
    async with app.run_test(size=(120, 36)) as pilot:
        await pilot.press("2")
        app.show_snapshot("thread", make_snapshot("thread", "files", 8, 25))
        await pilot.pause()
        dark = lane_cell_styles(app, "thread")
        dark_inks = panel_inks(app)
        assert dark and all(not is_light(s.bgcolor) for s in dark if s.bgcolor)
        app.theme = "textual-light"
        await pilot.pause()
        light = lane_cell_styles(app, "thread")
        backgrounds = [s.bgcolor for s in light if s.bgcolor is not None]
        assert backgrounds and all(is_light(colour) for colour in backgrounds)
        # The glyphs' inks changed with the theme too (cached rows were redrawn).
        assert {s.color for s in light} != {s.color for s in dark}
        # The cores' mark was white: invisible on a light background.
        from conc_tui.widgets.cores import CoreBars

        bars = app.query_one("#pane-thread CoreBars", CoreBars)
        marks = [seg.style for seg in bars.render_line(0) if seg.text == "●" and seg.style]
        assert marks and all(not is_light(style.color) for style in marks)
        progress = app.query_one("#pane-thread .progress", LinesView)
        strip = progress.render_line(0)
        assert all(is_light(s.style.bgcolor) for s in strip if s.style and s.style.bgcolor)
        # The panels' inks come from the theme: they change with it.
        assert dark_inks and panel_inks(app) and panel_inks(app) != dark_inks


@sync
async def test_projector_colours_give_each_state_a_solid_background() -> None:
    from conc_tui.telemetry.states import WorkerState
    from conc_tui.widgets.glyphs import style

    app = make_app()
    async with app.run_test(size=(120, 36)) as pilot:
        await pilot.press("2")
        app.show_snapshot("thread", make_snapshot("thread", "files", 8, 25))
        await pilot.pause()
        plain = {style(int(state)).bgcolor for state in WorkerState}
        await pilot.press("f2")
        await pilot.pause()
        backgrounds = {style(int(state)).bgcolor for state in WorkerState}
        assert None not in backgrounds and len(backgrounds) == len(WorkerState)
        assert plain != backgrounds
        # The cached rows were redrawn with the new backgrounds.
        assert any(s.bgcolor in backgrounds for s in lane_cell_styles(app, "thread"))


# -- snapshots: the full "Look for" line at three sizes, and the light theme ----------------

HISTORY = tuple(tuple(float((17 * core + 9 * t) % 101) for core in range(8)) for t in range(12))


def feed_thread(theme: str | None = None, size: tuple[int, int] = (80, 24)) -> Any:
    async def run_before(pilot: Any) -> None:
        app: ConcApp = pilot.app
        if theme is not None:
            app.theme = theme
        state = app.panes["thread"]
        state.config = replace(state.config, workload="files", workers=8)
        await pilot.press("2")
        app.show_cores(HISTORY)  # the sampler says the same whenever it runs
        app.show_snapshot("thread", make_snapshot("thread", "files", 8, 40))
        await pilot.pause()
        # The card is sized after the layout that follows the snapshot (call_after_refresh):
        # under load one pause was not always enough.
        await pilot.wait_for_scheduled_animations()
        await pilot.pause()
        card = app.query_one("#pane-thread .card", Static)
        wanted = " ".join(f"Look for: {look_for('thread', 'files')}".split())
        assert wanted in screen_text(app, card), size

    return run_before


@pytest.mark.parametrize("size", [(80, 24), (120, 36), (200, 60)], ids=lambda s: f"{s[0]}x{s[1]}")
def test_snapshot_look_for_whole(snap_compare: Any, size: tuple[int, int]) -> None:
    assert snap_compare(make_app(HISTORY), terminal_size=size, run_before=feed_thread(size=size))


def test_snapshot_light_theme(snap_compare: Any) -> None:
    assert snap_compare(
        make_app(HISTORY), terminal_size=(120, 36), run_before=feed_thread("textual-light")
    )


@sync
async def test_projector_flag_starts_the_app_in_projector_colours() -> None:
    from conc_tui.cli import build_parser

    assert build_parser().parse_args(["app", "--projector"]).projector
    app = ConcApp(controller_factory=FakeController, core_sampler=FixedCores(), projector=True)
    async with app.run_test(size=(120, 36)) as pilot:
        await pilot.pause()
        assert app.screen.has_class("-projector")
        await pilot.press("f2")
        assert not app.screen.has_class("-projector")


@sync
async def test_lanes_convert_colours_once_and_share_a_tall_lanes_rows() -> None:
    """Lanes leave Textual's per-segment ANSI-to-truecolor filter out and convert each
    style themselves; the terminal must get exactly what the filter would have made, and
    a tall lane's extra rows must be built once, not once per row."""
    from textual.filter import ANSIToTruecolor

    from conc_tui.widgets.lanes import WorkerLanes

    app = make_app()
    async with app.run_test(size=(160, 48)) as pilot:
        await pilot.press("2")
        snapshot = make_snapshot("thread", "files", 2, 25)
        views = tuple(replace(v, lane_unconfirmed=3) for v in snapshot.worker_views)
        app.show_snapshot("thread", replace(snapshot, worker_views=views))
        await pilot.pause()
        lanes = app.query_one("#pane-thread WorkerLanes", WorkerLanes)
        truecolor = next(f for f in app.get_line_filters() if isinstance(f, ANSIToTruecolor))
        assert not any(isinstance(f, ANSIToTruecolor) for f in lanes.get_line_filters())
        background = lanes.background_colors[1]
        assert lanes.rows_per_lane >= 3
        strips = [lanes.render_line(y) for y in range(lanes.size.height)]
        for strip in strips:
            # Already what the filter makes: applying it changes nothing.
            assert list(strip.apply_filter(truecolor, background)) == list(strip)
            assert not any(seg.style and seg.style.dim for seg in strip)
        # The lanes of a thread pane: the GIL lane, then two workers' tall lanes.
        per = lanes.rows_per_lane
        first_lane_extra = strips[per + 1 : 2 * per]
        assert len(first_lane_extra) >= 2
        assert all(strip is first_lane_extra[0] for strip in first_lane_extra)
        assert strips[per] is not first_lane_extra[0]  # the labelled row is its own
        # Rows handed to the compositor directly are what Textual's style pass makes.
        from textual.geometry import Region
        from textual.widget import Widget

        size = lanes.size
        for crop in (Region(0, 0, size.width, size.height + 2), Region(3, 1, 20, 5)):
            direct = lanes.render_lines(crop)
            styled = Widget.render_lines(lanes, crop)
            assert [list(strip) for strip in direct] == [list(strip) for strip in styled]
        # The rows that look alike reach the compositor as one strip, not one made per
        # row per frame (its resized and filtered forms are then cached once, too).
        lanes.refresh()
        direct = lanes.render_lines(Region(0, 0, size.width, size.height))
        assert direct[per + 1] is direct[per + 2]

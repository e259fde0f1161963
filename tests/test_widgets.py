"""Direct tests of the widgets' drawing: lanes, core bars, panels (no pilot needed)."""

from __future__ import annotations

from fakes import make_snapshot
from rich.style import Style

from conc_tui.config import RunConfig
from conc_tui.telemetry.cores import CoreSampler
from conc_tui.telemetry.snapshot import Phase, WorkerView
from conc_tui.telemetry.states import WorkerState as S
from conc_tui.widgets.card import look_for
from conc_tui.widgets.cores import CoreBars, block
from conc_tui.widgets.glyphs import STATE_GLYPHS
from conc_tui.widgets.glyphs import style as state_style
from conc_tui.widgets.lanes import CORE_WIDTH, COUNT_WIDTH, LABEL_WIDTH, WorkerLanes
from conc_tui.widgets.panels import progress_lines, thread_lines


def _view(lane: bytes, label: str = "thread 3", core: int | None = 2) -> WorkerView:
    return WorkerView(worker_id=3, label=label, state=lane[-1], lane=lane, core=core, items_done=7)


def test_lane_row_has_label_core_glyphs_and_count() -> None:
    lane = bytes([S.RUNNING] * 3 + [S.WAIT_GIL] * 2 + [S.WAIT_IO, S.WAIT_LOCK, S.FAILED])
    width = 60  # wide enough for the items-done column
    strip = WorkerLanes().render_row(_view(lane), width)
    text = strip.text
    assert strip.cell_length == width
    assert text.startswith("thread 3".ljust(LABEL_WIDTH) + "c2  ")
    # The newest state is at the right edge; the young lane is padded on the left.
    assert text.endswith("███▒▒░▚✗    7")
    cells = width - LABEL_WIDTH - CORE_WIDTH - COUNT_WIDTH
    assert text[LABEL_WIDTH + CORE_WIDTH : LABEL_WIDTH + CORE_WIDTH + cells - 8] == " " * (
        cells - 8
    )


def test_lane_cells_carry_the_state_colour() -> None:
    lane = bytes([S.RUNNING, S.RUNNING, S.WAIT_GIL, S.WAIT_LOCK])
    strip = WorkerLanes().render_row(_view(lane), LABEL_WIDTH + CORE_WIDTH + 4 + COUNT_WIDTH)
    by_text = {seg.text: seg.style for seg in strip if seg.text.strip()}
    for state, cells in ((S.RUNNING, "██"), (S.WAIT_GIL, "▒"), (S.WAIT_LOCK, "▚")):
        style = by_text[cells]
        assert isinstance(style, Style) and style.color is not None
        # The state's colour in the current table (the theme's, once an app loaded it).
        expected = state_style(state).color
        assert expected is not None and style.color.name == expected.name


def test_long_lane_keeps_only_the_newest_cells() -> None:
    lane = bytes([S.IDLE] * 100 + [S.RUNNING] * 5)
    width = 40  # narrow: no items-done column
    text = WorkerLanes().render_row(_view(lane), width).text
    timeline = text[LABEL_WIDTH + CORE_WIDTH :]
    cells = width - LABEL_WIDTH - CORE_WIDTH
    assert timeline == STATE_GLYPHS[S.IDLE] * (cells - 5) + STATE_GLYPHS[S.RUNNING] * 5


def test_every_state_has_a_distinct_glyph() -> None:
    assert len(set(STATE_GLYPHS.values())) == len(S)


def test_core_bar_modes_fit_many_cores() -> None:
    bars = CoreBars(max_rows=4)
    assert bars._cell_mode(2, 40)[0] == 0  # full cells for a laptop
    mode, per_row = bars._cell_mode(128, 40)
    assert mode == 2 and -(-128 // per_row) <= 4  # one block per core, still 4 rows
    assert block(0) == "▁" and block(100) == "█"


def test_core_sampler_measures_every_core() -> None:
    sampler = CoreSampler(history=3)
    for _ in range(4):
        values = sampler.sample()
    assert len(values) == sampler.cores
    assert all(0.0 <= v <= 100.0 for v in values)
    assert len(sampler.history()) == 3


def test_progress_before_a_run_says_press_space() -> None:
    lines = progress_lines(None, RunConfig("thread", "files", 8), None, 80)
    assert "Press Space to start" in lines[1].plain


def test_progress_shows_speedup_against_serial() -> None:
    snap = make_snapshot("process", "images", 8, 1000)
    assert snap.phase is Phase.FINISHED and snap.result is not None
    lines = progress_lines(snap, RunConfig("process", "images", 8), snap.result.wall_s * 4, 100)
    assert "16/16" in lines[1].plain
    assert "4.0× vs serial" in lines[2].plain


def test_progress_without_total_shows_count_only_and_failures() -> None:
    snap = make_snapshot("async", "web", 50, 30)
    assert snap.items_total is None
    lines = progress_lines(snap, RunConfig("async", "web", 50), None, 100)
    assert lines[1].plain.startswith(f"{snap.items_done} items")
    assert "404" in lines[3].plain


def test_failed_phase_is_spelled_out() -> None:
    snap = make_snapshot("thread", "files", 4, 5, phase=Phase.FAILED)
    lines = progress_lines(snap, RunConfig("thread", "files", 4), None, 100)
    assert "FAILED" in lines[0].plain and "failed after" in lines[2].plain


def test_lock_panel_names_holder_and_queue() -> None:
    snap = make_snapshot("thread", "files", 8, 40)
    assert snap.lock is not None
    text = "\n".join(line.plain for line in thread_lines(snap, 40))
    if snap.lock.holder is not None:
        assert f"thread {snap.lock.holder}" in text
    assert f"{snap.lock.contention_share:.0%} waited" in text


def test_look_for_depends_on_filter() -> None:
    from conc_tui.config import WorkloadOptions

    assert "releases the GIL" in look_for("thread", "images", WorkloadOptions(filter="blur"))
    assert "GIL-grey" in look_for("thread", "cpu")
    assert "holds the GIL" in look_for("thread", "images", WorkloadOptions(filter="median"))


def test_the_card_explains_every_filter_by_the_measured_verdict() -> None:
    from conc_tui.config import FILTERS, WorkloadOptions
    from conc_tui.workloads.filters import GIL_FRIENDLY

    assert set(GIL_FRIENDLY) == set(FILTERS)
    for name, releases in GIL_FRIENDLY.items():
        text = look_for("thread", "images", WorkloadOptions(filter=name))
        assert ("releases the GIL" in text) is releases, name
        assert ("holds the GIL" in text) is not releases, name


def test_look_for_covers_every_model_and_workload() -> None:
    from conc_tui.config import WORKLOADS, WorkloadOptions

    for model in ("process", "thread", "async"):
        for workload in WORKLOADS:
            assert look_for(model, workload) != "watch the lanes and the core bars."
    assert "frontier" in look_for("process", "web")
    for workload in ("images", "files", "cpu"):
        assert "block" in look_for("async", workload)
        assert "to_thread" in look_for("async", workload, WorkloadOptions(to_thread=True))


def test_process_table_never_cuts_a_pid() -> None:
    from conc_tui.widgets.panels import process_lines

    snap = make_snapshot("process", "images", 4, 30)
    views = tuple(
        WorkerView(
            worker_id=i, label=f"pid {4194300 + i}", state=1, lane=b"\x01", core=i, rss_bytes=0
        )
        for i in range(4)
    )
    from dataclasses import replace

    for width in (29, 41):
        text = "\n".join(
            line.plain for line in process_lines(replace(snap, worker_views=views), width)
        )
        for i in range(4):
            assert f"pid {4194300 + i}" in text
        assert all(len(line) <= width for line in text.splitlines()[3:])
    row = WorkerLanes().render_row(views[0], 80)
    assert "pid 4194300" in "".join(seg.text for seg in row)


def test_every_lane_glyph_and_actor_mark_is_one_cell_wide() -> None:
    """Rows are built with their width counted, not measured: a wide glyph would
    shift every cell after it."""
    from rich.cells import cell_len

    from conc_tui.telemetry.states import WorkerState
    from conc_tui.widgets.glyphs import glyph
    from conc_tui.widgets.lanes import (
        _SYMBOLS,
        BATON_RELEASED,
        BATON_SHARED,
        LOOP_SEVERAL,
        NOBODY,
    )

    marks = [glyph(int(s)) for s in WorkerState] + [BATON_RELEASED, BATON_SHARED, NOBODY]
    marks += [LOOP_SEVERAL, *_SYMBOLS]
    assert all(cell_len(mark) == 1 for mark in marks)
    # A row with a long count still comes out exactly as wide as asked.
    view = _view(bytes([int(WorkerState.RUNNING)] * 30))
    from dataclasses import replace

    row = WorkerLanes().render_row(replace(view, items_done=1234567), 60)
    assert row.cell_length == 60


def test_loop_lag_mean_says_it_counts_finished_ticks_only() -> None:
    """During a block "now" and "max" include the stall while the mean cannot yet: a
    line reading "4.03 s now · mean 0.0 ms" must say what the mean is over."""
    from dataclasses import replace

    from fakes import make_snapshot

    from conc_tui.widgets.panels import async_lines

    snapshot = make_snapshot("async", "web", 50, 30)
    assert snapshot.loop is not None
    loop = replace(snapshot.loop, lag_ms=4030.0, lag_max_ms=4030.0, lag_mean_ms=0.0)
    text = "\n".join(line.plain for line in async_lines(replace(snapshot, loop=loop), 60))
    assert "4.03 s now" in text
    assert "mean 0.0 ms of ticks done · max 4.03 s" in text


def test_many_threads_gil_panel_sums_up_and_lists_those_that_waited_most() -> None:
    """Past GIL_ROWS threads the panel gives their median and range, then the threads
    that waited most, and says how many it left out."""
    from dataclasses import replace

    from fakes import make_snapshot

    from conc_tui.telemetry.snapshot import Phase
    from conc_tui.widgets.panels import GIL_ROWS, gil_lines

    base = make_snapshot("thread", "cpu", 64, 20, phase=Phase.RUNNING)
    shares = {v.worker_id: (7 * v.worker_id % 64) / 100 for v in base.worker_views}
    views = tuple(replace(v, gil_wait_share=shares[v.worker_id]) for v in base.worker_views)
    lines = [line.plain for line in gil_lines(replace(base, worker_views=views), 44)]
    assert len(lines) == GIL_ROWS + 2  # title, summary, heading, rows, "… and N more"
    assert "64 threads: median 32% · 0%–63%" in lines[1]
    rows = lines[3:-1]
    assert rows[0].endswith("63%") and rows[-1].endswith(f"{sorted(shares.values())[-10]:.0%}")
    assert lines[-1] == f"… and {64 - (GIL_ROWS - 2)} more"
    few = replace(base, worker_views=views[:GIL_ROWS])
    assert len(gil_lines(few, 44)) == GIL_ROWS + 1  # every thread its own row


def test_lock_wait_figures_take_two_rows_rather_than_wrap_apart_from_their_units() -> None:
    """A long total ("5 m 29 s") made "max 108 ms" wrap between 108 and ms at 80x24."""
    from dataclasses import replace

    from fakes import make_snapshot

    from conc_tui.telemetry.snapshot import Phase
    from conc_tui.widgets.panels import thread_lines

    base = make_snapshot("thread", "files", 8, 20, phase=Phase.RUNNING)
    assert base.lock is not None
    lock = replace(base.lock, total_wait_s=329.0, longest_wait_s=0.108)
    snapshot = replace(base, lock=lock)
    wide = [line.plain for line in thread_lines(snapshot, 44)]
    assert "waited    5 m 29 s · max 108 ms" in wide
    narrow = [line.plain for line in thread_lines(snapshot, 30)]
    assert "waited    5 m 29 s" in narrow and "longest   108 ms" in narrow
    assert all(len(line) <= 30 for line in narrow[:6])

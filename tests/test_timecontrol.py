"""Time control and the invisible actors: freeze and scroll back through the whole run,
the time scale, lanes that fill the height, the last run kept in loop mode, the GIL
baton lane, the event-loop lane and the core of each process per cell."""

from __future__ import annotations

import asyncio
import functools
from collections.abc import Callable, Coroutine
from typing import Any

from fakes import FakeController

from conc_tui.app import ConcApp
from conc_tui.telemetry.aggregator import Aggregator
from conc_tui.telemetry.snapshot import LoopView, Phase, Snapshot, WorkerView
from conc_tui.telemetry.states import WorkerState as S
from conc_tui.widgets.history import RunHistory, coarse, main_state
from conc_tui.widgets.lanes import (
    BATON_RELEASED,
    BATON_SHARED,
    NOBODY,
    WorkerLanes,
    baton_cells,
    loop_cells,
)

RING = 240  # the engine's ring: what one snapshot carries per lane


def sync(test: Callable[..., Coroutine[Any, Any, None]]) -> Callable[..., None]:
    @functools.wraps(test)
    def wrapper(*args: Any, **kwargs: Any) -> None:
        asyncio.run(test(*args, **kwargs))

    return wrapper


class _Cores:
    def sample(self) -> tuple[float, ...]:
        return (10.0, 20.0)

    def history(self) -> tuple[tuple[float, ...], ...]:
        return ((10.0, 20.0),)


def _app() -> ConcApp:
    return ConcApp(controller_factory=lambda: FakeController(interval=0.5), core_sampler=_Cores())


def _state_at(column: int, worker: int) -> int:
    """A lane whose state says when it is: the run's first 10 columns wait for a lock
    (nowhere else), then running and I/O alternate every 50 columns."""
    if column < 10:
        return S.WAIT_LOCK
    return S.RUNNING if (column // 50 + worker) % 2 else S.WAIT_IO


def _snapshot(
    model: str,
    end: int,
    workers: int = 2,
    *,
    state_at: Callable[[int, int], int] = _state_at,
    phase: Phase = Phase.RUNNING,
    cores: Callable[[int, int], int] | None = None,
    loop: LoopView | None = None,
    label: str = "pid",
) -> Snapshot:
    """The snapshot at absolute column ``end``: each lane's last RING columns."""
    first = end - RING + 1
    columns = range(first, end + 1)
    views = tuple(
        WorkerView(
            worker_id=w,
            label=f"{label} {w + 1}",
            state=state_at(end, w),
            lane=bytes(state_at(c, w) if c >= 0 else S.IDLE for c in columns),
            lane_cores=b"" if cores is None else bytes(cores(c, w) for c in columns),
            core=w,
        )
        for w in range(workers)
    )
    return Snapshot(
        model=model,
        workload="images",
        workers=workers,
        phase=phase,
        elapsed_s=(end + 0.5) * 0.1,
        items_total=None,
        items_done=0,
        items_failed=0,
        throughput=0.0,
        column_s=0.1,
        worker_views=views,
        loop=loop,
    )


def _lines(lanes: WorkerLanes) -> list[str]:
    return [lanes.render_line(y).text for y in range(lanes.size.height)]


def _head(app: ConcApp, model: str) -> str:
    from textual.widgets import Static

    return str(app.query_one(f"#pane-{model} .lanes-head", Static).render())


@sync
async def test_freeze_holds_the_frame_scrolls_back_through_the_whole_run_and_unfreezes() -> None:
    app = _app()
    async with app.run_test(size=(120, 36)) as pilot:
        for end in range(0, 601, 50):  # 60 s: far more than one snapshot's 240 columns
            app.show_snapshot("process", _snapshot("process", end))
        await pilot.pause()
        lanes = app.query_one("#pane-process WorkerLanes", WorkerLanes)
        await pilot.press("p")
        await pilot.pause()
        frozen = _lines(lanes)
        assert "frozen at 60.1 s of 60.1 s" in _head(app, "process")
        for end in range(650, 801, 50):  # the run goes on
            app.show_snapshot("process", _snapshot("process", end))
        await pilot.pause()
        assert _lines(lanes) == frozen
        # The first 10 columns (lock waits) are older than any snapshot still carries.
        assert not any("▚" in line for line in frozen)
        for _ in range(60):  # a quarter of the width a press: past the run's start
            await pilot.press("left")
        await pilot.pause()
        back = _lines(lanes)
        assert any("▚" in line for line in back)
        # Where the view is, of how much of the run there is by now (it went on).
        assert "frozen at" in _head(app, "process") and "of 80.1 s" in _head(app, "process")
        assert lanes.back_cells == lanes.max_offset() > 0
        await pilot.press("right")
        await pilot.pause()
        assert lanes.back_cells < lanes.max_offset()
        await pilot.press("f")
        await pilot.pause()
        assert not lanes.frozen and lanes.back_cells == 0
        assert "frozen" not in _head(app, "process")
        # Live again: the newest column is the run's newest (800), not the frozen 600.
        assert lanes.window().stop == 801


@sync
async def test_left_from_live_freezes_first() -> None:
    app = _app()
    async with app.run_test(size=(100, 30)) as pilot:
        for end in range(0, 401, 100):
            app.show_snapshot("process", _snapshot("process", end))
        await pilot.press("left")
        await pilot.pause()
        lanes = app.query_one("#pane-process WorkerLanes", WorkerLanes)
        assert lanes.frozen and lanes.back_cells > 0


@sync
async def test_time_scale_is_in_the_header_and_redraws_the_past() -> None:
    def mostly_running(column: int, worker: int) -> int:
        # 7 of every 10 columns running, 3 waiting for I/O.
        return S.RUNNING if column % 10 < 7 else S.WAIT_IO

    app = _app()
    async with app.run_test(size=(100, 30)) as pilot:
        app.show_snapshot("process", _snapshot("process", 239, state_at=mostly_running))
        await pilot.pause()
        lanes = app.query_one("#pane-process WorkerLanes", WorkerLanes)
        assert "1 cell = 0.1 s" in _head(app, "process")
        assert "░" in _lines(lanes)[0]
        for _ in range(3):
            await pilot.press("right_square_bracket")
        await pilot.pause()
        assert "1 cell = 1 s" in _head(app, "process")
        first = _lines(lanes)[0]
        # Each 1 s cell covers 10 fine columns, 7 of them running: it shows running.
        assert "░" not in first and "██████████" in first
        await pilot.press("left_square_bracket")
        await pilot.pause()
        assert "1 cell = 0.5 s" in _head(app, "process")
        # < and > do the same as [ and ].
        await pilot.press("less_than_sign")
        await pilot.pause()
        assert "1 cell = 0.25 s" in _head(app, "process")
        await pilot.press("greater_than_sign")
        await pilot.pause()
        assert "1 cell = 0.5 s" in _head(app, "process")


def test_a_coarse_cell_shows_the_main_state_of_its_fine_cells() -> None:
    fine = bytes([S.RUNNING] * 3 + [S.WAIT_IO] * 2 + [S.WAIT_LOCK] * 4 + [S.RUNNING])
    assert main_state(fine[:5]) == S.RUNNING
    assert main_state(fine[5:10]) == S.WAIT_LOCK
    assert main_state(bytes([S.RUNNING, S.FAILED, S.RUNNING])) == S.FAILED
    assert coarse(fine, 0, 2, 0, 5.0) == bytes([S.RUNNING, S.WAIT_LOCK])
    # 0.25 s over 0.1 s columns: cells of 2 or 3 columns, none lost, none shared; a
    # tie goes to running.
    assert coarse(fine, 0, 4, 0, 2.5) == bytes([S.RUNNING, S.WAIT_IO, S.WAIT_LOCK, S.RUNNING])


def test_history_keeps_columns_older_than_the_ring() -> None:
    history = RunHistory()
    for end in range(0, 1001, 100):
        history.add(_snapshot("process", end))
    record = history.lanes[0]
    assert record.first == 0 and len(record.states) == 1001
    assert record.states_between(0, 10) == bytes([S.WAIT_LOCK]) * 10
    assert record.states_between(990, 1001) == bytes(_state_at(c, 0) for c in range(990, 1001))


@sync
async def test_two_lanes_fill_the_height_of_a_large_screen() -> None:
    app = _app()
    async with app.run_test(size=(200, 60)) as pilot:
        app.show_snapshot("process", _snapshot("process", 100))
        await pilot.pause()
        lanes = app.query_one("#pane-process WorkerLanes", WorkerLanes)
        assert lanes.rows_per_lane >= 4
        lines = [line for line in _lines(lanes) if line.strip()]
        assert len(lines) >= 2 * lanes.rows_per_lane
        assert sum("pid 1" in line for line in lines) == 1  # the label once per lane


@sync
async def test_a_new_run_keeps_the_last_runs_lanes_until_it_draws() -> None:
    app = _app()
    async with app.run_test(size=(100, 30)) as pilot:
        app.show_snapshot("process", _snapshot("process", 100, phase=Phase.FINISHED))
        await pilot.pause()
        lanes = app.query_one("#pane-process WorkerLanes", WorkerLanes)
        before = _lines(lanes)
        preparing = Snapshot(
            model="process",
            workload="images",
            workers=2,
            phase=Phase.PREPARING,
            elapsed_s=0.0,
            items_total=None,
            items_done=0,
            items_failed=0,
            throughput=0.0,
            column_s=0.1,
        )
        app.show_snapshot("process", preparing)
        await pilot.pause()
        assert _lines(lanes) == before
        assert "last run's lanes" in _head(app, "process")
        app.show_snapshot("process", _snapshot("process", 5, state_at=lambda c, w: S.WAIT_IO))
        await pilot.pause()
        assert "last run's lanes" not in _head(app, "process")
        assert _lines(lanes) != before


def test_baton_lane_one_runner_two_on_cores_and_nobody() -> None:
    run, io, gil = S.RUNNING, S.WAIT_IO, S.WAIT_GIL
    lanes = [bytes([run, run, io, run]), bytes([gil, run, io, run]), bytes([gil, io, io, io])]
    cores = [bytes([0, 0, 0, 1]), bytes([1, 1, 1, 1]), bytes([1, 1, 1, 1])]
    marks = [char for char, _ in baton_cells(lanes, cores, ["1", "2", "3"], 4)]
    # One runner holds the baton; two at once on different cores: released; all in
    # I/O: nobody; two on one core took turns.
    assert marks == ["1", BATON_RELEASED, NOBODY, BATON_SHARED]
    # Pure Python on two cores: both run in one 0.1 s cell, but they were measured
    # waiting for the GIL, so they took turns with it rather than releasing it.
    turns = baton_cells(lanes, cores, ["1", "2", "3"], 4, [True, True, False])
    assert [char for char, _ in turns] == ["1", BATON_SHARED, NOBODY, BATON_SHARED]


@sync
async def test_the_thread_pane_draws_the_baton_lane_from_a_snapshot() -> None:
    def states(column: int, worker: int) -> int:
        phase = column % 3
        if phase == 2:
            return S.WAIT_IO  # everybody waits for I/O
        if phase == 1:
            return S.RUNNING  # all run at once (on different cores)
        return S.RUNNING if column % 2 == worker else S.WAIT_GIL  # the baton passes

    app = _app()
    async with app.run_test(size=(100, 30)) as pilot:
        await pilot.press("2")
        app.show_snapshot(
            "thread",
            _snapshot("thread", 239, state_at=states, cores=lambda c, w: w, label="thread"),
        )
        await pilot.pause()
        lanes = app.query_one("#pane-thread WorkerLanes", WorkerLanes)
        line = _lines(lanes)[0]
        assert line.startswith("GIL holder")
        cells = line[16:].rstrip()
        assert "1" in cells and "2" in cells and BATON_RELEASED in cells and NOBODY in cells
        assert f"{BATON_RELEASED} released" in _head(app, "thread")


def test_loop_lane_task_selector_and_blocked() -> None:
    run, io = S.RUNNING, S.WAIT_IO
    lanes = [bytes([run, io, run, io]), bytes([io, io, io, io])]
    lag = bytes([0, 0, 1, 1])
    marks = loop_cells(lanes, ["7", "8"], lag, 4, offloaded=False)
    assert [m for m, _ in marks] == ["7", NOBODY, "7", "!"]
    assert marks[0][1] == S.RUNNING and marks[2][1] == S.FAILED
    # With to_thread the tasks run in other threads: the loop itself only waits.
    assert [m for m, _ in loop_cells(lanes, ["7", "8"], bytes(4), 4, offloaded=True)] == [
        NOBODY
    ] * 4


@sync
async def test_the_async_pane_marks_the_columns_a_measured_lag_covered() -> None:
    loop = LoopView(
        in_flight=0,
        max_in_flight=1,
        lag_ms=1000.0,  # one second late: the last 10 columns did not turn
        lag_max_ms=1000.0,
        lag_mean_ms=50.0,
        requests_per_s=0.0,
        blocking="blocking the loop",
    )
    app = _app()
    async with app.run_test(size=(100, 30)) as pilot:
        await pilot.press("3")
        app.show_snapshot(
            "async",
            _snapshot(
                "async",
                100,
                state_at=lambda c, w: S.RUNNING if w == 0 else S.WAIT_IO,
                loop=loop,
                label="task",
            ),
        )
        await pilot.pause()
        lanes = app.query_one("#pane-async WorkerLanes", WorkerLanes)
        assert _lines(lanes)[0].startswith("event loop")
        blocked = [style for char, style in lanes._actor if style == S.FAILED]
        assert 10 <= len(blocked) <= 12
        assert lanes._actor[-1][0] == "1"


def test_the_observer_keeps_the_core_of_each_column() -> None:
    agg = Aggregator(model="process", workload="images", workers=1, origin_ns=0)
    agg.register(0, "pid 1", pid=1, tid=None, t_ns=0)
    col = agg.column_ns
    agg.apply_process_sample(0, 90.0, 1, core=0, t_ns=2 * col + 1)
    agg.apply_process_sample(0, 90.0, 1, core=1, t_ns=4 * col + 1)
    agg.apply_process_sample(0, 90.0, 1, core=None, t_ns=5 * col + 1)
    cores = agg.worker_views(6 * col + 1)[0].lane_cores
    assert len(cores) == agg.columns
    # Oldest first: each sample speaks for the columns since the one before it.
    assert list(cores[-7:]) == [0, 0, 0, 1, 1, 255, 255]


def test_a_process_lane_shows_the_core_of_each_running_cell() -> None:
    lane = bytes([S.RUNNING] * 3 + [S.WAIT_CPU] + [S.RUNNING] * 2)
    view = WorkerView(worker_id=0, label="pid 1", state=S.RUNNING, lane=lane, core=1)
    text = WorkerLanes().render_row(view, 40, cells=lane, cores=bytes([0, 0, 1, 255, 1, 1])).text
    assert text.rstrip().endswith("001▓11")


def test_shifted_segments_equal_a_fresh_build() -> None:
    import random

    from rich.style import Style

    from conc_tui.widgets.lanes import Paint, ShiftingRuns, _runs, _segment

    rng = random.Random(9)
    run = [rng.choice([S.RUNNING, S.WAIT_IO, S.WAIT_GIL]) for _ in range(40)]
    history = bytes(state for state in run for _ in range(rng.randint(1, 9)))
    base = Paint(Style(bgcolor="black"))
    shifter = ShiftingRuns()
    start, width = 0, 60
    reused = 0
    previous: list[object] = []
    for _step in range(120):
        start += rng.choice([0, 1, 1, 2, 3])
        window = bytearray(history[start : start + width].ljust(width, b"\x00"))
        if rng.random() < 0.5:  # the newest cells relabelled by a later measurement
            window[-3:] = bytes([S.WAIT_CPU] * 3)
        faint = rng.randint(0, 4)
        got = shifter.update(start, bytes(window), width - faint, base)
        want = [_segment(r, base) for r in _runs(bytes(window), width - faint, start)]
        assert "".join(s.text for s in got) == "".join(s.text for s in want)
        assert [(s.style, len(s.text)) for s in got] == [(s.style, len(s.text)) for s in want]
        reused += sum(1 for seg in got if any(seg is old for old in previous))
        previous = list(got)
    assert reused > 200  # most segments were kept, not made again


def test_lane_cores_across_the_ring_match_a_cell_by_cell_reading() -> None:
    import random

    from conc_tui.telemetry.timeline import Timeline

    rng = random.Random(3)
    timeline = Timeline(columns=16, column_ns=10, origin_ns=0)
    seen: dict[int, int] = {}
    last = -1
    t = 5
    for _ in range(60):
        t += rng.choice([3, 10, 10, 20, 90])  # gaps longer than the ring, too
        core = rng.randint(0, 3)
        timeline.note_core(t, core)
        column = t // 10
        for c in range(max(last + 1, column - 15, 0), column + 1):
            seen[c] = core
        if column <= last:
            seen[column] = core  # a second sample in one column: the newest wins
        last = max(last, column)
        now = t + rng.choice([0, 10, 50])
        now_col = now // 10
        want = bytes(
            seen.get(c, 255) if c > last - 16 else 255 for c in range(now_col - 15, now_col + 1)
        )
        assert timeline.lane_cores(now) == want

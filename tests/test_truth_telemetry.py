"""Issue 7: the observer's figures are true, live, and labelled when not yet measured.

Each test reproduces one defect the issue measured, from real event and sample
orderings (synthetic where the ordering is the point, real runs where liveness is).
"""

from __future__ import annotations

import random
import time

import pytest

from conc_tui.config import RunConfig, WorkloadOptions
from conc_tui.engine import execute
from conc_tui.telemetry.aggregator import Aggregator
from conc_tui.telemetry.snapshot import Snapshot
from conc_tui.telemetry.states import Event, EventKind, WorkerState

MS = 1_000_000
S = WorkerState
STATE = int(EventKind.STATE)
MASK = 0xFFFFFFFF
RUNNING_GROUP = (S.RUNNING, S.WAIT_GIL, S.WAIT_CPU)


def _agg(workers: int, *, model: str = "thread", columns: int = 240) -> Aggregator:
    agg = Aggregator(
        model=model,
        workload="files",
        workers=workers,
        origin_ns=0,
        columns=columns,
        column_ns=100 * MS,
        gil_possible=model == "thread",
    )
    for w in range(1, workers + 1):
        agg.register(w, f"thread {w}", 10, 100 + w, 0)
    return agg


# -- item 3: one lock, one queue, no ghosts ---------------------------------------


def test_a_sample_during_a_lock_wait_adds_no_phantom_lock() -> None:
    agg = _agg(2)
    lock = 4242
    agg.feed(
        [
            (0, 1, STATE, S.RUNNING, 0),
            (0, 2, STATE, S.RUNNING, 0),
            (10 * MS, 1, EventKind.LOCK_ACQUIRED, 0, lock),
            (20 * MS, 2, STATE, S.WAIT_LOCK, lock),
        ]
    )
    # The sampler closes worker 2's open interval while it still waits.
    agg.apply_thread_sample(2, 150 * MS, 5 * MS, 0, 0, settled_ns=50 * MS)
    agg.apply_thread_sample(2, 250 * MS, 6 * MS, 0, 0, settled_ns=150 * MS)
    view = agg.lock_view()
    assert view is not None
    assert view.locks == 1
    assert view.waiters == (2,)
    agg.feed(
        [
            (200 * MS, 1, EventKind.LOCK_RELEASED, 0, lock),
            (200 * MS, 2, STATE, S.RUNNING, 7000),
            (200 * MS, 2, EventKind.LOCK_ACQUIRED, 0, lock),
            (210 * MS, 2, EventKind.LOCK_RELEASED, 0, lock),
        ]
    )
    view = agg.lock_view()
    assert view is not None and view.locks == 1 and view.waiters == ()


def test_no_waiter_outlives_the_run() -> None:
    agg = _agg(2)
    agg.feed(
        [
            (0, 1, EventKind.LOCK_ACQUIRED, 0, 7),
            (5 * MS, 2, STATE, S.WAIT_LOCK, 7),
        ]
    )
    agg.finish(100 * MS)
    view = agg.lock_view()
    assert view is not None
    assert view.waiters == () and view.holder is None


@pytest.mark.slow
def test_threads_on_files_show_one_lock_and_no_ghosts() -> None:
    log: list[Event] = []
    snapshots: list[Snapshot] = []
    config = RunConfig("thread", "files", 8, WorkloadOptions(items=1500))
    execute(config, on_snapshot=snapshots.append, snapshot_interval=0.05, event_log=log)
    locks = [s.lock.locks for s in snapshots if s.lock is not None]
    assert locks and max(locks) == 1
    final = snapshots[-1].lock
    assert final is not None and final.waiters == () and final.holder is None
    # Replay the run's own events, with a sample landing inside every lock wait (on a
    # busy machine samples do): still one lock, and nobody queued behind itself.
    waits = [e for e in log if e[2] == STATE and e[3] == S.WAIT_LOCK]
    assert waits, "no thread ever waited for the log's lock"
    workers = {e[1] for e in log if e[1] != 0}
    agg = Aggregator(model="thread", workload="files", workers=8, origin_ns=log[0][0])
    for w in workers:
        agg.register(w, f"thread {w}", 1, 1000 + w, log[0][0])
    for event in log:
        agg.feed([event])
        if event[2] == STATE and event[3] == S.WAIT_LOCK:
            agg.apply_thread_sample(event[1], event[0] + 2 * MS, 0, 0, 0, event[0] + MS)
            view = agg.lock_view()
            assert view is not None and view.locks == 1
            assert len(view.waiters) == len(set(view.waiters))
    agg.finish(log[-1][0])
    view = agg.lock_view()
    assert view is not None and view.locks == 1 and view.waiters == ()


# -- item 2: loop lag is live ----------------------------------------------------


def test_loop_lag_climbs_while_the_loop_has_not_ticked() -> None:
    agg = _agg(1, model="async")
    agg.feed([(t * MS, 0, EventKind.LOOP_LAG, 0, 1000) for t in range(0, 501, 50)])
    view = agg.loop_view(600 * MS)
    assert view is not None and view.lag_ms < 50  # one late batch is not a block
    view = agg.loop_view(1500 * MS)
    assert view is not None
    assert view.lag_ms >= 0.8 * 1000
    assert view.lag_max_ms >= view.lag_ms  # the max includes the live stall


@pytest.mark.slow
def test_a_blocked_loop_shows_its_lag_while_it_is_blocked() -> None:
    seen: list[tuple[int, Snapshot, int | None]] = []
    log: list[Event] = []

    def on_snapshot(snapshot: Snapshot) -> None:
        ticks = [e[0] for e in log if e[2] == EventKind.LOOP_LAG]
        seen.append((time.monotonic_ns(), snapshot, ticks[-1] if ticks else None))

    config = RunConfig("async", "cpu", 4, WorkloadOptions(items=24))
    execute(config, on_snapshot=on_snapshot, snapshot_interval=0.05, event_log=log)
    during = [
        (now - tick, s.loop.lag_ms, s)
        for now, s, tick in seen
        if tick is not None and s.loop is not None and s.phase.active and now - tick >= 750 * MS
    ]
    # The shown lag trails the stall by a heartbeat and a flush (100 ms) plus the time from
    # the snapshot to this callback; from 750 ms on, 80% leaves that 50 ms (at 500 ms it
    # left 0.1 ms, and a loaded machine failed the test without a defect).
    assert during, "the loop never stayed blocked for 0.75 s"
    for since_ns, lag_ms, _ in during:
        assert lag_ms >= 0.8 * since_ns / 1e6
    from conc_tui.widgets.panels import async_lines

    assert any("blocked" in line.plain for line in async_lines(during[-1][2], 60))


# -- items 4 and 5: GIL waits measured over running time, drawn as measured -----------


def _simulate(
    agg: Aggregator,
    gil_share: dict[int, float],
    *,
    spacing_ms: tuple[int, int],
    seconds: float,
    run_ms: tuple[int, int],
    wait_ms: tuple[int, int],
    io_cpu: float,
    seed: int,
) -> None:
    """Drive ``agg`` as the hub would: workers' batches arrive late, samples at spacing.

    Each worker's thread CPU clock advances by (1 - gil) of running wall time, and by
    ``io_cpu`` of waiting time (reading a file costs CPU too). Its state events carry
    that clock in microseconds, as the recorder sends it; the OS samples read it in ns.
    """
    rng = random.Random(seed)
    end = int(seconds * 1000 * MS)
    events: list[Event] = []
    spans: dict[int, list[tuple[int, int, float]]] = {}
    for w, g in gil_share.items():
        t, cpu, out = rng.randrange(0, 50) * MS, 0.0, []
        while t < end:
            run = rng.randrange(*run_ms) * MS
            wait = rng.randrange(*wait_ms) * MS
            out.append((t, t + run, cpu))
            events.append((t, w, STATE, S.RUNNING, (int(cpu) // 1000) & MASK))
            cpu += run * (1 - g)
            events.append((t + run, w, STATE, S.WAIT_IO, (int(cpu) // 1000) & MASK))
            cpu += wait * io_cpu
            t += run + wait
        spans[w] = out

    def cpu_at(w: int, t: int) -> int:
        g = gil_share[w]
        for start, stop, cpu0 in reversed(spans[w]):
            if start <= t:
                if t <= stop:
                    return int(cpu0 + (t - start) * (1 - g))
                return int(cpu0 + (stop - start) * (1 - g) + (t - stop) * io_cpu)
        return 0

    events.sort(key=lambda e: e[0])
    fed = 0
    now = 0
    while now < end:
        now += rng.randrange(spacing_ms[0], spacing_ms[1] + 1) * MS
        arrived = now - rng.randrange(0, 50) * MS  # batches are up to a flush late
        upto = fed
        while upto < len(events) and events[upto][0] <= arrived:
            upto += 1
        agg.feed(events[fed:upto])
        fed = upto
        for w in gil_share:
            agg.apply_thread_sample(w, now, cpu_at(w, now), 0, 0, settled_ns=now - 100 * MS)
    agg.feed(events[fed:])


def _lane_gil_share(lane: bytes) -> float:
    running = sum(lane.count(s) for s in RUNNING_GROUP)
    return lane.count(S.WAIT_GIL) / running if running else 0.0


@pytest.mark.parametrize("spacing", [(80, 80), (100, 130), (150, 150), (80, 150)])
def test_lane_gil_cells_match_the_measured_share(spacing: tuple[int, int]) -> None:
    shares = {1: 0.2, 2: 0.45, 3: 0.7}
    agg = _agg(3)
    _simulate(
        agg,
        shares,
        spacing_ms=spacing,
        seconds=20,
        run_ms=(40, 400),
        wait_ms=(5, 60),
        io_cpu=0.3,
        seed=sum(spacing),
    )
    for view in agg.worker_views(20_000 * MS):
        measured = view.gil_wait_share
        assert measured is not None
        # Item 5: the share is GIL time over running time, not skewed by the CPU
        # the thread spent reading.
        assert measured == pytest.approx(shares[view.worker_id], abs=0.03)
        # Item 4: the lane draws what was measured.
        assert _lane_gil_share(view.lane) == pytest.approx(measured, abs=0.02)


def test_many_threads_with_small_running_weights_show_their_gil_waits() -> None:
    shares = dict.fromkeys(range(1, 33), 0.15)
    agg = _agg(32)
    _simulate(
        agg,
        shares,
        spacing_ms=(100, 130),
        seconds=20,
        run_ms=(5, 150),
        wait_ms=(20, 200),
        io_cpu=0.2,
        seed=7,
    )
    cells = 0
    for view in agg.worker_views(20_000 * MS):
        assert view.gil_wait_share == pytest.approx(0.15, abs=0.03)
        assert _lane_gil_share(view.lane) == pytest.approx(view.gil_wait_share, abs=0.02)
        cells += view.lane.count(S.WAIT_GIL)
    assert cells > 0


def test_gil_share_is_unknown_until_measured() -> None:
    agg = _agg(1)
    agg.feed([(0, 1, STATE, S.RUNNING, 0)])
    (view,) = agg.worker_views(50 * MS)
    assert view.gil_wait_share is None  # not 0: nothing was measured yet


def test_cells_after_the_last_event_are_not_claimed_as_measured() -> None:
    agg = _agg(1, columns=20)
    agg.feed([(0, 1, STATE, S.RUNNING, 0), (250 * MS, 1, STATE, S.WAIT_IO, 100)])
    (view,) = agg.worker_views(800 * MS)
    # Columns 3..8 only repeat the last known state: the lane says how many.
    assert view.lane_unconfirmed == 6


# -- item 6: to_thread's threads wait for the GIL, and card and pane agree -------------


@pytest.mark.slow
def test_to_thread_measures_the_gil_waits_of_its_threads() -> None:
    snapshots: list[Snapshot] = []
    config = RunConfig("async", "cpu", 4, WorkloadOptions(items=24, to_thread=True))
    result = execute(config, on_snapshot=snapshots.append)
    assert result.gil_wait_share is not None and result.gil_wait_share > 0.2
    final = snapshots[-1]
    assert sum(v.lane.count(S.WAIT_GIL) for v in final.worker_views) > 0
    from conc_tui.widgets.panels import async_lines

    text = "\n".join(line.plain for line in async_lines(final, 60))
    assert "GIL wait" in text and "% of the threads' running time" in text


def test_card_and_pane_agree_about_a_to_thread_loop() -> None:
    from conc_tui.widgets.card import look_for
    from conc_tui.widgets.panels import blocked_sentence

    card = look_for("async", "cpu", WorkloadOptions(to_thread=True))
    assert "low lag" not in card and "lag rises" in card
    assert "GIL" in blocked_sentence("to_thread") and "blocked" not in blocked_sentence("to_thread")


# -- item 8: what is not measured is labelled, not drawn as 0 ---------------------------


def _view(**fields: object) -> object:
    from conc_tui.telemetry.snapshot import WorkerView

    base: dict[str, object] = {"worker_id": 1, "label": "pid 1", "state": 1, "lane": b"\x01" * 8}
    base.update(fields)
    return WorkerView(**base)  # type: ignore[arg-type]


def _snapshot(model: str, *views: object, active: bool = True) -> Snapshot:
    from conc_tui.telemetry.snapshot import Phase

    return Snapshot(
        model=model,
        workload="files",
        workers=len(views),
        phase=Phase.RUNNING if active else Phase.FINISHED,
        elapsed_s=1.0,
        items_total=10,
        items_done=1,
        items_failed=0,
        throughput=1.0,
        column_s=0.1,
        worker_views=tuple(views),  # type: ignore[arg-type]
    )


def test_cores_busy_comes_from_measured_cpu() -> None:
    from conc_tui.widgets.panels import process_lines

    # Two workers last seen on two cores, but the OS measured 0.9 of one core in all.
    snap = _snapshot(
        "process",
        _view(worker_id=1, core=0, cpu_percent=50.0),
        _view(worker_id=2, core=1, cpu_percent=40.0),
    )
    assert "0.9 cores busy" in process_lines(snap, 40)[0].plain
    unmeasured = _snapshot("process", _view(core=0))
    assert "measuring" in process_lines(unmeasured, 40)[0].plain


def test_gil_bars_say_measuring_before_the_first_samples() -> None:
    from conc_tui.widgets.panels import thread_lines

    snap = _snapshot("thread", _view(label="thread 1"), _view(worker_id=2, gil_wait_share=0.25))
    text = [line.plain for line in thread_lines(snap, 40)]
    assert any("thread 1" in t and "measuring…" in t for t in text)
    assert any("25%" in t for t in text)
    assert not any("thread 1" in t and "0%" in t for t in text)


def test_unconfirmed_cells_are_drawn_faint() -> None:
    from conc_tui.widgets.lanes import WorkerLanes

    lanes = WorkerLanes()
    strip = lanes.render_row(_view(lane=b"\x03" * 10, lane_unconfirmed=3), 40)  # type: ignore[arg-type]
    faint = [seg for seg in strip if seg.style is not None and seg.style.dim]
    assert sum(len(seg.text) for seg in faint) == 3


def test_a_core_without_a_sample_is_blank_not_zero() -> None:
    from conc_tui.widgets.cores import CoreBars

    bars = CoreBars()
    bars._history = ((30.0,), (40.0,))  # the second core has not been sampled yet
    cell = "".join(seg.text for seg in bars._cell(1, 0, 1))
    assert "0%" not in cell and cell[2:].strip() in ("", "…")


def test_help_defines_each_lane_state_in_one_sentence() -> None:
    from conc_tui.screens.help import LANE_CELL, STATE_DEFINITIONS

    assert set(STATE_DEFINITIONS) == set(S)
    for sentence in STATE_DEFINITIONS.values():
        assert sentence.endswith(".") and sentence.count(". ") == 0
    assert "main state of its 0.1 s" in LANE_CELL


def test_state_events_carry_the_threads_cpu_clock_and_lock_waits_the_lock_id() -> None:
    from collections import deque

    from fakes import LocalRecorder

    sink: deque[Event] = deque()
    recorder = LocalRecorder(1, sink.append)
    before = time.thread_time_ns() // 1000
    recorder.state(S.RUNNING)
    sum(i * i for i in range(200_000))  # some CPU between the marks
    recorder.state(S.WAIT_LOCK, 4242)
    recorder.state(S.RUNNING)
    after = time.thread_time_ns() // 1000
    (_, _, _, _, start), (_, _, _, _, lock_id), (_, _, _, _, end) = sink
    assert lock_id == 4242
    assert before <= start < end <= after


def test_a_running_span_across_the_cpu_marks_wrap_is_measured() -> None:
    from conc_tui.telemetry.aggregator import unwrap_mark

    agg = _agg(1)
    start_us = MASK - 100  # 100 us before the 32-bit microsecond mark wraps
    agg.feed(
        [
            (0, 1, STATE, S.RUNNING, start_us),
            (1000 * MS, 1, STATE, S.WAIT_IO, (start_us + 600_000) & MASK),
        ]
    )
    full = (start_us + 600_000) * 1000
    agg.apply_thread_sample(1, 1100 * MS, full, 0, 0, settled_ns=1000 * MS)
    (view,) = agg.worker_views(1100 * MS)
    assert view.gil_wait_share == pytest.approx(0.4)
    assert unwrap_mark(5, (MASK + 1 + 3) * 1000) == (MASK + 1 + 5) * 1000


def test_loop_lag_is_never_cut_mid_number_in_the_panel() -> None:
    """A lag of seconds is shown in seconds, so "max 2582." never appears."""
    from conc_tui.widgets.panels import fmt_lag

    assert fmt_lag(4.25) == "4.2 ms"
    assert fmt_lag(250.4) == "250 ms"
    assert fmt_lag(2582.0) == "2.58 s"
    assert len(f"{fmt_lag(2582.0)} · mean {fmt_lag(31.0)} · max {fmt_lag(12345.0)}") <= 34

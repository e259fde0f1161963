"""Unit tests of the telemetry pieces, with synthetic events and a fixed clock."""

from __future__ import annotations

from collections import deque

from fakes import LocalRecorder

from conc_tui.telemetry.aggregator import Aggregator
from conc_tui.telemetry.recorder import BatchRecorder
from conc_tui.telemetry.states import EventKind, WorkerState, pack_events, unpack_events
from conc_tui.telemetry.timeline import Timeline

MS = 1_000_000
S = WorkerState


def test_events_round_trip_through_packing() -> None:
    events = [(123, 1, EventKind.STATE, S.RUNNING, 0), (456, 65535, EventKind.ITEM_DONE, 0, 7)]
    assert unpack_events(pack_events(events)) == events


def test_batch_recorder_ships_one_blob_per_interval() -> None:
    blobs: list[bytes] = []
    recorder = BatchRecorder(3, blobs.append)
    recorder._last_flush = 10**30  # never due on its own: only the explicit flush ships
    for _ in range(10):
        recorder.state(S.RUNNING)
    assert blobs == []
    recorder.flush()
    assert len(blobs) == 1
    events = unpack_events(blobs[0])
    assert len(events) == 10 and {e[1] for e in events} == {3}


def test_a_wait_is_marked_and_ends_back_in_running() -> None:
    sink: deque[tuple[int, int, int, int, int]] = deque()
    recorder = LocalRecorder(5, sink.append)
    with recorder.waiting(S.WAIT_IO):
        assert sink[-1][3] == S.WAIT_IO
    assert sink[-1][3] == S.RUNNING


def test_timeline_shows_dominant_state_per_column() -> None:
    timeline = Timeline(columns=4, column_ns=100 * MS, origin_ns=0)
    timeline.add(S.RUNNING, 0, 70 * MS)
    timeline.add(S.WAIT_IO, 70 * MS, 130 * MS)
    timeline.add(S.WAIT_LOCK, 130 * MS, 200 * MS)
    lane = timeline.lane(now_ns=399 * MS, current=S.IDLE, since_ns=200 * MS)
    assert list(lane) == [S.RUNNING, S.WAIT_LOCK, S.IDLE, S.IDLE]


def test_timeline_reuses_its_columns_and_keeps_only_the_newest() -> None:
    timeline = Timeline(columns=8, column_ns=MS, origin_ns=0)
    for i in range(10_000):
        timeline.add(S.RUNNING if i % 2 else S.WAIT_IO, i * MS, (i + 1) * MS)
    # Each slot served 1250 columns: it holds its newest column's time, nothing older.
    for slot in range(8):
        assert sum(timeline._acc[slot * len(S) : (slot + 1) * len(S)]) == MS, slot
    # The lane is the last 8 columns (9992..9999), oldest first: even ones waited on I/O.
    lane = timeline.lane(10_000 * MS - 1, S.IDLE, 10_000 * MS)
    assert list(lane) == [S.WAIT_IO, S.RUNNING] * 4


def _agg(model: str = "thread", gil: bool = True) -> Aggregator:
    agg = Aggregator(
        model=model,
        workload="files",
        workers=2,
        origin_ns=0,
        columns=20,
        column_ns=100 * MS,
        gil_possible=gil,
    )
    agg.register(1, "thread 1", 10, 11, 0)
    agg.register(2, "thread 2", 10, 12, 0)
    return agg


def test_lock_waits_and_holds_are_accounted() -> None:
    agg = _agg()
    agg.feed(
        [
            (0, 1, EventKind.STATE, S.RUNNING, 0),
            (0, 2, EventKind.STATE, S.RUNNING, 0),
            (10 * MS, 1, EventKind.LOCK_ACQUIRED, 0, 99),
            (20 * MS, 2, EventKind.STATE, S.WAIT_LOCK, 99),
        ]
    )
    view = agg.lock_view()
    assert view is not None and view.holder == 1 and view.waiters == (2,)
    agg.feed(
        [
            (50 * MS, 1, EventKind.LOCK_RELEASED, 0, 99),
            (50 * MS, 2, EventKind.STATE, S.RUNNING, 0),
            (50 * MS, 2, EventKind.LOCK_ACQUIRED, 0, 99),
            (60 * MS, 2, EventKind.LOCK_RELEASED, 0, 99),
        ]
    )
    view = agg.lock_view()
    assert view is not None
    assert view.holder is None and view.waiters == ()
    assert view.acquisitions == 2 and view.contended == 1
    assert abs(view.total_wait_s - 0.030) < 1e-9
    assert abs(view.longest_wait_s - 0.030) < 1e-9
    assert abs(view.total_hold_s - 0.050) < 1e-9
    assert view.contention_share == 0.5


def test_gil_wait_is_running_time_the_os_did_not_count() -> None:
    agg = _agg()
    agg.feed([(0, 1, EventKind.STATE, S.RUNNING, 0)])
    agg.apply_thread_sample(1, 0, cpu_ns=0, delay_ns=0, core=0)
    # Over one second of running, the OS counted 0.4 s of CPU and 0.1 s of queueing.
    agg.apply_thread_sample(1, 1000 * MS, cpu_ns=400 * MS, delay_ns=100 * MS, core=1)
    view = next(v for v in agg.worker_views(1000 * MS) if v.worker_id == 1)
    assert view.core == 1
    assert abs((view.gil_wait_share or 0) - 0.5) < 1e-6
    assert abs((view.cpu_wait_share or 0) - 0.1) < 1e-6
    lane = view.lane[-10:]
    # About half the running columns now show the GIL wait, one shows a core wait.
    assert 4 <= lane.count(S.WAIT_GIL) <= 6
    assert lane.count(S.WAIT_CPU) >= 1


def test_no_gil_wait_outside_threads() -> None:
    agg = _agg(model="process", gil=False)
    agg.feed([(0, 1, EventKind.STATE, S.RUNNING, 0)])
    agg.apply_thread_sample(1, 0, cpu_ns=0, delay_ns=0, core=0)
    agg.apply_thread_sample(1, 1000 * MS, cpu_ns=400 * MS, delay_ns=0, core=0)
    view = next(v for v in agg.worker_views(1000 * MS) if v.worker_id == 1)
    assert view.gil_wait_share is None
    assert S.WAIT_GIL not in view.lane


def test_throughput_and_in_flight() -> None:
    agg = _agg(model="async", gil=False)
    agg.feed(
        [
            (0, 1, EventKind.STATE, S.WAIT_IO, 0),
            (0, 2, EventKind.STATE, S.WAIT_IO, 0),
        ]
    )
    assert agg.in_flight() == 2
    agg.feed([(100 * MS + i, 1, EventKind.ITEM_DONE, 0, i) for i in range(5)])
    agg.feed([(150 * MS, 1, EventKind.STATE, S.RUNNING, 0)])
    assert agg.in_flight() == 1 and agg.max_in_flight == 2
    assert abs(agg.throughput(500 * MS) - 10.0) < 1e-9  # 5 items in half a second
    loop = agg.loop_view(500 * MS)
    assert loop is not None and loop.in_flight == 1


def test_late_events_never_rewind_a_worker() -> None:
    agg = _agg()
    agg.feed(
        [
            (100 * MS, 1, EventKind.STATE, S.RUNNING, 0),
            (50 * MS, 1, EventKind.STATE, S.IDLE, 0),
        ]
    )
    track = agg.tracks[1]
    assert track.since_ns == 100 * MS
    assert all(ns >= 0 for ns in track.state_ns)

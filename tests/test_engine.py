"""The engine on real runs: same answers under every model, sound telemetry, failures survived."""

from __future__ import annotations

import os
from collections import defaultdict
from typing import ClassVar

import pytest

from conc_tui.config import RunConfig, WorkloadOptions
from conc_tui.engine import execute
from conc_tui.telemetry.snapshot import Phase, Snapshot
from conc_tui.telemetry.states import Event, EventKind, WorkerState
from conc_tui.workloads.base import Item, ItemResult, Workload

SMALL = {
    "cpu": WorkloadOptions(items=4),
    "files": WorkloadOptions(items=24),
    "images": WorkloadOptions(items=3, filter="blur"),
    "web": WorkloadOptions(items=12, latency_ms=5),
}
MODELS = [("serial", 1), ("thread", 3), ("process", 2), ("async", 3)]


@pytest.mark.parametrize("workload", ["cpu", "files", "images", "web"])
def test_every_model_gives_the_same_checksum(workload: str) -> None:
    results = {
        model: execute(RunConfig(model, workload, workers, SMALL[workload]))
        for model, workers in MODELS
    }
    baseline = results["serial"]
    assert baseline.items_done > 0 and baseline.items_failed == 0
    for model, result in results.items():
        assert result.status == "finished", (model, result.reason)
        assert result.items_done == baseline.items_done, model
        assert result.checksum == baseline.checksum, model
        assert result.bytes_processed == baseline.bytes_processed, model


def _check_worker_intervals(events: list[Event], wall_ns: int, workers: int) -> None:
    by_worker: dict[int, list[Event]] = defaultdict(list)
    for event in events:
        if event[2] == EventKind.STATE and event[1] != 0:
            by_worker[event[1]].append(event)
    assert by_worker, "no state events recorded"
    busy_total = 0
    for worker_events in by_worker.values():
        times = [e[0] for e in worker_events]
        # One worker's state intervals follow each other: they never overlap.
        assert times == sorted(times)
        pairs = zip(worker_events, worker_events[1:], strict=False)
        for (t0, _, _, state, _), (t1, *_rest) in pairs:
            assert t1 - t0 >= 0
            if state == WorkerState.RUNNING:
                busy_total += t1 - t0
    assert busy_total <= wall_ns * workers * 1.02


def _check_lock_holds(events: list[Event]) -> int:
    holds: dict[int, list[tuple[int, int]]] = defaultdict(list)
    open_at: dict[int, tuple[int, int]] = {}
    for t, worker, kind, _, lock_id in sorted(events, key=lambda e: e[0]):
        if kind == EventKind.LOCK_ACQUIRED:
            assert lock_id not in open_at, "a lock was acquired while held"
            open_at[lock_id] = (t, worker)
        elif kind == EventKind.LOCK_RELEASED:
            start, holder = open_at.pop(lock_id)
            assert holder == worker
            holds[lock_id].append((start, t))
    assert not open_at
    for intervals in holds.values():
        for (_, end), (start, _) in zip(intervals, intervals[1:], strict=False):
            assert start >= end
    return sum(len(v) for v in holds.values())


@pytest.mark.parametrize("model,workers", [("thread", 4), ("process", 2), ("async", 4)])
def test_telemetry_invariants_on_the_shared_log(model: str, workers: int) -> None:
    events: list[Event] = []
    snapshots: list[Snapshot] = []
    result = execute(
        RunConfig(model, "files", workers, WorkloadOptions(items=40, io_latency_ms=1)),
        event_log=events,
        on_snapshot=snapshots.append,
    )
    assert result.status == "finished"
    _check_worker_intervals(events, int(result.wall_s * 1e9), workers)
    holds = _check_lock_holds(events)
    # One log line per file, each written under the handler's lock.
    assert holds >= result.items_done
    assert result.lock_acquisitions is not None and result.lock_acquisitions >= result.items_done
    assert result.lock_wait_s is not None and result.lock_wait_s >= 0
    assert result.lock_hold_s is not None and result.lock_hold_s > 0
    final = snapshots[-1]
    assert final.phase == Phase.FINISHED and final.result == result
    assert final.items_done == result.items_done
    assert all(v.state == WorkerState.DONE for v in final.worker_views)
    assert len(final.worker_views) <= workers


def test_threads_report_gil_waits_on_pure_python_work() -> None:
    result = execute(RunConfig("thread", "cpu", 4, WorkloadOptions(items=12)))
    assert result.gil_wait_share is not None and result.cpu_wait_share is not None
    # Four threads on one GIL: most of each thread's running time is spent waiting —
    # for the GIL, or (on a busy machine) for a core once the GIL is handed over.
    assert result.gil_wait_share + result.cpu_wait_share > 0.3
    serial = execute(RunConfig("serial", "cpu", 1, WorkloadOptions(items=4)))
    assert serial.gil_wait_share is None


def test_process_pool_reports_startup_and_memory() -> None:
    result = execute(RunConfig("process", "cpu", 2, WorkloadOptions(items=4)))
    assert result.startup_s is not None and 0 < result.startup_s < result.wall_s
    # Two interpreters plus the coordinator: far more memory than one process.
    assert result.peak_rss_bytes > 40 * 2**20
    assert result.cpu_s > 0


def test_async_says_how_blocking_work_ran() -> None:
    blocking = execute(RunConfig("async", "cpu", 4, WorkloadOptions(items=4)))
    assert blocking.async_mode == "blocking the loop"
    # The CPU work ran on the loop, so the heartbeat woke up late.
    assert blocking.loop_lag_max_ms is not None and blocking.loop_lag_max_ms > 30
    threaded = execute(RunConfig("async", "cpu", 2, WorkloadOptions(items=4, to_thread=True)))
    assert threaded.async_mode == "to_thread"
    assert threaded.checksum == blocking.checksum
    web = execute(RunConfig("async", "web", 8, SMALL["web"]))
    assert web.async_mode == "native async"


class FlakyWorkload(Workload):
    """Items whose index is in ``fail`` raise; item ``crash`` kills its process."""

    name: ClassVar[str] = "flaky"
    description: ClassVar[str] = "test items"

    def __init__(self, count: int, fail: tuple[int, ...] = (), crash: int | None = None):
        self.count, self.fail, self.crash = count, fail, crash

    def initial_items(self) -> list[Item]:
        return [Item(i, f"item-{i}") for i in range(self.count)]

    def run(self, item: Item) -> ItemResult:
        if item.index == self.crash:
            os._exit(3)
        if item.index in self.fail:
            raise OSError(f"cannot read item {item.index}")
        return ItemResult(item.index, item.key, ok=True, digest=str(item.index))


@pytest.mark.parametrize("model,workers", MODELS)
def test_a_failing_item_is_counted_and_the_run_goes_on(model: str, workers: int) -> None:
    result = execute(RunConfig(model, "cpu", workers), workload=FlakyWorkload(10, fail=(2, 7)))
    assert result.status == "finished"
    assert (result.items_done, result.items_failed) == (8, 2)
    assert dict(result.failures)["item-2"] == "OSError: cannot read item 2"


def test_a_dying_worker_process_fails_the_run_and_the_next_run_works() -> None:
    snapshots: list[Snapshot] = []
    result = execute(
        RunConfig("process", "cpu", 2),
        workload=FlakyWorkload(20, crash=5),
        on_snapshot=snapshots.append,
    )
    assert result.status == "failed"
    assert "worker process died" in result.reason
    assert snapshots[-1].phase == Phase.FAILED
    assert any(v.state == WorkerState.FAILED for v in snapshots[-1].worker_views)
    again = execute(RunConfig("process", "cpu", 2), workload=FlakyWorkload(6))
    assert again.status == "finished" and again.items_done == 6

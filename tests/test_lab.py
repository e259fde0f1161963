"""The real LabController: runs in a child process, switches without blocking its caller."""

from __future__ import annotations

import threading
import time

from conc_tui.config import RunConfig, WorkloadOptions
from conc_tui.lab import LabController
from conc_tui.telemetry.snapshot import Phase, Snapshot


def test_switching_runs_does_not_block_the_caller() -> None:
    controller = LabController()
    seen: list[Snapshot] = []
    got_running = threading.Event()

    def collect(snapshot: Snapshot) -> None:
        seen.append(snapshot)
        if snapshot.phase == Phase.RUNNING and snapshot.workload == "cpu":
            got_running.set()

    try:
        controller.start(RunConfig("thread", "cpu", 2, WorkloadOptions(items=500)), collect)
        assert got_running.wait(20), "the first run never reported running"
        started = time.monotonic()
        second = RunConfig("serial", "files", 1, WorkloadOptions(items=10))
        controller.start(second, collect)
        # The caller is the UI's event loop: it must not wait for the old run to end.
        assert time.monotonic() - started < 0.1
        assert controller.running
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if seen and seen[-1].workload == "files" and seen[-1].phase == Phase.FINISHED:
                break
            time.sleep(0.05)
        final = seen[-1]
        assert final.workload == "files" and final.phase == Phase.FINISHED
        assert final.result is not None and final.result.items_done == 10
    finally:
        controller.close()
    assert not controller.running

"""GIL waits are told from waits for a core in real runs that sleep in their I/O.

A thread that reads files with ``--io-latency`` spends most of its time asleep. The
OS's run-queue delay used to be shared out by time off a core, so the sleep took most
of it, and the preemptions inside the running spans were labelled GIL waits: 5-8%
for one thread alone, which shares the GIL with nobody, and 25-35% for four (perf's
scheduler trace: 2-7%). Other programs on the cores make the preemptions certain.
"""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator

import pytest

from conc_tui.config import RunConfig, WorkloadOptions
from conc_tui.engine import execute

_HOG = "import time\nend = time.monotonic() + 30\nwhile time.monotonic() < end: pass"


@pytest.fixture
def busy_cores() -> Iterator[None]:
    """Two pure-Python busy loops (bounded in time), so the workers get preempted."""
    hogs = [subprocess.Popen([sys.executable, "-c", _HOG]) for _ in range(2)]
    try:
        yield
    finally:
        for hog in hogs:
            hog.kill()
            hog.wait()


@pytest.mark.usefixtures("busy_cores")
def test_a_lone_thread_sleeping_in_its_reads_shows_no_gil_wait() -> None:
    options = WorkloadOptions(items=80, io_latency_ms=5)
    result = execute(RunConfig("thread", "files", 1, options))
    assert result.status == "finished", result.reason
    assert result.gil_wait_share is not None and result.cpu_wait_share is not None
    # Only the runner's main thread (collecting results) and its flusher share this
    # GIL, a little: what else is missing from the running spans' CPU is the busy
    # cores' doing (0.00-0.02 measured; the old share said 0.27-0.37).
    assert result.gil_wait_share < 0.1
    assert result.cpu_wait_share > result.gil_wait_share

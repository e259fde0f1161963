"""Load: 64 threads and a flood of telemetry, and the UI still answers keys at once.

Target (issue #4): with 64 workers in one pane and about 100,000 telemetry events a
second, a key takes effect within 100 ms and the UI's memory stays bounded.

The load is the files workload on a folder of tiny files, under 64 threads, in loop
mode: each file costs a few dozen microseconds and yields about seven events. The
event rate is measured headless first (every event counted); then the real app runs
the same load through its lab process while keys are pressed and timed.

    python -m benchmarks.bench_load [--seconds 20] [--files 20000]
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import tempfile
import time
from pathlib import Path

import psutil

from benchmarks.common import write_results
from conc_tui.config import RunConfig, WorkloadOptions
from conc_tui.engine import execute
from conc_tui.telemetry.states import Event

WORKERS = 64


def make_tiny_files(root: Path, count: int) -> None:
    for i in range(count):
        folder = root / f"d{i // 1000:03d}"
        folder.mkdir(exist_ok=True)
        (folder / f"f{i:06d}.txt").write_text(f"line {i}\nword word word\n")


def headless_event_rate(options: WorkloadOptions) -> tuple[float, float]:
    events: list[Event] = []
    result = execute(RunConfig("thread", "files", WORKERS, options), event_log=events)
    return len(events) / result.wall_s, result.throughput


async def drive_app(options: WorkloadOptions, seconds: float) -> dict[str, object]:
    from conc_tui.app import ConcApp

    me = psutil.Process()
    app = ConcApp(options=options)
    latencies: list[float] = []
    rss: list[int] = []
    async with app.run_test(size=(160, 48)) as pilot:
        await pilot.press("2")
        while app.panes["thread"].config.workers < WORKERS:
            await pilot.press("plus")
        await pilot.press("l", "space")
        await pilot.pause(3.0)  # the lab starts, the corpus is listed, the run is live
        end = time.monotonic() + seconds
        target = "process"
        while time.monotonic() < end:
            started = time.perf_counter()
            await pilot.press("1" if target == "process" else "2")
            while app.current != target:
                await pilot.pause(0)
            latencies.append(time.perf_counter() - started)
            target = "thread" if target == "process" else "process"
            rss.append(me.memory_info().rss)
            await pilot.pause(0.5)
        live = app.panes["thread"].snapshot
        workers_seen = len(live.worker_views) if live is not None else 0
        app.close_controllers()
    return {
        "key_latency_ms": [round(x * 1000, 2) for x in latencies],
        "rss_mib": [round(x / 2**20, 1) for x in rss],
        "workers_seen": workers_seen,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--files", type=int, default=20000)
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="conc-tui-load-") as tmp:
        make_tiny_files(Path(tmp), args.files)
        options = WorkloadOptions(files=tmp)
        rates = [headless_event_rate(options) for _ in range(3)]
        events_per_s = statistics.median(r[0] for r in rates)
        print(
            f"headless: {events_per_s:,.0f} events/s, "
            f"{statistics.median(r[1] for r in rates):,.0f} files/s",
            file=sys.stderr,
        )
        # In the app, one timed run outlasts the window (the files are taken again and
        # again), so all 64 lanes stay on screen: a fixed-size run would end within a
        # second or two and loop mode would spend the window restarting it.
        timed = WorkloadOptions(files=tmp, items=args.files, duration_s=args.seconds + 15)
        app = asyncio.run(drive_app(timed, args.seconds))
    latency = app["key_latency_ms"]
    rss = app["rss_mib"]
    assert isinstance(latency, list) and isinstance(rss, list)
    summary = {
        "workers": WORKERS,
        "events_per_s_headless_median": events_per_s,
        "key_latency_ms_median": statistics.median(latency),
        "key_latency_ms_max": max(latency),
        "rss_mib_first": rss[0],
        "rss_mib_last": rss[-1],
        "rss_mib_max": max(rss),
        **app,
    }
    print(
        f"app, {app['workers_seen']} lanes: key latency median "
        f"{summary['key_latency_ms_median']:.1f} ms, max {summary['key_latency_ms_max']:.1f} ms; "
        f"UI RSS {rss[0]} -> {rss[-1]} MiB (max {max(rss)})",
        file=sys.stderr,
    )
    print(f"wrote {write_results('load', summary)}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

"""Load: 64 threads and a flood of telemetry, and the UI still answers keys at once.

Targets (issues #4 and #9): with 64 workers in one pane and a flood of telemetry
events, key -> screen stays within 100 ms and the UI's memory stays bounded.

The load is the files workload on a folder of tiny files under 64 threads, one timed
run that outlasts the window so all 64 lanes stay on screen: each file costs a few
dozen microseconds and yields about seven events. The event rate is measured headless
first (every event counted). Then the real app runs the same load through its lab
process, twice:

- **in a real terminal** (tmux, the headline): a pane key is sent and the terminal's
  screen polled until that pane's card is on it, the Processes and Threads panes in
  turn, so half the presses land on the pane with 64 lanes;
- **under Textual's Pilot**, in-process: the time ``pilot.press`` takes, which also
  waits until every widget has drained its message queue; it is kept as a second
  figure because earlier rounds reported it.

    python -m benchmarks.bench_load [--seconds 20] [--files 20000] [--runs 2]
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

from benchmarks.bench_ui import PANE_MARKS, Term, app_command, ui_process
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


def drive_terminal(files: str, seconds: float, presses: int) -> dict[str, object]:
    """Key -> screen in tmux at 160x48, with the Threads pane running 64 lanes."""
    term = Term("bench-load-keys", app_command("--files", files, "--duration", str(seconds + 30)))
    latencies: list[float] = []
    rss: list[int] = []
    try:
        term.wait_for(lambda screen: "READY" in screen, 20)
        term.keys("2")
        for _ in range(20):
            if f"thread × {WORKERS} " in term.capture():
                break
            term.keys("+")
        term.keys("space")
        term.wait_for(lambda screen: "RUNNING" in screen, 30, poll_s=0.1)
        time.sleep(3.0)  # the lanes fill, the run is in its stride
        ui = ui_process(term)
        lanes = sum(1 for line in term.capture().splitlines() if line.startswith("thread "))
        for press in range(presses):
            key = "1" if press % 2 == 0 else "2"
            time.sleep(0.5)
            latencies.append(term.time_key(key, PANE_MARKS[key]))
            rss.append(ui.memory_info().rss)
    finally:
        term.close()
    to_threads = latencies[1::2]
    return {
        "lanes_on_screen": lanes,
        "key_to_screen_ms": [round(x * 1000, 1) for x in latencies],
        "key_to_screen_ms_median": round(1000 * statistics.median(latencies), 1),
        "key_to_threads_pane_ms_median": round(1000 * statistics.median(to_threads), 1),
        "ui_rss_mib": [round(x / 2**20, 1) for x in rss],
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--files", type=int, default=20000)
    parser.add_argument("--runs", type=int, default=2, help="terminal runs (20 presses each)")
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
        terminal = [drive_terminal(tmp, args.seconds, 20) for _ in range(args.runs)]
        app = asyncio.run(drive_app(timed, args.seconds))
    screen_ms = [float(x) for run in terminal for x in run["key_to_screen_ms"]]  # type: ignore[attr-defined]
    latency = app["key_latency_ms"]
    rss = app["rss_mib"]
    assert isinstance(latency, list) and isinstance(rss, list)
    summary = {
        "workers": WORKERS,
        "events_per_s_headless_median": events_per_s,
        "terminal_key_to_screen_ms_median": statistics.median(screen_ms),
        "terminal_key_to_screen_ms_p90": statistics.quantiles(screen_ms, n=10)[-1],
        "terminal_key_to_screen_ms_max": max(screen_ms),
        "terminal_runs": terminal,
        "key_latency_ms_median": statistics.median(latency),
        "key_latency_ms_max": max(latency),
        "rss_mib_first": rss[0],
        "rss_mib_last": rss[-1],
        "rss_mib_max": max(rss),
        **app,
    }
    for run in terminal:
        print(
            f"terminal, {run['lanes_on_screen']} lanes on screen: key -> screen median "
            f"{run['key_to_screen_ms_median']} ms (to the 64-lane pane "
            f"{run['key_to_threads_pane_ms_median']} ms)",
            file=sys.stderr,
        )
    print(
        f"pilot, {app['workers_seen']} lanes: press median "
        f"{summary['key_latency_ms_median']:.1f} ms, max {summary['key_latency_ms_max']:.1f} ms; "
        f"UI RSS {rss[0]} -> {rss[-1]} MiB (max {max(rss)})",
        file=sys.stderr,
    )
    print(f"wrote {write_results('load', summary)}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

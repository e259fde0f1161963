"""conc-tui's figures against instruments nobody here wrote (issue #7).

Each case runs the real thing and measures it twice: once as conc-tui reports it, once
with an outside instrument (``benchmarks/instruments.py``), and records both with their
difference. Medians of ``--runs`` runs (3 by default).

- **cores busy** of process, thread and serial runs: ``conc-tui run --json``'s
  ``mean_cores_busy`` against a ``/proc`` poller over the CLI's process tree (target
  ±15% for processes);
- **GIL-wait share** of threads on ``cpu`` (2, 4, 8 threads; target within 0.05) and
  ``files`` (within 0.07): ``gil_wait_share`` against py-spy's share of samples in which
  a worker thread, inside an item, was asleep without the GIL (``py-spy dump
  --nonblocking`` in a loop on the runner; lock waits excluded);
- **lanes against totals**: the share of GIL cells in each thread's lane against that
  thread's measured GIL share (target within 2 points);
- **live loop lag**: while asyncio runs blocking work on the loop, every live
  snapshot's lag against the time since the loop's last tick, from the run's own event
  log read after the fact (target ≥ 80%);
- **busy machine**: ``conc-tui bench`` with two CPU hogs running: whether a winner
  was named whose margin lies inside the noise, and how busy the JSON says it was.

    python -m benchmarks.bench_truth [--runs 3] [--smoke] [--cases cores,gil,lanes,lag,busy]
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import threading
import time
from typing import Any

from benchmarks.common import write_results
from benchmarks.instruments import (
    CpuHogs,
    ProcTreePoller,
    ThreadStates,
    find_runner,
    pyspy_path,
    sample_threads_with_pyspy,
)
from conc_tui.config import RunConfig, WorkloadOptions
from conc_tui.engine import execute
from conc_tui.telemetry.snapshot import Phase, Snapshot
from conc_tui.telemetry.states import Event, EventKind, WorkerState

CLI = [sys.executable, "-m", "conc_tui"]


def _run_cli(args: list[str], on_start: Any = None) -> dict[str, Any]:
    """``conc-tui run ... --json``; ``on_start(pid)`` is called once it is running."""
    process = subprocess.Popen(
        [*CLI, "run", *args, "--json"], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL
    )
    finish = on_start(process.pid) if on_start else None
    out, _ = process.communicate()
    if finish:
        finish()
    document: dict[str, Any] = json.loads(out)
    return document


# -- cores busy against a /proc poller ---------------------------------------------


def cores_case(model: str, workload: str, workers: int, items: int) -> dict[str, Any]:
    poller: dict[str, ProcTreePoller] = {}

    def start(pid: int) -> Any:
        poller["p"] = ProcTreePoller(pid).start()
        return None

    doc = _run_cli(
        [
            "--model",
            model,
            "--workload",
            workload,
            "--workers",
            str(workers),
            "--items",
            str(items),
        ],
        on_start=start,
    )
    tree_cpu = poller["p"].stop()
    wall = doc["wall_s"]
    return {
        "conc_tui": doc["mean_cores_busy"],
        "instrument": tree_cpu / wall if wall else None,
        "wall_s": wall,
        "cpu_s": doc["cpu_s"],
        "tree_cpu_s": tree_cpu,
    }


# -- GIL share against py-spy ------------------------------------------------------


def gil_case(workload: str, workers: int, items: int) -> dict[str, Any]:
    states = ThreadStates()
    stop = threading.Event()
    inside = {"cpu": "workloads/cpu.py", "files": "workloads/files.py"}[workload]

    def start(pid: int) -> Any:
        runner = find_runner(pid)
        if runner is None:
            return None
        sampler = threading.Thread(
            target=sample_threads_with_pyspy,
            kwargs={
                "pid": runner,
                "thread_prefix": "conc-tui-worker",
                "inside": inside,
                "exclude_frames": ("acquire",),
                "stop": stop,
                "states": states,
            },
            daemon=True,
        )
        sampler.start()

        def finish() -> None:
            stop.set()
            sampler.join()

        return finish

    doc = _run_cli(
        ["--model", "thread", "--workload", workload, "--workers", str(workers)]
        + ["--items", str(items)],
        on_start=start,
    )
    return {
        "conc_tui": doc["gil_wait_share"],
        "instrument": states.asleep_share,
        "pyspy_samples": states.samples,
        "wall_s": doc["wall_s"],
    }


# -- lanes against the workers' own totals ---------------------------------------


_RUNNING_STATES = {int(WorkerState.RUNNING), int(WorkerState.WAIT_GIL), int(WorkerState.WAIT_CPU)}


def lanes_case(workload: str, workers: int, items: int) -> dict[str, Any]:
    final: list[Snapshot] = []
    result = execute(
        RunConfig("thread", workload, workers, WorkloadOptions(items=items)),
        on_snapshot=lambda s: final.append(s) if s.result is not None else None,
    )
    assert result.status == "finished", result.reason
    diffs = []
    all_running = all_gil = 0
    weighted_share = 0.0
    for view in final[-1].worker_views:
        running = sum(1 for cell in view.lane if cell in _RUNNING_STATES)
        gil_cells = sum(1 for cell in view.lane if cell == WorkerState.WAIT_GIL)
        if view.gil_wait_share is None:
            continue
        all_running += running
        all_gil += gil_cells
        weighted_share += running * view.gil_wait_share
        if running >= 5:  # fewer cells cannot show a share to within 2 points
            diffs.append(100 * (gil_cells / running - view.gil_wait_share))
    return {
        "all_lanes_gil_cells_share": all_gil / all_running if all_running else None,
        "all_lanes_measured_share": weighted_share / all_running if all_running else None,
        "running_cells": all_running,
        "lanes": len(diffs),
        "max_abs_diff_points": max((abs(d) for d in diffs), default=None),
        "mean_diff_points": statistics.fmean(diffs) if diffs else None,
        "wall_s": result.wall_s,
    }


# -- live loop lag during a blocked loop --------------------------------------------


def lag_case(items: int) -> dict[str, Any]:
    live: list[tuple[int, float]] = []
    events: list[Event] = []

    def keep(snapshot: Snapshot) -> None:
        if snapshot.phase == Phase.RUNNING and snapshot.loop is not None:
            live.append((time.monotonic_ns(), snapshot.loop.lag_ms))

    result = execute(
        RunConfig("async", "cpu", 8, WorkloadOptions(items=items)),
        on_snapshot=keep,
        event_log=events,
    )
    assert result.status == "finished", result.reason
    # The loop ticks at its heartbeats; before the first one, it started with the
    # first event any of its tasks recorded.
    loop_start = min(t for t, *_ in events)
    ticks = sorted(t for t, _w, kind, _v, _x in events if kind == EventKind.LOOP_LAG)
    ratios = []
    for at_ns, lag_ms in live:
        last_tick = max([loop_start, *(t for t in ticks if t <= at_ns)])
        since_ms = (at_ns - last_tick) / 1e6
        if since_ms >= 200:  # the loop has missed at least three of its 50 ms beats
            ratios.append((since_ms, lag_ms / since_ms))
    # Lag is lateness: the time since the last tick less the 50 ms beat it was due
    # after. Its ratio to the time since the last tick is 0.75 at a 0.2 s stall and
    # passes 0.8 from 0.25 s on; the share is counted over stalls of 0.3 s or more.
    long = [r for since, r in ratios if since >= 300]
    return {
        "blocked_snapshots": len(ratios),
        "min_ratio": min((r for _s, r in ratios), default=None),
        "median_ratio": statistics.median(r for _s, r in ratios) if ratios else None,
        "share_at_least_80pct": (sum(r >= 0.8 for r in long) / len(long)) if long else None,
    }


# -- a busy machine -----------------------------------------------------------------


def busy_case(items: int, repeat: int) -> dict[str, Any]:
    with CpuHogs(2, 600):
        time.sleep(1)
        done = subprocess.run(
            [*CLI, "bench", "--workloads", "cpu", "--models", "process,thread"]
            + ["--repeat", str(repeat), "--items", str(items), "--json"],
            capture_output=True,
            text=True,
        )
    doc = json.loads(done.stdout)
    summary = {row["model"]: row for row in doc["summary"]}
    serial = summary.get("serial")
    inside_noise = {}
    for model, row in summary.items():
        if model == "serial" or not row.get("wall_s") or not serial or not serial.get("wall_s"):
            continue
        # Separated when one's slowest run beats the other's fastest.
        separated = max(row["wall_s"]) < min(serial["wall_s"]) or min(row["wall_s"]) > max(
            serial["wall_s"]
        )
        inside_noise[model] = not separated
    return {
        "verdicts": doc.get("verdicts"),
        "machine": {k: v for k, v in doc.items() if "other" in k or "busy" in k},
        "runs_other_cores": [
            {k: v for k, v in run.items() if "other" in k} for run in doc.get("runs", [])
        ],
        "inside_noise_vs_serial": inside_noise,
    }


def _median_of(runs: list[dict[str, Any]], key: str) -> float | None:
    values = [r[key] for r in runs if r.get(key) is not None]
    return statistics.median(values) if values else None


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--smoke", action="store_true", help="tiny sizes, one run")
    parser.add_argument("--cases", default="cores,gil,lanes,lag,busy")
    args = parser.parse_args(argv)
    runs = 1 if args.smoke else args.runs
    cases = set(args.cases.split(","))
    out: dict[str, Any] = {"runs": runs}

    def repeat(fn: Any, *fn_args: Any) -> dict[str, Any]:
        samples = [fn(*fn_args) for _ in range(runs)]
        return {"samples": samples}

    if "cores" in cases:
        rows = []
        plan = [("process", "cpu", 2, 24), ("process", "images", 2, 16), ("thread", "cpu", 4, 24)]
        plan += [("serial", "cpu", 1, 12)]
        if args.smoke:
            plan = [("process", "cpu", 2, 4)]
        for model, workload, workers, items in plan:
            got = repeat(cores_case, model, workload, workers, items)
            conc, inst = (
                _median_of(got["samples"], "conc_tui"),
                _median_of(got["samples"], "instrument"),
            )
            row = {
                "model": model,
                "workload": workload,
                "workers": workers,
                **got,
                "conc_tui": conc,
                "instrument": inst,
                "relative_diff": (conc / inst - 1) if conc is not None and inst else None,
            }
            rows.append(row)
            print(
                f"cores busy {model:7} {workload:6}: conc-tui {conc:.2f}, /proc poller {inst:.2f}",
                file=sys.stderr,
            )
        out["cores"] = rows
    if "gil" in cases:
        if pyspy_path() is None:
            print("py-spy is not installed: skipping the GIL case", file=sys.stderr)
        else:
            rows = []
            plan = [("cpu", 2, 24), ("cpu", 4, 24), ("cpu", 8, 24), ("files", 4, 2000)]
            if args.smoke:
                plan = [("cpu", 2, 4)]
            for workload, workers, items in plan:
                got = repeat(gil_case, workload, workers, items)
                conc = _median_of(got["samples"], "conc_tui")
                inst = _median_of(got["samples"], "instrument")
                row = {
                    "workload": workload,
                    "workers": workers,
                    **got,
                    "conc_tui": conc,
                    "instrument": inst,
                    "diff": (conc - inst) if conc is not None and inst is not None else None,
                }
                rows.append(row)
                print(
                    f"GIL share {workload:5} ×{workers}: conc-tui {conc}, py-spy {inst}",
                    file=sys.stderr,
                )
            out["gil"] = rows
    if "lanes" in cases:
        plan = [("cpu", 4, 24), ("cpu", 8, 24), ("files", 4, 2000), ("files", 32, 2000)]
        if args.smoke:
            plan = [("cpu", 2, 4)]
        rows = []
        for workload, workers, items in plan:
            got = repeat(lanes_case, workload, workers, items)
            worst = _median_of(got["samples"], "max_abs_diff_points")
            drawn = _median_of(got["samples"], "all_lanes_gil_cells_share")
            measured = _median_of(got["samples"], "all_lanes_measured_share")
            rows.append(
                {
                    "workload": workload,
                    "workers": workers,
                    **got,
                    "max_abs_diff_points": worst,
                    "all_lanes_gil_cells_share": drawn,
                    "all_lanes_measured_share": measured,
                }
            )
            print(
                f"lanes {workload:5} ×{workers}: worst lane {worst} points off its total; "
                f"all lanes {drawn} GIL cells against {measured} measured",
                file=sys.stderr,
            )
        out["lanes"] = rows
    if "lag" in cases:
        got = repeat(lag_case, 8 if args.smoke else 24)
        out["lag"] = {
            **got,
            "min_ratio": _median_of(got["samples"], "min_ratio"),
            "share_at_least_80pct": _median_of(got["samples"], "share_at_least_80pct"),
        }
        print(
            f"live lag: {out['lag']['share_at_least_80pct']} of blocked snapshots ≥ 80% "
            f"(min ratio {out['lag']['min_ratio']})",
            file=sys.stderr,
        )
    if "busy" in cases:
        out["busy"] = busy_case(4 if args.smoke else 12, 2 if args.smoke else 3)
        print(f"busy machine: {json.dumps(out['busy']['verdicts'])}", file=sys.stderr)
    if not args.smoke:
        path = write_results("truth", out)
        print(f"wrote {path}", file=sys.stderr)
    print(json.dumps({k: v for k, v in out.items() if k != "runs"}, default=str)[:2000])
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

"""Soak: the app in a real terminal (tmux) running runs back to back for N minutes.

Starts ``python -m conc_tui`` in a detached tmux session, turns loop mode on in all
three panes and starts them (so a new run begins whenever one finishes), then samples
the UI process every few seconds: resident memory, open file descriptors, threads and
its own CPU (its children, the labs, are not counted). At the end it quits with ``q``
and checks that nothing is left behind.

Verdicts: memory flat within 10% between the end of the warm-up and the end; open
descriptors flat (within 4); the UI's mean CPU within ``--cpu-budget`` percent of a
core. Results go to ``benchmarks/results/soak.json``.

    python benchmarks/bench_soak.py --minutes 30
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import psutil

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results" / "soak.json"


def _tmux(*args: str) -> str:
    done = subprocess.run(["tmux", *args], capture_output=True, text=True, check=False)
    return done.stdout


def _median(values: list[float]) -> float:
    return statistics.median(values) if values else 0.0


def soak(minutes: float, interval: float, warmup_share: float, cpu_budget: float) -> dict[str, Any]:
    """Run the soak and return its figures (see the module docstring)."""
    name = f"conc-soak-{os.getpid()}"
    tmp = Path(tempfile.mkdtemp(prefix="conc-soak-tmp-"))
    command = f"env TMPDIR={tmp} PYTHONPATH={ROOT} {sys.executable} -m conc_tui"
    _tmux("new-session", "-d", "-s", name, "-x", "160", "-y", "48", command)
    samples: list[dict[str, float]] = []
    labs: set[int] = set()
    try:
        time.sleep(1.0)
        pid = int(_tmux("display-message", "-p", "-t", name, "#{pane_pid}").strip())
        ui = psutil.Process(pid)
        time.sleep(3.0)
        for pane in ("1", "2", "3"):
            for key in (pane, "l", "Space"):
                _tmux("send-keys", "-t", name, key)
                time.sleep(0.3)
        start = time.monotonic()
        cpu0 = sum(ui.cpu_times()[:2])
        last_cpu, last_t = cpu0, start
        while time.monotonic() - start < minutes * 60:
            time.sleep(interval)
            now = time.monotonic()
            cpu = sum(ui.cpu_times()[:2])
            for child in ui.children():
                try:
                    if child.cmdline()[-1:] == ["lab"]:
                        labs.add(child.pid)
                except psutil.Error:
                    pass  # it ended between the listing and the look
            samples.append(
                {
                    "t_s": round(now - start, 1),
                    "rss_mib": ui.memory_info().rss / 2**20,
                    "fds": float(ui.num_fds()),
                    "threads": float(ui.num_threads()),
                    "cpu_pct": 100.0 * (cpu - last_cpu) / (now - last_t),
                }
            )
            last_cpu, last_t = cpu, now
            print(
                f"{samples[-1]['t_s']:7.1f} s  rss {samples[-1]['rss_mib']:6.1f} MiB  "
                f"fds {samples[-1]['fds']:3.0f}  cpu {samples[-1]['cpu_pct']:5.1f}%  "
                f"runs seen {len(labs)}",
                flush=True,
            )
        wall = time.monotonic() - start
        mean_cpu = 100.0 * (sum(ui.cpu_times()[:2]) - cpu0) / wall
        family = [ui, *ui.children(recursive=True)]
        _tmux("send-keys", "-t", name, "q")
        quit_started = time.monotonic()
        gone, alive = psutil.wait_procs(family, timeout=5)
        quit_s = time.monotonic() - quit_started
    finally:
        _tmux("kill-session", "-t", name)
    left = sorted(p.name for p in tmp.iterdir())
    shutil.rmtree(tmp, ignore_errors=True)

    warm = [s for s in samples if s["t_s"] <= minutes * 60 * warmup_share]
    window = max(3, len(samples) // 10)
    warm_rss = _median([s["rss_mib"] for s in (warm[-window:] or samples[:window])])
    end_rss = _median([s["rss_mib"] for s in samples[-window:]])
    warm_fds = _median([s["fds"] for s in (warm[-window:] or samples[:window])])
    end_fds = _median([s["fds"] for s in samples[-window:]])
    rss_change = (end_rss - warm_rss) / warm_rss if warm_rss else 0.0
    cpus = sorted(s["cpu_pct"] for s in samples)
    return {
        "minutes": minutes,
        "interval_s": interval,
        "samples": len(samples),
        "runs_started": len(labs),
        "rss_warm_mib": round(warm_rss, 1),
        "rss_end_mib": round(end_rss, 1),
        "rss_max_mib": round(max(s["rss_mib"] for s in samples), 1),
        "rss_change_pct": round(100 * rss_change, 1),
        "fds_warm": warm_fds,
        "fds_end": end_fds,
        "fds_max": max(s["fds"] for s in samples),
        "threads_max": max(s["threads"] for s in samples),
        "cpu_mean_pct": round(mean_cpu, 1),
        "cpu_p95_pct": round(cpus[int(0.95 * (len(cpus) - 1))], 1),
        "quit_s": round(quit_s, 2),
        "survivors": [p.pid for p in alive],
        "left_in_tmp": left,
        "memory_flat": abs(rss_change) <= 0.10,
        "fds_flat": abs(end_fds - warm_fds) <= 4,
        "cpu_within_budget": mean_cpu <= cpu_budget,
        "cpu_budget_pct": cpu_budget,
        "series": samples,
    }


def main(argv: list[str] | None = None) -> int:
    """Command line of the soak benchmark."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", type=float, default=30.0, help="how long (default 30)")
    parser.add_argument("--interval", type=float, default=5.0, help="seconds between samples")
    parser.add_argument(
        "--warmup", type=float, default=0.2, help="share of the time that is warm-up (0.2)"
    )
    parser.add_argument(
        "--cpu-budget", type=float, default=25.0, help="UI CPU budget, %% of one core (25)"
    )
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args(argv)
    if shutil.which("tmux") is None:
        print("bench_soak: tmux is required", file=sys.stderr)
        return 2
    result = soak(args.minutes, args.interval, args.warmup, args.cpu_budget)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n")
    summary = {k: v for k, v in result.items() if k != "series"}
    print(json.dumps(summary, indent=2))
    ok = result["memory_flat"] and result["fds_flat"] and not result["survivors"]
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())

"""Telemetry overhead: every model x workload with telemetry on vs off, side by side.

Target (issue #2): throughput with telemetry on is at least 0.97 of the same run with
telemetry off. Runs alternate on/off so noise hits both alike; medians are reported.

    python -m benchmarks.bench_overhead [--runs 5] [--smoke]
"""

from __future__ import annotations

import argparse
import json
import sys

from benchmarks.common import RESULTS, interleaved, median, write_results
from conc_tui.config import RunConfig, WorkloadOptions
from conc_tui.engine import execute

FULL = {
    "cpu": WorkloadOptions(items=24),
    "images": WorkloadOptions(items=16),
    "files": WorkloadOptions(items=2000),
    "web": WorkloadOptions(items=200, latency_ms=20),
}
SMOKE = {
    "cpu": WorkloadOptions(items=2),
    "images": WorkloadOptions(items=2),
    "files": WorkloadOptions(items=20),
    "web": WorkloadOptions(items=10, latency_ms=5),
}
WORKERS = {"serial": 1, "process": 2, "thread": 4, "async": 16}


def throughput(config: RunConfig) -> float:
    result = execute(config)
    assert result.status == "finished", result.reason
    return result.throughput


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--smoke", action="store_true", help="tiny sizes, one run")
    parser.add_argument("--workloads", default="cpu,images,files,web")
    parser.add_argument("--models", default="serial,process,thread,async")
    args = parser.parse_args(argv)
    sizes = SMOKE if args.smoke else FULL
    runs = 1 if args.smoke else args.runs
    rows = []
    for workload in args.workloads.split(","):
        for model in args.models.split(","):
            base = RunConfig(model, workload, WORKERS[model], sizes[workload])
            off = RunConfig(model, workload, WORKERS[model], sizes[workload], telemetry=False)
            samples = interleaved(
                runs, {"on": lambda b=base: throughput(b), "off": lambda o=off: throughput(o)}
            )
            ratio = median(samples["on"]) / median(samples["off"])
            rows.append(
                {
                    "model": model,
                    "workload": workload,
                    "workers": WORKERS[model],
                    "on_items_per_s": samples["on"],
                    "off_items_per_s": samples["off"],
                    "ratio": ratio,
                }
            )
            print(f"{workload:7} {model:8} on/off throughput ratio {ratio:.3f}", file=sys.stderr)
    if not args.smoke:
        # A run of some workloads replaces their rows and keeps the others' rows.
        previous = RESULTS / "overhead.json"
        if previous.exists():
            measured = {(r["model"], r["workload"]) for r in rows}
            kept = [
                r
                for r in json.loads(previous.read_text()).get("rows", [])
                if (r["model"], r["workload"]) not in measured
            ]
            rows = kept + rows
        path = write_results("overhead", {"runs": runs, "rows": rows})
        print(f"wrote {path}", file=sys.stderr)
    worst = min(r["ratio"] for r in rows)
    print(f"worst ratio {worst:.3f} (target >= 0.97)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

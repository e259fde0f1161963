"""Speedup against the physical limit, measured side by side with the serial baseline.

Targets (issue #2), on this machine's core count:
* process pool on images and cpu: speedup over serial >= 0.9 x min(workers, cores);
* thread pool on cpu: about 1.0 (the GIL), shown as such;
* async web, 200 pages at 100 ms latency, 50 tasks: wall <= 1.3 x the ideal
  (pages / concurrency x latency).

Each configuration runs ``--runs`` times, alternating with its baseline; medians.

    python -m benchmarks.bench_speedup [--runs 5] [--smoke]
"""

from __future__ import annotations

import argparse
import math
import os
import sys
from typing import Any

from benchmarks.common import interleaved, median, spread, write_results
from conc_tui.config import RunConfig, WorkloadOptions
from conc_tui.engine import execute
from conc_tui.workloads.site import crawlable_count


def wall(config: RunConfig, startup: list[float] | None = None) -> float:
    result = execute(config)
    assert result.status == "finished" and result.items_failed == 0, result.reason
    if startup is not None and result.startup_s is not None:
        startup.append(result.startup_s)
    return result.wall_s


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--smoke", action="store_true")
    args = parser.parse_args(argv)
    runs = 1 if args.smoke else args.runs
    cores = os.cpu_count() or 1
    workers = cores
    rows: list[dict[str, Any]] = []

    for workload, model, items in [
        ("cpu", "process", 4 if args.smoke else 96),
        ("images", "process", 2 if args.smoke else 48),
        ("cpu", "thread", 4 if args.smoke else 48),
        ("images", "thread", 2 if args.smoke else 48),
    ]:
        options = WorkloadOptions(items=items)
        startups: list[float] = []
        samples = interleaved(
            runs,
            {
                "serial": lambda o=options, w=workload: wall(RunConfig("serial", w, 1, o)),
                model: lambda o=options, w=workload, m=model, s=startups: wall(
                    RunConfig(m, w, workers, o), s
                ),
            },
        )
        speedup = median(samples["serial"]) / median(samples[model])
        limit = min(workers, cores)
        row = {
            "workload": workload,
            "model": model,
            "workers": workers,
            "items": items,
            "serial_wall_s": samples["serial"],
            "model_wall_s": samples[model],
            "speedup": speedup,
            "limit": limit,
            "share_of_limit": speedup / limit,
            "startup_s_median": median(startups) if startups else None,
        }
        rows.append(row)
        print(
            f"{workload:7} {model:8} x{workers}: serial {median(samples['serial']):.2f}s "
            f"({spread(samples['serial'])}), {model} {median(samples[model]):.2f}s "
            f"({spread(samples[model])}) -> speedup {speedup:.2f} = "
            f"{speedup / limit:.2f} of the {limit}-core limit",
            file=sys.stderr,
        )

    pages, latency_ms, tasks = (20, 20.0, 10) if args.smoke else (200, 100.0, 50)
    options = WorkloadOptions(items=pages, latency_ms=latency_ms)
    samples = interleaved(runs, {"async": lambda: wall(RunConfig("async", "web", tasks, options))})
    urls = crawlable_count(pages)
    ideal = pages / tasks * latency_ms / 1000
    # The start page must come back before any other URL is known: one extra round.
    hop_ideal = (1 + math.ceil((urls - 1) / tasks)) * latency_ms / 1000
    measured = median(samples["async"])
    rows.append(
        {
            "workload": "web",
            "model": "async",
            "workers": tasks,
            "pages": pages,
            "urls": urls,
            "latency_ms": latency_ms,
            "wall_s": samples["async"],
            "ideal_s": ideal,
            "ratio_to_ideal": measured / ideal,
            "round_ideal_s": hop_ideal,
            "ratio_to_round_ideal": measured / hop_ideal,
        }
    )
    print(
        f"web     async    x{tasks}: {measured:.3f}s ({spread(samples['async'])}) for {urls} URLs;"
        f" ideal {ideal:.3f}s -> {measured / ideal:.2f}x; round-trip ideal {hop_ideal:.3f}s"
        f" -> {measured / hop_ideal:.2f}x",
        file=sys.stderr,
    )
    if not args.smoke:
        print(f"wrote {write_results('speedup', {'runs': runs, 'rows': rows})}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

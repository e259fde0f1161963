"""Pool start-up cost per model: from creating the pool until every worker is ready.

Measured on the files workload with 50 ms of simulated latency per read, so workers
spend their first moments waiting (the GIL free) and nothing but start-up is timed.

python -m benchmarks.bench_startup [--runs 5] [--smoke]
"""

from __future__ import annotations

import argparse
import sys

from benchmarks.common import median, spread, write_results
from conc_tui.config import RunConfig, WorkloadOptions
from conc_tui.engine import execute


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--smoke", action="store_true")
    args = parser.parse_args(argv)
    runs = 1 if args.smoke else args.runs
    rows = []
    for model in ("thread", "process", "async"):
        for workers in (2,) if args.smoke else (2, 4, 8):
            values = []
            for _ in range(runs):
                # Items that mostly wait (GIL released), two per worker, so every worker
                # starts and none is held back by the others' work.
                options = WorkloadOptions(items=workers * 2, io_latency_ms=50, to_thread=True)
                result = execute(RunConfig(model, "files", workers, options))
                assert result.startup_s is not None
                values.append(result.startup_s)
            rows.append({"model": model, "workers": workers, "startup_s": values})
            print(
                f"{model:8} x{workers}: start-up {median(values) * 1000:.1f} ms "
                f"({spread([v * 1000 for v in values])} ms)",
                file=sys.stderr,
            )
    if not args.smoke:
        print(f"wrote {write_results('startup', {'runs': runs, 'rows': rows})}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

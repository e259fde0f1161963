"""Print the benchmark results in ``benchmarks/results/`` as Markdown for the README.

python -m benchmarks.report
"""

from __future__ import annotations

import json
import statistics
from typing import Any

from benchmarks.common import RESULTS


def _load(name: str) -> dict[str, Any] | None:
    path = RESULTS / f"{name}.json"
    return json.loads(path.read_text()) if path.exists() else None


def _machine(data: dict[str, Any]) -> str:
    m = data["machine"]
    return (
        f"{m['logical_cores']} cores ({m['cpu_model']}, {m['cpu_mhz']} MHz), "
        f"{m['memory_gib']} GiB, Python {m['python']}, {m['date']}, "
        f"load average at start {m['load_avg_at_start'][0]}"
    )


def overhead(data: dict[str, Any]) -> list[str]:
    lines = [
        f"Telemetry overhead — {data['runs']} runs each, on and off alternating; "
        "throughput ratio on/off of the medians (target ≥ 0.97):",
        "",
        "| workload | serial | process | thread | async |",
        "| --- | --- | --- | --- | --- |",
    ]
    table: dict[str, dict[str, float]] = {}
    for row in data["rows"]:
        table.setdefault(row["workload"], {})[row["model"]] = row["ratio"]
    for workload, ratios in table.items():
        cells = [
            f"{ratios[m]:.3f}" if m in ratios else ""
            for m in ("serial", "process", "thread", "async")
        ]
        lines.append(f"| {workload} | " + " | ".join(cells) + " |")
    return lines


def speedup(data: dict[str, Any]) -> list[str]:
    lines = [
        f"Speedup over serial — {data['runs']} runs each, alternating with the baseline; medians:",
        "",
        "| workload | model | workers | serial | model | speedup | of the core limit | start-up |",
        "| --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    for row in data["rows"]:
        if row["workload"] == "web":
            continue
        start = row.get("startup_s_median")
        lines.append(
            f"| {row['workload']} | {row['model']} | {row['workers']} "
            f"| {statistics.median(row['serial_wall_s']):.2f} s "
            f"| {statistics.median(row['model_wall_s']):.2f} s | {row['speedup']:.2f}× "
            f"| {row['share_of_limit']:.2f} | {start * 1000:.0f} ms |"
            if start is not None
            else f"| {row['workload']} | {row['model']} | {row['workers']} | | | "
            f"{row['speedup']:.2f}× | {row['share_of_limit']:.2f} | |"
        )
    for row in data["rows"]:
        if row["workload"] == "web":
            lines += [
                "",
                f"Async crawl: {row['pages']} pages ({row['urls']} URLs with the index and "
                f"data files) at {row['latency_ms']:g} ms, {row['workers']} tasks: "
                f"{statistics.median(row['wall_s']):.3f} s (median); the issue's ideal "
                f"(pages / tasks × latency) {row['ideal_s']:.3f} s → "
                f"{row['ratio_to_ideal']:.2f}×; counting the round trip for the start page "
                f"first, {row['round_ideal_s']:.3f} s → {row['ratio_to_round_ideal']:.2f}×.",
            ]
    return lines


def startup(data: dict[str, Any]) -> list[str]:
    lines = [
        "Pool start-up, from creating the pool until every worker is ready (medians):",
        "",
        "| model | 2 workers | 4 workers | 8 workers |",
        "| --- | --- | --- | --- |",
    ]
    table: dict[str, dict[int, float]] = {}
    for row in data["rows"]:
        table.setdefault(row["model"], {})[row["workers"]] = statistics.median(row["startup_s"])
    for model, values in table.items():
        cells = [f"{values[n] * 1000:.1f} ms" if n in values else "" for n in (2, 4, 8)]
        lines.append(f"| {model} | " + " | ".join(cells) + " |")
    return lines


def _figure(value: float | None, fmt: str = "{:.2f}") -> str:
    return "—" if value is None else fmt.format(value)


def _running_cells(row: dict[str, Any]) -> str:
    cells = [s.get("running_cells") for s in row.get("samples", []) if s.get("running_cells")]
    return f"{statistics.median(cells):.0f}" if cells else "—"


def truth(data: dict[str, Any]) -> list[str]:
    """conc-tui's figures next to the outside instruments' (bench_truth)."""
    runs = data["runs"]
    lines = [
        f"conc-tui against instruments it did not write — medians of {runs} runs:",
        "",
        "| figure | case | conc-tui | instrument | difference | target |",
        "| --- | --- | --- | --- | --- | --- |",
    ]
    for row in data.get("cores", []):
        diff = row.get("relative_diff")
        target = "±15%" if row["model"] == "process" else "—"
        lines.append(
            f"| cores busy | {row['model']} × {row['workload']}, {row['workers']} workers "
            f"| {_figure(row['conc_tui'])} | {_figure(row['instrument'])} (/proc poller) "
            f"| {_figure(diff, '{:+.0%}')} | {target} |"
        )
    for row in data.get("gil", []):
        target = "≤ 0.05" if row["workload"] == "cpu" else "≤ 0.07"
        lines.append(
            f"| GIL-wait share | thread × {row['workload']}, {row['workers']} threads "
            f"| {_figure(row['conc_tui'])} | {_figure(row['instrument'])} (py-spy) "
            f"| {_figure(row.get('diff'), '{:+.2f}')} | {target} |"
        )
    for row in data.get("lanes", []):
        lines.append(
            f"| share of GIL cells in the lanes vs measured | thread × {row['workload']}, "
            f"{row['workers']} threads "
            f"| {_figure(row.get('all_lanes_gil_cells_share'))} (all lanes, "
            f"{_running_cells(row)} running cells) "
            f"| {_figure(row.get('all_lanes_measured_share'))} (the workers' totals) "
            f"| worst lane {_figure(row['max_abs_diff_points'], '{:.1f}')} points "
            f"| ≤ 2 points |"
        )
    lag = data.get("lag")
    if lag:
        lines.append(
            "| live loop lag during a block, over the time since the last tick "
            f"| async × cpu | | | lowest ratio {_figure(lag['min_ratio'])}; "
            f"{_figure(lag['share_at_least_80pct'], '{:.0%}')} of snapshots in stalls "
            "of 0.3 s or more ≥ 0.8 | ≥ 0.8 |"
        )
    busy = data.get("busy")
    if busy:
        lines += ["", f"With two CPU hogs running, `bench` said: {json.dumps(busy['verdicts'])}"]
    return lines


def main() -> int:
    for name, render in (
        ("truth", truth),
        ("overhead", overhead),
        ("speedup", speedup),
        ("startup", startup),
    ):
        data = _load(name)
        if data is None:
            continue
        print("\n".join(render(data)))
        print(f"\n*Measured on {_machine(data)}.*\n")
    for name in ("ui", "load", "soak"):
        data = _load(name)
        if data is not None:
            data.pop("machine", None)
            print(f"{name}: {json.dumps(data)[:600]}\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

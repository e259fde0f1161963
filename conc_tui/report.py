"""Turn measured results into text and JSON for ``conc-tui run`` and ``conc-tui bench``.

Pure functions over :class:`~conc_tui.telemetry.snapshot.RunResult`: no engine, no
terminal, no Textual, so the bench arithmetic (medians, speedups, verdicts) is tested
on hand-made results.
"""

from __future__ import annotations

import statistics
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass
from typing import Any

from conc_tui.printable import printable
from conc_tui.telemetry.snapshot import RunResult

RUN_SCHEMA = "conc-tui/run/1"
BENCH_SCHEMA = "conc-tui/bench/1"

FAILURES_SHOWN = 5
"""How many failed items the readable run report lists."""

NOUNS = {"serial": "serial", "process": "processes", "thread": "threads", "async": "asyncio"}
"""How a verdict names each model."""

RULE_OF_THUMB = "processes for CPU-heavy work, asyncio for many network calls, threads for the rest"
EXPECTED_WINNER = {"cpu": "process", "images": "process", "web": "async", "files": "thread"}
"""What the rule of thumb predicts for each workload (images are CPU-heavy work)."""

CLOSE_ENOUGH = 0.95
"""A model within 5% of the fastest counts as agreeing with the rule of thumb: repeated
wall times on a busy machine scatter by a few percent, so a smaller gap proves nothing."""


# --- units ----------------------------------------------------------------------------


def format_bytes(count: int) -> str:
    """Bytes in binary units: ``"512 B"``, ``"3.4 MiB"``."""
    value = float(count)
    for unit in ("B", "KiB", "MiB", "GiB"):
        if abs(value) < 1024 or unit == "GiB":
            return f"{count} B" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    raise AssertionError("unreachable")  # pragma: no cover


def format_speedup(speedup: float | None) -> str:
    """A speedup with two significant digits below 10: ``"0.98×"``, ``"1.9×"``, ``"12×"``."""
    if speedup is None:
        return "n/a"
    if speedup >= 10:
        return f"{speedup:.0f}×"
    if speedup >= 1:
        return f"{speedup:.1f}×"
    return f"{speedup:.2f}×"


# --- one run ----------------------------------------------------------------------------


def run_document(result: RunResult) -> dict[str, Any]:
    """The JSON document ``conc-tui run --json`` prints (schema ``conc-tui/run/1``)."""
    return {"schema": RUN_SCHEMA, **asdict(result)}


def format_run(result: RunResult) -> str:
    """A readable multi-line report of one finished (or failed) run."""
    worker_word = "worker" if result.workers == 1 else "workers"
    lines = [f"{result.model} × {result.workload}, {result.workers} {worker_word}: {result.status}"]
    if result.reason:
        lines.append(f"  reason       {printable(result.reason)}")

    def row(label: str, text: str) -> None:
        lines.append(f"  {label:<12} {text}")

    if result.input:
        row("input", printable(result.input))
    row("wall time", f"{result.wall_s:.3f} s")
    row(
        "items",
        f"{result.items_done} done, {result.items_failed} failed ({result.throughput:.1f} items/s)",
    )
    rate = result.bytes_processed / result.wall_s if result.wall_s > 0 else 0.0
    row("bytes", f"{format_bytes(result.bytes_processed)} ({format_bytes(int(rate))}/s)")
    row("CPU", f"{result.cpu_s:.2f} s, {result.mean_cores_busy:.2f} cores busy on average")
    row("peak RSS", f"{format_bytes(result.peak_rss_bytes)} over all the run's processes")
    if result.startup_s is not None:
        row("start-up", f"{result.startup_s * 1000:.1f} ms until every worker was ready")
    if result.lock_wait_s is not None or result.lock_hold_s is not None:
        text = f"waited {_seconds(result.lock_wait_s)}, held {_seconds(result.lock_hold_s)}"
        if result.lock_acquisitions is not None:
            contended = result.lock_contended if result.lock_contended is not None else 0
            text += f" ({result.lock_acquisitions} acquisitions, {contended} had to wait)"
        row("log lock", text)
    if result.gil_wait_share is not None:
        row("GIL wait", f"{result.gil_wait_share:.0%} of the threads' running time")
    if result.cpu_wait_share is not None:
        row("core wait", f"{result.cpu_wait_share:.0%} of running time waiting for a free core")
    if result.loop_lag_mean_ms is not None or result.async_mode is not None:
        parts = []
        if result.loop_lag_mean_ms is not None:
            lag_max = result.loop_lag_max_ms if result.loop_lag_max_ms is not None else 0.0
            parts.append(f"lag {result.loop_lag_mean_ms:.1f} ms mean, {lag_max:.1f} ms max")
        if result.async_mode:
            parts.append(result.async_mode)
        row("event loop", "; ".join(parts))
    if not result.telemetry:
        row("telemetry", "off (no per-worker timelines, lock or GIL figures)")
    row("checksum", result.checksum)
    if result.failures:
        shown = result.failures[:FAILURES_SHOWN]
        row("failures", f"first {len(shown)} of {result.items_failed}:")
        lines.extend(f"    {printable(key)}: {printable(reason)}" for key, reason in shown)
    return "\n".join(lines)


def _seconds(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.3f} s"


# --- bench --------------------------------------------------------------------------------


@dataclass(frozen=True)
class BenchRow:
    """One (workload, model) pair of a bench: its repeated runs, summarized."""

    workload: str
    model: str
    workers: int
    runs: int
    """How many runs were made."""
    walls: tuple[float, ...]
    """Wall times of the runs that finished, in the order they ran."""
    median_s: float | None
    """Median wall time of the finished runs; None when none finished."""
    min_s: float | None
    max_s: float | None
    speedup: float | None
    """Serial median over this median; None without both."""
    items_failed: int
    """The most items that failed in any one run (0 when every item succeeded)."""
    checksums: tuple[str, ...]
    """The distinct checksums of the finished runs."""


def summarize_bench(results: Iterable[RunResult]) -> list[BenchRow]:
    """Group runs by (workload, model) and compute medians and speedups over serial.

    Only runs with status ``finished`` count towards the wall times: a run that broke
    off early would look fast. Rows come out in the order each pair first ran.
    """
    groups: dict[tuple[str, str], list[RunResult]] = {}
    for result in results:
        groups.setdefault((result.workload, result.model), []).append(result)
    medians: dict[tuple[str, str], float | None] = {}
    for key, runs in groups.items():
        finished_walls = [r.wall_s for r in runs if r.status == "finished"]
        medians[key] = statistics.median(finished_walls) if finished_walls else None
    rows = []
    for (workload, model), runs in groups.items():
        finished = [r for r in runs if r.status == "finished"]
        walls = tuple(r.wall_s for r in finished)
        median = medians[(workload, model)]
        baseline = medians.get((workload, "serial"))
        speedup = baseline / median if baseline is not None and median else None
        rows.append(
            BenchRow(
                workload=workload,
                model=model,
                workers=runs[0].workers,
                runs=len(runs),
                walls=walls,
                median_s=median,
                min_s=min(walls) if walls else None,
                max_s=max(walls) if walls else None,
                speedup=speedup,
                items_failed=max((r.items_failed for r in runs), default=0),
                checksums=tuple(dict.fromkeys(r.checksum for r in finished)),
            )
        )
    return rows


def _winner(rows: Sequence[BenchRow]) -> BenchRow | None:
    """The fastest pair by median wall time, serial included; None if nothing finished."""
    timed = [r for r in rows if r.median_s is not None]
    return min(timed, key=lambda r: r.median_s or 0.0) if timed else None


def _explain(best: BenchRow, by_model: dict[str, BenchRow], gil_share: float | None) -> str:
    """Why the winner won, read off the measurements (empty when nothing stands out)."""
    speed = best.speedup or 0.0
    threads = by_model.get("thread")
    if speed < 1.1:
        return "the overhead of sharing the work out costs about as much as it saves"
    if best.model == "process" and threads is not None and threads.speedup is not None:
        if threads.speedup < 1.25 and speed >= 1.25 * threads.speedup:
            text = "the GIL lets one thread run Python at a time"
            # A share near zero (runs too short for the OS's 10 ms CPU ticks) would read
            # as a contradiction of the sentence it follows, so it is left out.
            if gil_share is not None and gil_share >= 0.05:
                text += f" (threads waited for it {gil_share:.0%} of their running time)"
            return text
        if threads.speedup >= 0.8 * speed:
            return "the work releases the GIL, so threads keep up with processes"
    if best.model == "process":
        return "each process runs Python on its own core"
    if best.model == "async":
        return "one event loop keeps many tasks waiting at once on a single thread"
    if best.model == "thread":
        return "threads overlap their waits and share one process, with no start-up or copying"
    return ""


def verdict(workload: str, rows: Sequence[BenchRow], gil_share: float | None = None) -> str:
    """One line naming the fastest model for a workload and its speedup over serial.

    Args:
        workload: The workload the rows belong to.
        rows: That workload's rows (serial baseline included).
        gil_share: The median GIL-wait share of its thread runs, when measured.
    """
    mine = [r for r in rows if r.workload == workload]
    by_model = {r.model: r for r in mine}
    serial = by_model.get("serial")
    if serial is None or serial.median_s is None:
        return f"{workload}: no verdict, because the serial baseline did not finish"
    best = _winner(mine)
    if best is None or best.model == "serial":
        others = [r for r in mine if r.model != "serial"]
        listed = ", ".join(f"{NOUNS[r.model]} {format_speedup(r.speedup)}" for r in others)
        text = f"{workload}: serial wins; every model was slower"
        if listed:
            text += f" ({listed})"
        return text + ": sharing the work out costs more than it saves here"
    others = [r for r in mine if r.model not in ("serial", best.model)]
    wins = "wins" if best.model == "async" else "win"
    text = f"{workload}: {NOUNS[best.model]} {wins}, {format_speedup(best.speedup)} over serial"
    if others:
        text += "; " + ", ".join(f"{NOUNS[r.model]} {format_speedup(r.speedup)}" for r in others)
    why = _explain(best, by_model, gil_share)
    return f"{text}: {why}" if why else text


def rule_of_thumb(rows: Sequence[BenchRow]) -> str:
    """One line saying where the measurements agree with the rule of thumb and where not."""
    held: list[str] = []
    broke: list[str] = []
    untested: list[str] = []
    for workload in dict.fromkeys(r.workload for r in rows):
        mine = [r for r in rows if r.workload == workload]
        expected_model = EXPECTED_WINNER.get(workload)
        expected = next((r for r in mine if r.model == expected_model), None)
        best = _winner(mine)
        if expected is None or best is None or expected.median_s is None:
            untested.append(workload)
        elif best is expected or (best.median_s or 0.0) >= CLOSE_ENOUGH * expected.median_s:
            held.append(workload)
        else:
            broke.append(
                f"{workload} (expected {NOUNS[expected.model]}, "
                f"{NOUNS[best.model]} won {format_speedup(best.speedup)} "
                f"against {format_speedup(expected.speedup)})"
            )
    parts = []
    if held:
        parts.append("holds for " + ", ".join(held))
    if broke:
        parts.append("not for " + "; ".join(broke))
    if untested:
        parts.append("untested for " + ", ".join(untested))
    return f"rule of thumb ({RULE_OF_THUMB}): " + "; ".join(parts or ["nothing measured"])


def thread_gil_share(results: Iterable[RunResult], workload: str) -> float | None:
    """The median GIL-wait share of a workload's finished thread runs, if measured."""
    shares = [
        r.gil_wait_share
        for r in results
        if r.workload == workload
        and r.model == "thread"
        and r.status == "finished"
        and r.gil_wait_share is not None
    ]
    return statistics.median(shares) if shares else None


def bench_verdicts(results: Sequence[RunResult], rows: Sequence[BenchRow]) -> dict[str, str]:
    """A verdict for every workload in the bench, in the order they ran."""
    return {
        w: verdict(w, rows, thread_gil_share(results, w))
        for w in dict.fromkeys(r.workload for r in rows)
    }


def format_bench_table(rows: Sequence[BenchRow]) -> str:
    """The bench table: median and range of wall times, speedup over serial."""
    header = ("workload", "model", "workers", "median", "min–max", "speedup", "failed", "checksum")
    table = [header]
    for r in rows:
        span = "n/a" if r.min_s is None else f"{r.min_s:.3f}–{r.max_s or 0.0:.3f} s"
        median = "n/a" if r.median_s is None else f"{r.median_s:.3f} s"
        checksum = ",".join(r.checksums) if r.checksums else "n/a"
        if len(r.walls) < r.runs:
            median += f" ({r.runs - len(r.walls)} of {r.runs} broke)"
        table.append(
            (
                r.workload,
                r.model,
                str(r.workers),
                median,
                span,
                format_speedup(r.speedup),
                str(r.items_failed),
                checksum,
            )
        )
    widths = [max(len(line[i]) for line in table) for i in range(len(header))]
    right = {2, 5, 6}  # numbers read best right-aligned
    out = []
    for line in table:
        cells = [
            cell.rjust(widths[i]) if i in right else cell.ljust(widths[i])
            for i, cell in enumerate(line)
        ]
        out.append("  ".join(cells).rstrip())
    return "\n".join(out)


def bench_document(
    results: Sequence[RunResult],
    *,
    repeat: int,
    workloads: Sequence[str],
    models: Sequence[str],
    workers: int | None,
    options: dict[str, Any],
    telemetry: bool,
) -> dict[str, Any]:
    """The JSON document ``conc-tui bench --json`` prints (schema ``conc-tui/bench/1``)."""
    rows = summarize_bench(results)
    return {
        "schema": BENCH_SCHEMA,
        "repeat": repeat,
        "workloads": list(workloads),
        "models": list(models),
        "workers": workers,
        "telemetry": telemetry,
        "options": options,
        "runs": [asdict(r) for r in results],
        "summary": [
            {
                "workload": r.workload,
                "model": r.model,
                "workers": r.workers,
                "runs": r.runs,
                "finished_runs": len(r.walls),
                "wall_s": list(r.walls),
                "median_wall_s": r.median_s,
                "min_wall_s": r.min_s,
                "max_wall_s": r.max_s,
                "speedup": r.speedup,
                "items_failed": r.items_failed,
                "checksums": list(r.checksums),
            }
            for r in rows
        ],
        "verdicts": bench_verdicts(results, rows),
        "rule_of_thumb": rule_of_thumb(rows),
    }

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

NOUNS = {
    "serial": "serial",
    "process": "processes",
    "thread": "threads",
    "async": "asyncio",
    "interp": "interpreters",
}
"""How a verdict names each model."""

RULE_OF_THUMB = "processes for CPU-heavy work, asyncio for many network calls, threads for the rest"
EXPECTED_WINNER = {"cpu": "process", "images": "process", "web": "async", "files": "thread"}
"""What the rule of thumb predicts for each workload (images are CPU-heavy work)."""


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
    row(
        "CPU",
        f"{result.cpu_s:.2f} s, {result.mean_cores_busy:.2f} cores busy on average "
        "(the run's process and every worker process)",
    )
    if result.server_cpu_s is not None:
        row("site server", f"{result.server_cpu_s:.2f} s CPU, not counted above")
    if result.others_cores_busy is not None:
        of = f" of {result.machine_cores}" if result.machine_cores else ""
        row(
            "others",
            f"other programs kept {result.others_cores_busy:.2f}{of} cores busy meanwhile",
        )
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
        if result.calls_on_hold_mean is not None:
            parts.append(f"{result.calls_on_hold_mean:.1f} calls on hold on average")
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


MIN_RUNS = 3
"""Runs of each model a verdict needs before it may name a winner (see :func:`verdict`)."""

BUSY_SHARE = 0.25
"""Other programs keeping at least this share of the machine's cores busy make it busy:
on 2 cores, half a core taken is enough to move a run's wall time by tens of percent."""


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
    cores_busy: float | None = None
    """Median cores the run's processes kept busy."""
    others_cores_busy: float | None = None
    """Median cores other programs kept busy meanwhile; None where not measured."""
    machine_cores: int | None = None
    gil_wait_share: float | None = None
    """Median GIL-wait share (threads with telemetry only)."""
    cpu_wait_share: float | None = None
    startup_s: float | None = None
    calls_on_hold: float | None = None
    """Median of the runs' mean calls in flight (asyncio only)."""
    loop_lag_max_ms: float | None = None
    lock_wait_s: float | None = None
    async_mode: str | None = None


def _median(values: Iterable[float | None]) -> float | None:
    present = [v for v in values if v is not None]
    return statistics.median(present) if present else None


def summarize_bench(results: Iterable[RunResult]) -> list[BenchRow]:
    """Group runs by (workload, model) and compute medians and speedups over serial.

    Only runs with status ``finished`` count towards the wall times and the other
    figures: a run that broke off early would look fast. Rows come out in the order
    each pair first ran.
    """
    groups: dict[tuple[str, str], list[RunResult]] = {}
    for result in results:
        groups.setdefault((result.workload, result.model), []).append(result)
    medians: dict[tuple[str, str], float | None] = {}
    for key, runs in groups.items():
        medians[key] = _median(r.wall_s for r in runs if r.status == "finished")
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
                cores_busy=_median(r.mean_cores_busy for r in finished),
                others_cores_busy=_median(r.others_cores_busy for r in finished),
                machine_cores=next((r.machine_cores for r in runs if r.machine_cores), None),
                gil_wait_share=_median(r.gil_wait_share for r in finished),
                cpu_wait_share=_median(r.cpu_wait_share for r in finished),
                startup_s=_median(r.startup_s for r in finished),
                calls_on_hold=_median(r.calls_on_hold_mean for r in finished),
                loop_lag_max_ms=_median(r.loop_lag_max_ms for r in finished),
                lock_wait_s=_median(r.lock_wait_s for r in finished),
                async_mode=next((r.async_mode for r in finished if r.async_mode), None),
            )
        )
    return rows


def _winner(rows: Sequence[BenchRow]) -> BenchRow | None:
    """The fastest pair by median wall time, serial included; None if nothing finished."""
    timed = [r for r in rows if r.median_s is not None]
    return min(timed, key=lambda r: r.median_s or 0.0) if timed else None


def stands_clear(faster: BenchRow, slower: BenchRow) -> bool:
    """Whether ``faster`` beat ``slower`` by more than the runs' own scatter.

    The rule: every run of the faster model finished before any run of the slower one
    (its slowest run beats the other's fastest), with at least three runs each. If the
    two models were equally fast, three runs of one would all come before three of the
    other 1 time in 20 by chance; the rule needs no assumption about how run times are
    distributed, and a reader can check it by eye in the min–max column. A bootstrap of
    a ratio from three runs would resample the same three numbers and look surer than
    it is.
    """
    if len(faster.walls) < MIN_RUNS or len(slower.walls) < MIN_RUNS:
        return False
    return max(faster.walls) < min(slower.walls)


def machine_load(rows: Sequence[BenchRow]) -> tuple[float | None, int | None]:
    """The median cores other programs kept busy over the rows' runs, and the machine's cores."""
    others = [r.others_cores_busy for r in rows if r.others_cores_busy is not None]
    cores = next((r.machine_cores for r in rows if r.machine_cores), None)
    return (statistics.median(others) if others else None), cores


def describe_load(others: float | None, cores: int | None) -> str:
    """ "other programs kept 1.3 of 2 cores busy", or "" when not measured."""
    if others is None:
        return ""
    of = f" of {cores}" if cores else ""
    return f"other programs kept {others:.1f}{of} cores busy"


SATURATED_SHARE = 0.5
"""Other programs keeping at least this share of the cores busy leave no verdict at all.

Linux shares a contended core per thread, not per program: eight threads win more CPU
from other programs than one does (measured: threads 0.5 cores, serial 0.3, with two
busy loops on 2 cores), so a model's speed then says how much it took from the other
programs, not how good it is at the work. Such a margin can stand clear of the runs'
scatter and still teach the wrong lesson."""


def is_busy(others: float | None, cores: int | None) -> bool:
    """Whether other programs took enough of the machine to blur the timings."""
    return others is not None and others >= BUSY_SHARE * (cores or 1)


def is_saturated(others: float | None, cores: int | None) -> bool:
    """Whether other programs took so much of the machine that no verdict holds."""
    return others is not None and others >= SATURATED_SHARE * (cores or 1)


def reasons(workload: str, rows: Sequence[BenchRow]) -> list[str]:
    """Why the timings came out as they did, each sentence quoting the figure it rests on.

    A reason is included only when the figure behind it was measured in these runs and
    stands out; none is chosen by a model's name alone.
    """
    mine = {r.model: r for r in rows if r.workload == workload}
    serial = mine.get("serial")
    found: list[str] = []
    if serial is not None and serial.cores_busy is not None:
        for model in ("process", "thread", "async"):
            row = mine.get(model)
            if row is None or row.cores_busy is None:
                continue
            # A third more and a quarter of a core more: less is within the runs' scatter.
            gained = row.cores_busy - serial.cores_busy
            if row.cores_busy >= 1.3 * serial.cores_busy and gained >= 0.25:
                found.append(
                    f"{NOUNS[model]} kept {row.cores_busy:.2f} cores busy, "
                    f"serial {serial.cores_busy:.2f}"
                )
    threads = mine.get("thread")
    gil = threads.gil_wait_share if threads is not None else None
    if gil is not None and gil >= 0.2:
        found.append(f"threads waited for the GIL {gil:.0%} of their running time")
    loop = mine.get("async")
    if loop is not None:
        if loop.calls_on_hold is not None and loop.calls_on_hold >= 1.5:
            found.append(f"asyncio kept {loop.calls_on_hold:.0f} calls on hold on average")
        if loop.loop_lag_max_ms is not None and loop.loop_lag_max_ms >= 100:
            how = f" ({loop.async_mode})" if loop.async_mode else ""
            found.append(
                f"asyncio's event loop fell {loop.loop_lag_max_ms:.0f} ms behind at worst{how}"
            )
    # Start-up is a cost of its own only for a pool of processes (interpreters to start,
    # modules to import). A thread's or task's "ready" comes when it first gets the GIL
    # or the loop, so under pure-Python load it measures GIL waits, quoted above.
    pool = mine.get("process")
    startup = pool.startup_s if pool is not None else None
    wall = pool.median_s if pool is not None else None
    if startup is not None and wall and startup >= 0.15 * wall:
        found.append(f"processes' start-up took {startup:.2f} s of a {wall:.2f} s run")
    for model in ("thread", "async", "process"):
        row = mine.get(model)
        if row is None or row.lock_wait_s is None or not row.median_s:
            continue
        if row.lock_wait_s >= 0.1 * row.median_s:
            found.append(
                f"{NOUNS[model]}' workers waited {row.lock_wait_s:.2f} s for the log lock "
                f"in a {row.median_s:.2f} s run"
            )
    return found


def _timing(row: BenchRow) -> str:
    """ "processes 1.02 s (0.98–1.10 s, 3 runs)"."""
    if row.median_s is None:
        return f"{NOUNS[row.model]} n/a"
    span = f"{row.min_s or 0.0:.2f}–{row.max_s or 0.0:.2f} s, " if len(row.walls) > 1 else ""
    runs = "run" if len(row.walls) == 1 else "runs"
    return f"{NOUNS[row.model]} {row.median_s:.2f} s ({span}{len(row.walls)} {runs})"


@dataclass(frozen=True)
class Verdict:
    """What a workload's runs show, and how sure that is."""

    workload: str
    call: str
    """"winner" (the margin stands clear of the noise), "too close", "too busy" (other
    programs' load blurred the margin, or took half the machine or more),
    "too few runs" or "no baseline"."""
    winner: str | None
    """The model named the winner; None unless ``call`` is "winner"."""
    text: str
    """The whole verdict in one line."""
    reasons: tuple[str, ...]
    """Each a sentence quoting the measured figure it rests on."""
    others_cores_busy: float | None
    """Median cores other programs kept busy during these runs; None when not measured."""
    machine_cores: int | None


def judge(workload: str, rows: Sequence[BenchRow]) -> Verdict:
    """Name the fastest model for a workload only if its margin stands clear of the noise."""
    mine = [r for r in rows if r.workload == workload]
    by_model = {r.model: r for r in mine}
    others, cores = machine_load(mine)
    load = describe_load(others, cores)
    why = tuple(reasons(workload, mine))

    def made(call: str, text: str, winner: str | None = None) -> Verdict:
        # With a winner, the figures say why it won; without, they are what was seen.
        if why:
            text += (": " if winner else "; measured: ") + "; ".join(why)
        return Verdict(workload, call, winner, text, why, others, cores)

    serial = by_model.get("serial")
    if serial is None or serial.median_s is None:
        return Verdict(
            workload,
            "no baseline",
            None,
            f"{workload}: no verdict, because the serial baseline did not finish",
            (),
            others,
            cores,
        )
    timed = sorted((r for r in mine if r.median_s is not None), key=lambda r: r.median_s or 0.0)
    best = timed[0]
    if len(timed) < 2:
        return made("too few runs", f"{workload}: only serial finished; nothing to compare")
    runner_up = timed[1]
    fewest = min(timed, key=lambda r: len(r.walls))
    if len(fewest.walls) < MIN_RUNS:
        return made(
            "too few runs",
            f"{workload}: too few runs to call (only {len(fewest.walls)} of "
            f"{NOUNS[fewest.model]} finished; at least {MIN_RUNS} each tell a margin from "
            f"scatter); fastest median {_timing(best)}",
        )
    if is_saturated(others, cores):
        return made(
            "too busy",
            f"{workload}: the machine was too busy to tell ({load} on average, so the "
            f"models competed with them for cores); fastest medians {_timing(best)}, "
            f"{_timing(runner_up)}",
        )
    # The winner must beat every model clearly, not only the runner-up: its speedup is
    # quoted over serial, whose runs may scatter wider than the runner-up's.
    rival = next((r for r in timed[1:] if not stands_clear(best, r)), None)
    if rival is not None:
        if is_busy(others, cores):
            return made(
                "too busy",
                f"{workload}: the machine was too busy to tell ({load} on average); "
                f"{_timing(best)} and {_timing(rival)} overlap",
            )
        return made(
            "too close",
            f"{workload}: too close to call; {_timing(best)} and {_timing(rival)} overlap",
        )
    if best.model == "serial":
        listed = ", ".join(f"{NOUNS[r.model]} {format_speedup(r.speedup)}" for r in timed[1:])
        text = f"{workload}: serial wins; every model was slower ({listed})"
    else:
        wins = "wins" if best.model == "async" else "win"
        text = f"{workload}: {NOUNS[best.model]} {wins}, {format_speedup(best.speedup)} over serial"
        rest = [r for r in mine if r.model not in ("serial", best.model)]
        if rest:
            text += "; " + ", ".join(f"{NOUNS[r.model]} {format_speedup(r.speedup)}" for r in rest)
    text += f"; {_timing(best)} against {_timing(runner_up)}"
    if is_busy(others, cores):
        text += f"; {load} meanwhile"
    return made("winner", text, best.model)


def verdict(workload: str, rows: Sequence[BenchRow]) -> str:
    """One line: the winner and its speedup over serial, or why there is none."""
    return judge(workload, rows).text


def rule_of_thumb(rows: Sequence[BenchRow]) -> str:
    """One line saying where the measurements agree with the rule of thumb and where not.

    The rule counts as broken for a workload only when another model beat the predicted
    one clearly (:func:`stands_clear`); a margin inside the noise proves nothing.
    """
    held: list[str] = []
    broke: list[str] = []
    unsettled: list[str] = []
    busy: list[str] = []
    untested: list[str] = []
    for workload in dict.fromkeys(r.workload for r in rows):
        mine = [r for r in rows if r.workload == workload]
        expected_model = EXPECTED_WINNER.get(workload)
        expected = next((r for r in mine if r.model == expected_model), None)
        best = _winner(mine)
        if expected is None or best is None or expected.median_s is None:
            untested.append(workload)
        elif is_saturated(*machine_load(mine)):
            busy.append(workload)
        elif best is expected:
            held.append(workload)
        elif not stands_clear(best, expected):
            unsettled.append(f"{workload} ({NOUNS[best.model]} and {NOUNS[expected.model]})")
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
    if unsettled:
        parts.append("too close to tell for " + ", ".join(unsettled))
    if busy:
        parts.append("the machine was too busy to tell for " + ", ".join(busy))
    if untested:
        parts.append("untested for " + ", ".join(untested))
    return f"rule of thumb ({RULE_OF_THUMB}): " + "; ".join(parts or ["nothing measured"])


def bench_verdicts(rows: Sequence[BenchRow]) -> dict[str, Verdict]:
    """A verdict for every workload in the bench, in the order they ran."""
    return {w: judge(w, rows) for w in dict.fromkeys(r.workload for r in rows)}


def _cores(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.2f}"


def format_bench_table(rows: Sequence[BenchRow]) -> str:
    """The bench table: median and range of wall times, speedup over serial, and load.

    "cores" is the median cores the run's own processes kept busy; "others" the median
    cores other programs kept busy meanwhile.
    """
    header = (
        "workload",
        "model",
        "workers",
        "median",
        "min–max",
        "speedup",
        "cores",
        "others",
        "failed",
        "checksum",
    )
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
                _cores(r.cores_busy),
                _cores(r.others_cores_busy),
                str(r.items_failed),
                checksum,
            )
        )
    widths = [max(len(line[i]) for line in table) for i in range(len(header))]
    right = {2, 5, 6, 7, 8}  # numbers read best right-aligned
    out = []
    for line in table:
        cells = [
            cell.rjust(widths[i]) if i in right else cell.ljust(widths[i])
            for i, cell in enumerate(line)
        ]
        out.append("  ".join(cells).rstrip())
    return "\n".join(out)


def format_load(rows: Sequence[BenchRow]) -> str:
    """One line on how busy other programs kept the machine during the runs."""
    others = [r.others_cores_busy for r in rows if r.others_cores_busy is not None]
    _, cores = machine_load(rows)
    if not others:
        return "machine: other programs' load not measured"
    of = f" of {cores}" if cores else ""
    return (
        f"machine: other programs kept {statistics.median(others):.2f}{of} cores busy "
        f"(median over the pairs; {min(others):.2f}–{max(others):.2f})"
    )


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
    verdicts = bench_verdicts(rows)
    return {
        "schema": BENCH_SCHEMA,
        "repeat": repeat,
        "workloads": list(workloads),
        "models": list(models),
        "workers": workers,
        "telemetry": telemetry,
        "options": options,
        "machine": _machine_document(rows),
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
                "median_cores_busy": r.cores_busy,
                "median_others_cores_busy": r.others_cores_busy,
            }
            for r in rows
        ],
        "verdicts": {w: v.text for w, v in verdicts.items()},
        "verdict_details": {w: _verdict_document(v) for w, v in verdicts.items()},
        "rule_of_thumb": rule_of_thumb(rows),
    }


def _machine_document(rows: Sequence[BenchRow]) -> dict[str, Any]:
    others = [r.others_cores_busy for r in rows if r.others_cores_busy is not None]
    _, cores = machine_load(rows)
    return {
        "cores": cores,
        "others_cores_busy_median": statistics.median(others) if others else None,
        "others_cores_busy_max": max(others) if others else None,
        "busy": is_busy(statistics.median(others), cores) if others else None,
    }


def _verdict_document(v: Verdict) -> dict[str, Any]:
    return {
        "call": v.call,
        "winner": v.winner,
        "reasons": list(v.reasons),
        "others_cores_busy": v.others_cores_busy,
        "machine_cores": v.machine_cores,
    }

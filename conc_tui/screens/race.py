"""The race: every model on one workload, one after another, against the serial baseline.

This is ``conc-tui bench`` inside the app: the same sizes, the same three interleaved
rounds, the same verdict and the same rule-of-thumb check, measured on the user's
machine while they watch. The models run one at a time, never together, so none of
them steals cores from another; other programs' load is measured and shown.
"""

from __future__ import annotations

import threading
from dataclasses import replace

from rich.table import Table
from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.message import Message
from textual.widgets import Static

from conc_tui.config import RunConfig
from conc_tui.controller import RunController
from conc_tui.printable import printable
from conc_tui.registry import BASELINE, available_contenders, model_spec
from conc_tui.report import (
    MIN_RUNS,
    format_bytes,
    format_load,
    format_speedup,
    judge,
    rule_of_thumb,
    summarize_bench,
)
from conc_tui.screens.dialog import Dialog
from conc_tui.telemetry.snapshot import Phase, RunResult, Snapshot

RACE_ORDER = (BASELINE, *available_contenders())
"""The baseline, then every model this Python can run, in the registry's order."""
RACE_ROUNDS = MIN_RUNS
"""Rounds of the race, like ``conc-tui bench --repeat``: fewer runs cannot tell a
margin from the scatter, so the verdict would have no winner to name."""
BAR_WIDTH = 10


class RaceSnapshot(Message):
    """A snapshot of the race's current run (posted from the controller's thread)."""

    def __init__(self, generation: int, snapshot: Snapshot) -> None:
        super().__init__()
        self.generation = generation
        self.snapshot = snapshot

    def can_replace(self, message: Message) -> bool:
        """A newer snapshot of the same run makes a queued one pointless."""
        return (
            isinstance(message, RaceSnapshot)
            and message.generation == self.generation
            and message.snapshot.result is None
            and self.snapshot.result is None
        )


def race_schedule(order: tuple[str, ...], rounds: int) -> list[str]:
    """Every run in order: rounds interleaved (serial, process, ... then again), as in bench,
    so slow drift in the machine's load spreads over every model."""
    return [model for _ in range(rounds) for model in order]


def race_table(
    order: tuple[str, ...],
    workers: dict[str, int],
    results: dict[str, list[RunResult]],
    failures: dict[str, str],
    live: Snapshot | None,
    rounds: int = RACE_ROUNDS,
) -> Table:
    """The race so far: one row per model, with its median wall time, spread and speedup."""
    rows = {r.model: r for r in summarize_bench(r for runs in results.values() for r in runs)}
    serial = rows.get(BASELINE)
    fastest = min((r.median_s for r in rows.values() if r.median_s is not None), default=None)
    serial_checksums = set(serial.checksums) if serial is not None else set()
    table = Table(box=None, padding=(0, 1), expand=False)
    for header, justify in (
        ("model", "left"),
        ("workers", "right"),
        ("runs", "right"),
        ("median", "right"),
        ("min–max", "right"),
        ("speedup", "right"),
        ("", "left"),
        ("cores", "right"),
        ("others", "right"),
        ("peak RSS", "right"),
        ("checksum", "left"),
    ):
        table.add_column(header, justify=justify, no_wrap=True)  # type: ignore[arg-type]
    for model in order:
        name = model_spec(model).noun
        mine = results.get(model, [])
        row = rows.get(model)
        running = live is not None and live.model == model and live.result is None
        runs = f"{len(mine)}/{rounds}"
        if row is None or row.median_s is None:
            if running and live is not None:
                done = f"{live.items_done}/{live.items_total or '?'}"
                table.add_row(
                    Text(name, "bold"),
                    str(workers[model]),
                    runs,
                    Text(f"{live.elapsed_s:.1f} s", "bold yellow"),
                    Text(done, "yellow"),
                    Text(f"{live.phase.value}…", "yellow"),
                )
            elif model in failures:
                table.add_row(
                    name, str(workers[model]), runs, Text(printable(failures[model]), "red")
                )
            else:
                table.add_row(Text(name, "dim"), str(workers[model]), runs, Text("waiting", "dim"))
            continue
        bar = ""
        if fastest and row.median_s > 0:
            bar = "█" * max(1, round(BAR_WIDTH * fastest / row.median_s))
        spread = f"{row.min_s or 0.0:.2f}–{row.max_s or 0.0:.2f}" if len(row.walls) > 1 else ""
        same = not serial_checksums or set(row.checksums) <= serial_checksums
        checksum = ",".join(c[:8] for c in row.checksums)
        table.add_row(
            Text(name, "bold"),
            str(row.workers),
            Text(runs + (" ▸" if running else ""), "yellow" if running else ""),
            f"{row.median_s:.2f} s",
            spread,
            format_speedup(row.speedup) if row.speedup is not None else "",
            Text(bar, "green" if row.median_s == fastest else "cyan"),
            f"{row.cores_busy:.2f}" if row.cores_busy is not None else "n/a",
            f"{row.others_cores_busy:.2f}" if row.others_cores_busy is not None else "n/a",
            format_bytes(max(r.peak_rss_bytes for r in mine)),
            Text(checksum + (" ✓" if same else " ≠ serial"), "" if same else "red"),
        )
    return table


class RaceScreen(Dialog):
    """Races the four models on one workload and says which one won, and why."""

    BINDINGS = [
        Binding("escape,c", "close_race", "Close race"),
        Binding("space", "race_again", "Race again", key_display="Space"),
    ]

    DEFAULT_CSS = """
    RaceScreen > VerticalScroll {
        width: 110;
        max-width: 100%;
        height: auto;
        max-height: 100%;
        padding: 0 1;
    }
    """

    def __init__(self, base: RunConfig, workers: dict[str, int], controller: RunController) -> None:
        super().__init__()
        self.base = base
        self.race_workers = workers
        self.controller = controller
        self.results: dict[str, list[RunResult]] = {}
        self.failures: dict[str, str] = {}
        self.live: Snapshot | None = None
        # A model that cannot run this workload here sits the race out.
        self.order = tuple(m for m in RACE_ORDER if model_spec(m).cannot_run(base.workload) is None)
        self.schedule = race_schedule(self.order, RACE_ROUNDS)
        self._next = 0
        self._generation = 0

    def compose(self) -> ComposeResult:
        """Build the race box."""
        box = VerticalScroll()
        box.border_title = f"Race: every model on '{self.base.workload}'"
        box.border_subtitle = "Space races again · Esc closes · q quits"
        with box:
            yield Static(id="race-body")

    def on_mount(self) -> None:
        """Start the first run as soon as the screen shows."""
        self._start_next()

    @property
    def finished(self) -> bool:
        return self._next >= len(self.schedule) and self.live is None

    def _start_next(self) -> None:
        self.live = None
        if self._next >= len(self.schedule):
            self._draw()
            return
        model = self.schedule[self._next]
        self._generation += 1
        generation = self._generation
        config = replace(self.base, model=model, workers=self.race_workers[model])

        def deliver(snapshot: Snapshot) -> None:
            self.post_message(RaceSnapshot(generation, snapshot))

        self.controller.start(config, deliver)
        self._draw()

    def on_race_snapshot(self, message: RaceSnapshot) -> None:
        """Show the current run; when it ends, keep its result and start the next."""
        if message.generation != self._generation:
            return
        snapshot = message.snapshot
        self.live = snapshot
        model = self.schedule[self._next]
        if snapshot.result is not None and snapshot.result.status == "finished":
            self.results.setdefault(model, []).append(snapshot.result)
        elif snapshot.result is not None:
            self.failures[model] = snapshot.result.reason or snapshot.result.status
        elif snapshot.phase in (Phase.FAILED, Phase.STOPPED):
            self.failures[model] = snapshot.message or snapshot.phase.value
        else:
            self._draw()
            return
        self._next += 1
        self._start_next()

    def _draw(self) -> None:
        body = Table.grid()
        body.add_column()
        options = self.base.options
        items = options.items_for(self.base.workload)
        body.add_row(
            Text(
                f"{items} items each, one model after another, so none steals a core "
                f"from another; {RACE_ROUNDS} rounds, as in `conc-tui bench`. 'cores': "
                "cores the run kept busy; 'others': cores other programs (this window's "
                "drawing included) kept busy.",
                "dim",
            )
        )
        body.add_row("")
        body.add_row(
            race_table(self.order, self.race_workers, self.results, self.failures, self.live)
        )
        lines = self.verdict_lines()
        if lines:
            body.add_row("")
            body.add_row(Text(lines[0], "bold"))
            for line in lines[1:]:
                body.add_row(Text(line))
        self.query_one("#race-body", Static).update(body)

    def verdict_lines(self) -> list[str]:
        """Once the race is over: who won and why, then the rule of thumb's check."""
        if not self.finished or BASELINE not in self.results:
            return []
        rows = summarize_bench(r for runs in self.results.values() for r in runs)
        return [judge(self.base.workload, rows).text, format_load(rows), rule_of_thumb(rows)]

    def action_race_again(self) -> None:
        """Run the whole race again (only once the current one is over)."""
        if not self.finished:
            self.notify("The race is still running; Esc stops it.", timeout=2)
            return
        self.results.clear()
        self.failures.clear()
        self._next = 0
        self._start_next()

    def action_close_race(self) -> None:
        """Stop whatever runs and close; the lab winds down in the background."""
        self._generation += 1  # late snapshots of this race are ignored
        threading.Thread(target=self.controller.close, daemon=True).start()
        self.dismiss()

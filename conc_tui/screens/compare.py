"""Side by side: the last run of each model on one workload, stacked on one time axis.

The class sees processes finish while threads still queue. The runs are made one
after another through one controller, never at once: running together they would
steal each other's cores, and the picture would show the contention, not the models.
Each run does every input once (a fixed size, never the app's timed runs), so they
finish at different times and the time axis tells them apart.
"""

from __future__ import annotations

import math
import threading
from collections.abc import Sequence
from dataclasses import dataclass, replace

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.message import Message
from textual.widgets import Static

from conc_tui.config import RunConfig
from conc_tui.controller import RunController
from conc_tui.printable import printable
from conc_tui.registry import model_spec
from conc_tui.screens.dialog import Dialog
from conc_tui.telemetry.snapshot import Phase, Snapshot, WorkerView
from conc_tui.telemetry.states import WorkerState
from conc_tui.widgets.lanes import CORE_WIDTH, LABEL_WIDTH, WorkerLanes

ONE_AFTER_ANOTHER = (
    "Runs made one after another, never at once (together they would steal each "
    "other's cores); each does every input once."
)
_AFTER_END = int(WorkerState.DONE)
"""What a lane shows once its run has ended and a longer run goes on."""


class CompareSnapshot(Message):
    """A snapshot of the compare view's current run (posted from the controller's thread)."""

    def __init__(self, generation: int, snapshot: Snapshot) -> None:
        super().__init__()
        self.generation = generation
        self.snapshot = snapshot


@dataclass
class CompareRun:
    """One model's row group: its config and its latest snapshot."""

    config: RunConfig
    snapshot: Snapshot | None = None

    @property
    def seconds(self) -> float:
        """How long the run has lasted (its measured wall time once it ended)."""
        snap = self.snapshot
        if snap is None:
            return 0.0
        if snap.result is not None and snap.result.wall_s > 0:
            return snap.result.wall_s
        return snap.elapsed_s


def on_axis(
    views: Sequence[WorkerView], column_s: float, seconds: float, axis_s: float, cells: int
) -> tuple[WorkerView, ...]:
    """The views' lanes redrawn on a shared axis of ``cells`` cells covering ``axis_s``.

    Each lane starts at its run's start (its last ``seconds`` worth of columns) and
    each screen cell shows the most notable state of the columns it covers (the
    timeline's own priority: a failure over a wait over running); after the run's
    end the lane shows "done" while a longer run goes on.
    """
    if cells <= 0 or axis_s <= 0 or column_s <= 0:
        return tuple(views)
    per_cell = axis_s / cells
    kept = max(0, math.ceil(seconds / column_s - 1e-9))
    out = []
    for view in views:
        lane = view.lane[-kept:] if kept else b""
        cells_out = bytearray()
        for j in range(cells):
            first = int(j * per_cell / column_s)
            last = max(first + 1, int((j + 1) * per_cell / column_s))
            chunk = lane[first:last]
            cells_out.append(max(chunk) if chunk else _AFTER_END)
        out.append(replace(view, lane=bytes(cells_out), lane_unconfirmed=0))
    return tuple(out)


def run_title(run: CompareRun) -> Text:
    """One model's line above its lanes: who, how many, and how long it took."""
    config = run.config
    spec = model_spec(config.model)
    text = Text(f"{spec.title} · {config.workers} {spec.worker_noun}", "bold")
    snap = run.snapshot
    if snap is None:
        text.append("  waiting for its turn", "dim")
    elif snap.phase.active:
        text.append(f"  running… {snap.elapsed_s:.1f} s, {snap.items_done} items", "bold")
    elif snap.phase is Phase.FINISHED:
        text.append(f"  finished in {run.seconds:.2f} s, {snap.items_done} items")
    else:
        reason = snap.result.reason if snap.result is not None else snap.message
        text.append(f"  {snap.phase.value}: {printable(reason or '')}", "bold red")
    return text


def axis_text(axis_s: float, cells: int) -> Text:
    """The shared time axis under the label columns: 0 s at the left, the end at the right."""
    pad = " " * (LABEL_WIDTH + CORE_WIDTH)
    end = f"{axis_s:.1f} s"
    middle = max(1, cells - len(end) - len("0 s"))
    return Text(pad + "0 s" + "─" * middle + end, "dim", no_wrap=True, overflow="ellipsis")


class CompareScreen(Dialog):
    """Runs two or three models on one workload, one after another, and stacks their lanes."""

    BINDINGS = [
        Binding("escape,s", "close_compare", "Close"),
        Binding("space", "compare_again", "Again", key_display="Space"),
    ]

    DEFAULT_CSS = """
    CompareScreen > VerticalScroll {
        width: 100%;
        height: 100%;
        padding: 0 1;
    }
    CompareScreen .compare-title {
        height: 1;
        margin-top: 1;
    }
    CompareScreen WorkerLanes {
        height: auto;
        max-height: 12;
        /* No scrollbar: with one, a run with many lanes would be a cell narrower than
           the others and its time axis would not line up (the wheel still scrolls). */
        scrollbar-size-vertical: 0;
    }
    CompareScreen #compare-note, CompareScreen #compare-axis {
        height: auto;
        color: $text-muted;
    }
    """

    def __init__(self, configs: Sequence[RunConfig], controller: RunController) -> None:
        super().__init__()
        self.runs = [CompareRun(config) for config in configs]
        self.controller = controller
        self.workload = configs[0].workload if configs else ""
        self._next = 0
        self._generation = 0
        self.started: list[str] = []
        """Every model started, in order (one at a time: the next only once this ended)."""

    def compose(self) -> ComposeResult:
        """A note that the runs were made one after another, then each model's lanes."""
        box = VerticalScroll()
        box.border_title = f"Side by side: '{self.workload}' on one time axis"
        box.border_subtitle = "Space runs them again · Esc closes · q quits"
        with box:
            yield Static(ONE_AFTER_ANOTHER, id="compare-note")
            for index, run in enumerate(self.runs):
                yield Static(run_title(run), classes="compare-title", id=f"compare-title-{index}")
                lanes = WorkerLanes(id=f"compare-lanes-{index}")
                lanes.set_placeholder("waiting for its turn")
                yield lanes
            yield Static(id="compare-axis")

    def on_mount(self) -> None:
        """Start the first run as soon as the screen shows."""
        self._start_next()

    @property
    def finished(self) -> bool:
        return self._next >= len(self.runs)

    def _start_next(self) -> None:
        if self.finished:
            self._draw()
            return
        run = self.runs[self._next]
        self._generation += 1
        generation = self._generation

        def deliver(snapshot: Snapshot) -> None:
            self.post_message(CompareSnapshot(generation, snapshot))

        self.started.append(run.config.model)
        try:
            self.controller.start(run.config, deliver)
        except Exception as error:  # noqa: BLE001 - shown in its row, the next one runs
            run.snapshot = None
            self.notify(printable(str(error)), title="Could not start the run", severity="error")
            self._next += 1
            self._start_next()
            return
        self._draw()

    def on_compare_snapshot(self, message: CompareSnapshot) -> None:
        """Show the current run; once it has ended, start the next model's."""
        if message.generation != self._generation or self.finished:
            return
        run = self.runs[self._next]
        run.snapshot = message.snapshot
        if message.snapshot.phase.active:
            self._draw()
            return
        self._next += 1
        self._start_next()

    def on_resize(self) -> None:
        """Redraw the lanes for the new width."""
        self.call_after_refresh(self._draw)

    def _draw(self) -> None:
        axis_s = max((run.seconds for run in self.runs), default=0.0)
        cells = 0
        for index, run in enumerate(self.runs):
            lanes = self.query_one(f"#compare-lanes-{index}", WorkerLanes)
            cells = lanes.timeline_width()
            self.query_one(f"#compare-title-{index}", Static).update(run_title(run))
            snap = run.snapshot
            if snap is None:
                continue
            lanes.update_workers(
                on_axis(snap.worker_views, snap.column_s, run.seconds, axis_s, cells)
            )
        self.query_one("#compare-axis", Static).update(axis_text(axis_s, cells))

    def action_compare_again(self) -> None:
        """Make the runs again (once the current ones are over)."""
        if not self.finished:
            self.notify("The runs are still going; Esc stops them.", timeout=2)
            return
        for run in self.runs:
            run.snapshot = None
        for lanes in self.query(WorkerLanes):
            lanes.update_workers(())
        self._next = 0
        self._start_next()

    def action_close_compare(self) -> None:
        """Stop whatever runs and close; the lab winds down in the background."""
        self._generation += 1  # late snapshots are ignored
        threading.Thread(target=self.controller.close, daemon=True).start()
        self.dismiss()

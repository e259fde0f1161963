"""The help screen: every key, the models, the states legend and the rule of thumb."""

from __future__ import annotations

from rich.table import Table
from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Static

from conc_tui.keys import help_rows
from conc_tui.registry import MODEL_SPECS
from conc_tui.telemetry.states import STATE_LABELS, WorkerState
from conc_tui.widgets.card import RULE_OF_THUMB
from conc_tui.widgets.glyphs import STATE_GLYPHS, STATE_STYLES

KEYS: tuple[tuple[str, str], ...] = tuple(help_rows())
"""(keys, what they do), built from the app's one key declaration."""


def model_rows() -> list[tuple[str, str]]:
    """(title, what it is built on and what it is for), one per model in the registry."""
    rows = []
    for spec in MODEL_SPECS.values():
        use = spec.rule_of_thumb or "the yardstick for every speedup"
        line = f"{spec.built_on}: {use}"
        unavailable = spec.available()
        if unavailable:
            line += f" (not on this Python: {unavailable})"
        rows.append((spec.title, line))
    return rows


LANE_CELL = (
    "Each cell shows the main state of its 0.1 s: the state the worker spent most of "
    "that time in (running, GIL and core waits count together against the rest)."
)

STATE_DEFINITIONS: dict[WorkerState, str] = {
    WorkerState.IDLE: "Idle: the worker has no item to work on.",
    WorkerState.RUNNING: "Running: the worker executes its item's code on a core.",
    WorkerState.WAIT_LOCK: "Lock wait: the worker is blocked until another releases the "
    "shared log's lock.",
    WorkerState.WAIT_IO: "I/O wait: the worker waits for a file read or a network reply.",
    WorkerState.WAIT_GIL: "GIL wait: the thread is ready to run Python but another thread "
    "of its process holds the GIL.",
    WorkerState.WAIT_CPU: "Core wait: the worker is ready to run but every core is busy "
    "(the OS's run-queue delay).",
    WorkerState.DONE: "Done: the run is over for this worker.",
    WorkerState.FAILED: "Failed: an item failed in this 0.1 s.",
}
"""One exact sentence per lane state."""

FAINT_CELLS = (
    "Faint cells at the right edge repeat the last state reported: no event or sample "
    "has confirmed them yet."
)


def help_text() -> Table:
    """The help screen's content as one renderable."""
    table = Table.grid(padding=(0, 2))
    table.add_column(style="bold #e3a008", no_wrap=True)
    table.add_column()
    table.add_row(Text("Keys", style="bold underline"), "")
    for key, what in KEYS:
        table.add_row(key, what)
    table.add_row("", "")
    table.add_row(Text("Models", style="bold underline"), "")
    for title, line in model_rows():
        table.add_row(title, line)
    table.add_row("", "")
    table.add_row(Text("Lanes", style="bold underline"), LANE_CELL)
    for state in STATE_LABELS:
        table.add_row(
            Text(STATE_GLYPHS[state] * 3, STATE_STYLES[int(state)]), STATE_DEFINITIONS[state]
        )
    table.add_row(Text("faint", style="dim"), FAINT_CELLS)
    table.add_row("", "")
    table.add_row(Text("Rule", style="bold underline"), RULE_OF_THUMB)
    return table


class HelpScreen(ModalScreen[None]):
    """A modal listing the keys, the lane legend and the rule of thumb."""

    BINDINGS = [
        Binding("escape,question_mark,q", "dismiss_help", "Close help"),
    ]

    DEFAULT_CSS = """
    HelpScreen {
        align: center middle;
    }
    HelpScreen > VerticalScroll {
        width: 72;
        max-width: 100%;
        height: auto;
        max-height: 100%;
        border: thick $accent;
        background: $surface;
        padding: 0 1;
    }
    """

    def compose(self) -> ComposeResult:
        """Build the help box."""
        box = VerticalScroll()
        box.border_title = "conc-tui help"
        box.border_subtitle = "Esc to close"
        with box:
            yield Static(help_text(), id="help-body")

    def action_dismiss_help(self) -> None:
        """Close the help screen."""
        self.dismiss(None)

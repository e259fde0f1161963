"""The help screen: every key, the states legend and the rule of thumb."""

from __future__ import annotations

from rich.table import Table
from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Static

from conc_tui.telemetry.states import STATE_LABELS
from conc_tui.widgets.card import RULE_OF_THUMB
from conc_tui.widgets.glyphs import STATE_GLYPHS, STATE_STYLES

KEYS: tuple[tuple[str, str], ...] = (
    ("1 2 3", "show the Processes, Threads or Asyncio pane"),
    ("Tab / Shift+Tab", "next / previous pane"),
    ("Space", "start or stop this pane's run"),
    ("r", "restart this pane's run"),
    ("+ / -", "more / fewer workers (a running run restarts)"),
    ("w", "next workload: images, files, web, cpu"),
    ("b", "run the serial baseline here, for speedups"),
    ("l", "loop: start this pane's run again whenever it finishes"),
    ("c", "race: every model on this workload against serial, with a verdict"),
    ("?", "this help; Esc closes it"),
    ("Ctrl+P", "command palette"),
    ("q", "quit (stops every run first)"),
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
    table.add_row(Text("Lanes", style="bold underline"), "")
    for state, label in STATE_LABELS.items():
        table.add_row(Text(STATE_GLYPHS[state] * 3, STATE_STYLES[int(state)]), label)
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

"""The help screen: the keys that matter most and the lane states first, then every
key, the models, each state in a sentence and the rule of thumb."""

from __future__ import annotations

from rich.console import Group
from rich.table import Table
from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, VerticalScroll
from textual.widgets import Static

from conc_tui.keys import KEYS as KEYS_DECLARED
from conc_tui.keys import help_rows
from conc_tui.registry import MODEL_SPECS
from conc_tui.screens.dialog import Dialog
from conc_tui.telemetry.states import STATE_LABELS, WorkerState
from conc_tui.widgets.card import RULE_OF_THUMB
from conc_tui.widgets.glyphs import STATE_GLYPHS, STATE_STYLES

KEYS: tuple[tuple[str, str], ...] = tuple(help_rows())
"""(keys, what they do), built from the app's one key declaration."""


def model_rows() -> list[tuple[str, str]]:
    """(title, what it is built on and what it is for), one per model in the registry."""
    rows = []
    for spec in MODEL_SPECS.values():
        # Only the baseline is the yardstick; a model with no rule of its own says none.
        use = "the yardstick for every speedup" if spec.baseline else spec.rule_of_thumb
        line = f"{spec.built_on}: {use}" if use else spec.built_on
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


ESSENTIALS: tuple[tuple[str, str], ...] = (
    ("show_pane", "switch pane"),
    ("toggle_run", "start / stop the run"),
    ("more_workers", "more / fewer workers"),
    ("cycle_workload", "next workload"),
    ("baseline", "serial baseline"),
    ("race", "race every model"),
    ("toggle_freeze", "freeze the picture"),
    ("time_back", "scroll back in time"),
    ("compare", "side by side"),
    ("hazards", "hazard lab"),
    ("help", "this help"),
    ("quit", "quit"),
)
"""(action, a few words): the keys a lesson needs, first on the help screen. The keys
themselves come from :mod:`conc_tui.keys`."""

MORE_BELOW = (
    "↓ More below: every key, the models, and each lane state in a sentence. "
    "Scroll with ↓ / PgDn or the mouse wheel; Esc closes."
)

_KEY_STYLE = "bold #e3a008"


def essential_keys() -> list[tuple[str, str]]:
    """(how the key is written, a few words) for each of :data:`ESSENTIALS`, in order."""
    by_action: dict[str, str] = {}
    for key in KEYS_DECLARED:
        # The pane keys' actions carry their model: one line covers them all.
        action = key.action.split("(", 1)[0]
        by_action.setdefault(action, key.help_keys or key.display or key.keys)
    return [(by_action[action], words) for action, words in ESSENTIALS]


def essentials_text() -> Group:
    """The first screen's content: the keys that matter most, then the lane states."""
    keys = Table.grid(padding=(0, 1))
    for _ in range(2):
        keys.add_column(style=_KEY_STYLE, no_wrap=True)
        keys.add_column(no_wrap=True)
    pairs = essential_keys()
    for left, right in zip(pairs[::2], pairs[1::2], strict=True):
        keys.add_row(left[0], left[1] + "  ", right[0], right[1])
    states = Table.grid(padding=(0, 1))
    for _ in range(2):
        states.add_column(no_wrap=True)
        states.add_column(no_wrap=True)
    labels = list(STATE_LABELS.items())
    for pair in zip(labels[::2], labels[1::2], strict=True):
        cells: list[Text | str] = []
        for state, label in pair:
            cells += [Text(STATE_GLYPHS[state] * 3, STATE_STYLES[int(state)]), label + "  "]
        states.add_row(*cells)
    return Group(
        Text("Keys that matter most", style="bold underline"),
        keys,
        Text(""),
        Text("Lane states", style="bold underline"),
        states,
    )


def keys_text() -> Table:
    """Every key and what it does."""
    table = Table.grid(padding=(0, 2))
    table.add_column(style=_KEY_STYLE, no_wrap=True)
    table.add_column()
    table.add_row(Text("Keys", style="bold underline"), "")
    for key, what in KEYS:
        table.add_row(key, what)
    return table


def about_text() -> Table:
    """The models, each lane state in a sentence, and the rule of thumb."""
    table = Table.grid(padding=(0, 2))
    table.add_column(style=_KEY_STYLE, no_wrap=True)
    table.add_column()
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


class HelpScreen(Dialog):
    """A modal listing the keys, the lane legend and the rule of thumb.

    The first screenful at 80×24 carries what matters most (the main keys, the lane
    states) and says that more follows and how to scroll; from 120 columns everything
    sits in two columns, keys on the left, models and lanes on the right.
    """

    BINDINGS = [
        Binding("escape,question_mark,q", "dismiss_help", "Close help"),
    ]

    DEFAULT_CSS = """
    HelpScreen > VerticalScroll {
        width: 80;
        max-width: 100%;
        height: auto;
        max-height: 100%;
        padding: 0 1;
    }
    HelpScreen #help-essentials, HelpScreen #help-more {
        margin-bottom: 1;
    }
    HelpScreen #help-more {
        color: $text-muted;
    }
    HelpScreen #help-columns {
        layout: vertical;
        height: auto;
    }
    HelpScreen #help-columns > Static {
        height: auto;
    }
    HelpScreen #help-keys {
        margin-bottom: 1;
    }
    HelpScreen.-wide > VerticalScroll {
        width: 96%;
        max-width: 170;
    }
    HelpScreen.-wide #help-essentials, HelpScreen.-wide #help-more {
        display: none;
    }
    HelpScreen.-wide #help-columns {
        layout: horizontal;
    }
    HelpScreen.-wide #help-columns > Static {
        width: 1fr;
    }
    HelpScreen.-wide #help-keys {
        margin-bottom: 0;
        margin-right: 2;
    }
    """

    def compose(self) -> ComposeResult:
        """Build the help box."""
        box = VerticalScroll(id="help-box")
        box.border_title = "conc-tui help"
        box.border_subtitle = CLOSE_HINT
        with box:
            yield Static(essentials_text(), id="help-essentials")
            yield Static(MORE_BELOW, id="help-more")
            with Horizontal(id="help-columns"):
                yield Static(keys_text(), id="help-keys")
                yield Static(about_text(), id="help-about")

    def on_mount(self) -> None:
        """Keep the box's bottom edge saying whether more is below."""
        box = self.query_one("#help-box", VerticalScroll)
        box.focus()  # so ↓ and PgDn scroll it at once
        self.watch(box, "scroll_y", self._mark_more, init=False)
        self.call_after_refresh(self._mark_more)

    def on_resize(self) -> None:
        self.call_after_refresh(self._mark_more)

    def _mark_more(self, _scroll_y: float | None = None) -> None:
        box = self.query_one("#help-box", VerticalScroll)
        more = box.max_scroll_y > 0 and box.scroll_y < box.max_scroll_y
        box.border_subtitle = SCROLL_HINT if more else CLOSE_HINT

    def action_dismiss_help(self) -> None:
        """Close the help screen."""
        self.dismiss(None)


CLOSE_HINT = "Esc to close"
SCROLL_HINT = "↓ PgDn: more below · Esc to close"

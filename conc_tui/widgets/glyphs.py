"""How each worker state looks: a glyph AND a colour, so it reads without colour too.

On screen the colours come from TCSS component classes (``state--running`` and the
like, styled in ``app.tcss`` from the theme), so light and dark themes and the
projector palette all work; :data:`STATE_COLOURS` is the fallback for text drawn
outside a running app (tests, the help screen).
"""

from __future__ import annotations

import itertools
from weakref import WeakKeyDictionary

from rich.style import Style
from rich.text import Text
from textual._context import active_app
from textual.app import App
from textual.widget import Widget
from textual.widgets import Static

from conc_tui.telemetry.states import STATE_LABELS, WorkerState

STATE_GLYPHS: dict[WorkerState, str] = {
    WorkerState.IDLE: "·",
    WorkerState.RUNNING: "█",
    WorkerState.WAIT_LOCK: "▚",
    WorkerState.WAIT_IO: "░",
    WorkerState.WAIT_GIL: "▒",
    WorkerState.WAIT_CPU: "▓",
    WorkerState.DONE: "─",
    WorkerState.FAILED: "✗",
}
"""One character per state; shapes differ in density so a monochrome screen still reads."""

STATE_COLOURS: dict[WorkerState, str] = {
    WorkerState.IDLE: "#6e7681",
    WorkerState.RUNNING: "#3fb950",
    WorkerState.WAIT_LOCK: "#ff5fd7",
    WorkerState.WAIT_IO: "#58a6ff",
    WorkerState.WAIT_GIL: "#a8a8a8",
    WorkerState.WAIT_CPU: "#e3a008",
    WorkerState.DONE: "#2e7d46",
    WorkerState.FAILED: "#ff4040",
}

SHORT_LABELS: dict[WorkerState, str] = {
    WorkerState.RUNNING: "running",
    WorkerState.WAIT_GIL: "GIL wait",
    WorkerState.WAIT_IO: "I/O wait",
    WorkerState.WAIT_LOCK: "lock wait",
    WorkerState.WAIT_CPU: "core wait",
    WorkerState.IDLE: "idle",
    WorkerState.DONE: "done",
    WorkerState.FAILED: "failed",
}
"""Legend labels short enough to fit an 80-column line."""

STATE_COMPONENTS: dict[WorkerState, str] = {
    WorkerState.IDLE: "state--idle",
    WorkerState.RUNNING: "state--running",
    WorkerState.WAIT_LOCK: "state--lock",
    WorkerState.WAIT_IO: "state--io",
    WorkerState.WAIT_GIL: "state--gil",
    WorkerState.WAIT_CPU: "state--cpu",
    WorkerState.DONE: "state--done",
    WorkerState.FAILED: "state--failed",
}
"""The TCSS component class of each state: ``WorkerLanes > .state--lock { ... }``."""
COMPONENT_CLASSES: set[str] = set(STATE_COMPONENTS.values())

STATE_STYLES: dict[int, Style] = {
    int(state): Style(color=colour, bold=state is WorkerState.FAILED)
    for state, colour in STATE_COLOURS.items()
}
UNKNOWN_STYLE = Style(color="magenta")


def glyph(state: int) -> str:
    """The glyph of a state value (``?`` for a value the app does not know)."""
    try:
        return STATE_GLYPHS[WorkerState(state)]
    except ValueError:
        return "?"


_THEMED: WeakKeyDictionary[App[object], tuple[int, dict[int, Style]]] = WeakKeyDictionary()
"""Each state's style as the theme draws it, per app, read by :func:`load_state_styles`,
with the table's generation (a number no other table had)."""
_GENERATIONS = itertools.count(1)


def _themed_now() -> tuple[int, dict[int, Style] | None]:
    try:
        entry = _THEMED.get(active_app.get())
    except LookupError:  # no app running (tests, text for the terminal)
        entry = None
    return entry if entry is not None else (0, None)


def style_generation() -> int:
    """Which table :func:`style` reads now (0: the fixed colours): a key for caches of
    styles, so that a cache filled under one theme or app is never read under another."""
    return _themed_now()[0]


def style(state: int) -> Style:
    """The style of a state value: the running app's theme's, the fixed colours outside."""
    themed = _themed_now()[1]
    found = themed.get(state) if themed else None
    return found or STATE_STYLES.get(state, UNKNOWN_STYLE)


def load_state_styles(widget: Widget) -> bool:
    """Read every state's style from the widget's TCSS component classes.

    Called after a style change (a theme, the projector palette); one table serves
    every widget of the app, as every lane follows the same theme. Returns whether it
    changed (another widget may have loaded the new table already).
    """
    themed = {
        int(state): widget.get_component_rich_style(name)
        for state, name in STATE_COMPONENTS.items()
    }
    current = _THEMED.get(widget.app)
    if current is not None and current[1] == themed:
        return False
    _THEMED[widget.app] = (next(_GENERATIONS), themed)
    return True


def legend(short: bool = True) -> Text:
    """The legend: every glyph in its colour with its label."""
    text = Text(no_wrap=False)
    for state in SHORT_LABELS:
        label = SHORT_LABELS[state] if short else STATE_LABELS[state]
        text.append(STATE_GLYPHS[state] * 2, style(int(state)))
        text.append(f" {label}  ")
    text.rstrip()
    return text


class Legend(Static):
    """The legend under the lanes, in the same theme colours as the lanes."""

    COMPONENT_CLASSES = COMPONENT_CLASSES

    def on_mount(self) -> None:
        self._restyle()

    def notify_style_update(self) -> None:
        super().notify_style_update()
        # After the whole style pass: the component styles are not updated yet here.
        self.call_after_refresh(self._restyle)

    def _restyle(self) -> None:
        if self.is_attached:
            load_state_styles(self)
            self.update(legend())

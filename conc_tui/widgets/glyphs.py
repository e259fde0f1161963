"""How each worker state looks: a glyph AND a colour, so it reads without colour too.

On screen the colours come from TCSS component classes (``state--running`` and the
like, styled in ``app.tcss`` from the theme), so light and dark themes and the
projector palette all work; :data:`STATE_COLOURS` is the fallback for text drawn
outside a running app (tests, the help screen).
"""

from __future__ import annotations

from rich.style import Style
from rich.text import Text
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
DIM_COMPONENT = "state--dim"
"""Labels and figures beside the lanes."""
COMPONENT_CLASSES: set[str] = {*STATE_COMPONENTS.values(), DIM_COMPONENT}

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


def style(state: int) -> Style:
    """The style of a state value."""
    return STATE_STYLES.get(state, UNKNOWN_STYLE)


class StateStyles:
    """Each state's Rich style, read from a widget's component classes and cached.

    Call :meth:`clear` from the widget's ``notify_style_update``: a theme change or
    the projector palette changes every style.
    """

    def __init__(self, widget: Widget) -> None:
        self._widget = widget
        self._styles: dict[int, Style] = {}

    def clear(self) -> None:
        self._styles.clear()

    def __call__(self, state: int) -> Style:
        """The style of a state value; the fallback outside a running app."""
        cached = self._styles.get(state)
        if cached is not None:
            return cached
        try:
            name = STATE_COMPONENTS[WorkerState(state)]
        except ValueError:
            return UNKNOWN_STYLE
        try:
            found = self._widget.get_component_rich_style(name)
        except Exception:  # noqa: BLE001 - not mounted (tests): the fixed colours
            return style(state)
        self._styles[state] = found
        return found

    def dim(self) -> Style:
        try:
            return self._widget.get_component_rich_style(DIM_COMPONENT)
        except Exception:  # noqa: BLE001 - not mounted (tests)
            return Style(color=STATE_COLOURS[WorkerState.IDLE])


def legend(short: bool = True, styles: StateStyles | None = None) -> Text:
    """The legend: every glyph in its colour with its label."""
    text = Text(no_wrap=False)
    for state in SHORT_LABELS:
        label = SHORT_LABELS[state] if short else STATE_LABELS[state]
        look = styles(int(state)) if styles is not None else STATE_STYLES[int(state)]
        text.append(STATE_GLYPHS[state] * 2, look)
        text.append(f" {label}  ")
    text.rstrip()
    return text


class Legend(Static):
    """The legend under the lanes, in the same theme colours as the lanes."""

    COMPONENT_CLASSES = COMPONENT_CLASSES

    def __init__(self, *, classes: str | None = None) -> None:
        super().__init__(classes=classes)
        self._styles = StateStyles(self)

    def on_mount(self) -> None:
        self.update(legend(styles=self._styles))

    def notify_style_update(self) -> None:
        super().notify_style_update()
        self._styles.clear()
        # After the whole style pass: the component styles are not updated yet here.
        if self.is_mounted:
            self.call_after_refresh(self._restyle)

    def _restyle(self) -> None:
        self._styles.clear()
        self.update(legend(styles=self._styles))

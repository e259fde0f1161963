"""How each worker state looks: a glyph AND a colour, so it reads without colour too."""

from __future__ import annotations

from rich.style import Style
from rich.text import Text

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


def legend(short: bool = True) -> Text:
    """The legend: every glyph in its colour with its label."""
    text = Text(no_wrap=False)
    for state in SHORT_LABELS:
        label = SHORT_LABELS[state] if short else STATE_LABELS[state]
        text.append(STATE_GLYPHS[state] * 2, STATE_STYLES[int(state)])
        text.append(f" {label}  ")
    text.rstrip()
    return text

"""CPU cores: one compact bar per core with a short history, wrapped into a grid.

Three cell sizes keep it readable from 2 to 128 cores: a full cell (number, history,
percent), a medium one (number and a short history) and a single block per core. The
widget picks the richest one whose grid fits in :attr:`CoreBars.max_rows` rows. A core
that a worker of this pane last ran on is marked with ``●``.
"""

from __future__ import annotations

from collections.abc import Sequence

from rich.segment import Segment
from rich.style import Style
from textual.geometry import Size
from textual.strip import Strip
from textual.widget import Widget

BLOCKS = " ▁▂▃▄▅▆▇█"
_DIM = Style(color="#8b949e")
_MARK = Style(color="#ffffff", bold=True)


def load_level(percent: float) -> str:
    """Calm, busy or hot: the component class a load is drawn in."""
    if percent >= 85:
        return "cores--hot"
    if percent >= 50:
        return "cores--busy"
    return "cores--calm"


_FALLBACK: dict[str, Style] = {
    "cores--hot": Style(color="#ff5f5f"),
    "cores--busy": Style(color="#e3a008"),
    "cores--calm": Style(color="#3fb950"),
    "cores--mark": _MARK,
    "cores--dim": _DIM,
}
"""Colours outside a running app (tests); on screen they come from ``app.tcss``."""


def load_style(percent: float) -> Style:
    """Green when calm, amber when busy, red when the core is saturated (fallback colours)."""
    return _FALLBACK[load_level(percent)]


def block(percent: float | None) -> str:
    """One eighth-block character for a load in percent (blank: not measured yet)."""
    if percent is None:
        return " "
    index = round(max(0.0, min(100.0, percent)) / 100 * (len(BLOCKS) - 1))
    return BLOCKS[max(1, index)]  # a measured idle core still shows a floor


class CoreBars(Widget, can_focus=False):
    """Per-core load bars, live from the moment the app opens."""

    COMPONENT_CLASSES = set(_FALLBACK)

    DEFAULT_CSS = """
    CoreBars {
        height: auto;
        min-height: 1;
    }
    """

    def __init__(
        self,
        *,
        max_rows: int = 6,
        name: str | None = None,
        id: str | None = None,
        classes: str | None = None,
    ) -> None:
        super().__init__(name=name, id=id, classes=classes)
        self.max_rows = max_rows
        self._history: tuple[tuple[float, ...], ...] = ()
        self._marked: frozenset[int] = frozenset()
        self._lines: list[Strip] = []
        self._layout_key: tuple[int, int] = (0, 0)
        self._styles: dict[str, Style] = {}

    def _style(self, name: str) -> Style:
        """A component class's style, from the theme; the fixed colours when unmounted."""
        found = self._styles.get(name)
        if found is None:
            try:
                found = self.get_component_rich_style(name)
            except Exception:  # noqa: BLE001 - not mounted (tests)
                return _FALLBACK[name]
            self._styles[name] = found
        return found

    def notify_style_update(self) -> None:
        """A theme or palette change: rebuild the rows in the new colours."""
        super().notify_style_update()
        self._styles.clear()
        # After the whole style pass: the component styles are not updated yet here.
        if self.is_mounted:
            self.call_after_refresh(self._restyle)

    def _restyle(self) -> None:
        self._styles.clear()
        self._rebuild()

    @property
    def cores(self) -> int:
        """How many cores the last sample had."""
        return len(self._history[-1]) if self._history else 0

    def update_cores(
        self, history: Sequence[tuple[float, ...]], marked: frozenset[int] | None = None
    ) -> None:
        """Show new samples.

        Args:
            history: Recent per-core samples, oldest first.
            marked: Cores a worker of this pane last ran on.
        """
        self._history = tuple(history)
        if marked is not None:
            self._marked = marked
        self._rebuild()

    def mark(self, marked: frozenset[int]) -> None:
        """Mark the cores this pane's workers are on."""
        if marked != self._marked:
            self._marked = marked
            self._rebuild()

    def on_resize(self) -> None:
        """Re-wrap the grid for the new width."""
        self._rebuild()

    def _cell_mode(self, cores: int, width: int) -> tuple[int, int]:
        """Pick (mode, cells per row): 0 full, 1 medium, 2 one block per core."""
        digits = len(str(max(cores - 1, 0)))
        for mode, cell in ((0, digits + 15), (1, digits + 5), (2, 1)):
            per_row = max(1, width // cell)
            if -(-cores // per_row) <= self.max_rows or mode == 2:
                return mode, per_row
        return 2, max(1, width)

    def _cell(self, core: int, mode: int, digits: int) -> list[Segment]:
        values = [sample[core] for sample in self._history if core < len(sample)]
        # A core with no sample yet is drawn blank, never as an invented 0%.
        now = values[-1] if values else None
        dim = self._style("cores--dim")
        now_style = dim if now is None else self._style(load_level(now))
        mark = Segment("●" if core in self._marked else " ", self._style("cores--mark"))
        if mode == 2:
            return [Segment(block(now), now_style + Style(underline=core in self._marked))]
        length = 8 if mode == 0 else 3
        recent = values[-length:]
        history = "".join(block(v) for v in recent).rjust(length)
        cell = [Segment(f"{core:>{digits}}", dim), mark, Segment(history, now_style)]
        if mode == 0:
            cell.append(Segment("   … " if now is None else f"{now:>4.0f}% ", now_style))
        else:
            cell.append(Segment(" "))
        return cell

    def _rebuild(self) -> None:
        width = self.content_region.width or self.size.width
        cores = self.cores
        lines: list[Strip] = []
        if not cores or width <= 0:
            lines = [Strip([Segment("measuring cores…", self._style("cores--dim"))])]
        else:
            mode, per_row = self._cell_mode(cores, width)
            digits = len(str(cores - 1))
            for start in range(0, cores, per_row):
                segments: list[Segment] = []
                for core in range(start, min(cores, start + per_row)):
                    segments.extend(self._cell(core, mode, digits))
                lines.append(Strip(segments))
        layout_key = (len(lines), width)
        self._lines = lines
        # Only a change in the number of rows needs a relayout; new values just repaint.
        relayout = layout_key[0] != self._layout_key[0]
        self._layout_key = layout_key
        self.refresh(layout=relayout)

    def get_content_height(self, container: Size, viewport: Size, width: int) -> int:
        """As many rows as the grid needs at this width."""
        cores = self.cores
        if not cores or width <= 0:
            return 1
        _mode, per_row = self._cell_mode(cores, width)
        return -(-cores // per_row)

    def render_line(self, y: int) -> Strip:
        """Render one row of the grid."""
        width = self.size.width
        if y >= len(self._lines):
            return Strip.blank(width, self.rich_style)
        return self._lines[y].crop_extend(0, width, None).apply_style(self.rich_style)

"""Worker lanes: one row per worker, its recent states scrolling right to left.

A line-API widget: each row is a :class:`Strip` built from the lane's bytes and cached
under them, and a new snapshot repaints only the rows whose bytes changed. A full
repaint of 64 lanes is never needed just because one worker moved on.
"""

from __future__ import annotations

from itertools import groupby

from rich.segment import Segment
from rich.style import Style
from textual.geometry import Size
from textual.scroll_view import ScrollView
from textual.strip import Strip

from conc_tui.telemetry.snapshot import WorkerView
from conc_tui.widgets.glyphs import COMPONENT_CLASSES, glyph, load_state_styles, style

LABEL_WIDTH = 12
"""Room for "pid 4194304" (the largest Linux pid) and a space."""
CORE_WIDTH = 4
COUNT_WIDTH = 5
"""Items done, at the right of a lane; dropped when the widget is narrow."""

_DIM = Style(color="#8b949e")
_FAINT = Style(dim=True)

RowKey = tuple[str, int | None, int, bytes, int, int, int]
"""(label, core, current state, visible lane cells, unconfirmed cells, items done, width)."""


class WorkerLanes(ScrollView, can_focus=False):
    """Draws one timeline row per worker of a snapshot."""

    COMPONENT_CLASSES = COMPONENT_CLASSES

    DEFAULT_CSS = """
    WorkerLanes {
        height: 1fr;
        overflow-x: hidden;
        overflow-y: auto;
        scrollbar-size-vertical: 1;
    }
    """

    def __init__(
        self, *, name: str | None = None, id: str | None = None, classes: str | None = None
    ) -> None:
        super().__init__(name=name, id=id, classes=classes)
        self._views: tuple[WorkerView, ...] = ()
        self._keys: list[RowKey] = []
        self._cache: dict[int, tuple[RowKey, Strip]] = {}
        self._placeholder = "Press Space to start"

    def notify_style_update(self) -> None:
        """A theme or palette change: the rows cached in the old colours are redrawn."""
        super().notify_style_update()
        # After the whole style pass: the component styles are not updated yet here.
        self.call_after_refresh(self._restyle)

    def _restyle(self) -> None:
        if self.is_attached:
            load_state_styles(self)
            self._cache.clear()
            self.refresh()

    @property
    def rows(self) -> int:
        """How many worker rows are shown."""
        return len(self._views)

    def set_placeholder(self, text: str) -> None:
        """Set what the widget says while it has no workers to draw."""
        if text != self._placeholder:
            self._placeholder = text
            if not self._views:
                self.refresh()

    def timeline_width(self, width: int | None = None) -> int:
        """How many timeline cells fit in a row of ``width`` cells."""
        width = self.scrollable_content_region.width if width is None else width
        return max(1, width - LABEL_WIDTH - CORE_WIDTH - self._count_width(width))

    @staticmethod
    def _count_width(width: int) -> int:
        return COUNT_WIDTH if width >= 50 else 0

    def _row_key(self, view: WorkerView, width: int) -> RowKey:
        cells = self.timeline_width(width)
        return (
            view.label,
            view.core,
            view.state,
            view.lane[-cells:],
            view.lane_unconfirmed,
            view.items_done,
            width,
        )

    def update_workers(self, views: tuple[WorkerView, ...]) -> None:
        """Show these workers; repaint only the rows that changed.

        Args:
            views: The snapshot's worker views, in lane order.
        """
        width = self.scrollable_content_region.width
        keys = [self._row_key(view, width) for view in views]
        old_keys = self._keys
        self._views = views
        self._keys = keys
        if len(keys) != len(old_keys):
            self.virtual_size = Size(width, len(keys))
            self._cache.clear()
            self.refresh()
            return
        for y, (new, old) in enumerate(zip(keys, old_keys, strict=True)):
            if new != old:
                self.refresh_line(y)

    def on_resize(self) -> None:
        """Rebuild every row for the new width."""
        width = self.scrollable_content_region.width
        self._keys = [self._row_key(view, width) for view in self._views]
        self._cache.clear()
        self.virtual_size = Size(width, len(self._views))

    def render_line(self, y: int) -> Strip:
        """Render one visible row (the line API entry point)."""
        width = self.scrollable_content_region.width
        row = y + self.scroll_offset.y
        base = self.rich_style
        if not self._views:
            if y == 1:
                text = f"  {self._placeholder}"
                return Strip([Segment(text, Style(bold=True))]).crop_extend(0, width, base)
            return Strip.blank(width, base)
        if row >= len(self._views):
            return Strip.blank(width, base)
        key = self._keys[row] if row < len(self._keys) else None
        cached = self._cache.get(row)
        if cached is not None and cached[0] == key:
            return cached[1].apply_style(base)
        strip = self.render_row(self._views[row], width)
        if key is not None:
            self._cache[row] = (key, strip)
        # The widget's background goes on after the cache, as Textual's Log does.
        return strip.apply_style(base)

    def render_row(self, view: WorkerView, width: int) -> Strip:
        """Build the strip of one worker's row (label, core, timeline, items done).

        Args:
            view: The worker.
            width: Cells available.

        Returns:
            A strip exactly ``width`` cells long.
        """
        cells = self.timeline_width(width)
        lane = view.lane[-cells:]
        label = view.label[: LABEL_WIDTH - 1].ljust(LABEL_WIDTH)
        segments = [Segment(label, style(view.state) + Style(bold=True))]
        core = "" if view.core is None else f"c{view.core}"
        segments.append(Segment(core[: CORE_WIDTH - 1].ljust(CORE_WIDTH), _DIM))
        pad = cells - len(lane)
        if pad > 0:
            # A young lane is right-aligned: the newest state is always at the right edge.
            segments.append(Segment(" " * pad))
        # The newest cells that only repeat the last state reported are drawn faint:
        # no event or sample has confirmed them yet.
        unconfirmed = min(len(lane), view.lane_unconfirmed)
        confirmed = lane[: len(lane) - unconfirmed]
        for state, run in groupby(confirmed):
            segments.append(Segment(glyph(state) * len(list(run)), style(state)))
        for state, run in groupby(lane[len(confirmed) :]):
            segments.append(Segment(glyph(state) * len(list(run)), style(state) + _FAINT))
        count_width = self._count_width(width)
        if count_width:
            segments.append(Segment(f"{view.items_done:>{count_width}}", _DIM))
        return Strip(segments).crop_extend(0, width, None)

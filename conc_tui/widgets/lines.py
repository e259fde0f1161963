"""A cheap text panel: lines of Rich ``Text`` drawn with the line API.

``Static.update`` re-renders and re-lays-out the whole widget on every call; at ten
updates a second that is wasted work when most lines did not change. This panel keeps
one strip per line, replaces only the lines whose text changed and repaints only those.
"""

from __future__ import annotations

from rich.text import Text
from textual.geometry import Size
from textual.scroll_view import ScrollView
from textual.strip import Strip


class LinesView(ScrollView, can_focus=False):
    """A scrollable stack of single-line texts, repainted line by line."""

    DEFAULT_CSS = """
    LinesView {
        overflow-x: hidden;
        overflow-y: auto;
        scrollbar-size-vertical: 1;
    }
    """

    def __init__(
        self, *, name: str | None = None, id: str | None = None, classes: str | None = None
    ) -> None:
        super().__init__(name=name, id=id, classes=classes)
        self._texts: list[Text] = []
        self._plain: list[tuple[str, int]] = []
        self._strips: dict[int, Strip] = {}

    @property
    def lines(self) -> list[str]:
        """The plain text of every line (for tests and debugging)."""
        return [text.plain for text in self._texts]

    def set_lines(self, texts: list[Text]) -> None:
        """Show these lines, repainting only the ones that changed.

        Args:
            texts: One Rich text per line; newlines inside are not allowed.
        """
        # Compare plain text plus the style spans' hash, which is cheap and exact enough:
        # a line whose text and styling are unchanged needs no repaint.
        plain = [(text.plain, hash(tuple(text.spans))) for text in texts]
        if plain == self._plain:
            return
        old = self._plain
        self._texts = texts
        self._plain = plain
        if len(plain) != len(old):
            self._strips.clear()
            self.virtual_size = Size(self.scrollable_content_region.width, len(plain))
            self.refresh()
            return
        for y, (new, before) in enumerate(zip(plain, old, strict=True)):
            if new != before:
                self._strips.pop(y, None)
                self.refresh_line(y)

    def on_resize(self) -> None:
        """Strips are cut to the width: drop them when it changes."""
        self._strips.clear()
        self.virtual_size = Size(self.scrollable_content_region.width, len(self._texts))

    def render_line(self, y: int) -> Strip:
        """Render one visible line (the line API entry point)."""
        row = y + self.scroll_offset.y
        width = self.scrollable_content_region.width
        if row >= len(self._texts):
            return Strip.blank(width, self.rich_style)
        strip = self._strips.get(row)
        if strip is None:
            text = self._texts[row].copy()
            text.end = ""
            text.no_wrap = True
            segments = list(text.render(self.app.console))
            strip = Strip(segments).crop_extend(0, width, None).apply_style(self.rich_style)
            self._strips[row] = strip
        return strip

"""A cheap text panel: lines of Rich ``Text`` drawn with the line API.

``Static.update`` re-renders and re-lays-out the whole widget on every call; at ten
updates a second that is wasted work when most lines did not change. This panel keeps
one strip per line, replaces only the lines whose text changed and repaints only those.
"""

from __future__ import annotations

from rich.style import Style
from rich.text import Span, Text
from textual.geometry import Size
from textual.scroll_view import ScrollView
from textual.strip import Strip

from conc_tui.widgets.panels import PANEL_STYLES


class LinesView(ScrollView, can_focus=False):
    """A scrollable stack of single-line texts, repainted line by line.

    Text styled with a name from :data:`~conc_tui.widgets.panels.PANEL_STYLES` is drawn
    in that component class's style, from the theme.
    """

    COMPONENT_CLASSES = set(PANEL_STYLES)

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
        self._rows: list[Text] = []
        self._plain: list[tuple[str, int]] = []
        self._strips: dict[int, Strip] = {}
        self._named: dict[str, Style] = {}

    @property
    def lines(self) -> list[str]:
        """The plain text of every line (for tests and debugging)."""
        return [text.plain for text in self._texts]

    @property
    def rows(self) -> list[str]:
        """The plain text of every row drawn, after wrapping (for tests)."""
        return [row.plain for row in self._rows]

    def _wrap(self, texts: list[Text], width: int) -> list[Text]:
        """Lines too long for the width wrap at a word boundary, indented by two.

        Cutting a line at the edge cut figures mid-number ("53–56 MB ea"); a word
        longer than the whole width is the only thing still folded.
        """
        if width <= 4:
            return list(texts)
        rows: list[Text] = []
        for text in texts:
            if text.cell_len <= width:
                rows.append(text)
                continue
            first, *rest = text.wrap(self.app.console, width, overflow="fold")
            first.rstrip()
            rows.append(first)
            if rest:
                remainder = Text("").join(rest) if len(rest) == 1 else Text(" ").join(rest)
                for row in remainder.wrap(self.app.console, width - 2, overflow="fold"):
                    row.rstrip()
                    rows.append(Text("  ") + row)
        return rows

    def set_lines(self, texts: list[Text]) -> None:
        """Show these lines, repainting only the rows that changed.

        Args:
            texts: One Rich text per line; newlines inside are not allowed.
        """
        self._texts = texts
        self._relayout()

    def _relayout(self) -> None:
        width = self.scrollable_content_region.width
        rows = self._wrap(self._texts, width)
        height = self.scrollable_content_region.height
        if height and len(rows) > height and not self.show_vertical_scrollbar:
            # These rows will bring the scroll bar, which takes a column: wrap for the
            # width that will be left, or the widest rows would be cut at the edge.
            width -= self.styles.scrollbar_size_vertical
            rows = self._wrap(self._texts, width)
        # Compare plain text plus the style spans' hash, which is cheap and exact enough:
        # a row whose text and styling are unchanged needs no repaint.
        plain = [(row.plain, hash(tuple(row.spans))) for row in rows]
        if plain == self._plain:
            return
        old = self._plain
        self._rows = rows
        self._plain = plain
        if len(plain) != len(old):
            self._strips.clear()
            self.virtual_size = Size(width, len(plain))
            self.refresh()
            return
        for y, (new, before) in enumerate(zip(plain, old, strict=True)):
            if new != before:
                self._strips.pop(y, None)
                self.refresh_line(y)

    def watch_show_vertical_scrollbar(self, shown: bool) -> None:
        """The scroll bar came or went, taking or giving back a column: the rows were
        wrapped for the old width, so wrap them again once this layout is done."""
        self.call_after_refresh(self._rewrap)

    def _rewrap(self) -> None:
        if self.is_attached:
            self._strips.clear()
            self._plain = []
            self._relayout()
            self.virtual_size = Size(self.scrollable_content_region.width, len(self._rows))
            self.refresh()

    def on_resize(self) -> None:
        """Rows are wrapped and cut to the width: build them again when it changes."""
        self._rewrap()

    def render_line(self, y: int) -> Strip:
        """Render one visible row (the line API entry point)."""
        row = y + self.scroll_offset.y
        width = self.scrollable_content_region.width
        if row >= len(self._rows):
            return Strip.blank(width, self.rich_style)
        strip = self._strips.get(row)
        if strip is None:
            text = self._themed(self._rows[row])
            text.end = ""
            text.no_wrap = True
            segments = list(text.render(self.app.console))
            strip = Strip(segments).crop_extend(0, width, None)
            self._strips[row] = strip
        # The widget's own style goes on after the cache, so a theme change (which
        # clears the cache too) never leaves rows in the old theme's colours.
        return strip.apply_style(self.rich_style)

    def _style(self, style: str | Style) -> str | Style:
        if not isinstance(style, str) or style not in PANEL_STYLES:
            return style
        found = self._named.get(style)
        if found is None:
            found = self.get_component_rich_style(style)
            self._named[style] = found
        return found

    def _themed(self, row: Text) -> Text:
        """A copy of the row with its named styles replaced by the theme's."""
        text = row.copy()
        spans = [Span(span.start, span.end, self._style(span.style)) for span in text.spans]
        if text.style:
            # Text.render ignores the whole-text style (only printing applies it): make
            # it a span, or a dim line would be drawn plain.
            spans.insert(0, Span(0, len(text), self._style(text.style)))
            text.style = ""
        text.spans = spans
        return text

    def notify_style_update(self) -> None:
        """The theme or CSS changed: every cached row was built in the old style."""
        super().notify_style_update()
        self._strips.clear()
        self._named.clear()

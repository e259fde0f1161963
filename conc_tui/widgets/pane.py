"""One model's pane: progress, worker lanes, CPU cores, the model's own view, a card."""

from __future__ import annotations

import contextlib
from collections.abc import Sequence

from rich.text import Text
from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical
from textual.css.query import NoMatches
from textual.widgets import Static

from conc_tui.config import RunConfig
from conc_tui.registry import model_spec
from conc_tui.telemetry.snapshot import Snapshot
from conc_tui.widgets.card import card_text, look_for
from conc_tui.widgets.cores import CoreBars
from conc_tui.widgets.glyphs import Legend
from conc_tui.widgets.lanes import CORE_WIDTH, LABEL_WIDTH, WorkerLanes
from conc_tui.widgets.lines import LinesView
from conc_tui.widgets.panels import WARN, progress_lines, summary_lines, worker_cores
from conc_tui.widgets.presentation import model_lines, presentation

WIDE_COLUMNS = 120
"""From this width the card has room for more than its look-for line."""
CARD_EXTRA_ROWS = 7


def _text_width(view: LinesView, default: int) -> int:
    """Cells a line may use: a scrollbar that appears once lines overflow takes one."""
    width = view.scrollable_content_region.width
    if not width:
        return default
    return width if view.show_vertical_scrollbar else width - 1


class ModelPane(Horizontal):
    """Everything one model shows. It only draws what the app hands it.

    Args:
        model: "process", "thread" or "async".
        id: The widget id.
    """

    def __init__(self, model: str, *, id: str | None = None) -> None:
        super().__init__(id=id, classes="pane")
        self.model = model
        self._config: RunConfig | None = None
        self._column_s: float | None = None
        self._summary: list[str] = []
        self._last: tuple[Snapshot | None, RunConfig, float | None, bool, float | None] | None = (
            None
        )

    def compose(self) -> ComposeResult:
        """Build the pane's widgets."""
        with Vertical(classes="main-col"):
            yield LinesView(classes="progress")
            yield Static(classes="summary")
            yield Static(classes="lanes-head")
            yield WorkerLanes(classes="lanes")
            yield Legend(classes="legend")
        with Vertical(classes="side-col"):
            cores = CoreBars(classes="cores")
            cores.border_title = "CPU cores"
            yield cores
            view = LinesView(classes="model-view")
            view.border_title = presentation(self.model).view_title
            yield view
            card = Static(classes="card")
            card.border_title = presentation(self.model).card.title
            yield card

    def on_mount(self) -> None:
        """Draw the column header once, before any run."""
        self._set_column_s(0.1)

    def _set_column_s(self, column_s: float) -> None:
        if column_s == self._column_s:
            return
        self._column_s = column_s
        head = Text(no_wrap=True, overflow="ellipsis")
        head.append("worker".ljust(LABEL_WIDTH) + "core".ljust(CORE_WIDTH + 1), "bold")
        head.append(f"← older   1 cell = {column_s:g} s   newest →", "#8b949e")
        self.query_one(".lanes-head", Static).update(head)

    def on_resize(self) -> None:
        """Lines and the look-for line fit the old width: build them again for the new."""
        self.call_after_refresh(self._redraw)
        # The card's own width is known once this layout is done.
        self.call_after_refresh(self._fit_card)

    def _redraw(self) -> None:
        """Draw the latest data again (read now: a newer snapshot may have come since)."""
        if self._last is not None:
            snapshot, config, serial_wall_s, loop, stalled_s = self._last
            self.show(snapshot, config, serial_wall_s, loop=loop, stalled_s=stalled_s)

    def _fit_card(self) -> None:
        """Give the card at least the rows its look-for line needs (it comes first).

        The card's CSS caps its height so the model's view keeps room; the cap must
        never cut the look-for line, so it is raised to that line's wrapped height.
        """
        if self._config is None:
            return
        try:
            card = self.query_one(".card", Static)
        except NoMatches:  # not composed yet, or being removed
            return
        width = card.content_region.width or card.container_size.width
        if width <= 0:
            return
        config = self._config
        line = Text("Look for: " + look_for(self.model, config.workload, config.options))
        rows = len(line.wrap(self.app.console, width))
        need = rows + card.styles.gutter.height
        card.styles.min_height = need
        # Below it, the analogy, pros and cons: a few rows where there is room, none at
        # 80 columns (they scroll, and the help screen has them).
        extra = 0 if self.app.size.width < WIDE_COLUMNS else CARD_EXTRA_ROWS
        card.styles.max_height = need + extra

    def set_config(self, config: RunConfig) -> None:
        """Show what Space would start: the card and the idle hint follow the config."""
        if config == self._config:
            return
        self._config = config
        self.query_one(".card", Static).update(
            card_text(self.model, config.workload, config.options)
        )
        self._fit_card()
        spec = model_spec(self.model)
        unavailable = spec.available()
        self.query_one(WorkerLanes).set_placeholder(
            f"{spec.title} cannot run on this Python: {unavailable}"
            if unavailable
            else f"Press Space to start: {config.workers} {spec.worker_noun} on '{config.workload}'"
        )

    def show(
        self,
        snapshot: Snapshot | None,
        config: RunConfig,
        serial_wall_s: float | None,
        *,
        loop: bool = False,
        stalled_s: float | None = None,
    ) -> None:
        """Draw a snapshot (None: nothing has run in this pane yet).

        Args:
            snapshot: The pane's latest snapshot.
            config: The pane's configuration.
            serial_wall_s: Serial baseline wall time for the config's workload, if known.
            loop: Whether loop mode is on (the run restarts whenever it finishes).
            stalled_s: How long a live run has sent nothing, once that is too long.
        """
        self._last = (snapshot, config, serial_wall_s, loop, stalled_s)
        # Not composed yet, or being removed: the next snapshot draws it.
        with contextlib.suppress(NoMatches):
            self._draw(snapshot, config, serial_wall_s, loop, stalled_s)

    def _draw(
        self,
        snapshot: Snapshot | None,
        config: RunConfig,
        serial_wall_s: float | None,
        loop: bool,
        stalled_s: float | None,
    ) -> None:
        self.set_config(config)
        progress = self.query_one(".progress", LinesView)
        width = _text_width(progress, 80)
        lines = progress_lines(snapshot, config, serial_wall_s, width, loop=loop)
        if stalled_s is not None and len(lines) > 2:
            lines[2] = Text(
                f"⚠ not responding: no word from the run for {stalled_s:.0f} s "
                "(stopped, or starved of CPU?)",
                style=WARN,
            )
        progress.set_lines(lines)
        self._show_summary(summary_lines(snapshot))
        lanes = self.query_one(WorkerLanes)
        lanes.update_workers(snapshot.worker_views if snapshot else ())
        view = self.query_one(".model-view", LinesView)
        view.set_lines(model_lines(self.model, snapshot, _text_width(view, 40)))
        self.query_one(CoreBars).mark(
            worker_cores(snapshot.worker_views) if snapshot else frozenset()
        )
        if snapshot is not None:
            self._set_column_s(snapshot.column_s)

    def _show_summary(self, lines: list[str]) -> None:
        summary = self.query_one(".summary", Static)
        if lines == self._summary:
            return
        self._summary = lines
        summary.set_class(bool(lines), "-shown")
        text = Text()
        if lines:
            text.append("What just happened: ", "bold")
            text.append(" ".join(lines))
        summary.update(text)

    def show_cores(self, history: Sequence[tuple[float, ...]]) -> None:
        """Draw new per-core samples (none before the bars are mounted, or after)."""
        # Samples come from a timer thread and can reach a pane whose children are
        # not mounted yet or any more; the next sample draws them.
        for bars in self.query(CoreBars):
            bars.update_cores(history)

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
from conc_tui.knobs import knob_text
from conc_tui.registry import model_spec
from conc_tui.telemetry.snapshot import Snapshot
from conc_tui.widgets.card import card_text, look_for
from conc_tui.widgets.cores import CoreBars
from conc_tui.widgets.glyphs import Legend
from conc_tui.widgets.lanes import WorkerLanes, describe_actor
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
        self._head_key: tuple[str, bool] | None = None
        self._summary: list[str] = []
        self._last: tuple[Snapshot | None, RunConfig, float | None, bool, float | None] | None = (
            None
        )

    def compose(self) -> ComposeResult:
        """Build the pane's widgets."""
        with Vertical(classes="main-col"):
            yield LinesView(classes="progress")
            yield Static(classes="knobs")
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
        self.query_one(WorkerLanes).model = self.model
        self._draw_head()

    def _draw_head(self) -> None:
        """The line(s) over the lanes: scale, frozen position, the actor lane's key."""
        lanes = self.query_one(WorkerLanes)
        static = self.query_one(".lanes-head", Static)
        width = static.size.width or lanes.size.width or 80
        head = lanes.head_text(width)
        # The lanes' model, not the pane's: a serial baseline run in this pane has none.
        actor = lanes.model in ("thread", "async", "process") and lanes.rows > 0
        if actor:
            head.append("\n" + describe_actor(lanes.model, width), "#8b949e")
        key = (head.plain, actor)
        if key == self._head_key:
            return
        self._head_key = key
        static.styles.height = 2 if actor else 1
        static.update(head)

    @property
    def lanes(self) -> WorkerLanes:
        """The pane's lanes (time control acts on them)."""
        return self.query_one(WorkerLanes)

    def toggle_freeze(self) -> bool:
        """Freeze the pane where it is while the run goes on, or go back to live.

        Returns:
            Whether the pane is now frozen.
        """
        lanes = self.lanes
        lanes.set_frozen(not lanes.frozen)
        self._draw_head()
        return lanes.frozen

    def scroll_time(self, direction: int) -> None:
        """Scroll back (direction -1) or forward (+1) by a quarter of the lanes' width;
        scrolling back from live freezes first."""
        lanes = self.lanes
        if not lanes.frozen:
            if direction > 0:
                return
            lanes.set_frozen(True)
        lanes.scroll_cells(-direction * max(1, lanes.timeline_width() // 4))
        self._draw_head()

    def change_scale(self, step: int) -> None:
        """A coarser (+1) or finer (-1) time scale; the past is redrawn too."""
        lanes = self.lanes
        lanes.set_scale(lanes.scale_index + step)
        self._draw_head()

    def on_resize(self) -> None:
        """The head's wording and the look-for line's wrapping follow the width."""
        with contextlib.suppress(NoMatches):
            self._draw_head()
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
        self.query_one(".knobs", Static).update(self.knobs_line(config))
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

    def knobs_line(self, config: RunConfig) -> Text:
        """The knobs that concern this pane's run, with their keys (see conc_tui.knobs)."""
        text = knob_text(self.model, config.workload, config.options)
        return Text(text, no_wrap=True, overflow="ellipsis")

    def show(
        self,
        snapshot: Snapshot | None,
        config: RunConfig,
        serial_wall_s: float | None,
        *,
        loop: bool = False,
        stalled_s: float | None = None,
        figures: bool = True,
    ) -> None:
        """Draw a snapshot (None: nothing has run in this pane yet).

        Args:
            snapshot: The pane's latest snapshot.
            config: The pane's configuration.
            serial_wall_s: Serial baseline wall time for the config's workload, if known.
            loop: Whether loop mode is on (the run restarts whenever it finishes).
            stalled_s: How long a live run has sent nothing, once that is too long.
            figures: Whether to redraw the figures too (progress, the side panel, the
                cores the workers are on); False moves only the lanes.
        """
        self._last = (snapshot, config, serial_wall_s, loop, stalled_s)
        # Not composed yet, or being removed: the next snapshot draws it.
        with contextlib.suppress(NoMatches):
            self._draw(snapshot, config, serial_wall_s, loop, stalled_s, figures)

    def _draw(
        self,
        snapshot: Snapshot | None,
        config: RunConfig,
        serial_wall_s: float | None,
        loop: bool,
        stalled_s: float | None,
        figures: bool = True,
    ) -> None:
        self.set_config(config)
        lanes = self.query_one(WorkerLanes)
        lanes.update_snapshot(snapshot)
        if lanes.frozen:
            # The whole pane holds still while the teacher talks; the run goes on and
            # its history keeps filling.
            return
        self._draw_head()
        if not figures:
            return
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
        view = self.query_one(".model-view", LinesView)
        view.set_lines(model_lines(self.model, snapshot, _text_width(view, 40)))
        self.query_one(CoreBars).mark(
            worker_cores(snapshot.worker_views) if snapshot else frozenset()
        )

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
        if any(lanes.frozen for lanes in self.query(WorkerLanes)):
            return
        for bars in self.query(CoreBars):
            bars.update_cores(history)

"""Worker lanes: one row per worker, its states scrolling right to left.

A line-API widget: each row is a :class:`Strip` built from the lane's visible cells
and cached under them, and a new snapshot repaints only the rows whose cells changed.
The lanes are drawn from the run's whole history (:mod:`conc_tui.widgets.history`),
so the view can be frozen, scrolled back through the run and drawn at a coarser time
scale. Above the thread lanes a baton lane shows who held the GIL; above the asyncio
tasks a lane shows what the event loop's one thread was doing. Both are derived from
the lanes themselves (and the loop's measured lag), never assumed.
"""

from __future__ import annotations

import re
import textwrap
from bisect import bisect_left, bisect_right
from dataclasses import dataclass, field
from functools import cached_property, lru_cache
from itertools import groupby

from rich.cells import cell_len
from rich.color import Color as RichColor
from rich.segment import Segment
from rich.style import Style
from rich.text import Text
from textual.filter import ANSIToTruecolor, LineFilter
from textual.geometry import Region, Size, Spacing
from textual.scroll_view import ScrollView
from textual.strip import Strip

from conc_tui.telemetry.snapshot import Phase, Snapshot, WorkerView
from conc_tui.telemetry.states import WorkerState
from conc_tui.widgets.glyphs import (
    COMPONENT_CLASSES,
    glyph,
    load_state_styles,
    style,
    style_generation,
)
from conc_tui.widgets.history import NO_CORE, LaneRecord, RunHistory, bounds, coarse, edges

LABEL_WIDTH = 12
"""Room for "pid 4194304" (the largest Linux pid) and a space."""
CORE_WIDTH = 4
COUNT_WIDTH = 5
"""Items done, at the right of a lane; dropped when the widget is narrow."""

NO_GUTTER = Spacing(0, 0, 0, 0)
_DIM = Style(color="#8b949e")
_FAINT = Style(dim=True)

SCALES = (0.1, 0.25, 0.5, 1.0)
"""Seconds a cell can cover (keys ``[`` and ``]``); the history stays at the finest."""
MAX_ROWS_PER_LANE = 8
"""A lane grows to at most this many rows when few workers leave the height empty."""

_RUNNING = int(WorkerState.RUNNING)
_IDLE = int(WorkerState.IDLE)
_SYMBOLS = "0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
_NUMBER = re.compile(r"(\d+)\s*$")

BATON_RELEASED = "×"
"""Two or more threads ran on different cores in one cell: at most one held the GIL,
the others ran C code that released it (Pillow's filters)."""
BATON_SHARED = "⇄"
"""Two or more ran in one cell taking turns with the GIL (on one core, or measured
contending for it): they passed the baton within the cell."""
NOBODY = "·"
LOOP_SEVERAL = "+"
"""Several tasks took turns on the loop within one cell."""


def symbol(label: str) -> str:
    """One character naming a worker: the number in its label (0-9, then a-z, A-Z)."""
    match = _NUMBER.search(label)
    number = int(match.group(1)) if match else 0
    return _SYMBOLS[number % len(_SYMBOLS)]


RowKey = tuple[object, ...]
"""Everything a row's strip depends on; the strip is rebuilt only when it changes."""


@dataclass(frozen=True)
class Window:
    """Which part of the history is on screen, in coarse cells of ``factor`` columns."""

    history: RunHistory = field(repr=False)
    factor: float
    first_cell: int
    cells: int
    start: int
    """First fine column covered."""
    stop: int
    """Fine column after the last covered."""
    live: bool

    def lane(self, worker_id: int, with_cores: bool = True) -> tuple[bytes, bytes]:
        """A worker's states and (``with_cores``) cores, one per coarse cell."""
        record = self.history.lanes[worker_id]
        fine = record.states_between(self.start, self.stop)
        fine_cores = record.cores_between(self.start, self.stop) if with_cores else b""
        if self.factor == 1:
            return fine, fine_cores
        cut = self._edges
        states = coarse(fine, self.first_cell, self.cells, self.start, self.factor, cut)
        return states, _last_known(fine_cores, cut, NO_CORE) if with_cores else b""

    @cached_property
    def _edges(self) -> list[int]:
        # Every lane of the window shares them: computed once a frame.
        return edges(self.first_cell, self.cells, self.factor, self.start)

    def lag(self) -> bytes:
        fine = self.history.lag.between(self.start, self.stop)
        if self.factor == 1:
            return fine
        cut = self._edges
        return bytes([1 if 1 in fine[cut[i] : cut[i + 1]] else 0 for i in range(self.cells)])

    @property
    def right_s(self) -> float:
        """The time at the window's right edge."""
        return min(self.history.elapsed_s, self.stop * self.history.column_s)


def _last_known(fine: bytes, cut: list[int], unknown: int) -> bytes:
    """Per coarse cell, the last fine value in it that is not ``unknown``."""
    out = bytearray(len(cut) - 1)
    for i in range(len(out)):
        part = fine[cut[i] : cut[i + 1]].rstrip(bytes([unknown]))
        out[i] = part[-1] if part else unknown
    return bytes(out)


CONTENDED_SHARE = 0.25
"""A thread that waited for the GIL this share of its running time or more was
contending for it: its running cells beside another's are turns, not a release."""


def baton_cells(
    lanes: list[bytes],
    cores: list[bytes],
    names: list[str],
    cells: int,
    contended: list[bool] | None = None,
) -> list[tuple[str, int]]:
    """Who held the GIL in each cell, from the thread lanes: (character, state).

    A thread whose cell shows running (its CPU advanced, not a GIL wait) held the
    GIL. Two or more running in one cell took turns with it (0.1 s holds many 5 ms
    switch intervals) when they shared a core or when any of them was measured
    contending for the GIL (``contended``: its GIL-wait share); otherwise, on
    different cores, they ran at once: at most one held the GIL and the others ran C
    code that released it. Nobody running: nobody we measure held it.
    """
    contended = contended or [False] * len(lanes)
    out: list[tuple[str, int]] = []
    for i in range(cells):
        runners = [n for n, lane in enumerate(lanes) if lane[i] == _RUNNING]
        if not runners and all(lane[i] == _IDLE for lane in lanes):
            out.append((" ", _IDLE))  # before the run, or after it
        elif not runners:
            out.append((NOBODY, _IDLE))
        elif len(runners) == 1:
            out.append((names[runners[0]], _RUNNING))
        else:
            known = [cores[n][i] for n in runners if cores[n] and cores[n][i] != NO_CORE]
            one_core = len(known) == len(runners) and len(set(known)) == 1
            if one_core or any(contended[n] for n in runners):
                out.append((BATON_SHARED, int(WorkerState.WAIT_GIL)))
            else:
                out.append((BATON_RELEASED, int(WorkerState.WAIT_CPU)))
    return out


_ON_LOOP = frozenset({_RUNNING, int(WorkerState.WAIT_CPU), int(WorkerState.WAIT_GIL)})
"""A task in these states holds the loop's thread: running its code, or runnable and
waiting for a core (or the GIL) to go on running it. Either way no other task runs."""


def loop_cells(
    lanes: list[bytes], names: list[str], lag: bytes, cells: int, offloaded: bool
) -> list[tuple[str, int]]:
    """What the event loop's thread did in each cell: (character, state).

    A task running on it (its number; also while the thread waits for a core to go on
    running it); several taking turns (+); waiting in the
    selector (no task running, ·); blocked: a task ran while the loop's measured lag
    grew past its allowance (the task's number, drawn as a failure). With
    ``to_thread`` the running tasks are in other threads, so the loop only waits.
    """
    out: list[tuple[str, int]] = []
    for i in range(cells):
        blocked = bool(lag[i]) if i < len(lag) else False
        runners = [] if offloaded else [n for n, lane in enumerate(lanes) if lane[i] in _ON_LOOP]
        if not blocked and all(lane[i] == _IDLE for lane in lanes):
            out.append((" ", _IDLE))
        elif blocked:
            mark = names[runners[0]] if len(runners) == 1 else (LOOP_SEVERAL if runners else "!")
            out.append((mark, int(WorkerState.FAILED)))
        elif len(runners) == 1:
            out.append((names[runners[0]], _RUNNING))
        elif runners:
            out.append((LOOP_SEVERAL, _RUNNING))
        else:
            out.append((NOBODY, int(WorkerState.WAIT_IO)))
    return out


class WorkerLanes(ScrollView, can_focus=False):
    """Draws one timeline row (or a few) per worker, from the run's history."""

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
        self._rows: list[tuple[str, int, int]] = []  # (kind, index, sub-row)
        self._cells: dict[int, tuple[bytes, bytes]] = {}
        self._actor: list[tuple[str, int]] = []
        self._cache: dict[int, tuple[RowKey, Strip]] = {}
        self._shifters: dict[tuple[str, int], ShiftingRuns] = {}
        self._extra_rows: dict[tuple[str, int], tuple[RowKey, Strip]] = {}
        """Per lane, the strip its extra rows share (a tall lane's rows 2..n look alike)."""
        self._first_cell = 0
        self._placeholder = "Press Space to start"
        self.model = ""
        self.history = RunHistory()
        self._previous: RunHistory | None = None
        self._previous_views: tuple[WorkerView, ...] = ()
        self._last_phase: Phase | None = None
        self._offloaded = False
        self.scale_index = 0
        self.frozen = False
        self._frozen_at: tuple[RunHistory, tuple[WorkerView, ...], int] | None = None
        self.back_cells = 0
        """Coarse cells scrolled back from the newest (or from the frozen moment)."""
        self.rows_per_lane = 1
        self._paint: Paint | None = None

    def notify_style_update(self) -> None:
        """A theme or palette change: the rows cached in the old colours are redrawn."""
        super().notify_style_update()
        # After the whole style pass: the component styles are not updated yet here.
        self.call_after_refresh(self._restyle)

    def _restyle(self) -> None:
        if self.is_attached:
            load_state_styles(self)
            # Every cache that holds a style: rows, shifted segments, looks, bases.
            self._paint = None
            self._clear_rows()
            self._shifters.clear()
            _look_in.cache_clear()
            self.refresh()

    def _clear_rows(self) -> None:
        self._cache.clear()
        self._extra_rows.clear()

    # -- painting -----------------------------------------------------------------------

    def get_line_filters(self) -> list[LineFilter]:
        """The app's filters, less the ANSI-to-truecolor one: every style in these rows
        is converted once, when it is made (see :class:`Paint`), instead of every
        segment of every row on every frame, which made it the UI's largest cost."""
        return [f for f in super().get_line_filters() if not isinstance(f, ANSIToTruecolor)]

    @property
    def paint(self) -> Paint:
        """The widget's base style and the colour conversion, read once per style change."""
        paint = self._paint
        if paint is not None and paint.truecolor is not None and not paint.truecolor.enabled:
            paint = None  # the app switched to its terminal's own ANSI colours
        if paint is None:
            truecolor = next(
                (f for f in super().get_line_filters() if isinstance(f, ANSIToTruecolor)), None
            )
            background = self.background_colors[1].rich_color
            paint = self._paint = Paint(
                _converted(self.rich_style, truecolor, background),
                truecolor,
                background,
                style_generation(),
            )
        return paint

    @property
    def rows(self) -> int:
        """How many workers are shown (the pane draws an actor lane's key only then)."""
        return len(self._shown()[1])

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

    # -- what is shown ----------------------------------------------------------------

    @property
    def scale_s(self) -> float:
        return SCALES[self.scale_index]

    def _shown(self) -> tuple[RunHistory, tuple[WorkerView, ...], int]:
        """The history, views and newest column on screen."""
        if self._frozen_at is not None:
            return self._frozen_at
        if not self.history.drawn and self._previous is not None:
            return self._previous, self._previous_views, self._previous.end
        return self.history, self._views, self.history.end

    @property
    def showing_previous(self) -> bool:
        """Whether the last run's lanes stay up until the new run draws."""
        return self._frozen_at is None and not self.history.drawn and self._previous is not None

    def window(self, width: int | None = None) -> Window:
        history, _views, end = self._shown()
        cells = self.timeline_width(width)
        factor = max(1.0, self.scale_s / history.column_s)
        end_cell = int(max(0, end) // factor) - self.back_cells
        first_cell = end_cell - cells + 1
        start = bounds(first_cell, factor)[0]
        stop = bounds(end_cell, factor)[1]
        return Window(history, factor, first_cell, cells, start, stop, self._frozen_at is None)

    def max_offset(self) -> int:
        """How far back the view can scroll: to the run's first column."""
        history, _views, end = self._shown()
        factor = max(1.0, self.scale_s / history.column_s)
        first = min((r.first for r in history.lanes.values()), default=0)
        cells = self.timeline_width()
        return max(0, int(max(0, end) // factor) - int(first // factor) - cells + 1)

    def head_text(self, width: int = 200) -> Text:
        """The line above the lanes: the scale, and where in the run a frozen view is.

        The longest wording that fits ``width`` is chosen, so a narrow pane still says
        it is frozen and where, rather than losing the end of the sentence.
        """
        prefix = "worker".ljust(LABEL_WIDTH) + "core".ljust(CORE_WIDTH + 1)
        scale = f"1 cell = {self.scale_s:g} s"
        head = Text(no_wrap=True, overflow="ellipsis")
        if self.frozen:
            window = self.window()
            at, total = window.right_s, window.history.elapsed_s
            head.append(
                _first_fit(
                    width,
                    f"{prefix}❚❚ frozen at {at:.1f} s of {total:.1f} s · ←/→ scroll · "
                    f"{scale} · p live",
                    f"❚❚ frozen at {at:.1f} s of {total:.1f} s · ←/→ scroll · p live",
                    f"❚❚ frozen {at:.1f}/{total:.1f} s · ←/→ · p live",
                ),
                "bold reverse #e3a008",
            )
            return head
        if self.showing_previous:
            text = _first_fit(
                width,
                f"{prefix}{scale}   last run's lanes, until the new run draws",
                f"{prefix}last run's lanes, until the new one draws",
                "last run's lanes, until the new one draws",
            )
        else:
            text = _first_fit(
                width,
                f"{prefix}← older   {scale}  [ ]   newest →",
                f"{prefix}{scale}  [ ]",
                f"{scale}  [ ]",
            )
        head.append(text)
        return head

    # -- input ------------------------------------------------------------------------

    def update_snapshot(self, snapshot: Snapshot | None) -> None:
        """Take a snapshot into the history; redraw unless the view is frozen."""
        if snapshot is None:
            self.update_workers(())
            return
        self.model = snapshot.model
        self._offloaded = snapshot.loop is not None and snapshot.loop.blocking == "to_thread"
        new_run = (
            self._last_phase is not None and not self._last_phase.active and snapshot.phase.active
        ) or snapshot.elapsed_s + 1e-9 < self.history.elapsed_s
        if new_run:
            if self.history.drawn:
                self._previous, self._previous_views = self.history, self._views
            self.history = RunHistory()
        self._last_phase = snapshot.phase
        self.history.add(snapshot)
        if self.frozen:
            self._views = snapshot.worker_views if self.history.drawn else self._views
            return
        self.update_workers(snapshot.worker_views, _history=True)

    def update_workers(self, views: tuple[WorkerView, ...], *, _history: bool = False) -> None:
        """Show these workers; repaint only the rows that changed.

        Args:
            views: The snapshot's worker views, in lane order. Called directly (not
                through :meth:`update_snapshot`), the views' own lanes are the history.
        """
        if not _history:
            # Drawn without snapshots (tests, a reset): the views' own lanes are all the
            # history there is, their last cell the newest column.
            self.history = RunHistory()
            self._previous = None
            end = max((len(v.lane) for v in views), default=0) - 1
            for view in views:
                record = self.history.lanes[view.worker_id] = LaneRecord(view.label)
                self.history.order.append(view.worker_id)
                record.write(end, view.lane, view.lane_cores)
                self.history.unconfirmed[view.worker_id] = view.lane_unconfirmed
            self.history.end = end
            self.history.elapsed_s = (end + 1) * self.history.column_s
        if views or not self.showing_previous:
            self._views = views
        if self.frozen:
            return
        self._relayout()

    def _relayout(self) -> None:
        width = self.scrollable_content_region.width
        history, views, _end = self._shown()
        window = self.window(width)
        self._first_cell = window.first_cell
        with_cores = self.model in ("process", "thread")
        self._cells = {
            v.worker_id: window.lane(v.worker_id, with_cores)
            for v in views
            if v.worker_id in history.lanes
        }
        actor = self.model in ("thread", "async") and bool(views)
        drawn = [v for v in views if v.worker_id in self._cells]
        lanes = [self._cells[v.worker_id][0] for v in drawn]
        names = [symbol(v.label) for v in drawn]
        if actor and self.model == "thread":
            cores = [self._cells[v.worker_id][1] for v in drawn]
            contended = [(v.gil_wait_share or 0.0) >= CONTENDED_SHARE for v in drawn]
            self._actor = baton_cells(lanes, cores, names, window.cells, contended)
        elif actor:
            self._actor = loop_cells(lanes, names, window.lag(), window.cells, self._offloaded)
        else:
            self._actor = []
        lane_count = len(views) + (1 if self._actor else 0)
        height = self.scrollable_content_region.height or self.size.height
        self.rows_per_lane = (
            max(1, min(MAX_ROWS_PER_LANE, height // lane_count)) if lane_count else 1
        )
        rows: list[tuple[str, int, int]] = []
        if self._actor:
            rows.extend(("actor", 0, sub) for sub in range(self.rows_per_lane))
        for index in range(len(views)):
            rows.extend(("lane", index, sub) for sub in range(self.rows_per_lane))
        faint = window.live and self.back_cells == 0
        keys: list[RowKey] = []
        for kind, index, sub in rows:
            if kind == "actor":
                keys.append(("actor", self.model, tuple(self._actor), min(sub, 1), width))
            else:
                view = views[index]
                cells = self._cells.get(view.worker_id, (b"", b""))
                unconfirmed = (
                    -(-history.unconfirmed.get(view.worker_id, 0) // int(window.factor))
                    if faint
                    else 0
                )
                shown_cores = cells[1] if self.model == "process" else b""
                keys.append(
                    (
                        view.label,
                        view.core,
                        view.state,
                        cells[0],
                        shown_cores,
                        unconfirmed,
                        view.items_done,
                        min(sub, 1),  # a tall lane's extra rows all look alike
                        width,
                    )
                )
        old_keys = self._keys
        self._keys = keys
        if len(rows) != len(self._rows) or len(keys) != len(old_keys):
            self._rows = rows
            self.virtual_size = Size(width, len(rows))
            self._clear_rows()
            self.refresh()
            return
        self._rows = rows
        changed = [y for y, (new, old) in enumerate(zip(keys, old_keys, strict=True)) if new != old]
        if len(changed) > 2:
            # Live, nearly every row moves on each snapshot: one refresh of the widget
            # costs less than a region each, and unchanged rows are served from the cache.
            self.refresh()
        else:
            for y in changed:
                self.refresh_line(y)

    # -- time control -----------------------------------------------------------------

    def set_frozen(self, frozen: bool) -> None:
        """Freeze the view where it is (the run goes on), or go back to live."""
        if frozen == self.frozen:
            return
        self.frozen = frozen
        if frozen:
            history, views, end = self._shown()
            self._frozen_at = (history, views, end)
        else:
            self._frozen_at = None
            self.back_cells = 0
        self._relayout()

    def scroll_cells(self, delta: int) -> None:
        """Move the frozen view ``delta`` cells back (positive) or forward."""
        self.back_cells = max(0, min(self.max_offset(), self.back_cells + delta))
        self._relayout()

    def set_scale(self, index: int) -> None:
        """Show ``SCALES[index]`` seconds a cell; the past is redrawn from the history."""
        index = max(0, min(len(SCALES) - 1, index))
        if index == self.scale_index:
            return
        self.scale_index = index
        self.back_cells = min(self.back_cells, self.max_offset())
        self._clear_rows()
        self._relayout()

    def on_resize(self) -> None:
        """Rebuild every row for the new size."""
        self._clear_rows()
        self._keys = []
        self._relayout()

    # -- drawing ----------------------------------------------------------------------

    def _plain_box(self) -> bool:
        """Whether the widget has nothing Textual's style pass would draw around or over
        its rows: no border, padding, outline, hatch, tint or opacity."""
        styles = self.styles
        return (
            not self.BLANK
            and styles.gutter == NO_GUTTER
            and not any(edge for edge, _colour in styles.outline)
            and (not styles.has_rule("hatch") or styles.hatch == "none")
            and styles.tint.a == 0
            and self.opacity == 1.0
            and styles.text_opacity == 1.0
        )

    def render_lines(self, crop: Region) -> list[Strip]:
        """The rows for the compositor, passing the cached strips straight through.

        Textual's style pass rebuilds every refreshed row as a new strip, so the caches a
        strip keeps (of its filtered and resized forms) never serve twice. With a plain
        box that pass would add nothing but the background past the rows' end, which is
        added here the same way; a row unchanged since the last frame, and every extra
        row of a tall lane, then costs a dictionary look-up. With a border or padding
        the style pass draws them.
        """
        if not self._plain_box():
            return super().render_lines(crop)
        width, content_height = self.content_region.size
        row_width = self.scrollable_content_region.width
        base_background, background = self.background_colors
        inner = Style.from_color(bgcolor=(base_background + background).rich_color)
        filters = self.get_line_filters()
        x1, x2 = crop.column_span
        strips: list[Strip] = []
        for y in crop.line_range:
            if y < content_height:
                strip = self._row_strip(y, row_width)
                # Usually the compositor asks for exactly the rows' width (the scroll
                # bar, when shown, is drawn beside them): nothing to pad or cut then.
                if (x1, x2) != (0, strip.cell_length):
                    strip = strip.adjust_cell_length(width, inner).crop(x1, x2)
            else:
                strip = Strip.blank(width, inner).crop(x1, x2)
            for line_filter in filters:
                strip = strip.apply_filter(line_filter, background)
            strips.append(strip)
        return strips

    def render_line(self, y: int) -> Strip:
        """Render one visible row (the line API entry point)."""
        return self._row_strip(y, self.scrollable_content_region.width)

    def _row_strip(self, y: int, width: int) -> Strip:
        row = y + self.scroll_offset.y
        paint = self.paint
        base = paint.base
        _history, views, _end = self._shown()
        if not views:
            # Wrapped, not cut: a reason why a model cannot run here is a sentence.
            lines = textwrap.wrap(self._placeholder, max(10, width - 4))
            if 1 <= y <= len(lines):
                text = f"  {lines[y - 1]}"
                bold = paint.on_base(Style(bold=True))
                return Strip([Segment(text, bold)]).crop_extend(0, width, base)
            return Strip.blank(width, base)
        if row >= len(self._rows):
            return Strip.blank(width, base)
        key = self._keys[row] if row < len(self._keys) else None
        cached = self._cache.get(row)
        if cached is not None and cached[0] == key:
            return cached[1]
        kind, index, sub = self._rows[row]
        shared = self._extra_rows.get((kind, index)) if sub else None
        if shared is not None and shared[0] == key:
            self._cache[row] = shared
            return shared[1]
        if kind != "actor":
            view = views[index]
            cells, cores = self._cells.get(view.worker_id, (view.lane, b""))
            assert key is not None
            # One shifter per lane: its rows show the same cells, so the second row
            # built in a frame gets the first one's segments as they are.
            shifter = self._shifters.get((kind, index))
            if shifter is None:
                shifter = self._shifters[(kind, index)] = ShiftingRuns()
            strip = self.render_row(
                view,
                width,
                cells=cells,
                cores=cores if self.model == "process" else b"",
                unconfirmed=int(key[5]),  # type: ignore[call-overload]
                first_row=sub == 0,
                shifter=shifter,
                start=self._first_cell,
                paint=paint,
            )
        else:
            strip = self.render_actor(width, sub, paint)
        if key is not None:
            self._cache[row] = (key, strip)
            if sub:
                self._extra_rows[(kind, index)] = (key, strip)
        # The widget's background is in every segment already (applied as each segment
        # is made, and the caches are cleared when it changes: see _restyle).
        return strip

    def render_actor(self, width: int, sub: int = 0, paint: Paint | None = None) -> Strip:
        """The baton lane (threads) or the event-loop lane (asyncio)."""
        paint = paint or Paint.plain()
        cells = self.timeline_width(width)
        name = "GIL holder" if self.model == "thread" else "event loop"
        label = (name if sub == 0 else "").ljust(LABEL_WIDTH + CORE_WIDTH)
        segments = [Segment(label, paint.on_base(Style(bold=True)))]
        marks = self._actor[-cells:]
        if len(marks) < cells:
            segments.append(Segment(" " * (cells - len(marks)), paint.base))
        for (char, state), run in groupby(marks):
            look = paint.actor_look(state, char not in (NOBODY, " "))
            segments.append(Segment(char * len(list(run)), look))
        return _exact_strip(segments, cell_len(label) + max(cells, len(marks)), width, paint.base)

    def render_row(
        self,
        view: WorkerView,
        width: int,
        *,
        cells: bytes | None = None,
        cores: bytes = b"",
        unconfirmed: int | None = None,
        first_row: bool = True,
        shifter: ShiftingRuns | None = None,
        start: int = 0,
        paint: Paint | None = None,
    ) -> Strip:
        """Build the strip of one worker's row (label, core, timeline, items done).

        Args:
            view: The worker.
            width: Cells available.
            cells: The states to draw (default: the newest of the view's own lane).
            cores: The core of each cell (processes): running cells show its digit.
            unconfirmed: How many newest cells to draw faint (default: the view's).
            first_row: False for the extra rows of a tall lane (no label, no count).
            shifter: The row's previous segments, shifted instead of rebuilt.
            start: The absolute cell of the first timeline cell (for ``shifter``).
            paint: The widget's style and colour conversion, applied here (once a
                segment is made, not each frame) instead of over the whole strip.

        Returns:
            A strip exactly ``width`` cells long.
        """
        count = self.timeline_width(width)
        lane = (view.lane if cells is None else cells)[-count:]
        cores = cores[-count:] if cores else b""
        label = (view.label[: LABEL_WIDTH - 1] if first_row else "").ljust(LABEL_WIDTH)

        paint = paint or Paint.plain()
        base = paint.base
        look = paint.on_base

        segments = [Segment(label, look(style(view.state) + Style(bold=True)))]
        core = "" if view.core is None or not first_row else f"c{view.core}"
        segments.append(Segment(core[: CORE_WIDTH - 1].ljust(CORE_WIDTH), look(_DIM)))
        pad = count - len(lane)
        if pad > 0:
            # A young lane is right-aligned: the newest state is always at the right edge.
            segments.append(Segment(" " * pad, base))
        # The newest cells that only repeat the last state reported are drawn faint:
        # no event or sample has confirmed them yet.
        faint = view.lane_unconfirmed if unconfirmed is None else unconfirmed
        faint = min(len(lane), faint)
        confirmed = len(lane) - faint
        key = _run_key(lane, cores[-len(lane) :] if cores else b"")
        if shifter is not None:
            segments.extend(shifter.update(start + pad, key, confirmed, paint))
        else:
            segments.extend(_segment(run, paint) for run in _runs(key, confirmed))
        count_width = self._count_width(width)
        count_text = ""
        if count_width:
            count_text = f"{view.items_done:>{count_width}}" if first_row else " " * count_width
            segments.append(Segment(count_text, look(_DIM)))
        return _exact_strip(
            segments,
            cell_len(label) + CORE_WIDTH + max(0, pad) + len(lane) + len(count_text),
            width,
            base,
        )


def _exact_strip(segments: list[Segment], cells: int, width: int, base: Style | None) -> Strip:
    """A strip of ``width`` cells from segments known to fill ``cells`` (every state
    glyph and actor mark is one cell wide, which a test checks): measuring every segment
    again, as cropping does, was a tenth of the lanes' cost."""
    if cells == width:
        return Strip(segments, width)
    return Strip(segments).crop_extend(0, width, base)


_CORE_MARK = Style(reverse=True, bold=True)
_CORE_KEY = 100
"""In a row's run key, a running cell on core c is ``_CORE_KEY + c`` (states are < 8)."""
_RUNS = re.compile(rb"(.)\1*", re.S)


@lru_cache(maxsize=1024)
def _look_in(key: int, faint: bool, generation: int) -> tuple[str, Style]:
    """The glyph and style of one run key (a state, or a running cell's core)."""
    # ``generation`` names the style table (the app's theme): a look cached under one
    # theme, or in another app, is never served under this one.
    if key >= _CORE_KEY:
        text, look = _SYMBOLS[(key - _CORE_KEY) % len(_SYMBOLS)], style(_RUNNING) + _CORE_MARK
    else:
        text, look = glyph(key), style(key)
    return text, look + _FAINT if faint else look


def _run_key(lane: bytes, cores: bytes) -> bytes:
    """One byte a cell, equal for cells drawn alike: the state, or for a running cell
    with a known core, ``_CORE_KEY`` + the core."""
    if not cores:
        return lane
    return bytes(
        [
            _CORE_KEY + c if s == _RUNNING and c != NO_CORE and c < 155 else s
            for s, c in zip(lane, cores, strict=False)
        ]
    )


Run = tuple[int, int, int, bool]
"""(first cell, cell after the last, run key, faint) of one segment of a timeline."""


def _runs(key: bytes, confirmed: int, offset: int = 0) -> list[Run]:
    """The runs of equal cells of ``key`` (found by a regex, in C), split where the
    faint (unconfirmed) cells begin; cell positions shifted by ``offset``."""
    runs: list[Run] = []
    for match in _RUNS.finditer(key):
        a, b = match.span()
        value = key[a]
        if a < confirmed < b:
            runs.append((a + offset, confirmed + offset, value, False))
            a = confirmed
        runs.append((a + offset, b + offset, value, a >= confirmed))
    return runs


def _segment(run: Run, paint: Paint) -> Segment:
    a, b, value, faint = run
    text, look = _look_in(value, faint, paint.generation)
    return Segment(text * (b - a), paint.on_base(look))


def _converted(
    look: Style, truecolor: ANSIToTruecolor | None, background: RichColor | None
) -> Style:
    """``look`` as the app's ANSI-to-truecolor filter would leave it (no filter: as is)."""
    if truecolor is None or background is None:
        return look
    return truecolor.truecolor_style(look, background)


@dataclass(frozen=True, eq=False)
class Paint:
    """How a row's segments are styled: on the widget's own style (its background), with
    colours converted as the app's ANSI-to-truecolor filter converts them.

    Textual runs that filter over every segment of every line it draws; with lanes
    filling the screen ten times a second it was the UI's largest single cost. Lanes
    take it out of their filters (see :meth:`WorkerLanes.get_line_filters`) and convert
    each style once, when it is first combined, so the terminal gets the same colours.
    """

    base: Style | None
    truecolor: ANSIToTruecolor | None = None
    background: RichColor | None = None
    generation: int = 0
    """The state style table the looks come from (see :func:`style_generation`): read
    once here, not once a segment (it is a look-up in the app's weak table)."""

    looks: dict[object, Style] = field(default_factory=dict, compare=False, repr=False)
    """Combined looks made so far. A paint lives until the widget's style changes, so
    its looks never outlive their theme; a dict on it is cheaper than a cache keyed
    by the paint, whose hash covers every field."""

    @classmethod
    def plain(cls) -> Paint:
        """No widget style and no conversion, in the current style table."""
        return cls(None, generation=style_generation())

    def on_base(self, look: Style) -> Style:
        """``look`` over the widget's style, converted."""
        if self.base is None:
            return look
        found = self.looks.get(look)
        if found is None:
            found = self.looks[look] = _converted(self.base + look, self.truecolor, self.background)
        return found

    def actor_look(self, state: int, solid: bool) -> Style:
        """An actor lane's cell: the state's style, reversed where someone held it."""
        key = (state, solid)
        found = self.looks.get(key)
        if found is None:
            found = self.looks[key] = self.on_base(style(state) + Style(reverse=solid))
        return found


class ShiftingRuns:
    """A row's timeline segments, shifted rather than rebuilt when the window moves on.

    Live, each snapshot moves a lane's window a cell or two to the right and changes
    only its newest cells (relabelled as measurements arrive). The segments of the
    cells the old and new window share and agree on are kept as they are (positions
    are absolute cells, so nothing is renumbered; the run cut by the left edge is
    made again); only the rest is scanned and styled. Segments carry the widget's
    base style, so a new base (a theme change) starts afresh.
    """

    def __init__(self) -> None:
        self.start = 0
        self.key = b""
        self.confirmed = 0
        self.paint: Paint | None = None
        self.runs: list[Run] = []
        self.ends: list[int] = []
        self.segments: list[Segment] = []

    def _agree(self, start: int, key: bytes, confirmed: int) -> int:
        """How many leading cells of ``key`` the previous window drew the same, solid."""
        shift = start - self.start
        if not 0 <= shift < len(self.key):
            return 0
        limit = min(len(self.key) - shift, len(key), self.confirmed - shift, confirmed)
        if limit <= 0:
            return 0
        if key[:limit] == self.key[shift : shift + limit]:
            return limit
        lo, hi = 0, limit  # the longest agreeing prefix, by halving (compares run in C)
        while lo < hi:
            mid = (lo + hi + 1) // 2
            if key[:mid] == self.key[shift : shift + mid]:
                lo = mid
            else:
                hi = mid - 1
        return lo

    def update(self, start: int, key: bytes, confirmed: int, paint: Paint) -> list[Segment]:
        """The segments of ``key``, whose first cell is absolute cell ``start``."""
        same = (start, confirmed, key) == (self.start, self.confirmed, self.key)
        if same and paint is self.paint:
            return self.segments  # a tall lane's other row, in the same frame
        keep = self._agree(start, key, confirmed) if paint is self.paint else 0
        runs: list[Run] = []
        segments: list[Segment] = []
        if keep:
            stop = start + keep
            first = bisect_right(self.ends, start)
            last = bisect_left(self.ends, stop)  # the run holding the last kept cell
            runs = self.runs[first : last + 1]
            segments = self.segments[first : last + 1]
            a, b, value, faint = runs[0]
            if a < start:
                runs[0] = (start, b, value, faint)
                segments[0] = _segment((start, b, value, faint), paint)
            a, b, value, faint = runs[-1]
            if b > stop:
                runs[-1] = (a, stop, value, faint)
                segments[-1] = _segment(runs[-1], paint)
        tail = _runs(key[keep:], max(0, confirmed - keep), start + keep)
        if runs and tail and runs[-1][2:] == tail[0][2:]:
            runs[-1] = (runs[-1][0], tail[0][1], *tail[0][2:])
            segments[-1] = _segment(runs[-1], paint)
            tail = tail[1:]
        runs.extend(tail)
        segments.extend(_segment(run, paint) for run in tail)
        self.start, self.key, self.confirmed, self.paint = start, key, confirmed, paint
        self.runs, self.segments = runs, segments
        self.ends = [run[1] for run in runs]
        return segments


def _first_fit(width: int, *texts: str) -> str:
    """The first of ``texts`` that fits ``width`` cells (the last one, cut, if none)."""
    for text in texts:
        if len(text) <= width:
            return text
    return texts[-1][:width]


def describe_actor(model: str, width: int = 200) -> str:
    """The key to the actor lane, in the longest wording that fits ``width``."""
    if model == "thread":
        return _first_fit(
            width,
            f"GIL holder: n = thread n ran (held the GIL) · {BATON_RELEASED} several ran on "
            f"different cores: GIL released (C code) · {BATON_SHARED} took turns with it · "
            f"{NOBODY} nobody running",
            f"GIL: n = thread n holds it · {BATON_RELEASED} released (C code) · "
            f"{BATON_SHARED} turns · {NOBODY} nobody",
            f"GIL: n holds · {BATON_RELEASED} released · {NOBODY} nobody",
        )
    if model == "async":
        return _first_fit(
            width,
            f"event loop: n = task n running on it · {LOOP_SEVERAL} several took turns · "
            f"{NOBODY} waiting in the selector · red: blocked, the loop's lag grew",
            f"loop: n = task n runs · {LOOP_SEVERAL} several · {NOBODY} selector · red = blocked",
            f"loop: n task · {NOBODY} selector · red blocked",
        )
    wait = glyph(int(WorkerState.WAIT_CPU))
    return _first_fit(
        width,
        f"a running cell shows the digit of the core the process ran on · {wait} waiting "
        "for a free core",
        f"digit = the core it ran on · {wait} waiting for a core",
        f"digit = core · {wait} core wait",
    )

"""The lanes on the wire: a running experiment's marks as JSON lines, and their reader.

``conc-tui demo NAME --stream`` writes, on stderr, one line per batch (every
``timeline.FLUSH_S``, and once more when a variant ends)::

    lanes: {"variant": 0, "title": "broken: ...", "lanes": ["thread 1", ...],
            "marks": [[lane, seconds, "state", "detail"], ...], "bin_s": 0.01,
            "binned_s": 1.2, "now": [["lock", "waits for lock-2"], null, ...],
            "t": 1.25, "ended": false}

``variant`` counts the experiment's variants from 0; ``t`` is the seconds since the
variant began when the batch was sent. The marks are not the workers' own but their
lanes binned (``timeline.BIN_S``): a mark where a lane's dominant state changes from
one bin to the next, at the bin's start, so a batch holds at most lanes × bins marks
however fast the workers mark. The bins sent so far cover the variant up to
``binned_s``; ``now`` is each lane's own last state and detail, which the reader
draws from there to ``t``. The reader (:class:`Timelines`) keeps each variant's lanes
and turns them into cells for drawing; a line it cannot read is ignored, and its
reason kept.
"""

from __future__ import annotations

import json
import math
import threading
from bisect import bisect_right
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from conc_tui.hazards.timeline import (
    BIN_S,
    STATES_BY_NAME,
    LaneState,
    Mark,
    Recording,
    dominant,
)

LANES_PREFIX = "lanes: "
"""How ``conc-tui demo --stream`` marks its lane batches on stderr."""

NOTABLE = (LaneState.FAILED, LaneState.BLOCKED)
"""States rare and telling enough that a lane which had one is never folded out of
sight, and a summary lane shows them if any of its lanes had them."""


class StreamError(ValueError):
    """A line that is not a lane batch; the message says what is wrong with it."""


@dataclass(frozen=True)
class Batch:
    """One line of the stream, read."""

    variant: int
    title: str
    lanes: tuple[str, ...]
    marks: tuple[tuple[int, Mark], ...]
    t: float
    ended: bool
    binned_s: float | None = None
    """The bins sent cover the variant up to here (None: the marks are the workers' own)."""
    now: tuple[tuple[LaneState, str] | None, ...] = ()
    """Each lane's own last state and detail."""


def encode(recording: Recording, new: list[tuple[int, Mark]]) -> str:
    """The line for a recording's new bins (:meth:`Recording.take_bins`; the prefix
    included, no newline)."""
    document = {
        "variant": recording.index,
        "title": recording.title,
        "lanes": list(recording.names),
        "marks": [[lane, round(t, 6), state.value, detail] for lane, (t, state, detail) in new],
        "bin_s": BIN_S,
        "binned_s": round(recording.binned_s, 6),
        "now": [None if now is None else [now[0].value, now[1]] for now in recording.now()],
        "t": round(recording.elapsed(), 6),
        "ended": recording.ended_at is not None,
    }
    return LANES_PREFIX + json.dumps(document, separators=(",", ":"))


def _number(value: Any, what: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise StreamError(f"{what} must be a finite number of seconds, got {value!r:.40}")
    return float(value)


def _mark(item: Any, lanes: int) -> tuple[int, Mark]:
    if not isinstance(item, list) or len(item) != 4:
        raise StreamError(f"a mark must be [lane, seconds, state, detail], got {item!r:.60}")
    lane, t, state, detail = item
    if isinstance(lane, bool) or not isinstance(lane, int) or not 0 <= lane < lanes:
        raise StreamError(f"a mark's lane must be one of 0..{lanes - 1}, got {lane!r:.20}")
    if state not in STATES_BY_NAME:
        raise StreamError(
            f"a mark's state must be one of {', '.join(STATES_BY_NAME)}, got {state!r:.20}"
        )
    if not isinstance(detail, str):
        raise StreamError(f"a mark's detail must be text, got {detail!r:.20}")
    return lane, (_number(t, "a mark's time"), STATES_BY_NAME[state], detail)


def _now(item: Any) -> tuple[LaneState, str] | None:
    if item is None:
        return None
    if (
        not isinstance(item, list)
        or len(item) != 2
        or item[0] not in STATES_BY_NAME
        or not isinstance(item[1], str)
    ):
        raise StreamError(f"a lane's now must be null or [state, detail], got {item!r:.60}")
    return STATES_BY_NAME[item[0]], item[1]


def parse(line: str) -> Batch:
    """Read one line of the stream (with or without its prefix).

    Raises:
        StreamError: naming what is wrong, for anything but a well-formed batch.
    """
    text = line.removeprefix(LANES_PREFIX).strip()
    try:
        document = json.loads(text)
    except json.JSONDecodeError as error:
        raise StreamError(f"a lane batch must be one JSON object: {error.msg}") from None
    except RecursionError:
        raise StreamError("a lane batch must be one flat JSON object, not nested") from None
    if not isinstance(document, dict):
        raise StreamError("a lane batch must be a JSON object")
    missing = {"variant", "title", "lanes", "marks", "t", "ended"} - set(document)
    if missing:
        raise StreamError(f"a lane batch lacks {', '.join(sorted(missing))}")
    variant, title, lanes = document["variant"], document["title"], document["lanes"]
    if isinstance(variant, bool) or not isinstance(variant, int) or not 0 <= variant < 100:
        raise StreamError(f"variant must be a number from 0 to 99, got {variant!r:.20}")
    if not isinstance(title, str):
        raise StreamError("title must be text")
    if not isinstance(lanes, list) or not all(isinstance(name, str) for name in lanes):
        raise StreamError("lanes must be a list of names")
    if not isinstance(document["marks"], list):
        raise StreamError("marks must be a list")
    if not isinstance(document["ended"], bool):
        raise StreamError("ended must be true or false")
    now = document.get("now", [])
    if not isinstance(now, list) or len(now) > len(lanes):
        raise StreamError("now must be a list with at most one entry per lane")
    binned = document.get("binned_s")
    return Batch(
        variant=variant,
        title=title,
        lanes=tuple(lanes),
        marks=tuple(_mark(item, len(lanes)) for item in document["marks"]),
        t=_number(document["t"], "t"),
        ended=document["ended"],
        binned_s=None if binned is None else _number(binned, "binned_s"),
        now=tuple(_now(item) for item in now),
    )


@dataclass
class VariantTimeline:
    """Everything received so far about one variant's lanes."""

    title: str
    names: list[str] = field(default_factory=list)
    marks: list[list[Mark]] = field(default_factory=list)
    """Per lane, in time order."""
    t: float = 0.0
    """Seconds from the variant's start to the last batch (its end, once ended)."""
    ended: bool = False
    notable: set[int] = field(default_factory=set)
    """Lanes that failed or blocked their loop at some point."""
    binned_s: float | None = None
    """The marks are bins up to here; from here to :attr:`t` a lane is in its state
    :attr:`now` (None: the marks are the workers' own, to the end)."""
    now: list[tuple[LaneState, str] | None] = field(default_factory=list)
    ending: str | None = None
    """How the variant ended when it did not end by itself (its process died)."""
    _cells: dict[tuple[Any, ...], list[LaneState | None]] = field(
        default_factory=dict, repr=False, compare=False
    )
    """Summary cells already cut, by lanes, size and how much was known."""
    _closed: dict[
        tuple[int, int, float],
        tuple[int, list[dict[LaneState, float] | None], list[LaneState | None]],
    ] = field(default_factory=dict, repr=False, compare=False)
    """Per lane and size: how many marks' spans are added up, the sums per cell, and
    the cells no later mark can change, picked."""
    _final: dict[tuple[Any, ...], list[LaneState | None]] = field(
        default_factory=dict, repr=False, compare=False
    )
    """Per lanes and size: the summary cells no later mark can change."""
    _ended_cells: dict[tuple[int, int, float], list[LaneState | None]] = field(
        default_factory=dict, repr=False, compare=False
    )
    """Per lane and size, once the variant ended: its cells."""

    def add(self, batch: Batch) -> None:
        """Fold a batch in."""
        self.title = batch.title
        while len(self.names) < len(batch.lanes):
            self.names.append(batch.lanes[len(self.names)])
            self.marks.append([])
        touched = set()
        for lane, mark in batch.marks:
            marks = self.marks[lane]
            if marks and mark[0] < marks[-1][0]:
                touched.add(lane)
            if mark[1] in NOTABLE:
                self.notable.add(lane)
            marks.append(mark)
        for lane in touched:  # a worker's marks come in order; this is only a safeguard
            self.marks[lane].sort(key=lambda mark: mark[0])
            self._closed, self._final = {}, {}
        self.t = max(self.t, batch.t)
        self.ended = self.ended or batch.ended
        if batch.binned_s is not None:
            self.binned_s = max(self.binned_s or 0.0, batch.binned_s)
        for lane, now in enumerate(batch.now):
            while len(self.now) <= lane:
                self.now.append(None)
            self.now[lane] = now
            if now is not None and now[0] in NOTABLE:
                self.notable.add(lane)

    def abandon(self, how: str) -> None:
        """The variant's process died before the variant ended: it ends here, as the
        lanes last showed it, and ``how`` says how it ended."""
        if not self.ended:
            self.ended = True
            self.ending = how

    @classmethod
    def of(cls, recording: Recording) -> VariantTimeline:
        """A recording's lanes as the screen would receive them (the tests read these)."""
        recording.collect()
        marks = [sorted(marks, key=lambda mark: mark[0]) for marks in recording.marks]
        return cls(
            title=recording.title,
            names=list(recording.names),
            marks=marks,
            t=recording.elapsed(),
            ended=recording.ended_at is not None,
            notable={n for n, lane in enumerate(marks) if any(m[1] in NOTABLE for m in lane)},
        )

    def copy(self) -> VariantTimeline:
        """A copy that later batches do not change (sharing the sums already made)."""
        twin = VariantTimeline(
            self.title,
            list(self.names),
            [list(m) for m in self.marks],
            self.t,
            self.ended,
            set(self.notable),
            self.binned_s,
            list(self.now),
            self.ending,
        )
        twin._closed, twin._final = self._closed, self._final
        return twin

    def _tail(self, lane: int) -> Mark | None:
        """Where the bins end, the lane's own last state, when it differs from the
        last bin's (it lasts to :attr:`t`)."""
        if self.binned_s is None or lane >= len(self.now):
            return None
        now, marks = self.now[lane], self.marks[lane]
        if now is None or (marks and (marks[-1][1], marks[-1][2]) == now):
            return None
        # At the end it may last no time at all: the last bin shows what dominated it,
        # but the lane still ends in the state the worker ended in.
        return (min(self.t, max(self.binned_s, marks[-1][0] if marks else 0.0)), *now)

    def spans(self, lane: int) -> list[tuple[float, float, LaneState, str]]:
        """The lane as (start, end, state, detail): each mark lasts until the next."""
        tail = self._tail(lane)
        marks = self.marks[lane] + ([tail] if tail else [])
        ends = [mark[0] for mark in marks[1:]] + ([self.t] if marks else [])
        return [
            (t, max(t, end), state, detail)
            for (t, state, detail), end in zip(marks, ends, strict=True)
        ]

    def state_at(self, lane: int, t: float) -> tuple[LaneState, str] | None:
        """The lane's state and detail at ``t`` seconds, None before its first mark."""
        tail = self._tail(lane)
        if tail is not None and t >= tail[0]:
            return tail[1], tail[2]
        marks = self.marks[lane]
        at = bisect_right(marks, t, key=lambda mark: mark[0])
        return (marks[at - 1][1], marks[at - 1][2]) if at else None

    def cells(self, lane: int, columns: int, cell_s: float) -> list[LaneState | None]:
        """The lane cut into ``columns`` cells of ``cell_s`` seconds from the start.

        A cell shows the state that dominated it (:func:`timeline.dominant`: what
        the worker did most, unless it did anything at all there rather than wait; a
        failure wherever it happened). None: no mark yet, or past the variant's end.
        """
        marks = self.marks[lane]
        key = (lane, columns, cell_s)
        if self.ended and key in self._ended_cells:
            # Nothing changes an ended variant: its cells are cut once per size.
            return self._ended_cells[key]
        # Spans between two marks never change once both are known: they are added up
        # once and kept; each call adds the spans that closed since, and the open one.
        closed, totals, picked = self._closed.get(key, (0, [None] * columns, []))
        totals = list(totals)
        count = len(marks)
        for n in range(closed, count - 1):
            _add_span(totals, marks[n][0], marks[n + 1][0], marks[n][1], cell_s)
        if count:
            start, state, _detail = marks[-1]
            # Every later span starts at or after the last mark: the cells before it
            # are final, and picked once.
            final = min(columns, int(start / cell_s))
            if len(picked) < final:
                picked = picked + [dominant(c) if c else None for c in totals[len(picked) : final]]
            self._closed[key] = (max(closed, count - 1), totals, picked)
            end = max(start, self.t)
            # The open span (and the lane's own state after the bins) is added to
            # copies of the cells it covers, not to the sums.
            open_cells = list(totals)
            for column in range(int(start / cell_s), min(columns, int(end / cell_s) + 1)):
                cell = open_cells[column]
                open_cells[column] = None if cell is None else dict(cell)
            tail = self._tail(lane)
            if tail is None:
                _add_span(open_cells, start, end, state, cell_s)
            else:
                _add_span(open_cells, start, tail[0], state, cell_s)
                _add_span(open_cells, tail[0], end, tail[1], cell_s)
            totals = open_cells
        cells = picked + [dominant(cell) if cell else None for cell in totals[len(picked) :]]
        if self.ended:
            self._ended_cells[key] = cells
        return cells

    def summary_cells(
        self, lanes: Sequence[int], columns: int, cell_s: float
    ) -> list[LaneState | None]:
        """Many lanes in one: each cell shows what most of them showed there, or a
        failure or a blocked loop if any of them had one."""
        known = (len(self.marks[lane]) for lane in lanes)
        key = (tuple(lanes), columns, cell_s, sum(known), self.t)
        cached = self._cells.get(key)
        if cached is not None:
            return cached
        per_lane = [self.cells(lane, columns, cell_s) for lane in lanes]
        # Columns before every lane's last mark are final (see cells): counted once.
        final_key = (tuple(lanes), columns, cell_s)
        result = list(self._final.get(final_key, []))
        for column in range(len(result), columns):
            seen = Counter(cells[column] for cells in per_lane if cells[column] is not None)
            notable = [state for state in NOTABLE if seen[state]]
            result.append(notable[0] if notable else seen.most_common(1)[0][0] if seen else None)
        final = min(
            (int(self.marks[lane][-1][0] / cell_s) if self.marks[lane] else 0 for lane in lanes),
            default=0,
        )
        if final > len(self._final.get(final_key, [])):
            self._final[final_key] = result[: min(final, columns)]
        self._cells[key] = result
        return result


def _add_span(
    totals: list[dict[LaneState, float] | None],
    start: float,
    end: float,
    state: LaneState,
    cell_s: float,
) -> None:
    columns = len(totals)
    first = int(start / cell_s)
    if first >= columns:
        return
    last = min(columns - 1, int(end / cell_s))
    for column in range(max(0, first), last + 1):
        # Zero-length marks still count: the worker was in that state there.
        share = max(min(end, (column + 1) * cell_s) - max(start, column * cell_s), 1e-9)
        cell = totals[column]
        if cell is None:
            totals[column] = {state: share}
        else:
            cell[state] = cell.get(state, 0.0) + share


class Timelines:
    """Every variant of the running experiment, fed line by line from a reader thread."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._variants: dict[int, VariantTimeline] = {}
        self.rejected: list[str] = []
        """Why each line that could not be read was ignored."""

    def feed(self, line: str) -> bool:
        """Fold one line in; False (and the reason kept) when it is not a lane batch."""
        try:
            batch = parse(line)
        except StreamError as error:
            with self._lock:
                self.rejected.append(str(error))
            return False
        with self._lock:
            variant = self._variants.setdefault(batch.variant, VariantTimeline(batch.title))
            variant.add(batch)
        return True

    def abandon(self, how: str) -> None:
        """The experiment's process is gone: every variant still running ended there,
        and ``how`` says how (its exit status or signal, in one sentence)."""
        with self._lock:
            for variant in self._variants.values():
                variant.abandon(how)

    def variants(self) -> list[VariantTimeline]:
        """The variants so far, in order, safe to draw from another thread: a copy of
        one still running; a finished one itself (nothing changes it any more, and the
        cells it cut stay cut)."""
        with self._lock:
            return [
                variant if variant.ended else variant.copy()
                for _, variant in sorted(self._variants.items())
            ]

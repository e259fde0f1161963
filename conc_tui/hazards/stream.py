"""The lanes on the wire: a running experiment's marks as JSON lines, and their reader.

``conc-tui demo NAME --stream`` writes, on stderr, one line per batch (every
``timeline.FLUSH_S``, and once more when a variant ends)::

    lanes: {"variant": 0, "title": "broken: ...", "lanes": ["thread 1", ...],
            "marks": [[lane, seconds, "state", "detail"], ...], "t": 1.25, "ended": false}

``variant`` counts the experiment's variants from 0; ``t`` is the seconds since the
variant began when the batch was sent; a mark's seconds are counted from the same
start. The reader (:class:`Timelines`) keeps each variant's lanes and turns them into
cells for drawing; a line it cannot read is ignored, and its reason kept.
"""

from __future__ import annotations

import json
import math
import threading
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from conc_tui.hazards.timeline import STATES_BY_NAME, LaneState, Mark, Recording

LANES_PREFIX = "lanes: "
"""How ``conc-tui demo --stream`` marks its lane batches on stderr."""

ACTIVE = (LaneState.RUNNING, LaneState.HOLDING, LaneState.BLOCKED)
"""States in which the worker is doing something; a cell where it did any of them,
however briefly, shows it rather than the wait around it."""
PASSIVE = (LaneState.WAIT_IO, LaneState.IDLE)


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


def encode(recording: Recording, new: list[tuple[int, Mark]]) -> str:
    """The line for a recording's new marks (the prefix included, no newline)."""
    document = {
        "variant": recording.index,
        "title": recording.title,
        "lanes": list(recording.names),
        "marks": [[lane, round(t, 6), state.value, detail] for lane, (t, state, detail) in new],
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
    return Batch(
        variant=variant,
        title=title,
        lanes=tuple(lanes),
        marks=tuple(_mark(item, len(lanes)) for item in document["marks"]),
        t=_number(document["t"], "t"),
        ended=document["ended"],
    )


@dataclass
class VariantTimeline:
    """Everything received so far about one variant's lanes."""

    title: str
    names: list[str] = field(default_factory=list)
    marks: list[list[Mark]] = field(default_factory=list)
    t: float = 0.0
    """Seconds from the variant's start to the last batch (its end, once ended)."""
    ended: bool = False

    def add(self, batch: Batch) -> None:
        """Fold a batch in."""
        self.title = batch.title
        while len(self.names) < len(batch.lanes):
            self.names.append(batch.lanes[len(self.names)])
            self.marks.append([])
        for lane, mark in batch.marks:
            self.marks[lane].append(mark)
        self.t = max(self.t, batch.t)
        self.ended = self.ended or batch.ended

    @classmethod
    def of(cls, recording: Recording) -> VariantTimeline:
        """A recording's lanes as the screen would receive them (the tests read these)."""
        recording.collect()
        return cls(
            title=recording.title,
            names=list(recording.names),
            marks=[list(marks) for marks in recording.marks],
            t=recording.elapsed(),
            ended=recording.ended_at is not None,
        )

    def spans(self, lane: int) -> list[tuple[float, float, LaneState, str]]:
        """The lane as (start, end, state, detail): each mark lasts until the next."""
        marks = sorted(self.marks[lane], key=lambda mark: mark[0])
        ends = [mark[0] for mark in marks[1:]] + ([self.t] if marks else [])
        return [
            (t, max(t, end), state, detail)
            for (t, state, detail), end in zip(marks, ends, strict=True)
        ]

    def state_at(self, lane: int, t: float) -> tuple[LaneState, str] | None:
        """The lane's state and detail at ``t`` seconds, None before its first mark."""
        found = None
        for start, _end, state, detail in self.spans(lane):
            if start > t:
                break
            found = (state, detail)
        return found

    def cells(self, lane: int, columns: int, cell_s: float) -> list[LaneState | None]:
        """The lane cut into ``columns`` cells of ``cell_s`` seconds from the start.

        A cell shows the state the worker spent most of it in, except that a worker
        that did anything at all in a cell (ran, held a lock, blocked the loop) shows
        that rather than an I/O wait or idleness around it: a task that makes a round
        trip every 10 ms runs for microseconds each time, and its lane must show it
        moving. A failure shows wherever it happened. None: no mark yet, or past the
        variant's end.
        """
        totals: list[dict[LaneState, float]] = [{} for _ in range(columns)]
        for start, end, state, _detail in self.spans(lane):
            first = int(start / cell_s)
            last = min(columns - 1, int(end / cell_s))
            for column in range(max(0, first), last + 1):
                lo, hi = column * cell_s, (column + 1) * cell_s
                share = min(end, hi) - max(start, lo)
                if share > 0 or start >= lo:
                    cell = totals[column]
                    cell[state] = cell.get(state, 0.0) + max(share, 1e-9)
        return [_pick(cell) for cell in totals]

    def summary_cells(self, lanes: range, columns: int, cell_s: float) -> list[LaneState | None]:
        """Many lanes in one: each cell shows what most of them showed there."""
        per_lane = [self.cells(lane, columns, cell_s) for lane in lanes]
        result: list[LaneState | None] = []
        for column in range(columns):
            seen = Counter(cells[column] for cells in per_lane if cells[column] is not None)
            result.append(seen.most_common(1)[0][0] if seen else None)
        return result


def _pick(cell: dict[LaneState, float]) -> LaneState | None:
    if not cell:
        return None
    if LaneState.FAILED in cell:
        return LaneState.FAILED
    most = max(cell, key=lambda state: cell[state])
    if most in PASSIVE:
        active = [state for state in ACTIVE if state in cell]
        if active:
            return max(active, key=lambda state: cell[state])
    return most


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

    def variants(self) -> list[VariantTimeline]:
        """Copies of the variants so far, in order (safe to draw from another thread)."""
        with self._lock:
            return [
                VariantTimeline(
                    title=variant.title,
                    names=list(variant.names),
                    marks=[list(marks) for marks in variant.marks],
                    t=variant.t,
                    ended=variant.ended,
                )
                for _, variant in sorted(self._variants.items())
            ]

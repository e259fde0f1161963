"""The hazard lab: the trade-offs as real experiments, broken and fixed side by side.

The list holds the experiments of :mod:`conc_tui.hazards.registry`; Enter runs the
highlighted one in a child process (``conc-tui demo NAME --json --stream``, see
:mod:`conc_tui.hazards.isolated`). While it runs, its workers are drawn as lanes from
the marks the child streams (each variant under the one before, on one time axis);
at the end come the sentence built from the figures and the figures themselves, the
broken variant beside the fixed one. Closing the screen
while an experiment runs kills it and its processes.
"""

from __future__ import annotations

import itertools
import math
import textwrap
import threading
import time
from dataclasses import dataclass
from typing import Any

from rich.console import Group, RenderableType
from rich.table import Table
from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, VerticalScroll
from textual.geometry import Size
from textual.message import Message
from textual.widget import Widget
from textual.widgets import OptionList, Static
from textual.widgets.option_list import Option

from conc_tui.hazards import registry
from conc_tui.hazards.base import Experiment
from conc_tui.hazards.isolated import Outcome, run_isolated
from conc_tui.hazards.report import cell_lines
from conc_tui.hazards.stream import Timelines, VariantTimeline
from conc_tui.hazards.timeline import LaneState
from conc_tui.screens.dialog import Dialog
from conc_tui.telemetry.states import WorkerState
from conc_tui.widgets.glyphs import STATE_GLYPHS, style

TICK_S = 0.25
"""How often a running experiment's lanes and elapsed time are redrawn."""

LANE_LOOKS: dict[LaneState, tuple[str, WorkerState]] = {
    LaneState.RUNNING: (STATE_GLYPHS[WorkerState.RUNNING], WorkerState.RUNNING),
    LaneState.WAIT_LOCK: (STATE_GLYPHS[WorkerState.WAIT_LOCK], WorkerState.WAIT_LOCK),
    LaneState.HOLDING: ("■", WorkerState.WAIT_LOCK),
    LaneState.BLOCKED: (STATE_GLYPHS[WorkerState.RUNNING], WorkerState.FAILED),
    LaneState.WAIT_IO: (STATE_GLYPHS[WorkerState.WAIT_IO], WorkerState.WAIT_IO),
    LaneState.WAIT_GIL: (STATE_GLYPHS[WorkerState.WAIT_GIL], WorkerState.WAIT_GIL),
    LaneState.WAIT_CPU: (STATE_GLYPHS[WorkerState.WAIT_CPU], WorkerState.WAIT_CPU),
    LaneState.IDLE: (STATE_GLYPHS[WorkerState.IDLE], WorkerState.IDLE),
    LaneState.DONE: (STATE_GLYPHS[WorkerState.DONE], WorkerState.DONE),
    LaneState.FAILED: (STATE_GLYPHS[WorkerState.FAILED], WorkerState.FAILED),
}
"""Each lane state in the main lanes' glyphs and theme colours; holding a lock is a
square in the lock colour, and a call that blocks the loop a running block in red."""

LEGEND = (
    (LaneState.RUNNING, "runs"),
    (LaneState.HOLDING, "holds a lock"),
    (LaneState.WAIT_LOCK, "lock wait"),
    (LaneState.WAIT_GIL, "GIL wait"),
    (LaneState.WAIT_CPU, "core wait"),
    (LaneState.WAIT_IO, "I/O wait"),
    (LaneState.BLOCKED, "blocks the loop"),
    (LaneState.IDLE, "idle"),
    (LaneState.DONE, "done"),
    (LaneState.FAILED, "failed"),
)
"""The legend's words, in its order; it names only the states on screen."""
LABEL_WIDTH = 14
AXIS_START_S = 0.25
AXIS_GROWTH = 1.25
MOST_LANES = 8
"""Lanes drawn per variant at most; more are drawn as a few and one summary lane."""


@dataclass
class HazardStep(Message):
    """The running experiment started another variant (posted from a reader thread)."""

    name: str
    text: str


@dataclass
class HazardDone(Message):
    """An experiment's outcome arrived (posted from the worker thread)."""

    outcome: Outcome


def _cell(value: Any) -> RenderableType:
    return Text("\n".join(cell_lines(value)))


def cycle_lines(data: dict[str, Any]) -> list[Text]:
    """Each wait-for cycle in the figures, drawn as the chain of waits it is."""
    lines = []
    for key, variant in data.items():
        edges = variant.get("cycle") if isinstance(variant, dict) else None
        if not edges:
            continue
        waits = [f"{edge['waits_for']} held by {edge['held_by']}" for edge in edges]
        text = f"{edges[0]['worker']} waits for " + ", which waits for ".join(waits)
        label = f"{variant.get('kind', key)} wait-for cycle: "
        lines.append(Text.assemble((label, "bold red"), text, " (back to the start)"))
    return lines


def start_method_line(name: str, method: str) -> str:
    """How this run started its processes, and why, where its figures depend on it:
    the lab streams its lanes from a thread, so its experiments spawn where the plain
    ``conc-tui demo NAME`` forks, and a start-up figure read beside the CLI's must say so."""
    if name == "memory":
        return (
            f"processes started by {method}, here as in `conc-tui demo`: a forked child "
            "would share its parent's pages"
        )
    if method == "spawn":
        return (
            "processes started by spawn: the lab streams its lanes from a thread, and "
            "forking a process with threads is unsafe; `conc-tui demo` alone forks, "
            "so its start-up figures differ"
        )
    return f"processes started by {method}"


def figures_table(data: dict[str, Any]) -> Table:
    """The variants (every dict-valued figure) as columns, their fields as rows."""
    variants = [key for key, value in data.items() if isinstance(value, dict)]
    table = Table(box=None, padding=(0, 1), expand=False)
    table.add_column("")
    for key in variants:
        style = "bold red" if "broken" in key else "bold green" if key == "fixed" else "bold"
        table.add_column(key.replace("_", " "), header_style=style)
    rows: dict[str, None] = {}
    for key in variants:
        rows.update(dict.fromkeys(data[key]))
    for row in rows:
        table.add_row(row, *(_cell(data[key].get(row)) for key in variants))
    return table


def _lane_text(cells: list[LaneState | None]) -> Text:
    text = Text(no_wrap=True, overflow="crop")
    # One span per run of equal cells, not per cell: fewer segments to draw.
    for state, run in itertools.groupby(cells):
        width = len(list(run))
        if state is None:
            text.append(" " * width)
        else:
            glyph, look = LANE_LOOKS[state]
            text.append(glyph * width, style(int(look)))
    return text


def _no_wrap(text: Text) -> Text:
    text.no_wrap, text.overflow = True, "crop"
    return text


def _variant_style(title: str) -> str:
    if title.startswith("broken"):
        return "bold red"
    return "bold green" if title.startswith("fixed") else "bold"


def _now_lines(variant: VariantTimeline, lanes: list[int], width: int) -> list[Text]:
    """What the drawn workers are doing at the variant's last moment, in their words:
    one row, or two where one would cut a worker's words off (a running variant only:
    its rows are counted for that)."""
    kinds = {variant.names[lane].rpartition(" ")[0] for lane in lanes}
    # "thread A", "thread B" are said as "A", "B" when the lanes are all threads (not
    # "task 3" as "3").
    short = len(kinds) == 1 and "" not in kinds
    short = short and all(variant.names[lane][-1].isalpha() for lane in lanes)
    said = []
    for lane in lanes:
        found = variant.state_at(lane, variant.t)
        if found is not None and found[1]:
            name = variant.names[lane].rpartition(" ")[2] if short else variant.names[lane]
            said.append(f"{name}: {found[1]}")
    if not said:
        return []
    label = "at the end  " if variant.ended else "now  "
    rows = [Text(label, style="dim", no_wrap=True, overflow="ellipsis")]
    for words in said:
        row = rows[-1]
        gap = " · " if row.cell_len > len(label) else ""
        if row.cell_len + len(gap) + len(words) > width and gap and not variant.ended:
            if len(rows) == 2:
                break
            rows.append(Text(" " * len(label), no_wrap=True, overflow="ellipsis"))
            row, gap = rows[-1], ""
        row.append(gap + words)
    for row in rows:
        row.truncate(width, overflow="ellipsis")
    return rows


def _shown_lanes(variant: VariantTimeline, most: int) -> tuple[list[int], list[int]]:
    """The lanes drawn one by one (a lane that failed or blocked first), and the rest."""
    count = len(variant.names)
    if count <= most:
        return list(range(count)), []
    notable = sorted(variant.notable)
    ordinary = [lane for lane in range(count) if lane not in notable]
    shown = sorted((notable + ordinary)[: most - 1])
    return shown, [lane for lane in range(count) if lane not in shown]


def _summary_name(variant: VariantTimeline, rest: list[int]) -> str:
    """ "task 4" … "task 50" read as "tasks 4–50"; a broken run of them as "tasks ×47"."""
    first, last = variant.names[rest[0]], variant.names[rest[-1]]
    kind, _, number = first.rpartition(" ")
    if not kind:
        return f"{first}–{last}"
    plural = f"{kind}es" if kind.endswith("s") else f"{kind}s"
    if rest == list(range(rest[0], rest[-1] + 1)):
        return f"{plural} {number}–{last.rpartition(' ')[2]}"
    return f"{plural} ×{len(rest)}"


def _heading(variant: VariantTimeline, width: int) -> list[Text]:
    """The variant's title, how long it ran and whether it runs still, in one row; a
    variant whose process died says how it ended in full, in as many rows as it takes."""
    title = (variant.title, _variant_style(variant.title))
    if not variant.ending:
        status = "done" if variant.ended else "running"
        heading = Text.assemble(title, (f"  {variant.t:.2f} s, {status}", "dim"))
        heading.truncate(width, overflow="ellipsis")
        return [_no_wrap(heading)]
    ending = f"ended at {variant.t:.2f} s: {variant.ending}"
    heading = Text.assemble(title, "  ", (ending, "bold red"))
    if heading.cell_len <= width:
        return [_no_wrap(heading)]
    first = Text.assemble(title)
    first.truncate(width, overflow="ellipsis")
    rest = [_no_wrap(Text(row, style="bold red")) for row in textwrap.wrap(ending, width)]
    return [_no_wrap(first), *rest]


def lanes_lines(variants: list[VariantTimeline], width: int, height: int = 100) -> list[Text]:
    """Every variant's workers as lanes, one above the other on one time axis.

    ``width`` is the columns to fill; ``height`` the rows the lanes may take, so that
    many workers are drawn as a few lanes and one summary lane rather than scrolled.
    """
    if not variants:
        return []
    # The axis grows in steps of a quarter, not with every frame: finished variants
    # keep their cells (cut once per step) while the running one grows into the room.
    longest = max(0.05, *(variant.t for variant in variants))
    span = AXIS_START_S * AXIS_GROWTH ** math.ceil(math.log(longest / AXIS_START_S, AXIS_GROWTH))
    columns = max(10, width - LABEL_WIDTH)
    cell_s = span / columns

    def rows(most: int, ends: bool = True) -> int:
        # A variant's heading, its lanes, and what its workers do: two rows while it
        # runs, one at its end (none when short of room).
        def said(variant: VariantTimeline) -> int:
            return 2 if not variant.ended else 1 if ends else 0

        return (
            sum(len(_heading(v, width)) + min(len(v.names), most) + said(v) for v in variants) + 3
        )

    most = next((m for m in range(MOST_LANES, 1, -1) if rows(m) <= height), 2)
    # Short of room even so, what finished variants were doing at the end gives way
    # (the figures say it too); what a running one does now stays.
    ends = rows(most) <= height
    lines: list[Text] = []
    drawn: set[LaneState | None] = set()

    def lane(label: Text, cells: list[LaneState | None]) -> Text:
        drawn.update(cells)
        return _no_wrap(label + _lane_text(cells))

    for variant in variants:
        lines += _heading(variant, width)
        lanes, rest = _shown_lanes(variant, most)
        for index in lanes:
            label = Text(f"{variant.names[index][: LABEL_WIDTH - 1]:<{LABEL_WIDTH}}")
            lines.append(lane(label, variant.cells(index, columns, cell_s)))
        if rest:
            name = _summary_name(variant, rest)
            label = Text(f"{name[: LABEL_WIDTH - 1]:<{LABEL_WIDTH}}", style="italic")
            lines.append(lane(label, variant.summary_cells(rest, columns, cell_s)))
        if ends or not variant.ended:
            lines += _now_lines(variant, lanes, width)
    scale = f"{span:.2f} s · a cell is {cell_s * 1000:.0f} ms"
    ruler = " " * LABEL_WIDTH + "0 s" + scale.rjust(max(0, columns - 3))
    lines.append(Text(ruler, style="dim", no_wrap=True, overflow="crop"))
    # The legend is wrapped here, so that every line drawn is one row of the screen.
    legend = Text()
    for state, words in LEGEND:
        if state not in drawn:
            continue
        glyph, look = LANE_LOOKS[state]
        entry = Text.assemble((glyph * 2, style(int(look))), f" {words}")
        if legend.cell_len and legend.cell_len + 2 + entry.cell_len > width:
            lines.append(legend)
            legend = Text()
        legend.append_text(Text("  ") + entry if legend.cell_len else entry)
    lines.append(legend)
    return lines


def lanes_part(
    experiment: Experiment,
    running_s: float | None,
    variants: list[VariantTimeline] | None,
    size: tuple[int, int],
) -> list[Text]:
    """The title, and under it the lanes and the running time: what changes while an
    experiment runs. One Text per row."""
    top = [Text(experiment.title, style="bold")]
    if variants:
        # Room is kept under the lanes for the verdict and the start of the sentence.
        top += lanes_lines(variants, size[0], size[1] - 4)
        if running_s is not None:
            top += [Text(""), Text(f"running for {running_s:.1f} s", style="italic")]
    return top


def result_part(
    experiment: Experiment,
    outcome: Outcome | None,
    running_s: float | None,
    steps: tuple[str, ...] = (),
    lanes: bool = False,
) -> list[RenderableType]:
    """Everything under the lanes: the result (sentence first) and what the experiment
    is; without lanes, what it is first, then the steps or the result."""
    about: list[RenderableType] = [
        Text.assemble(("the claim  ", "dim"), experiment.claim),
        Text.assemble(("broken     ", "bold red"), experiment.broken),
        Text.assemble(("fixed      ", "bold green"), experiment.fixed),
    ]
    parts: list[RenderableType] = [] if lanes else about
    parts.append(Text(""))
    if running_s is not None:
        # With lanes, the running time is drawn with them, and each variant's heading
        # says whether it runs or is done.
        if not lanes:
            parts.append(Text(f"running for {running_s:.1f} s", style="italic"))
            for n, text in enumerate(steps):
                mark = "▶ " if n == len(steps) - 1 else "✓ "
                parts.append(Text(mark + text, style="bold" if mark == "▶ " else "dim"))
    elif outcome is None:
        parts.append(Text("Enter runs it (each takes a few seconds).", style="dim"))
    elif outcome.document is None:
        parts.append(Text(f"no result: {outcome.error}", style="bold red"))
    else:
        document = outcome.document
        data: dict[str, Any] = document["figures"]
        scalars = {k: v for k, v in data.items() if not isinstance(v, dict)}
        figures: list[RenderableType] = [figures_table(data), *cycle_lines(data)]
        for key, value in scalars.items():
            if not isinstance(value, (list, tuple)) or value:
                text = " · ".join(cell_lines(value))
                figures.append(Text.assemble((f"{key.replace('_', ' ')}: ", "dim"), text))
        verdict = (
            f"hazard shown: {'yes' if document['hazard_shown'] else 'no'} · fixed variant "
            f"clean: {'yes' if document['fixed_clean'] else 'no'} · {document['elapsed_s']:.1f} s"
        )
        said = [Text(verdict, style="bold"), Text(document["sentence"])]
        method = data.get("start_method")
        if isinstance(method, str):
            said.append(Text(start_method_line(experiment.name, method), style="italic"))
        # Under the lanes the sentence comes first, where the eye already is; the
        # table of every figure follows.
        parts += [*said, Text(""), *figures] if lanes else [*figures, Text(""), *said]
    if lanes:
        parts += [Text(""), *about]
    return parts


def experiment_view(
    experiment: Experiment,
    outcome: Outcome | None,
    running_s: float | None,
    steps: tuple[str, ...] = (),
    variants: list[VariantTimeline] | None = None,
    size: tuple[int, int] = (80, 100),
) -> RenderableType:
    """Everything the right-hand side shows for one experiment, as the screen draws it:
    with lanes, they come first (under the title), then the result, then what the
    experiment is; ``size`` is the room the lanes have, in columns and rows."""
    return Group(
        *lanes_part(experiment, running_s, variants, size),
        *result_part(experiment, outcome, running_s, steps, bool(variants)),
    )


class LanesView(Widget):
    """The title and the lanes, one row per line, redrawn on every tick while an
    experiment runs without a new layout unless the number of rows changed."""

    DEFAULT_CSS = """
    LanesView {
        height: auto;
    }
    """

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.lines: list[Text] = []

    def show(self, lines: list[Text]) -> None:
        """Draw these lines (a changed count of them asks for a new layout)."""
        if lines == self.lines:
            return
        layout = len(lines) != len(self.lines)
        self.lines = lines
        self.refresh(layout=layout)

    def render(self) -> RenderableType:
        """The lines, cropped at the width rather than wrapped."""
        text = Text("\n", no_wrap=True, overflow="crop").join(self.lines)
        text.no_wrap, text.overflow = True, "crop"
        return text

    def get_content_height(self, container: Size, viewport: Size, width: int) -> int:
        """One row per line."""
        return len(self.lines)


class HazardScreen(Dialog):
    """Lists the experiments; runs the chosen one and shows what it measured."""

    BINDINGS = [
        Binding("escape,h", "close_hazards", "Close"),
    ]

    DEFAULT_CSS = """
    HazardScreen > Horizontal {
        width: 160;
        max-width: 100%;
        height: 90%;
    }
    HazardScreen OptionList {
        width: 18;
        height: 100%;
    }
    HazardScreen VerticalScroll {
        width: 1fr;
        padding: 0 1;
        /* The lanes are drawn to the width they have: a scrollbar that came and went
           would change it under them. */
        scrollbar-gutter: stable;
    }
    """

    def __init__(self, quick: bool = False) -> None:
        super().__init__()
        self.quick = quick
        """Run the small sizes (the tests do); the app runs the default ones."""
        self.outcomes: dict[str, Outcome] = {}
        self.running: str | None = None
        self.steps: tuple[str, ...] = ()
        """The running experiment's steps so far, the current one last."""
        self._started = 0.0
        self._cancel = threading.Event()
        self._body_key: tuple[Any, ...] = ()
        self.timelines: dict[str, Timelines] = {}
        """Each experiment's lanes from its last run, fed by the reader thread as they
        come, drawn on every tick while it runs and kept beside its result."""

    def compose(self) -> ComposeResult:
        """The experiment list and the selected experiment's view."""
        box = Horizontal()
        box.border_title = "hazard lab: the trade-offs, measured"
        box.border_subtitle = "Enter runs · Esc closes"
        with box:
            yield OptionList(
                *(Option(f"{e.name}", id=e.name) for e in registry.EXPERIMENTS),
                id="hazard-list",
            )
            with VerticalScroll(id="hazard-scroll"):
                yield LanesView(id="hazard-lanes")
                yield Static(id="hazard-body")

    def on_mount(self) -> None:
        """Show the first experiment and start the elapsed-time ticker."""
        self.set_interval(TICK_S, self._tick)
        self._show()

    @property
    def selected(self) -> Experiment:
        """The highlighted experiment."""
        index = self.query_one(OptionList).highlighted or 0
        return registry.EXPERIMENTS[index]

    def _show(self) -> None:
        experiment = self.selected
        running = time.monotonic() - self._started if self.running == experiment.name else None
        outcome = self.outcomes.get(experiment.name)
        timelines = self.timelines.get(experiment.name)
        variants = timelines.variants() if timelines is not None else None
        room = self.query_one("#hazard-scroll").scrollable_content_region.size
        size = (max(30, room.width), max(12, room.height))
        self.query_one(LanesView).show(lanes_part(experiment, running, variants, size))
        # The rest changes only with a step, the result or another experiment: redrawn
        # (and laid out) then, not on every tick.
        lanes = bool(variants)
        key = (experiment.name, id(outcome), running is None, lanes, () if lanes else self.steps)
        if lanes and key == self._body_key:
            return
        self._body_key = key
        body = self.query_one("#hazard-body", Static)
        body.update(Group(*result_part(experiment, outcome, running, self.steps, lanes)))

    def on_resize(self) -> None:
        """Lanes fill the width and the height they have: draw them again."""
        self.call_after_refresh(self._show)

    def _tick(self) -> None:
        if self.running is not None:
            self._show()

    def on_option_list_option_highlighted(self, _event: OptionList.OptionHighlighted) -> None:
        """Another experiment highlighted: show it."""
        self._show()

    def on_option_list_option_selected(self, event: OptionList.OptionSelected) -> None:
        """Enter: run the experiment, unless one is running already."""
        if self.running is not None:
            self.notify(f"{self.running} is still running", timeout=2)
            return
        name = event.option.id or self.selected.name
        self.running = name
        self.steps = ()
        self._started = time.monotonic()
        self.outcomes.pop(name, None)
        self.timelines[name] = Timelines()
        self._run(name)
        self._show()

    @work(thread=True, exclusive=True, exit_on_error=False, group="hazard")
    def _run(self, name: str) -> None:
        def announce(text: str) -> None:
            self.post_message(HazardStep(name, text))

        outcome = run_isolated(
            name, self.quick, self._cancel, on_step=announce, on_lanes=self.timelines[name].feed
        )
        self.post_message(HazardDone(outcome))

    def on_hazard_step(self, message: HazardStep) -> None:
        """Show the variant that just started."""
        if message.name == self.running:
            self.steps = (*self.steps, message.text)
            self._show()

    def on_hazard_done(self, message: HazardDone) -> None:
        """Keep the outcome and show it."""
        outcome = message.outcome
        self.outcomes[outcome.name] = outcome
        timelines = self.timelines.get(outcome.name)
        if outcome.document is None and outcome.ended and timelines is not None:
            # The variant that was running never said it ended: it ended here.
            timelines.abandon(outcome.ended)
        self.running = None
        self.steps = ()
        self._show()

    def on_unmount(self) -> None:
        """Leaving the screen kills a running experiment and its processes."""
        self._cancel.set()

    def action_close_hazards(self) -> None:
        """Close the hazard lab (a running experiment is killed)."""
        self._cancel.set()
        self.dismiss()

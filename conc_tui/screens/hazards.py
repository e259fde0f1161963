"""The hazard lab: the trade-offs as real experiments, broken and fixed side by side.

The list holds the experiments of :mod:`conc_tui.hazards.registry`; Enter runs the
highlighted one in a child process (``conc-tui demo NAME --json``, see
:mod:`conc_tui.hazards.isolated`) and shows the figures of its document, the broken
variant beside the fixed one, and the sentence built from them. Closing the screen
while an experiment runs kills it and its processes.
"""

from __future__ import annotations

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
from textual.message import Message
from textual.screen import ModalScreen
from textual.widgets import OptionList, Static
from textual.widgets.option_list import Option

from conc_tui.hazards import registry
from conc_tui.hazards.base import Experiment
from conc_tui.hazards.isolated import Outcome, run_isolated
from conc_tui.hazards.report import cell_lines

TICK_S = 0.25
"""How often the elapsed time of a running experiment is redrawn."""


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


def experiment_view(
    experiment: Experiment,
    outcome: Outcome | None,
    running_s: float | None,
    steps: tuple[str, ...] = (),
) -> RenderableType:
    """Everything the right-hand side shows for one experiment."""
    parts: list[RenderableType] = [
        Text(experiment.title, style="bold"),
        Text.assemble(("the claim  ", "dim"), experiment.claim),
        Text.assemble(("broken     ", "bold red"), experiment.broken),
        Text.assemble(("fixed      ", "bold green"), experiment.fixed),
        Text(""),
    ]
    if running_s is not None:
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
        parts.append(figures_table(data))
        parts += cycle_lines(data)
        for key, value in scalars.items():
            if not isinstance(value, (list, tuple)) or value:
                text = " · ".join(cell_lines(value))
                parts.append(Text.assemble((f"{key.replace('_', ' ')}: ", "dim"), text))
        verdict = (
            f"hazard shown: {'yes' if document['hazard_shown'] else 'no'} · fixed variant "
            f"clean: {'yes' if document['fixed_clean'] else 'no'} · {document['elapsed_s']:.1f} s"
        )
        parts += [Text(""), Text(verdict, style="bold"), Text(document["sentence"])]
    return Group(*parts)


class HazardScreen(ModalScreen[None]):
    """Lists the experiments; runs the chosen one and shows what it measured."""

    BINDINGS = [
        Binding("escape,h", "close_hazards", "Close"),
        # Modal screens hide the app's own bindings: quitting must still work here.
        Binding("q", "app.quit", "Quit"),
    ]

    DEFAULT_CSS = """
    HazardScreen {
        align: center middle;
    }
    HazardScreen > Horizontal {
        width: 130;
        max-width: 100%;
        height: 90%;
        border: thick $accent;
        background: $surface;
    }
    HazardScreen OptionList {
        width: 18;
        height: 100%;
    }
    HazardScreen VerticalScroll {
        width: 1fr;
        padding: 0 1;
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
            with VerticalScroll():
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
        body = self.query_one("#hazard-body", Static)
        outcome = self.outcomes.get(experiment.name)
        body.update(experiment_view(experiment, outcome, running, self.steps))

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
        self._run(name)
        self._show()

    @work(thread=True, exclusive=True, exit_on_error=False, group="hazard")
    def _run(self, name: str) -> None:
        def announce(text: str) -> None:
            self.post_message(HazardStep(name, text))

        outcome = run_isolated(name, self.quick, self._cancel, on_step=announce)
        self.post_message(HazardDone(outcome))

    def on_hazard_step(self, message: HazardStep) -> None:
        """Show the variant that just started."""
        if message.name == self.running:
            self.steps = (*self.steps, message.text)
            self._show()

    def on_hazard_done(self, message: HazardDone) -> None:
        """Keep the outcome and show it."""
        self.outcomes[message.outcome.name] = message.outcome
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

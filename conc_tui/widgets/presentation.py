"""How the UI presents each model: its card, its pane's view, what to look for.

The UI's half of :mod:`conc_tui.registry`, keyed by the same names: one entry per
model, each with the card beside its pane, the title and function of its own view,
and a look-for line for every workload. :func:`check_presentations` runs at import,
so a model added to the registry without its entry here (or a workload without its
look-for lines) stops the app at start with a sentence naming what is missing.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from types import MappingProxyType

from rich.text import Text

from conc_tui.config import WorkloadOptions
from conc_tui.registry import MODEL_SPECS, WORKLOADS, model_spec
from conc_tui.telemetry.snapshot import Snapshot
from conc_tui.widgets.panels import (
    async_lines,
    interp_lines,
    process_lines,
    serial_lines,
    thread_lines,
)
from conc_tui.workloads.filters import GIL_FRIENDLY

Panel = Callable[[Snapshot | None, int], list[Text]]
"""A model's own view: lines of text from the pane's latest snapshot and the width."""
LookFor = str | Callable[[WorkloadOptions], str]
"""A look-for line, or a function of the workload options when they change the picture."""


class PresentationMissing(LookupError):
    """A registry entry has no presentation, or a presentation lacks a workload's line."""


@dataclass(frozen=True)
class ModelCard:
    """What the card says about one model."""

    title: str
    analogy: str
    pros: tuple[str, ...]
    cons: tuple[str, ...]


@dataclass(frozen=True)
class Presentation:
    """Everything the UI says about one model."""

    card: ModelCard
    view_title: str
    """The border title of the pane's own view: the analogy in a few words."""
    panel: Panel
    look_for: Mapping[str, LookFor]
    """One line per workload: what to watch for while it runs under this model."""


GIL_FRIENDLY_FILTERS = GIL_FRIENDLY
"""Which filters release the GIL (measured in the images workload), from a module that
does not import Pillow, so the UI process need not load it."""


def _threads_on_images(opts: WorkloadOptions) -> str:
    if GIL_FRIENDLY_FILTERS.get(opts.filter, False):
        return (
            f"Pillow releases the GIL while it runs the {opts.filter}, so threads "
            "work in parallel on different cores: lanes stay green."
        )
    return (
        f"Pillow's {opts.filter} filter holds the GIL for each colour band, so "
        "threads take turns: lanes turn GIL-grey and more threads barely help."
    )


# Measured: cpu lag 48 ms mean, 311 ms max, GIL wait 68%; images (blur) 17 ms mean,
# 162 ms max; files 2 ms mean, 12 ms max (6 threads, 2 cores).
_TO_THREAD: dict[str, str] = {
    "cpu": "to_thread moves the work off the loop, but pure-Python work still takes "
    "turns on the GIL: the threads wait for it (▒), no faster than one thread, "
    "and the loop's own thread queues for it too, so loop lag rises.",
    "images": "work is sent to threads with to_thread; Pillow releases the GIL for "
    "much of it but not all, so the loop's thread sometimes queues for the "
    "GIL and lag rises in spikes.",
    "files": "work is sent to threads with to_thread; file reads release the GIL, so "
    "the loop stays responsive (low lag).",
}


def _on_the_loop(workload: str, blocking: str) -> Callable[[WorkloadOptions], str]:
    """A blocking workload under asyncio: it blocks the loop unless sent to threads."""

    def line(opts: WorkloadOptions) -> str:
        return _TO_THREAD[workload] if opts.to_thread else blocking

    return line


_SERIAL_LOOK_FOR = "one lane, one thing at a time: the time to beat."

PRESENTATIONS: Mapping[str, Presentation] = MappingProxyType(
    {
        "serial": Presentation(
            card=ModelCard(
                title="Serial baseline",
                analogy="One worker doing one job after another.",
                pros=("simple, and the yardstick for every speedup",),
                cons=("every wait is wasted time",),
            ),
            view_title="Serial baseline",
            panel=serial_lines,
            look_for={workload: _SERIAL_LOOK_FOR for workload in WORKLOADS},
        ),
        "process": Presentation(
            card=ModelCard(
                title="Processes",
                analogy="Each worker has its own tools and its own workbench.",
                pros=(
                    "real parallel work: one core per worker",
                    "nothing shared, so no races over memory",
                ),
                cons=(
                    "each worker costs its own memory",
                    "slow to start, and data must be pickled across",
                ),
            ),
            view_title="Own tools: one process each",
            panel=process_lines,
            look_for={
                "images": "every lane runs solid green on its own core; "
                "workers beyond the core count wait for a free core (▓).",
                "cpu": "lanes stay green and the core bars fill up: real parallel "
                "Python, limited only by the number of cores.",
                "files": "each process has its own log lock, so nobody queues; "
                "the start-up cost and memory per worker are the price.",
                "web": "the crawl's frontier (which pages are left) lives in the "
                "coordinator, which hands URLs to the workers; they mostly wait on the "
                "network (blue), which asyncio does with one thread.",
            },
        ),
        "thread": Presentation(
            card=ModelCard(
                title="Threads",
                analogy="Workers share one bench and its tools, taking turns.",
                pros=(
                    "cheap to start, little extra memory",
                    "good while waiting on files or the network",
                ),
                cons=(
                    "shared things need locks, and locks make queues",
                    "the GIL lets one thread run Python at a time",
                ),
            ),
            view_title="Shared tools, in shifts",
            panel=thread_lines,
            look_for={
                "images": _threads_on_images,
                "cpu": "lanes turn GIL-grey: only one thread runs Python at a time, "
                "so more threads do not go faster.",
                "files": "threads queue for the shared log's lock (pink): watch the "
                "holder and the queue; with --io-latency they also wait on the disk (blue).",
                "web": "threads mostly wait on the network (blue), and the waits "
                "overlap: that is where threads shine.",
            },
        ),
        "async": Presentation(
            card=ModelCard(
                title="Asyncio",
                analogy="One secretary juggling many calls, never waiting on one.",
                pros=(
                    "thousands of waits on one thread, tiny overhead",
                    "ideal for many network calls",
                ),
                cons=(
                    "one blocking call freezes every task",
                    "no help at all for CPU-heavy work",
                ),
            ),
            view_title="A secretary juggling calls",
            panel=async_lines,
            look_for={
                "web": "many calls on hold at once on ONE thread; loop lag stays small "
                "as long as nothing blocks.",
                "cpu": _on_the_loop(
                    "cpu",
                    "pure CPU work blocks the loop: tasks run one at a time and loop lag jumps.",
                ),
                "images": _on_the_loop(
                    "images",
                    "Pillow work blocks the loop: one image at a time, and loop "
                    "lag jumps to a whole image's time; try --to-thread.",
                ),
                "files": _on_the_loop(
                    "files",
                    "plain file reads and the log block the loop: one task at a time, "
                    "lag rising; try --to-thread.",
                ),
            },
        ),
        "interp": Presentation(
            card=ModelCard(
                title="Interpreters",
                analogy="Workers under one roof, each with its own tools: "
                "nothing is shared unless it is sent across.",
                pros=(
                    "real parallel Python: each interpreter has its own GIL",
                    "all in one process: one pid, nothing left behind to clean up",
                ),
                cons=(
                    "each imports its modules afresh: not cheaper than a forked "
                    "process here (the figures above are measured)",
                    "extension modules must opt in (Pillow and psutil do not yet)",
                    "data is pickled across, as between processes",
                ),
            ),
            view_title="Own tools, one roof",
            panel=interp_lines,
            look_for={
                "cpu": "lanes stay green on every core, never GIL-grey: each "
                "interpreter has its own GIL, inside one process.",
                "files": "each interpreter has its own log handler and lock, so nobody "
                "queues; all of them append whole lines to the one log file.",
                "web": "interpreters mostly wait on the network (blue), each with its "
                "own GIL and its own connections.",
                "images": "cannot run: Pillow does not load in a subinterpreter, "
                "and the run says so.",
            },
        ),
    }
)


def presentation(model: str) -> Presentation:
    """The presentation of ``model``; raises for a name the registry does not know."""
    model_spec(model)
    try:
        return PRESENTATIONS[model]
    except KeyError:
        raise PresentationMissing(
            f"model {model!r} is in the registry but has no presentation; "
            "add its entry to conc_tui/widgets/presentation.py"
        ) from None


def model_lines(model: str, snapshot: Snapshot | None, width: int) -> list[Text]:
    """The pane's own view for its model (or the baseline's view while one runs there)."""
    shown = snapshot.model if snapshot is not None else model
    return presentation(shown).panel(snapshot, width)


def check_presentations(
    presentations: Mapping[str, Presentation] = PRESENTATIONS,
    models: tuple[str, ...] = tuple(MODEL_SPECS),
    workloads: tuple[str, ...] = WORKLOADS,
) -> None:
    """Every model has a presentation and every presentation a line for every workload.

    Raises:
        PresentationMissing: naming the first model or workload left out.
    """
    for model in models:
        entry = presentations.get(model)
        if entry is None:
            raise PresentationMissing(
                f"model {model!r} is in the registry but has no presentation; "
                "add its entry to conc_tui/widgets/presentation.py"
            )
        for workload in workloads:
            if workload not in entry.look_for:
                raise PresentationMissing(
                    f"model {model!r} has no look-for line for workload {workload!r}; "
                    "add it to conc_tui/widgets/presentation.py"
                )
    for name in presentations:
        if name not in models:
            raise PresentationMissing(
                f"presentation {name!r} names no model in conc_tui/registry.py; "
                f"known models: {', '.join(models)}"
            )


check_presentations()

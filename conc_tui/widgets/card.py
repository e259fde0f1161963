"""The short card beside each pane: the analogy, pros and cons, and what to look for.

Plain text only, so the help screen and tests can read it too.
"""

from __future__ import annotations

from dataclasses import dataclass

from rich.text import Text

from conc_tui.config import WorkloadOptions


@dataclass(frozen=True)
class ModelCard:
    """What the card says about one model."""

    title: str
    analogy: str
    pros: tuple[str, ...]
    cons: tuple[str, ...]


CARDS: dict[str, ModelCard] = {
    "process": ModelCard(
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
    "thread": ModelCard(
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
    "async": ModelCard(
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
    "serial": ModelCard(
        title="Serial baseline",
        analogy="One worker doing one job after another.",
        pros=("simple, and the yardstick for every speedup",),
        cons=("every wait is wasted time",),
    ),
}

GIL_FRIENDLY_FILTERS: dict[str, bool] = {
    "blur": True,
    "sharpen": True,
    "resize": True,
    "median": False,
    "contour": True,
}
"""Copy of ``conc_tui.workloads.images.GIL_FRIENDLY`` (measured there), so the UI
process need not import Pillow; a test keeps the two equal."""

RULE_OF_THUMB = (
    "Rule of thumb: processes for CPU-heavy work, asyncio for many network calls, "
    "threads for the rest. Measure it here: press b for the serial baseline."
)

_LOOK_FOR: dict[tuple[str, str], str] = {
    ("process", "images"): "every lane runs solid green on its own core; "
    "workers beyond the core count wait for a free core (▓).",
    ("process", "cpu"): "lanes stay green and the core bars fill up: real parallel "
    "Python, limited only by the number of cores.",
    ("process", "files"): "each process has its own log lock, so nobody queues; "
    "the start-up cost and memory per worker are the price.",
    ("process", "web"): "the crawl's frontier (which pages are left) lives in the "
    "coordinator, which hands URLs to the workers; they mostly wait on the network "
    "(blue), which asyncio does with one thread.",
    ("thread", "cpu"): "lanes turn GIL-grey: only one thread runs Python at a time, "
    "so more threads do not go faster.",
    ("thread", "files"): "threads queue for the shared log's lock (pink): watch the "
    "holder and the queue; with --io-latency they also wait on the disk (blue).",
    ("thread", "web"): "threads mostly wait on the network (blue), and the waits "
    "overlap: that is where threads shine.",
    ("async", "web"): "many calls on hold at once on ONE thread; loop lag stays small "
    "as long as nothing blocks.",
    ("async", "cpu"): "pure CPU work blocks the loop: tasks run one at a time and loop lag jumps.",
    ("async", "images"): "Pillow work blocks the loop: one image at a time, and loop "
    "lag jumps to a whole image's time; try --to-thread.",
    ("async", "files"): "plain file reads and the log block the loop: one task at a time, "
    "lag rising; try --to-thread.",
}


def look_for(model: str, workload: str, options: WorkloadOptions | None = None) -> str:
    """What to watch for right now, for this model, workload and its options."""
    opts = options or WorkloadOptions()
    if model == "thread" and workload == "images":
        if GIL_FRIENDLY_FILTERS.get(opts.filter, False):
            return (
                f"Pillow releases the GIL while it runs the {opts.filter}, so threads "
                "work in parallel on different cores: lanes stay green."
            )
        return (
            f"Pillow's {opts.filter} filter holds the GIL for each colour band, so "
            "threads take turns: lanes turn GIL-grey and more threads barely help."
        )
    if model == "async" and workload in ("images", "files", "cpu") and opts.to_thread:
        # Measured: cpu lag 48 ms mean, 311 ms max, GIL wait 68%; images (blur)
        # 17 ms mean, 162 ms max; files 2 ms mean, 12 ms max (6 threads, 2 cores).
        if workload == "cpu":
            return (
                "to_thread moves the work off the loop, but pure-Python work still takes "
                "turns on the GIL: the threads wait for it (▒), no faster than one thread, "
                "and the loop's own thread queues for it too, so loop lag rises."
            )
        if workload == "images":
            return (
                "work is sent to threads with to_thread; Pillow releases the GIL for "
                "much of it but not all, so the loop's thread sometimes queues for the "
                "GIL and lag rises in spikes."
            )
        return (
            "work is sent to threads with to_thread; file reads release the GIL, so "
            "the loop stays responsive (low lag)."
        )
    if model == "serial":
        return "one lane, one thing at a time: the time to beat."
    return _LOOK_FOR.get((model, workload), "watch the lanes and the core bars.")


def card_text(model: str, workload: str, options: WorkloadOptions | None = None) -> Text:
    """The whole card as styled text."""
    card = CARDS.get(model, CARDS["serial"])
    text = Text()
    text.append(card.analogy + "\n", style="italic")
    for pro in card.pros:
        text.append("+ ", style="bold green")
        text.append(pro + "\n")
    for con in card.cons:
        text.append("− ", style="bold red")
        text.append(con + "\n")
    text.append("Look for: ", style="bold yellow")
    text.append(look_for(model, workload, options))
    return text

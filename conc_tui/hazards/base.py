"""What every hazard experiment is: a named pair of real programs and what they measured.

An experiment runs a *broken* variant (the hazard happens) and then a *fixed* one (the
same work, done safely), measures both, and explains the difference in one sentence
built only from the figures it measured. Experiments are plain Python with threading,
multiprocessing and asyncio: no Textual, no engine internals.
"""

from __future__ import annotations

import multiprocessing
import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol, cast

from conc_tui.hazards import timeline

if TYPE_CHECKING:
    from multiprocessing.context import ForkContext, SpawnContext
    from multiprocessing.process import BaseProcess

    StartContext = ForkContext | SpawnContext


class HazardResult(Protocol):
    """What the registry, the CLI and the screen read from any experiment's result."""

    @property
    def hazard_shown(self) -> bool:
        """True when the broken variant showed its hazard in this run."""
        ...

    @property
    def fixed_clean(self) -> bool:
        """True when the fixed variant did not show it."""
        ...

    @property
    def sentence(self) -> str:
        """One sentence of explanation, every claim in it quoting a measured figure."""
        ...


@dataclass(frozen=True)
class Experiment:
    """One entry of the hazard registry."""

    name: str
    """The name ``conc-tui demo NAME`` takes."""
    title: str
    claim: str
    """The seed's claim this experiment puts to the test, quoted."""
    broken: str
    """What the broken variant does."""
    fixed: str
    """What the fixed variant does instead."""
    run: Callable[[bool], HazardResult]
    """Run both variants; ``run(True)`` uses the quick sizes the tests use."""


_on_step: Callable[[str], None] | None = None


def report_steps(callback: Callable[[str], None] | None) -> None:
    """Have every experiment announce each variant as it starts (None: stay quiet).

    The ``demo`` command sends the announcements to stderr, where the app's hazard
    screen reads them to say which variant is running.
    """
    global _on_step
    _on_step = callback


def step(text: str) -> None:
    """Announce that a variant starts, and record its workers' lanes from now on."""
    timeline.begin(text)
    if _on_step is not None:
        _on_step(text)


def mp_context() -> StartContext:
    """The start method for an experiment's child processes.

    fork is fast and lets a child run a function defined anywhere, but forking a process
    that has other threads can copy a lock some thread held and hang the child; so a
    process with more than one thread (the app, the lab) spawns instead.
    """
    methods = multiprocessing.get_all_start_methods()
    if "fork" in methods and threading.active_count() == 1:
        return cast("StartContext", multiprocessing.get_context("fork"))
    return spawn_context()


def join_or_kill(
    children: Iterable[BaseProcess], timeout: float, after_kill: float | None = None
) -> int:
    """Wait up to ``timeout`` seconds for each child; kill one still running and wait
    for it (``after_kill`` seconds at most, None: until it is gone).

    Returns:
        How many had to be killed.
    """
    killed = 0
    for child in children:
        child.join(timeout=timeout)
        if child.is_alive():
            child.kill()
            child.join(after_kill)
            killed += 1
    return killed


def spawn_context() -> StartContext:
    """A fresh interpreter per child: what a Python process costs, with nothing shared."""
    return cast("StartContext", multiprocessing.get_context("spawn"))


def fmt_s(seconds: float) -> str:
    """A duration for a sentence: ms below a second, s above."""
    return f"{seconds * 1000:.0f} ms" if seconds < 1 else f"{seconds:.2f} s"


def fmt_bytes(count: float) -> str:
    """A byte count for a sentence."""
    for unit, size in (("GB", 1 << 30), ("MB", 1 << 20), ("KB", 1 << 10)):
        if abs(count) >= size:
            return f"{count / size:.1f} {unit}"
    return f"{count:.0f} B"

"""What conc-tui knows about each concurrency model and each workload, said once.

Both axes live in one module because their facts refer to each other: a workload names
the model the rule of thumb expects to win it, a model says how it runs each workload.
Everything else — the CLI's choices and help, the runner's model table, the engine's
workload classes, the app's panes and keys, the race order, bench defaults, the
report's nouns and verdicts — is derived from :data:`MODELS` and :data:`WORKLOADS`.
The UI's per-model presentation (analogy, card, panel) sits beside it in
:mod:`conc_tui.widgets.presentation`, keyed by the same names and checked against it.

An unknown name raises :class:`UnknownName` (a ``ValueError`` whose message lists the
accepted names); nothing falls through to a default. No Textual here.
"""

from __future__ import annotations

import importlib
import importlib.util
import os
import sys
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from conc_tui.models.base import Outcome, RunContext

MAX_WORKERS = 256


class UnknownName(ValueError):
    """A model or workload name the registry does not know; the message lists the known ones."""


class RegistryError(Exception):
    """The registry contradicts itself or names a module that is not there."""


def _always_available() -> str | None:
    return None


def _runs_every_workload(workload: str) -> str | None:
    return None


def core_count() -> int:
    """The machine's logical CPUs, as the core bars show them."""
    return max(1, os.cpu_count() or 1)


def gil_enabled() -> bool:
    """Whether this interpreter has a GIL (False on a free-threaded 3.13t/3.14t build).

    The runner is started with the same interpreter, so the answer holds for it too.
    """
    check: Callable[[], bool] | None = getattr(sys, "_is_gil_enabled", None)
    return True if check is None else bool(check())


@dataclass(frozen=True)
class Measures:
    """Which of the run's measurements mean something under a model."""

    gil_wait: bool = False
    """Threads of one process share a GIL: their waits for it are measured."""
    loop_lag: bool = False
    """An event loop runs the tasks: its lag and the calls on hold are measured."""
    startup_cost: bool = False
    """Starting a worker is a cost of its own (an interpreter to start, modules to import)."""


@dataclass(frozen=True)
class ModelSpec:
    """One concurrency model."""

    name: str
    """The name on the command line and in every table (``--model NAME``)."""
    title: str
    """The pane's and the palette's title: "Processes"."""
    noun: str
    """How a verdict names the model: "processes", "asyncio"."""
    noun_is_plural: bool
    """For the verb after the noun: "processes win", "asyncio wins"."""
    worker_noun: str
    """What its workers are called: "processes", "asyncio tasks"."""
    built_on: str
    """The standard-library machinery under it."""
    module: str
    """The module whose ``run(ctx) -> Outcome`` runs a workload under this model."""
    default_workers: Callable[[int], int]
    """Workers when none are given, from the number of usable cores."""
    workers_doc: str
    """The same default in words, for ``--help``."""
    rule_of_thumb: str
    """The model's part of the rule of thumb: "processes for CPU-heavy work"."""
    measures: Measures = Measures()
    baseline: bool = False
    """The yardstick every speedup is measured against (one worker, no pane)."""
    not_native: Mapping[str, str] = field(default_factory=dict)
    """Workloads it cannot run natively, with how it runs them instead."""
    options: tuple[str, ...] = ()
    """CLI options that apply only under this model."""
    opening_workload: str | None = None
    """The workload its pane opens with; None: it has no pane of its own."""
    available: Callable[[], str | None] = _always_available
    """None if the model can run on this Python, else one sentence saying what it needs."""
    refuses: Callable[[str], str | None] = _runs_every_workload
    """None if it can run the workload at all, else why not (an extension module that
    cannot load in it, say): the CLI and the app refuse the pair with that reason."""

    def workers_for(self, cores: int | None = None) -> int:
        """Default workers on ``cores`` usable cores (this machine's when None)."""
        count = self.default_workers(core_count() if cores is None else cores)
        return max(1, min(MAX_WORKERS, count))

    def runner(self) -> Callable[[RunContext], Outcome]:
        """The function that runs a workload under this model (imported on first use)."""
        run: Callable[[RunContext], Outcome] = importlib.import_module(self.module).run
        return run

    def how_it_runs(self, workload: str) -> str:
        """ "natively", or how the model runs a workload it has no native way for."""
        workload_spec(workload)
        return self.not_native.get(workload, "natively")

    def cannot_run(self, workload: str) -> str | None:
        """Why this model cannot run ``workload`` here (None: it can)."""
        workload_spec(workload)
        return self.available() or self.refuses(workload)


@dataclass(frozen=True)
class WorkloadSpec:
    """One workload: what one task is."""

    name: str
    """The name on the command line (``--workload NAME``)."""
    summary: str
    """What it does, in a few words."""
    built_on: str
    """The libraries it exercises."""
    module: str
    class_name: str
    """The :class:`~conc_tui.workloads.base.Workload` subclass in ``module``."""
    items: int
    """Default input size for ``run`` and ``bench``: a run of about a second."""
    app_items: int
    """Default input size in the app: a run long enough to watch."""
    expected_winner: str
    """The model the rule of thumb predicts wins it."""
    kind: str
    """What sort of work it is, in the rule of thumb's words."""
    options: tuple[str, ...] = ()
    """CLI options that concern only this workload."""

    def workload_class(self) -> Any:
        """The workload class (imported on first use: some pull in Pillow or aiohttp)."""
        return getattr(importlib.import_module(self.module), self.class_name)


def _interp_available() -> str | None:
    interp: Any = importlib.import_module("conc_tui.models.interp")
    reason: str | None = interp.available()
    return reason


def _interp_refuses(workload: str) -> str | None:
    # From the table measured once per machine when there is one: asking again
    # would create an interpreter in this process.
    costs: Any = importlib.import_module("conc_tui.models.interp_costs")
    reason: str | None = costs.refuses(workload, workload_spec(workload).module)
    return reason


_MODEL_LIST: tuple[ModelSpec, ...] = (
    ModelSpec(
        name="serial",
        title="Serial baseline",
        noun="serial",
        noun_is_plural=False,
        worker_noun="worker",
        built_on="a plain loop in one thread",
        module="conc_tui.models.serial",
        default_workers=lambda cores: 1,
        workers_doc="always 1",
        rule_of_thumb="",
        baseline=True,
    ),
    ModelSpec(
        name="process",
        title="Processes",
        noun="processes",
        noun_is_plural=True,
        worker_noun="processes",
        built_on="multiprocessing.Pool (fork server)",
        module="conc_tui.models.process",
        # One per core: more cannot run Python at once.
        default_workers=lambda cores: cores,
        workers_doc="one per core",
        rule_of_thumb="processes for CPU-heavy work",
        measures=Measures(startup_cost=True),
        not_native={"web": "a coordinator keeps the crawl's frontier and hands URLs to the pool"},
        opening_workload="images",
    ),
    ModelSpec(
        name="thread",
        title="Threads",
        noun="threads",
        noun_is_plural=True,
        worker_noun="threads",
        built_on="concurrent.futures.ThreadPoolExecutor",
        module="conc_tui.models.thread",
        # Enough to overlap I/O without drowning in GIL hand-offs.
        default_workers=lambda cores: 8,
        workers_doc="8",
        rule_of_thumb="threads for the rest",
        measures=Measures(gil_wait=True),
        opening_workload="files",
    ),
    ModelSpec(
        name="async",
        title="Asyncio",
        noun="asyncio",
        noun_is_plural=False,
        worker_noun="asyncio tasks",
        built_on="asyncio tasks on one event loop (aiohttp for the web)",
        module="conc_tui.models.asyncio",
        # Tasks are cheap; a crawler wants many requests in flight.
        default_workers=lambda cores: 50,
        workers_doc="50",
        rule_of_thumb="asyncio for many network calls",
        measures=Measures(loop_lag=True),
        not_native={
            "images": "blocks the loop, or runs in threads via asyncio.to_thread (--to-thread)",
            "files": "blocks the loop, or runs in threads via asyncio.to_thread (--to-thread)",
            "cpu": "blocks the loop, or runs in threads via asyncio.to_thread (--to-thread)",
        },
        options=("--to-thread",),
        opening_workload="web",
    ),
    ModelSpec(
        name="interp",
        title="Interpreters",
        noun="interpreters",
        noun_is_plural=True,
        worker_noun="interpreters",
        built_on="subinterpreters with their own GIL, one thread each (PEP 684/734)",
        module="conc_tui.models.interp",
        # Parallel like processes: more than one per core cannot run Python at once.
        default_workers=lambda cores: cores,
        workers_doc="one per core",
        rule_of_thumb="",
        measures=Measures(gil_wait=True, startup_cost=True),
        opening_workload="cpu",
        available=_interp_available,
        refuses=_interp_refuses,
    ),
)

_WORKLOAD_LIST: tuple[WorkloadSpec, ...] = (
    WorkloadSpec(
        name="images",
        summary="Pillow filters over a folder of images",
        built_on="Pillow",
        module="conc_tui.workloads.images",
        class_name="ImagesWorkload",
        items=16,
        app_items=64,
        expected_winner="process",
        kind="CPU-heavy work",
        options=("--images", "--filter"),
    ),
    WorkloadSpec(
        name="files",
        summary="read files, count words, write a shared log under a lock",
        built_on="plain file I/O and threading.Lock",
        module="conc_tui.workloads.files",
        class_name="FilesWorkload",
        items=400,
        app_items=2000,
        expected_winner="thread",
        kind="the rest",
        options=("--files", "--io-latency"),
    ),
    WorkloadSpec(
        name="web",
        summary="crawl a web site over HTTP (a local one by default)",
        built_on="aiohttp under asyncio, http.client elsewhere",
        module="conc_tui.workloads.web",
        class_name="WebWorkload",
        items=200,
        app_items=1000,
        expected_winner="async",
        kind="many network calls",
        options=("--url", "--max-pages", "--latency"),
    ),
    WorkloadSpec(
        name="cpu",
        summary="a pure-Python Mandelbrot kernel",
        built_on="pure Python",
        module="conc_tui.workloads.cpu",
        class_name="CpuWorkload",
        items=24,
        app_items=64,
        expected_winner="process",
        kind="CPU-heavy work",
    ),
)

MODEL_SPECS: Mapping[str, ModelSpec] = MappingProxyType({m.name: m for m in _MODEL_LIST})
WORKLOAD_SPECS: Mapping[str, WorkloadSpec] = MappingProxyType({w.name: w for w in _WORKLOAD_LIST})

MODELS: tuple[str, ...] = tuple(MODEL_SPECS)
"""Every model's name, the baseline first."""
WORKLOADS: tuple[str, ...] = tuple(WORKLOAD_SPECS)
BASELINE: str = next(m.name for m in _MODEL_LIST if m.baseline)
CONTENDERS: tuple[str, ...] = tuple(m.name for m in _MODEL_LIST if not m.baseline)
"""The models raced against the baseline, in pane and key order."""
PANE_MODELS: tuple[str, ...] = tuple(m.name for m in _MODEL_LIST if m.opening_workload)
"""The models with a pane of their own, in key order (key 1 is the first)."""

RULE_OF_THUMB: str = ", ".join(
    sorted(
        (m.rule_of_thumb for m in _MODEL_LIST if m.rule_of_thumb),
        key=lambda part: part.endswith("the rest"),
    )
)
""""processes for CPU-heavy work, asyncio for many network calls, threads for the rest"."""


def _unknown(noun: str, name: object, known: tuple[str, ...]) -> UnknownName:
    return UnknownName(f"unknown {noun} {name!r}; choose one of: {', '.join(known)}")


def model_spec(name: str) -> ModelSpec:
    """The model called ``name``; raises :class:`UnknownName` for any other name."""
    try:
        return MODEL_SPECS[name]
    except (KeyError, TypeError):
        raise _unknown("model", name, MODELS) from None


def workload_spec(name: str) -> WorkloadSpec:
    """The workload called ``name``; raises :class:`UnknownName` for any other name."""
    try:
        return WORKLOAD_SPECS[name]
    except (KeyError, TypeError):
        raise _unknown("workload", name, WORKLOADS) from None


def default_workers(model: str, cores: int | None = None) -> int:
    """The worker count ``model`` gets when none is given (raises for an unknown model)."""
    return model_spec(model).workers_for(cores)


def unavailable_reason(model: str) -> str | None:
    """None if ``model`` runs on this Python, else one sentence saying what it needs."""
    return model_spec(model).available()


def available_contenders() -> tuple[str, ...]:
    """The contenders this Python can run: bench's and the race's default field."""
    return tuple(name for name in CONTENDERS if MODEL_SPECS[name].available() is None)


def owner_of_option(option: str) -> tuple[str, ...]:
    """The models that own a model-specific CLI option (empty if none does)."""
    return tuple(m.name for m in _MODEL_LIST if option in m.options)


def _check_module(kind: str, name: str, module: str) -> None:
    # find_spec imports only the parent package, not the module: cheap at start-up.
    if importlib.util.find_spec(module) is None:
        raise RegistryError(f"{kind} {name!r} names module {module}, which does not exist")


def check() -> None:
    """Check the registry's cross-references; raises :class:`RegistryError` naming the slip."""
    for model in _MODEL_LIST:
        _check_module("model", model.name, model.module)
        for name in model.not_native:
            workload_spec(name)
        if model.opening_workload is not None:
            workload_spec(model.opening_workload)
    for workload in _WORKLOAD_LIST:
        _check_module("workload", workload.name, workload.module)
        if model_spec(workload.expected_winner).baseline:
            raise RegistryError(f"workload {workload.name!r} expects the baseline to win")
    baselines = [m.name for m in _MODEL_LIST if m.baseline]
    if len(baselines) != 1:
        raise RegistryError(f"exactly one baseline model expected, got {baselines}")


check()

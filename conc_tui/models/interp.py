"""The interpreter pool: workers each a subinterpreter with its own GIL, in one process.

Python 3.12 gave every subinterpreter its own GIL (PEP 684); 3.14 made them a standard
module, ``concurrent.interpreters`` (PEP 734), which the ``interpreters-pep-734``
package provides on 3.13. Each worker here is one interpreter driven by one OS thread
of the runner: parallel like processes (no GIL is shared), one process like threads,
and nothing shared unless sent across. Items go in and results come out as pickles.

Start-up is an interpreter's creation plus its imports, measured from the pool's
start to each worker's "hello", as for processes.

What runs inside each interpreter is :mod:`conc_tui.models.interp_worker`, kept apart
and small because every interpreter imports it afresh: its telemetry goes straight to
the telemetry pipe's descriptor, one write per state change.

Extension modules must opt in to subinterpreters; those that have not (Pillow,
psutil, as of this writing) refuse to load, and a workload that needs one cannot run
here. A run's workers find out as they import the workload (and fail the run with
the import's own error); :func:`workload_support` asks a fresh interpreter when no run
has yet. Either answer is remembered for the life of the process; the pane's table of
them is measured once per machine with the costs (:mod:`conc_tui.models.interp_costs`),
and the CLI asks that table first.

Nothing may fork while interpreters exist: on 3.13.0 a fork then aborts the process
("Fatal Python error: PyThreadState_Get"), so this model starts no process, and
whatever a workload starts (the local web site) is started before, in ``prepare``.

The files workload's log: every interpreter has its own ``logging``, so its own
handler, its own lock and its own descriptor on the one log file (opened for
appending, so lines do not interleave): like processes, nobody queues for the log.
"""

from __future__ import annotations

import importlib
import os
import pickle
import sys
import threading
from concurrent.futures import ThreadPoolExecutor
from types import ModuleType
from typing import Any

from conc_tui.models.base import Outcome, RunContext, StopFlag, drive_pool
from conc_tui.workloads.base import Item, ItemResult, Workload

# Where the PEP 734 API lives: the standard library from 3.14, the backport on 3.13.
_API_MODULES = ("concurrent.interpreters", "interpreters_backport.interpreters")
_WORKER_MODULE = "conc_tui.models.interp_worker"


def _api() -> tuple[str, ModuleType] | None:
    """The interpreters module this Python offers, with its import name, or None."""
    if sys.version_info < (3, 13):
        return None
    for name in _API_MODULES:
        try:
            return name, importlib.import_module(name)
        except ImportError:
            continue
    return None


def available() -> str | None:
    """None when the model can run on this Python, else one sentence saying what it needs."""
    if _api() is not None:
        return None
    this = f"{sys.version_info.major}.{sys.version_info.minor}"
    if sys.version_info < (3, 13):
        return (
            "the interpreters model needs Python 3.13 with `pip install conc-tui[interp]`, "
            f"or Python 3.14; this is Python {this}"
        )
    return (
        "the interpreters model needs the interpreters-pep-734 package on Python "
        f"{this}: `pip install conc-tui[interp]`"
    )


def _failure_text(exc: BaseException) -> str:
    """One line for an exception raised inside an interpreter (``ExecutionFailed``)."""
    info = getattr(exc, "excinfo", None)
    kind = getattr(getattr(info, "type", None), "__name__", "")
    message = str(getattr(info, "msg", "") or "")
    if kind:
        return f"{kind}: {message}" if message else kind
    text = str(exc).strip().splitlines()
    line = text[0] if text else type(exc).__name__
    cause = exc.__cause__ or exc.__context__
    return f"{line} ({_failure_text(cause)})" if cause is not None else line


def _same_path() -> str:
    """Code giving an interpreter this one's import path, as a spawned process gets it.

    A new interpreter starts from the path Python started with, without what the
    program added since (a test folder, say), so a workload defined there is found.
    """
    return f"import sys\nsys.path[:] = {sys.path!r}"


# What runs and probes found out, per workload module: None if it loads, else why not.
_verdicts: dict[str, str | None] = {}


def _try_import(interpreter: Any, module_name: str) -> str | None:
    try:
        interpreter.exec(f"import {module_name}")
    except Exception as exc:  # ExecutionFailed: the import's own error, as text
        return _failure_text(exc)
    return None


def workload_support(module_name: str) -> str | None:
    """None when a workload's module loads in a subinterpreter, else why not (one line).

    Tried for real, once per process: a run's first worker or a fresh interpreter
    imports the module, and every extension module it needs must allow it.
    """
    if module_name in _verdicts:
        return _verdicts[module_name]
    found = _api()
    if found is None:
        return available()
    interpreter = found[1].create()
    try:
        interpreter.exec(_same_path())
        verdict = _try_import(interpreter, module_name)
    finally:
        interpreter.close()
    _verdicts[module_name] = verdict
    return verdict


def refusal_sentence(workload_name: str, reason: str) -> str:
    return f"the {workload_name} workload cannot run in a subinterpreter ({reason})"


def refuses(workload_name: str, module_name: str) -> str | None:
    """Why this model cannot run a workload here, as one sentence (None: it can).

    For a registry's per-workload check, before any run starts: the CLI and the app
    can refuse the pair with the same words a run would fail with.
    """
    need = available()
    if need is not None:
        return need
    reason = workload_support(module_name)
    return None if reason is None else refusal_sentence(workload_name, reason)


# --- In the runner --------------------------------------------------------------------


class WorkloadRefused(RuntimeError):
    """The workload's module does not load in a subinterpreter; the message says why."""


class InterpreterWorker:
    """One subinterpreter and the queue its results come back on."""

    def __init__(self, api_name: str, api: ModuleType, workload_module: str) -> None:
        self.interpreter: Any = api.create()
        try:
            # The queue type must be known inside before a queue can be sent in
            # (the backport loads its queues lazily: touching the name loads them).
            self.interpreter.exec(
                f"{_same_path()}\nimport {api_name}\n{api_name}.create_queue\n"
                f"import {_WORKER_MODULE} as _conc_tui_worker"
            )
            refusal = _try_import(self.interpreter, workload_module)
            _verdicts[workload_module] = refusal
            if refusal is not None:
                raise WorkloadRefused(refusal)
        except BaseException:
            self.interpreter.close()
            raise
        self.results: Any = api.create_queue()

    def attach(self, workload: Workload, worker_id: int, fd: int) -> None:
        self.interpreter.prepare_main(
            workload=pickle.dumps(workload), worker_id=worker_id, fd=fd, results=self.results
        )
        self.interpreter.exec("_conc_tui_worker.attach(workload, worker_id, fd, results)")

    def run(self, item: Item) -> ItemResult:
        self.interpreter.prepare_main(item=pickle.dumps(item))
        self.interpreter.exec("_conc_tui_worker.run(item)")
        result: ItemResult = pickle.loads(self.results.get_nowait())
        return result

    def close(self) -> None:
        try:
            self.interpreter.exec("_conc_tui_worker.detach()")
        finally:
            self.interpreter.close()


class WorkerSetupFailed(RuntimeError):
    """An interpreter could not be made a worker; the message says why, in one line."""


class _EitherFlag:
    """Set when the user stops the run, or when a worker could not start."""

    def __init__(self, first: StopFlag, second: threading.Event) -> None:
        self._first, self._second = first, second

    def is_set(self) -> bool:
        return self._first.is_set() or self._second.is_set()


def run(ctx: RunContext) -> Outcome:
    found = _api()
    if found is None:
        return Outcome([], available() or "no interpreters module")
    api_name, api = found
    workload = ctx.workload
    module = type(workload).__module__
    known = _verdicts.get(module)
    if known is not None:
        return Outcome([], refusal_sentence(workload.name, known))
    link = ctx.link
    fd = link.connection.fileno() if link is not None else -1
    workers: list[InterpreterWorker] = []
    workers_lock = threading.Lock()
    setup_errors: list[str] = []
    setup_failed = threading.Event()
    mine = threading.local()

    def start_worker() -> None:
        # A failing initializer would break the pool with a misleading "a worker
        # process died": keep the reason, stop feeding items and fail with it.
        mine.worker = None
        try:
            worker = InterpreterWorker(api_name, api, module)
            with workers_lock:
                workers.append(worker)
                number = len(workers)
            worker_id = link.allocate_id() if link is not None else 0
            worker.attach(workload, worker_id, fd)
            if link is not None:
                # Sent once it can work: the start-up is creation plus imports.
                link.hello(worker_id, f"interp {number}", os.getpid(), threading.get_native_id())
            mine.worker = worker
        except WorkloadRefused as exc:
            with workers_lock:
                setup_errors.append(refusal_sentence(workload.name, str(exc)))
            setup_failed.set()
        except Exception as exc:
            with workers_lock:
                setup_errors.append(f"an interpreter could not start: {_failure_text(exc)}")
            setup_failed.set()

    def task(item: Item) -> ItemResult:
        worker: InterpreterWorker | None = mine.worker
        if worker is None:
            raise WorkerSetupFailed(setup_errors[0] if setup_errors else "no interpreter")
        return worker.run(item)

    frontier = ctx.frontier()
    ctx.pool_starting()
    pool = ThreadPoolExecutor(
        max_workers=ctx.workers,
        thread_name_prefix="conc-tui-interp",
        initializer=start_worker,
    )
    error = ""
    try:
        error = drive_pool(
            lambda item: pool.submit(task, item),
            frontier,
            ctx.workers * 2,
            _EitherFlag(ctx.stop, setup_failed),
        )
    finally:
        # A thread running an interpreter cannot be killed: a stop lets items finish.
        pool.shutdown(wait=True, cancel_futures=True)
        for worker in workers:
            try:
                worker.close()
            except Exception as exc:  # the log's last flush, say: the run has ended
                error = error or f"closing an interpreter failed: {_failure_text(exc)}"
    if setup_errors:
        error = setup_errors[0]
    return Outcome(frontier.results, error)

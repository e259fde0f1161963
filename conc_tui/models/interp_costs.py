"""What one interpreter costs next to one process and one thread, measured on this machine.

The interpreters pane compares the three kinds of worker by what each costs to start
and to keep, and says which workloads can run in an interpreter at all. Every figure
is measured here, once per machine and Python, in a process of its own, and cached:

- **start-up**, each worker timed alone, one after another, the median of
  :data:`SAMPLES`, after one warm-up start whose one-off costs a pool also pays once:
  an *interpreter* from its creation until it has imported the worker-side module
  (:mod:`conc_tui.models.interp_worker`) and the cpu workload, exactly what a worker of
  :mod:`conc_tui.models.interp` does before its "hello"; a *process* from ``start()``
  until it answers from a pool context like the process model's (a fork server that
  preloaded the same modules, so each worker is a fork; the server's own start is the
  warm-up, kept as ``first_process_start_s``);
  a *thread* from ``start()`` until it runs.
- **memory**, as USS (pages no other process shares), read by psutil from this, the
  observing, interpreter: psutil refuses to load inside a subinterpreter. An
  interpreter's is what the one process grew by per interpreter kept alive; a process
  worker's is its own USS once ready, and the fork server's its own (paid once per
  pool, like its start).
- **which workloads run**: each workload's module imported in a fresh interpreter,
  with the import's own error when it refuses (:func:`interp.workload_support`).

Processes are measured first: nothing may fork while an interpreter exists (see
:mod:`conc_tui.models.interp`). The app asks through :class:`CostProbe`, which reads
the cache or measures in a child (:data:`MEASURE_COMMAND`), so the UI process never
creates an interpreter. The CLI asks :func:`refuses`, which answers from the cached
table when there is one.

Figures measured while other programs kept half the cores busy are noisy: they are
kept marked as such (the pane says how busy), served for :data:`BUSY_KEPT_S` at most,
and measured again sooner when the machine is found quiet (:data:`QUIET_SHARE`).
"""

from __future__ import annotations

import contextlib
import dataclasses
import functools
import importlib.metadata
import json
import multiprocessing
import multiprocessing.util
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from conc_tui import __version__
from conc_tui.models import interp
from conc_tui.paths import cache_dir, fallback_cache_dir
from conc_tui.telemetry.accounting import machine_busy_s

SAMPLES = 5
"""Starts timed per kind of worker (after one warm-up); the median is shown."""
PROBE_WORKLOAD = "cpu"
"""The workload whose module each measured worker imports: one that runs everywhere."""
CACHE_NAME = "interp-costs.json"
_CACHE_FORMAT = 1
WORKER_START_TIMEOUT_S = 60.0
"""How long a measured process worker may take to answer before the measurement fails."""
MEASURE_TIMEOUT_S = 180.0
"""How long the app waits for the measuring process (it takes a few seconds)."""
BUSY_KEPT_S = 6 * 3600.0
"""How long figures measured on a busy machine are served before they are measured again.

Measuring costs about 3 s of one core; a machine that stays busy would pay it at
every start of the app otherwise."""
QUIET_CHECK_S = 1.0
"""How long the app watches the machine before measuring busy figures again early."""
QUIET_SHARE = 0.25
"""Quiet: other programs keep under this share of the cores busy (the pane's warning)."""
# What the measurement depends on besides the machine: a new Pillow may learn to load
# in a subinterpreter, a new Python may start interpreters faster.
_DEPENDENCIES = ("Pillow", "psutil", "aiohttp", "interpreters-pep-734")


@dataclass(frozen=True)
class InterpCosts:
    """One interpreter's costs next to one process's and one thread's, as measured."""

    interp_start_s: float
    process_start_s: float
    thread_start_s: float
    first_process_start_s: float
    """The first process's start, which also started the fork server (or spawned)."""
    process_method: str
    """How the process model's pool starts workers here: "forkserver" or "spawn"."""
    interp_uss_bytes: int | None
    """None where psutil cannot read USS."""
    process_uss_bytes: int | None
    support: tuple[tuple[str, str | None], ...]
    """(workload, None if it runs in an interpreter, else the import's error)."""
    samples: int = SAMPLES
    others_cores_busy: float | None = None
    """Cores other programs kept busy while this was measured (None: not known)."""
    cores: int | None = None
    """The machine's cores."""
    fork_server_uss_bytes: int | None = None
    """What the fork server holds alone, paid once per pool (None: spawned, or unknown)."""
    measured_at: float | None = None
    """When, in seconds since the epoch (None: not known, so as old as can be)."""

    @property
    def machine_was_busy(self) -> bool:
        """Other programs kept half the cores busy: figures too noisy to keep for good."""
        if self.others_cores_busy is None or not self.cores:
            return False
        return self.others_cores_busy >= self.cores / 2

    def due_again(self, now: float) -> bool:
        """Busy figures older than :data:`BUSY_KEPT_S`: measure again, whatever the load."""
        if not self.machine_was_busy:
            return False
        return self.measured_at is None or not 0 <= now - self.measured_at < BUSY_KEPT_S

    def to_json(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_json(cls, data: Any) -> InterpCosts:
        """Rebuild from :meth:`to_json`'s output.

        Raises:
            ValueError: the data is not what :meth:`to_json` writes.
        """
        try:
            support = tuple(
                (str(name), None if why is None else str(why)) for name, why in data["support"]
            )
            costs = cls(
                interp_start_s=float(data["interp_start_s"]),
                process_start_s=float(data["process_start_s"]),
                thread_start_s=float(data["thread_start_s"]),
                first_process_start_s=float(data["first_process_start_s"]),
                process_method=str(data["process_method"]),
                interp_uss_bytes=_optional_int(data["interp_uss_bytes"]),
                process_uss_bytes=_optional_int(data["process_uss_bytes"]),
                support=support,
                samples=int(data["samples"]),
                others_cores_busy=_optional_float(data.get("others_cores_busy")),
                cores=_optional_int(data.get("cores")),
                fork_server_uss_bytes=_optional_int(data.get("fork_server_uss_bytes")),
                measured_at=_optional_float(data.get("measured_at")),
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise ValueError(f"not a measurement of interpreter costs ({exc})") from exc
        starts = (costs.interp_start_s, costs.process_start_s, costs.thread_start_s)
        if not all(value > 0 for value in starts):
            raise ValueError("a start-up time that is not positive")
        return costs


def _optional_int(value: Any) -> int | None:
    return None if value is None else int(value)


def _optional_float(value: Any) -> float | None:
    return None if value is None else float(value)


# --- Measuring (in a process of its own) ----------------------------------------------


def _uss(pid: int) -> int | None:
    """Memory only this process holds, from the OS; None where psutil cannot tell."""
    import psutil  # here: psutil refuses to load in a subinterpreter

    try:
        return int(psutil.Process(pid).memory_full_info().uss)
    except (psutil.Error, AttributeError, OSError):
        return None


def _tree_cpu_s() -> float:
    """CPU of this process and every process below it (the fork server, its workers)."""
    import psutil

    me = psutil.Process()
    total = float(sum(me.cpu_times()[:4]))  # user, system, and the reaped children's
    for child in me.children(recursive=True):
        with contextlib.suppress(psutil.Error):
            times = child.cpu_times()
            total += times.user + times.system + times.children_user + times.children_system
    return total


def time_thread_start(samples: int = SAMPLES) -> float:
    """Median seconds from a thread's ``start()`` until it runs."""
    times: list[float] = []
    for _ in range(samples + 1):
        running = threading.Event()
        began = time.perf_counter()
        thread = threading.Thread(target=running.set, name="conc-tui-cost-probe")
        thread.start()
        running.wait()
        times.append(time.perf_counter() - began)
        thread.join()
    return statistics.median(times[1:])


def _answer_and_wait(connection: Any) -> None:
    """A measured process worker: say it is ready, stay until measured (in the worker)."""
    connection.send(os.getpid())
    with contextlib.suppress(EOFError, OSError):  # the observer is gone: leave
        connection.recv()


def _pool_context(workload_module: str) -> tuple[Any, str]:
    """A context like the process model's pool's, whose workers also preload this module."""
    from conc_tui.models.process import pool_context

    workload = _probe_workload()
    context: Any = pool_context(workload)
    method = context.get_start_method()
    if method == "forkserver":
        # The target must come preloaded too, or each fork would pay for importing it.
        modules = ["conc_tui.models.process", workload_module, __name__]
        context.set_forkserver_preload(modules)
    return context, method


def _fork_server_uss() -> int | None:
    import psutil

    for child in psutil.Process().children():
        with contextlib.suppress(psutil.Error):
            if "multiprocessing.forkserver" in " ".join(child.cmdline()):
                return _uss(child.pid)
    return None


@dataclass(frozen=True)
class ProcessCosts:
    """What process workers cost, started as the process model's pool starts them."""

    first_start_s: float
    start_s: float
    uss_bytes: int | None
    method: str
    server_uss_bytes: int | None


def measure_processes(workload_module: str, samples: int = SAMPLES) -> ProcessCosts:
    """Start-up and memory of process workers started as the process model's pool does."""
    context, method = _pool_context(workload_module)
    times: list[float] = []
    sizes: list[int] = []
    for _ in range(samples + 1):
        ours, theirs = context.Pipe()
        began = time.perf_counter()
        worker = context.Process(target=_answer_and_wait, args=(theirs,), daemon=True)
        worker.start()
        if not ours.poll(WORKER_START_TIMEOUT_S):
            worker.kill()
            raise RuntimeError(
                f"a process worker did not start within {WORKER_START_TIMEOUT_S:.0f} s"
            )
        pid = ours.recv()
        times.append(time.perf_counter() - began)
        theirs.close()
        size = _uss(pid)
        if size is not None:
            sizes.append(size)
        ours.send("done")
        ours.close()
        worker.join(5)
        if worker.is_alive():
            worker.kill()
            worker.join(1)
    uss = int(statistics.median(sizes[1:])) if len(sizes) == len(times) else None
    server = _fork_server_uss() if method == "forkserver" else None
    return ProcessCosts(times[0], statistics.median(times[1:]), uss, method, server)


def measure_interpreters(workload_module: str, samples: int = SAMPLES) -> tuple[float, int | None]:
    """(median start, USS per interpreter) of interpreter workers, all kept alive.

    Raises:
        RuntimeError: this Python has no interpreters module.
    """
    found = interp._api()
    if found is None:
        raise RuntimeError(interp.available() or "no interpreters module")
    api_name, api = found
    workers: list[interp.InterpreterWorker] = []
    try:
        # The first one pays what every later one shares (the backport's own start).
        workers.append(interp.InterpreterWorker(api_name, api, workload_module))
        before = _uss(os.getpid())
        times: list[float] = []
        for _ in range(samples):
            began = time.perf_counter()
            workers.append(interp.InterpreterWorker(api_name, api, workload_module))
            times.append(time.perf_counter() - began)
        after = _uss(os.getpid())
    finally:
        for worker in workers:
            worker.close()
    per = None if before is None or after is None else max(0, after - before) // samples
    return statistics.median(times), per


def workload_table() -> tuple[tuple[str, str | None], ...]:
    """Each workload, with None if it loads in an interpreter, else the import's error."""
    from conc_tui.registry import WORKLOADS, workload_spec

    return tuple((name, interp.workload_support(workload_spec(name).module)) for name in WORKLOADS)


def _probe_workload() -> Any:
    from conc_tui.config import WorkloadOptions
    from conc_tui.registry import workload_spec

    return workload_spec(PROBE_WORKLOAD).workload_class()(WorkloadOptions())


def measure(samples: int = SAMPLES) -> InterpCosts:
    """Measure every cost on this machine (a few seconds; processes first, see above).

    Raises:
        RuntimeError: this Python cannot run interpreters.
    """
    need = interp.available()
    if need is not None:
        raise RuntimeError(need)
    module = type(_probe_workload()).__module__
    began, busy0, ours0 = time.monotonic(), machine_busy_s(), _tree_cpu_s()
    processes = measure_processes(module, samples)
    thread_s = time_thread_start(samples)
    interp_s, interp_uss = measure_interpreters(module, samples)
    support = workload_table()
    window = time.monotonic() - began
    others = max(0.0, (machine_busy_s() - busy0) - (_tree_cpu_s() - ours0)) / window
    return InterpCosts(
        interp_start_s=interp_s,
        process_start_s=processes.start_s,
        thread_start_s=thread_s,
        first_process_start_s=processes.first_start_s,
        process_method=processes.method,
        interp_uss_bytes=interp_uss,
        process_uss_bytes=processes.uss_bytes,
        support=support,
        samples=samples,
        others_cores_busy=others,
        cores=os.cpu_count(),
        fork_server_uss_bytes=processes.server_uss_bytes,
        measured_at=time.time(),
    )


# --- The cache ------------------------------------------------------------------------


@functools.cache  # reading four packages' metadata takes ~10 ms; they stay put
def cache_key() -> str:
    """What the figures hold for: this machine, this Python, these packages."""
    versions = []
    for name in _DEPENDENCIES:
        try:
            versions.append(f"{name}={importlib.metadata.version(name)}")
        except importlib.metadata.PackageNotFoundError:
            versions.append(f"{name}=none")
    return " ".join(
        [platform.node(), sys.executable, platform.python_version(), f"conc-tui={__version__}"]
        + versions
    )


def _cache_file() -> Path | None:
    """Where the figures are kept: the cache, or the private fallback when it cannot be made."""
    for where in (cache_dir, fallback_cache_dir):
        with contextlib.suppress(OSError):
            return where() / CACHE_NAME
    return None


def _read_entries(path: Path) -> dict[str, Any]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    if not isinstance(data, dict) or data.get("format") != _CACHE_FORMAT:
        return {}
    entries = data.get("entries")
    return entries if isinstance(entries, dict) else {}


def load_cached() -> InterpCosts | None:
    """The figures measured before for :func:`cache_key`, if any were (and are readable)."""
    path = _cache_file()
    entry = _read_entries(path).get(cache_key()) if path is not None else None
    if entry is None:
        return None
    try:
        return InterpCosts.from_json(entry)
    except ValueError:
        return None


def store(costs: InterpCosts) -> Path | None:
    """Keep the figures for :func:`cache_key` (beside other Pythons'); where, or None."""
    path = _cache_file()
    if path is None:
        return None
    entries = _read_entries(path)
    entries[cache_key()] = costs.to_json()
    text = json.dumps({"format": _CACHE_FORMAT, "entries": entries}, indent=1)
    temp: str | None = None
    try:
        # Whole or not at all: two apps measuring at once must not mix their writes.
        fd, temp = tempfile.mkstemp(prefix=".interp-costs-", dir=path.parent)
        with os.fdopen(fd, "w", encoding="utf-8") as out:
            out.write(text)
        os.replace(temp, path)
    except OSError:
        if temp is not None:
            with contextlib.suppress(OSError):
                os.unlink(temp)
        return None
    return path


def keep(costs: InterpCosts) -> Path | None:
    """Cache a new measurement, unless it is busy and quiet figures are already kept.

    Busy figures are kept too, marked busy by their load and dated, so that the next
    start of the app does not pay for measuring again (see :class:`CostProbe`); they
    never replace figures measured quiet.
    """
    if costs.machine_was_busy:
        kept = load_cached()
        if kept is not None and not kept.machine_was_busy:
            return None
    return store(costs)


def refuses(workload_name: str, module_name: str) -> str | None:
    """:func:`interp.refuses`, answered from the cached table when it was measured.

    The table is measured once per machine, Python and packages (whatever the load:
    whether a module loads does not depend on it), so the CLI need not create an
    interpreter to ask again; without a table, a fresh interpreter is asked.
    """
    need = interp.available()
    if need is not None:
        return need
    kept = load_cached()
    support = dict(kept.support) if kept is not None else {}
    if workload_name not in support:
        return interp.refuses(workload_name, module_name)
    reason = support[workload_name]
    return None if reason is None else interp.refusal_sentence(workload_name, reason)


MEASURE_COMMAND = "import sys; from conc_tui.models.interp_costs import main; sys.exit(main())"
"""What ``python -c`` runs to measure. Not ``-m``: the measured process workers would
then re-run this module as their ``__main__`` first, and pay for it."""


def main() -> int:
    """Measure, cache, and print the figures as JSON (see :data:`MEASURE_COMMAND`)."""
    from conc_tui.lifecycle import exit_with, new_run_dir

    exit_with(os.getppid())  # measuring for nobody is no use
    # The fork server's socket (and whatever else lands in the temp folder) goes into
    # a run folder, which a later start sweeps should this process be killed.
    run_dir = new_run_dir()
    tempfile.tempdir = str(run_dir)
    # After multiprocessing's own folder in it (priority -100) is gone, at exit.
    multiprocessing.util.Finalize(
        None, shutil.rmtree, args=(run_dir,), kwargs={"ignore_errors": True}, exitpriority=-200
    )
    try:
        costs = measure()
    except RuntimeError as exc:
        print(f"conc-tui: {exc}", file=sys.stderr)
        return 2
    keep(costs)
    print(json.dumps(costs.to_json()))
    return 0


# --- For the app: the figures, or why there are none yet -------------------------------

MEASURING = "measuring…"


def others_quiet(window_s: float = QUIET_CHECK_S) -> bool:
    """Whether other programs keep under :data:`QUIET_SHARE` of the cores busy now.

    Watched for ``window_s``; this process and its children (the app's runs) are not
    other programs.
    """
    cores = os.cpu_count() or 1
    began, busy0, ours0 = time.monotonic(), machine_busy_s(), _tree_cpu_s()
    time.sleep(window_s)
    window = time.monotonic() - began
    others = max(0.0, (machine_busy_s() - busy0) - (_tree_cpu_s() - ours0)) / window
    return others < cores * QUIET_SHARE


class CostProbe:
    """The costs for the pane: cached, or measured once in a child process.

    :meth:`current` never blocks: it answers with the figures, or with a note saying
    they are being measured (or why they could not be). Cached busy figures are
    served at once and measured again behind them when they are older than
    :data:`BUSY_KEPT_S`, or when the machine is found quiet.
    """

    def __init__(
        self,
        argv: list[str] | None = None,
        *,
        quiet: Callable[[], bool] = others_quiet,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._argv = argv or [sys.executable, "-c", MEASURE_COMMAND]
        self._quiet = quiet
        self._clock = clock
        self._lock = threading.Lock()
        self._costs: InterpCosts | None = None
        self._note = MEASURING
        self._started = False
        self.worker: threading.Thread | None = None
        """The thread measuring (or deciding whether to), once started: tests join it."""

    def current(self) -> InterpCosts | str:
        """The measured costs, or a short note: "measuring…", or why they are missing."""
        with self._lock:
            if not self._started:
                self._started = True
                self._costs = load_cached()
                if self._costs is None:
                    self._start(self._measure)
                elif self._costs.machine_was_busy:
                    self._start(self._measure_again_if_due)
            return self._costs if self._costs is not None else self._note

    def _start(self, target: Callable[[], None]) -> None:
        self.worker = threading.Thread(target=target, name="conc-tui-interp-costs", daemon=True)
        self.worker.start()

    def _measure_again_if_due(self) -> None:
        with self._lock:
            kept = self._costs
        if kept is None:
            return
        if kept.due_again(self._clock()) or self._quiet():
            self._measure()

    def _measure(self) -> None:
        try:
            done = subprocess.run(
                self._argv,
                stdin=subprocess.DEVNULL,
                capture_output=True,
                text=True,
                timeout=MEASURE_TIMEOUT_S,
                check=False,
            )
        except (OSError, subprocess.TimeoutExpired) as exc:
            self._fail(f"the measurement did not finish ({exc})")
            return
        if done.returncode != 0:
            lines = done.stderr.strip().splitlines()
            self._fail(lines[-1] if lines else f"the measurement exited with {done.returncode}")
            return
        try:
            costs = InterpCosts.from_json(json.loads(done.stdout.strip().splitlines()[-1]))
        except (ValueError, IndexError) as exc:
            self._fail(f"the measurement said something unexpected ({exc})")
            return
        with self._lock:
            self._costs = costs

    def _fail(self, reason: str) -> None:
        with self._lock:
            self._note = f"not measured: {reason}"


_PROBE = CostProbe()


def current_costs() -> InterpCosts | str:
    """This process's probe (see :class:`CostProbe`); starts measuring on first call."""
    return _PROBE.current()

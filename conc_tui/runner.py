"""The runner: the child process in which one run's workload actually executes.

It prepares the input, runs the model, measures wall and CPU time around it and sends
the outcome back; its workers send telemetry down a separate pipe. Keeping the run
in its own process means nothing the observer does (folding events, sampling the OS,
drawing) competes for the run's GIL, and nothing the run does can starve the observer.
"""

from __future__ import annotations

import signal
import sys
import tempfile
import time
import traceback
from collections.abc import Callable
from pathlib import Path
from typing import Any

import psutil

from conc_tui import messages
from conc_tui.config import RunConfig
from conc_tui.lifecycle import exit_with
from conc_tui.models.base import Outcome, RunContext, describe_error
from conc_tui.registry import MODEL_SPECS
from conc_tui.telemetry.link import TelemetryLink
from conc_tui.telemetry.system import (
    cpu_seconds_self_and_children,
    peak_rss_self_and_children,
)
from conc_tui.workloads.base import Workload, WorkloadError

PREPARATION_INTERVAL_S = 0.2
"""Least time between two progress notes of one stage: a few updates a second."""


class PreparationReports:
    """Forwards a workload's preparation notes to the observer, a few a second.

    A corpus reports every file it writes; only its first and last notes, and one
    every :data:`PREPARATION_INTERVAL_S` between, go on. A stage's start and end
    (the site starting, ready) always go.
    """

    def __init__(
        self,
        report: Callable[[messages.RunnerReport], None],
        interval_s: float = PREPARATION_INTERVAL_S,
    ) -> None:
        self._report = report
        self._interval_s = interval_s
        self._last = -interval_s

    def __call__(self, note: messages.Preparation) -> None:
        now = time.monotonic()
        partial = isinstance(note, messages.CorpusProgress) and (
            0 < note.files_done < note.files_total
        )
        if partial and now - self._last < self._interval_s:
            return
        self._last = now
        self._report(note)


# Built from the registry; a model this Python cannot run has no entry (the CLI and
# the app refuse it before a runner starts).
MODELS: dict[str, Callable[[RunContext], Outcome]] = {
    name: spec.runner() for name, spec in MODEL_SPECS.items() if spec.available() is None
}


def runner_main(
    config: RunConfig,
    workload: Workload,
    telemetry: Any,
    counter: Any,
    results: Any,
    stop: Any,
    parent_pid: int,
    run_dir: str,
) -> None:
    """Entry point of the runner process (started with the "spawn" method)."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the observer decides when to stop
    # Whatever this run makes in the temp folder (the fork server's socket, say) goes
    # into its run folder, which the observer deletes even if this process is killed.
    tempfile.tempdir = run_dir
    exit_with(parent_pid, parent_thread_lives=True)
    link = TelemetryLink(telemetry, counter) if telemetry is not None else None
    report: Callable[[messages.RunnerReport], None] = results.send  # only reports go this way
    try:
        try:
            workload.plan_run(config.workers, stop, PreparationReports(report))
            workload.prepare(Path(run_dir))
        except WorkloadError as exc:
            report(messages.InputRejected(str(exc)))
            return
        # Whatever runs below this process now (the local web site) serves the input;
        # the observer counts its CPU apart from the workers'.
        helpers = frozenset(child.pid for child in psutil.Process().children(recursive=True))
        # A timed run's item count is only known at its end.
        total = None if config.options.duration_s is not None else workload.total_items()
        report(messages.Prepared(total, workload.describe(), helpers))
        ctx = RunContext(
            workload=workload,
            workers=config.workers,
            link=link,
            stop=stop,
            to_thread=config.options.to_thread,
            duration_s=config.options.duration_s,
        )
        cpu_self0, cpu_kids0 = cpu_seconds_self_and_children()
        start_ns = time.monotonic_ns()
        started = time.perf_counter()
        outcome = MODELS[config.model](ctx)
        wall_s = time.perf_counter() - started
        end_ns = time.monotonic_ns()
        cpu_self1, cpu_kids1 = cpu_seconds_self_and_children()
        if link is not None:
            link.flush_all()
        report(
            messages.RunFinished(
                outcome=outcome,
                wall_s=wall_s,
                start_ns=start_ns,
                end_ns=end_ns,
                # Pool workers from a fork server are not this process's children,
                # so this misses them: the observer's tree count replaces it.
                cpu_s=(cpu_self1 - cpu_self0) + (cpu_kids1 - cpu_kids0),
                peak_rss_bytes=peak_rss_self_and_children(),
            )
        )
    except Exception as exc:
        traceback.print_exc(file=sys.stderr)
        report(messages.RunnerCrashed(describe_error(exc)))
    finally:
        workload.close()
        sys.stderr.flush()

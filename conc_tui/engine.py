"""Run one (model, workload, workers) combination to completion, measured.

The same function serves the headless CLI, the benchmarks, the tests and the app's
lab process, so every number the app shows is one ``conc-tui run`` would print.

The calling process is the *observer*: it starts a *runner* process that prepares
the input and runs the model (see :mod:`conc_tui.runner`), folds the telemetry the
runner's workers send, samples the OS, and publishes snapshots on schedule.
"""

from __future__ import annotations

import os
import shutil
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from multiprocessing.connection import wait
from typing import Any, NoReturn

from conc_tui import messages
from conc_tui.config import RunConfig
from conc_tui.lifecycle import describe_exit, new_run_dir, process_alive
from conc_tui.models.base import Outcome
from conc_tui.models.process import mp_context
from conc_tui.registry import gil_enabled, model_spec, workload_spec
from conc_tui.runner import runner_main
from conc_tui.telemetry.accounting import CpuAccount, TreeCpuMeter
from conc_tui.telemetry.aggregator import Aggregator
from conc_tui.telemetry.hub import TelemetryHub
from conc_tui.telemetry.snapshot import Phase, RunResult, Snapshot
from conc_tui.telemetry.states import Event
from conc_tui.workloads.base import ItemResult, Workload, WorkloadError, checksum

MAX_FAILURES_KEPT = 20
POLL_S = 0.02
CPU_POLL_S = 0.1
"""How often the observer reads the run's process tree and the machine's busy time."""
STOP_GRACE_S = 0.5


def make_workload(config: RunConfig) -> Workload:
    """Build the workload a config names (not prepared yet)."""
    cls: Any = workload_spec(config.workload).workload_class()
    workload: Workload = cls(config.options)
    return workload


@dataclass(frozen=True)
class _Crash:
    """The run ended without a result (the runner died, or the model raised)."""

    reason: str
    wall_s: float
    """How long the observer watched before it ended."""


@dataclass(frozen=True)
class _Ending:
    """How the observer saw the run end: the runner's result, or the crash."""

    account: CpuAccount
    report: messages.RunFinished | _Crash
    calls_on_hold_mean: float | None = None

    @property
    def finished(self) -> messages.RunFinished | None:
        return self.report if isinstance(self.report, messages.RunFinished) else None


def execute(
    config: RunConfig,
    *,
    on_snapshot: Callable[[Snapshot], None] | None = None,
    stop: threading.Event | None = None,
    snapshot_interval: float = 0.1,
    event_log: list[Event] | None = None,
    workload: Workload | None = None,
) -> RunResult:
    """Prepare the workload, run it under the model, and return the measured result.

    ``on_snapshot`` (if given) is called from this thread every ``snapshot_interval``
    seconds, and once more with the final snapshot carrying the result. Inputs are
    prepared before the clock starts; the pool's start-up is inside the wall time.
    ``event_log`` collects every event folded (for tests); ``workload`` replaces the
    one the config names (for tests that inject faults).

    Raises:
        ConfigError: a setting is out of range.
        WorkloadError: the input cannot be used (missing folder, bad URL, ...).
    """
    config.validate()
    stop = stop or threading.Event()
    workload = workload or make_workload(config)
    run_dir = new_run_dir()
    ctx: Any = mp_context()
    telemetry_in, telemetry_out = ctx.Pipe(duplex=False) if config.telemetry else (None, None)
    results_in, results_out = ctx.Pipe(duplex=False)
    stop_flag = ctx.Event()
    worker_ids = ctx.Value("i", 0)  # held here until the runner has started
    runner = ctx.Process(
        target=runner_main,
        name="conc-tui-runner",
        args=(
            config,
            workload,
            telemetry_out,
            worker_ids,
            results_out,
            stop_flag,
            os.getpid(),
            str(run_dir),
        ),
    )
    aggregator = Aggregator(
        model=config.model,
        workload=config.workload,
        workers=config.workers,
        origin_ns=time.monotonic_ns(),
        # Free-threaded Python has no GIL to wait for: the share is "not applicable".
        gil_possible=model_spec(config.model).measures.gil_wait and gil_enabled(),
    )
    try:
        runner.start()
        # Only the runner (and its pool) write: the pipes report EOF once they are gone.
        results_out.close()
        if telemetry_out is not None:
            telemetry_out.close()
        hub = TelemetryHub(aggregator, telemetry_in, runner.pid or 0, event_log=event_log)
        meter = TreeCpuMeter(runner.pid or 0)
        ending = _observe(
            hub, meter, runner, results_in, stop, stop_flag, on_snapshot, snapshot_interval
        )
    finally:
        if runner.is_alive():
            stop_flag.set()
            runner.join(STOP_GRACE_S)
        if runner.is_alive():
            runner.kill()
            runner.join(1)
        shutil.rmtree(run_dir, ignore_errors=True)

    end_ns = ending.finished.end_ns if ending.finished is not None else time.monotonic_ns()
    aggregator.finish(end_ns)
    result = _result(config, workload, ending, end_ns, aggregator, stop, hub.input_text)
    if on_snapshot is not None:
        final = aggregator.snapshot(
            end_ns,
            _phase_of(result),
            items_total=hub.items_total,
            message=result.reason,
            input_text=hub.input_text,
        )
        on_snapshot(
            replace(
                final,
                result=result,
                failures=result.failures,
                cores_busy=result.mean_cores_busy,
                others_cores_busy=result.others_cores_busy,
            )
        )
    return result


def _observe(
    hub: TelemetryHub,
    meter: TreeCpuMeter,
    runner: Any,
    results: Any,
    stop: threading.Event,
    stop_flag: Any,
    on_snapshot: Callable[[Snapshot], None] | None,
    snapshot_interval: float,
) -> _Ending:
    """Fold telemetry, count CPU and publish snapshots until the runner reports its result.

    The CPU count runs whether or not telemetry is on: it is what ``cpu_s`` and the
    other programs' load are made of.
    """
    next_snapshot = began = time.monotonic()
    next_cpu_poll = 0.0
    on_hold: list[int] = []
    measures_loop = model_spec(hub.aggregator.model).measures.loop_lag
    waitables = [results, runner.sentinel]
    if hub.connection is not None:
        waitables.append(hub.connection)

    def ended(report: messages.RunFinished | _Crash) -> _Ending:
        return _Ending(
            account=meter.close(),
            report=report,
            calls_on_hold_mean=sum(on_hold) / len(on_hold) if on_hold else None,
        )

    preparation: messages.Preparation | None = None

    def publish(snapshot: Snapshot) -> None:
        assert on_snapshot is not None
        # Over the run's clock, not the snapshot's elapsed time (which counts preparing).
        running_s = meter.open_s()
        cores = meter.run_cpu_s() / running_s if running_s > 0.2 else None
        on_snapshot(
            replace(
                snapshot,
                cores_busy=cores,
                others_cores_busy=meter.live_others_cores(),
                preparation=preparation,
            )
        )

    while True:
        if stop.is_set():
            stop_flag.set()
        wait(waitables if not hub.closed else waitables[:2], timeout=POLL_S)
        hub.read_available()
        if results.poll():
            try:
                message: messages.RunnerReport = results.recv()
            except EOFError:  # the runner is gone without a word
                runner.join(STOP_GRACE_S)
                hub.drain(timeout=0.2)
                return ended(_died(runner, began))
            if isinstance(
                message, messages.CorpusProgress | messages.SiteStarting | messages.SiteReady
            ):
                preparation, hub.message = message, message.describe()
                if on_snapshot is not None:  # each one (the runner sends a few a second)
                    hub.publish(publish)
            elif isinstance(message, messages.Prepared):
                preparation = None
                hub.items_total, hub.input_text = message.items_total, message.input_text
                hub.phase, hub.message = Phase.RUNNING, ""
                # The runner starts its clock as it sends this: the CPU window opens.
                meter.open(message.helper_pids)
            elif isinstance(message, messages.InputRejected):
                raise WorkloadError(message.reason)
            elif isinstance(message, messages.RunnerCrashed):
                crashed = f"the run crashed: {message.reason}"
                return ended(_Crash(crashed, time.monotonic() - began))
            elif isinstance(message, messages.RunFinished):
                meter.close()  # before the drain: the clock has stopped
                # The last batches come in as the pool's workers exit.
                hub.drain(timeout=1.0)
                return ended(message)
            else:
                unhandled: NoReturn = message  # a report without a branch: a mypy error
                raise TypeError(f"unknown runner report {unhandled!r}")
        elif not runner.is_alive() and not results.poll():
            hub.drain(timeout=0.2)
            return ended(_died(runner, began))
        if hub.connection is not None:
            hub.sample_if_due()
        now = time.monotonic()
        if now >= next_cpu_poll and meter.opened:
            next_cpu_poll = now + CPU_POLL_S
            meter.poll()
            if hub.connection is not None and measures_loop:
                on_hold.append(hub.aggregator.in_flight())
        if on_snapshot is not None and now >= next_snapshot:
            hub.publish(publish)
            next_snapshot = now + snapshot_interval


def _skipped_note(skipped: list[ItemResult]) -> str:
    """Items left alone during the run (a redirect off the host, a fetch a stop cut)."""
    if not skipped:
        return ""
    first = skipped[0]
    noun = "item" if len(skipped) == 1 else "items"
    return f"; {len(skipped)} {noun} skipped (first: {first.key} {first.error})"


def _died(runner: Any, began: float) -> _Crash:
    elapsed = time.monotonic() - began
    return _Crash(describe_exit("the run's process", runner.exitcode, elapsed), elapsed)


def _phase_of(result: RunResult) -> Phase:
    return {"finished": Phase.FINISHED, "stopped": Phase.STOPPED}.get(result.status, Phase.FAILED)


def _result(
    config: RunConfig,
    workload: Workload,
    ending: _Ending,
    end_ns: int,
    agg: Aggregator,
    stop: threading.Event,
    input_text: str,
) -> RunResult:
    finished = ending.finished
    outcome = finished.outcome if finished is not None else Outcome([])
    results = outcome.results
    done = [r for r in results if r.ok]
    failed = [r for r in results if not r.ok and not r.skipped]
    skipped = [r for r in results if r.skipped]
    telemetry = config.telemetry
    files = config.workload == "files"
    wall_s = ending.report.wall_s
    account = ending.account
    # The tree count sees every process that worked for the run; the runner's own
    # figure (itself and its reaped children) is the fallback when it saw nothing.
    cpu_s = finished.cpu_s if finished is not None else 0.0
    if account.processes:
        cpu_s = account.run_s
    others = account.others_cores if account.window_s > 0 else None
    server_cpu_s = account.server_s if account.server_s > 0 else None
    on_hold = ending.calls_on_hold_mean
    status, reason = "finished", ""
    if isinstance(ending.report, _Crash):
        status, reason = "failed", ending.report.reason
    elif outcome.error:
        status, reason = "failed", outcome.error
    elif stop.is_set():
        status, reason = "stopped", "stopped before the end"
    elif any(r.fatal for r in failed):
        first = min((r for r in failed if r.fatal), key=lambda r: r.index)
        status, reason = "failed", f"{first.error} ({len(failed)} items failed)"
    elif failed and not done:
        # Nothing came out of it: a run, not an item, has a problem (a folder of
        # broken files, say), and a script checking the exit status must hear it.
        first = min(failed, key=lambda r: r.index)
        status = "failed"
        reason = (
            f"every item failed ({len(failed)} of {len(results)}); "
            f"the first: {first.key}: {first.error}"
        )
    elif skipped and not done and not failed:
        # Every item was left alone on purpose (a site whose start page redirects
        # to another host, say): nothing was measured, so the run did not succeed.
        first = min(skipped, key=lambda r: r.index)
        status = "failed"
        reason = f"every item was skipped ({len(skipped)}); the first: {first.key}: {first.error}"
    if status == "failed":
        for track in agg.tracks.values():
            if track.pid and not process_alive(track.pid):
                agg.mark_worker_failed(track.worker_id, end_ns)
    lock = agg.lock_totals
    lock_figures = files and telemetry
    measured_rss = agg.peak_rss_bytes if telemetry else 0
    return RunResult(
        model=config.model,
        workload=config.workload,
        workers=config.workers,
        wall_s=wall_s,
        items_done=len(done),
        items_failed=len(failed),
        checksum=checksum(results),
        throughput=len(done) / wall_s if wall_s > 0 else 0.0,
        bytes_processed=sum(r.size for r in done),
        cpu_s=cpu_s,
        mean_cores_busy=cpu_s / wall_s if wall_s > 0 else 0.0,
        peak_rss_bytes=measured_rss or (finished.peak_rss_bytes if finished is not None else 0),
        startup_s=agg.startup_s() if telemetry else None,
        lock_wait_s=lock.total_wait_ns / 1e9 if lock_figures else None,
        lock_hold_s=lock.total_hold_ns / 1e9 if lock_figures else None,
        lock_acquisitions=lock.acquisitions if lock_figures else None,
        lock_contended=lock.contended if lock_figures else None,
        gil_wait_share=agg.gil_wait_share() if telemetry else None,
        cpu_wait_share=agg.cpu_wait_share() if telemetry else None,
        loop_lag_mean_ms=(agg.lag_sum_us / agg.lag_count / 1000)
        if telemetry and agg.lag_count
        else None,
        loop_lag_max_ms=agg.lag_max_us / 1000 if telemetry and agg.lag_count else None,
        async_mode=outcome.async_mode,
        telemetry=telemetry,
        status=status,
        reason=reason,
        failures=tuple((r.key, r.error) for r in failed[:MAX_FAILURES_KEPT]),
        input=(input_text or workload.describe()) + _skipped_note(skipped),
        server_cpu_s=server_cpu_s,
        others_cores_busy=others,
        machine_cores=os.cpu_count(),
        calls_on_hold_mean=on_hold,
    )

"""Run one (model, workload, workers) combination to completion, measured.

The same function serves the headless CLI, the benchmarks, the tests and the app's
lab process, so every number the app shows is one ``conc-tui run`` would print.
"""

from __future__ import annotations

import importlib
import os
import shutil
import threading
import time
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

from conc_tui.config import RunConfig
from conc_tui.models import asyncio as async_model
from conc_tui.models import process as process_model
from conc_tui.models import serial as serial_model
from conc_tui.models import thread as thread_model
from conc_tui.models.base import Outcome, RunContext
from conc_tui.paths import new_run_dir
from conc_tui.telemetry.aggregator import Aggregator
from conc_tui.telemetry.hub import TelemetryHub
from conc_tui.telemetry.snapshot import Phase, RunResult, Snapshot
from conc_tui.telemetry.states import Event
from conc_tui.telemetry.system import (
    cpu_seconds_self_and_children,
    peak_rss_self_and_children,
)
from conc_tui.workloads.base import Workload, checksum

_WORKLOAD_CLASSES = {
    "images": ("conc_tui.workloads.images", "ImagesWorkload"),
    "files": ("conc_tui.workloads.files", "FilesWorkload"),
    "web": ("conc_tui.workloads.web", "WebWorkload"),
    "cpu": ("conc_tui.workloads.cpu", "CpuWorkload"),
}

_MODELS: dict[str, Callable[[RunContext], Outcome]] = {
    "serial": serial_model.run,
    "process": process_model.run,
    "thread": thread_model.run,
    "async": async_model.run,
}

MAX_FAILURES_KEPT = 20


def make_workload(config: RunConfig) -> Workload:
    """Build the workload a config names (not prepared yet)."""
    module_name, class_name = _WORKLOAD_CLASSES[config.workload]
    cls: Any = getattr(importlib.import_module(module_name), class_name)
    workload: Workload = cls(config.options)
    return workload


def execute(
    config: RunConfig,
    *,
    on_snapshot: Callable[[Snapshot], None] | None = None,
    stop: threading.Event | None = None,
    snapshot_interval: float = 0.1,
    keep_dir: Path | None = None,
    event_log: list[Event] | None = None,
    workload: Workload | None = None,
) -> RunResult:
    """Prepare the workload, run it under the model, and return the measured result.

    ``on_snapshot`` (if given) is called from the telemetry thread several times a
    second, and once more with the final snapshot carrying the result. Inputs are
    prepared before the clock starts; the pool's start-up is inside the wall time.

    Raises:
        ConfigError: a setting is out of range.
        WorkloadError: the input cannot be used (missing folder, bad URL, ...).

    ``event_log`` collects every event folded (for tests); ``workload`` replaces the
    one the config names (for tests that inject faults).
    """
    config.validate()
    stop = stop or threading.Event()
    workload = workload or make_workload(config)
    run_dir = keep_dir or new_run_dir()
    origin_ns = time.monotonic_ns()
    aggregator = Aggregator(
        model=config.model,
        workload=config.workload,
        workers=config.workers,
        origin_ns=origin_ns,
        gil_possible=config.model == "thread",
    )
    hub: TelemetryHub | None = None
    if config.telemetry:
        hub = TelemetryHub(
            aggregator,
            mp_context=process_model.mp_context() if config.model == "process" else None,
            on_snapshot=on_snapshot,
            snapshot_interval=snapshot_interval,
            event_log=event_log,
        )
        hub.message = "preparing the input"
        hub.start()
    try:
        workload.prepare(run_dir)
        if hub is not None:
            hub.items_total = workload.total_items()
            hub.input_text = workload.describe()
            hub.message = ""
            hub.phase = Phase.RUNNING
        ctx = RunContext(
            workload=workload,
            workers=config.workers,
            hub=hub,
            stop=stop,
            to_thread=config.options.to_thread,
        )
        cpu_self0, cpu_kids0 = cpu_seconds_self_and_children()
        started = time.perf_counter()
        start_ns = time.monotonic_ns()
        outcome = _MODELS[config.model](ctx)
        wall_s = time.perf_counter() - started
        end_ns = time.monotonic_ns()
        cpu_self1, cpu_kids1 = cpu_seconds_self_and_children()
    except BaseException:
        if hub is not None:
            hub.stop()
        raise
    finally:
        workload.close()
        if keep_dir is None:
            shutil.rmtree(run_dir, ignore_errors=True)

    if hub is not None:
        hub.stop()
    aggregator.finish(end_ns)
    cpu_s = (cpu_self1 - cpu_self0) + (cpu_kids1 - cpu_kids0)
    result = _result(config, workload, outcome, aggregator, wall_s, cpu_s, start_ns, end_ns, stop)
    if hub is not None and on_snapshot is not None:
        final = aggregator.snapshot(
            end_ns,
            _phase_of(result),
            items_total=hub.items_total,
            message=result.reason,
            input_text=hub.input_text,
        )
        on_snapshot(replace(final, result=result, failures=result.failures))
    return result


def _phase_of(result: RunResult) -> Phase:
    return {"finished": Phase.FINISHED, "stopped": Phase.STOPPED}.get(result.status, Phase.FAILED)


def _result(
    config: RunConfig,
    workload: Workload,
    outcome: Outcome,
    agg: Aggregator,
    wall_s: float,
    cpu_s: float,
    start_ns: int,
    end_ns: int,
    stop: threading.Event,
) -> RunResult:
    results = outcome.results
    done = [r for r in results if r.ok]
    failed = [r for r in results if not r.ok]
    telemetry = config.telemetry
    files = config.workload == "files"
    status, reason = "finished", ""
    if outcome.error:
        status, reason = "failed", outcome.error
        for track in agg.tracks.values():
            if track.pid and track.pid != os.getpid() and not _alive(track.pid):
                agg.mark_worker_failed(track.worker_id, end_ns)
    elif stop.is_set():
        status, reason = "stopped", "stopped before the end"
    lock = agg.lock_totals
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
        peak_rss_bytes=agg.peak_rss_bytes if telemetry and agg.peak_rss_bytes
        else peak_rss_self_and_children(),
        startup_s=agg.startup_s() if telemetry else None,
        lock_wait_s=lock.total_wait_ns / 1e9 if files and telemetry else None,
        lock_hold_s=lock.total_hold_ns / 1e9 if files and telemetry else None,
        lock_acquisitions=lock.acquisitions if files and telemetry else None,
        lock_contended=lock.contended if files and telemetry else None,
        gil_wait_share=agg.gil_wait_share(end_ns) if telemetry else None,
        cpu_wait_share=agg.cpu_wait_share(end_ns) if telemetry else None,
        loop_lag_mean_ms=(agg.lag_sum_us / agg.lag_count / 1000)
        if telemetry and agg.lag_count
        else None,
        loop_lag_max_ms=agg.lag_max_us / 1000 if telemetry and agg.lag_count else None,
        async_mode=outcome.async_mode,
        telemetry=telemetry,
        status=status,
        reason=reason,
        failures=tuple((r.key, r.error) for r in failed[:MAX_FAILURES_KEPT]),
        input=workload.describe(),
    )


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    # A reaped-but-listed zombie still answers kill(0); psutil tells them apart.
    import psutil

    try:
        return psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False

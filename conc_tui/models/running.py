"""Running one item: its states recorded around it, a failure counted, never fatal.

Apart from :mod:`conc_tui.models.base` so that what runs inside a subinterpreter
(:mod:`conc_tui.models.interp_worker`) imports only this, not the pools' machinery.
"""

from __future__ import annotations

from conc_tui.telemetry.recorder import Recorder
from conc_tui.telemetry.states import WorkerState
from conc_tui.workloads.base import Item, ItemResult, RunBroken, Workload

_RUNNING = WorkerState.RUNNING
_IDLE = WorkerState.IDLE


def describe_error(exc: BaseException) -> str:
    """One line naming what went wrong with an item."""
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
    name = type(exc).__name__
    line = f"{name}: {text}" if text else name
    return line[:200]


def failed_result(item: Item, exc: BaseException) -> ItemResult:
    fatal = isinstance(exc, RunBroken)
    return ItemResult(item.index, item.key, ok=False, error=describe_error(exc), fatal=fatal)


def run_item(workload: Workload, item: Item, recorder: Recorder) -> ItemResult:
    """Run one item synchronously, recording its start, end and outcome."""
    recorder.state(_RUNNING)
    try:
        result = workload.run(item)
    except Exception as exc:  # a failing item is counted, never fatal to the run
        result = failed_result(item, exc)
    return _finished(recorder, item, result)


async def run_item_async(workload: Workload, item: Item, recorder: Recorder) -> ItemResult:
    """Run one item on the event loop, recording its start, end and outcome."""
    recorder.state(_RUNNING)
    try:
        result = await workload.run_async(item)
    except Exception as exc:
        result = failed_result(item, exc)
    return _finished(recorder, item, result)


def _finished(recorder: Recorder, item: Item, result: ItemResult) -> ItemResult:
    if result.ok or result.skipped:  # a skipped item is dealt with, not failed
        recorder.item_done(item.index)
    else:
        recorder.item_failed(item.index)
    recorder.state(_IDLE)
    return result

"""The serial baseline: one worker, one item after another, in the calling thread."""

from __future__ import annotations

from conc_tui.models.base import Outcome, RunContext, run_item
from conc_tui.telemetry.recorder import set_current_recorder


def run(ctx: RunContext) -> Outcome:
    workload = ctx.workload
    ctx.pool_starting()
    recorder = ctx.local_recorder("main")
    set_current_recorder(recorder)
    workload.attach()
    try:
        frontier = ctx.frontier()
        while not ctx.stop.is_set():
            item = frontier.take()
            if item is None:
                break
            frontier.complete(run_item(workload, item, recorder))
    finally:
        workload.detach()
    return Outcome(frontier.results)

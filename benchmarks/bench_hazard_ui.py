"""What the hazard lab's lanes cost the UI: its own CPU per experiment run, headless.

The lab runs one experiment (``conc-tui demo NAME --json --stream`` in a child) under
Textual's Pilot at 160x48, as the app does at its default sizes; this process's CPU
time (``time.process_time``: the UI and the reader thread that parses the stream, not
the child) is taken over the run, from Enter until the result is on screen. ``--no-lanes``
runs the same without the stream (the child's steps and result only), for the floor.
Also counted: the bytes of lane lines the child sent (per variant: read the
child's stderr from ``conc-tui demo NAME --json --stream`` instead).

Run: ``python -m benchmarks.bench_hazard_ui NAME [--runs 3] [--no-lanes] [--quick]``;
prints one JSON object (medians and every run) on stdout.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import time
from typing import Any

from conc_tui.hazards import isolated, registry
from conc_tui.hazards.stream import Timelines


def one_run(name: str, lanes: bool, quick: bool) -> dict[str, Any]:
    """One run of the experiment in the lab: UI CPU seconds, wall seconds, bytes."""
    import sys

    sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "tests"))
    from fakes import FakeController, FixedCores
    from textual.widgets import OptionList

    from conc_tui.app import ConcApp
    from conc_tui.screens import hazards as screen_module
    from conc_tui.screens.hazards import HazardScreen

    sent = [0]
    real_feed = Timelines.feed

    def counting_feed(self: Timelines, line: str) -> bool:
        sent[0] += len(line) + 1
        return real_feed(self, line)

    real_run = isolated.run_isolated

    def run_without_lanes(*args: Any, **kwargs: Any) -> isolated.Outcome:
        kwargs["on_lanes"] = None
        return real_run(*args, **kwargs)

    if not lanes:
        screen_module.run_isolated = run_without_lanes  # type: ignore[assignment]
    result: dict[str, Any] = {}

    async def scenario() -> None:
        idle = FixedCores(((0.0, 0.0),))
        app = ConcApp(controller_factory=lambda: FakeController(interval=0.5), core_sampler=idle)
        async with app.run_test(size=(160, 48)) as pilot:
            await pilot.press("h")
            screen = app.screen
            assert isinstance(screen, HazardScreen)
            screen.quick = quick
            screen.query_one(OptionList).highlighted = registry.NAMES.index(name)
            await pilot.pause(0.2)
            cpu, wall = time.process_time(), time.monotonic()
            await pilot.press("enter")
            while name not in screen.outcomes:
                await pilot.pause(0.05)
            await pilot.pause(0.3)
            result["ui_cpu_s"] = time.process_time() - cpu
            result["wall_s"] = time.monotonic() - wall
            outcome = screen.outcomes[name]
            result["error"] = outcome.error

    Timelines.feed = counting_feed  # type: ignore[method-assign]
    try:
        asyncio.run(scenario())
    finally:
        Timelines.feed = real_feed  # type: ignore[method-assign]
        screen_module.run_isolated = real_run
    result["lane_bytes"] = sent[0]
    return result


def main() -> None:
    """Run NAME several times and print the medians."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("name", choices=registry.NAMES)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--no-lanes", action="store_true")
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args()
    runs = [one_run(args.name, not args.no_lanes, args.quick) for _ in range(args.runs)]
    load = os.getloadavg()[0]
    print(
        json.dumps(
            {
                "name": args.name,
                "lanes": not args.no_lanes,
                "load_1min_at_end": round(load, 2),
                "ui_cpu_s_median": round(statistics.median(r["ui_cpu_s"] for r in runs), 3),
                "wall_s_median": round(statistics.median(r["wall_s"] for r in runs), 2),
                "runs": runs,
            }
        )
    )


if __name__ == "__main__":
    main()

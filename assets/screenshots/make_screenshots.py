"""Save one SVG screenshot per pane, mid-run, with REAL runs (the lab controller).

Run from the repository root: ``python assets/screenshots/make_screenshots.py``.
Each pane starts its opening workload in loop mode; the screenshot is taken a few
seconds in, while the run is live.
"""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path

from conc_tui.app import ConcApp
from conc_tui.registry import PANE_MODELS, model_spec

OUT = Path(__file__).parent
SIZE = (160, 48)
PANES = tuple((str(key), model_spec(model).noun) for key, model in enumerate(PANE_MODELS, 1))
"""(key, file name) per pane: processes.svg, threads.svg, asyncio.svg."""


async def shoot(wait_s: float) -> None:
    # One app per pane, so each run has the machine to itself (on 2 cores three live
    # runs starve the asyncio pane's crawl and it rarely gets past preparing).
    for key, name in PANES:
        await shoot_one(key, name, wait_s)


async def shoot_one(key: str, name: str, wait_s: float) -> None:
    app = ConcApp()
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause(1.0)
        await pilot.press(key, "l", "space")
        for _ in range(int(wait_s * 10) + 300):
            await pilot.pause(0.1)
            snap = app.panes[app.current].snapshot
            if snap is None or snap.phase.value != "running":
                continue
            # Mid-run: a few seconds in, or well under way for a quick run.
            half = snap.items_total and snap.items_done >= 0.4 * snap.items_total
            if snap.elapsed_s >= wait_s or half:
                break
        print(app.save_screenshot(f"{name}.svg", path=str(OUT)))
        await pilot.press("q")


if __name__ == "__main__":
    asyncio.run(shoot(float(sys.argv[1]) if len(sys.argv) > 1 else 3.0))

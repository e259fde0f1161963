"""The UI keeps to its CPU budget by redrawing less often, within limits."""

from __future__ import annotations

import asyncio

import pytest
from fakes import FakeController

from conc_tui.frame_budget import CPU_BUDGET, SLOWEST_INTERVAL_S, FrameBudget


def test_over_budget_slows_redraws_step_by_step_but_never_past_the_slowest() -> None:
    budget = FrameBudget(0.1)
    first = budget.update(cpu_s=0.2, wall_s=1.0)  # 20% of a core
    assert 0.1 < first < SLOWEST_INTERVAL_S  # a step, not a jump
    for _ in range(50):
        budget.update(cpu_s=0.2, wall_s=1.0)
    assert budget.interval_s == pytest.approx(SLOWEST_INTERVAL_S)
    assert budget.slowed and budget.last_share == pytest.approx(0.2)


def test_well_under_budget_returns_to_the_apps_own_rate() -> None:
    budget = FrameBudget(0.1)
    for _ in range(10):
        budget.update(cpu_s=0.3, wall_s=1.0)
    assert budget.slowed
    # Just under the budget: no change either way (no flapping around the line).
    held = budget.interval_s
    budget.update(cpu_s=CPU_BUDGET * 0.9, wall_s=1.0)
    assert budget.interval_s == held
    for _ in range(10):
        budget.update(cpu_s=0.01, wall_s=1.0)
    assert budget.interval_s == pytest.approx(0.1) and not budget.slowed


def test_no_throttle_when_the_app_redraws_on_every_snapshot() -> None:
    budget = FrameBudget(0.0)  # refresh_hz=0: draw everything (tests)
    assert budget.update(cpu_s=1.0, wall_s=1.0) == 0.0


def test_the_app_lengthens_its_redraw_interval_when_drawing_costs_too_much(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from conc_tui import app as app_module
    from conc_tui.app import ConcApp

    async def scenario() -> None:
        app = ConcApp(controller_factory=FakeController)
        async with app.run_test(size=(80, 24)):
            fastest = app._min_redraw_s
            clock = {"cpu": 0.0, "wall": 0.0}
            monkeypatch.setattr(app_module.time, "process_time", lambda: clock["cpu"])
            monkeypatch.setattr(app_module.time, "monotonic", lambda: clock["wall"])
            app._budget_clock = (0.0, 0.0)
            for _ in range(5):  # five seconds at 30% of a core
                clock["cpu"] += 0.3
                clock["wall"] += 1.0
                app._keep_to_budget()
            monkeypatch.undo()
            assert app._min_redraw_s > fastest
            assert app.frame_budget.slowed

    asyncio.run(scenario())

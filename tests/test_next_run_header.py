"""The header says what the next run will be, knobs included; preparation is drawn.

Pressed with Pilot; the runs are the fake controller's, finished at once.
"""

from __future__ import annotations

from dataclasses import replace

import pytest
from fakes import make_snapshot
from test_app_pilot import make_app, sync

from conc_tui.app import ConcApp
from conc_tui.knobs import knob
from conc_tui.messages import CorpusProgress, SiteReady, SiteStarting
from conc_tui.telemetry.snapshot import Phase, Snapshot
from conc_tui.widgets.lines import LinesView

# (knob, key, pane key, pane, workload where the knob concerns the run)
CASES = [
    ("filter", "i", "1", "process", "images"),
    ("to_thread", "t", "3", "async", "cpu"),
    ("web_latency", "n", "2", "thread", "web"),
    ("io_latency", "o", "2", "thread", "files"),
    ("duration", "d", "1", "process", "cpu"),
]


def header(app: ConcApp, model: str) -> list[str]:
    return app.query_one(f"#pane-{model} .progress", LinesView).lines


def finish_with_current_options(app: ConcApp, model: str, workload: str) -> Snapshot:
    """A finished run of the pane's current set-up, as the lab reports it."""
    state = app.panes[model]
    state.config = replace(state.config, workload=workload)
    config = state.config
    done = make_snapshot(model, workload, config.workers, 400, phase=Phase.FINISHED)
    snapshot = replace(done, options=config.options)
    app.show_snapshot(model, snapshot)
    return snapshot


@pytest.mark.parametrize("name,key,pane_key,model,workload", CASES)
@sync
async def test_a_knob_turned_after_a_run_puts_the_next_run_in_the_header(
    name: str, key: str, pane_key: str, model: str, workload: str
) -> None:
    app, _made = make_app()
    async with app.run_test(size=(120, 36)) as pilot:
        await pilot.press(pane_key)
        ran = finish_with_current_options(app, model, workload).options
        assert ran is not None
        await pilot.pause()
        assert "FINISHED" in header(app, model)[0]
        await pilot.press(key)
        await pilot.pause()
        turn = knob(name)
        upcoming = turn.show(turn.value(app.panes[model].config.options))
        before = turn.show(turn.value(ran))
        first, _second, last_run = header(app, model)[:3]
        assert "NEXT RUN" in first and upcoming in first, first
        # The figures below stay the last run's, and say with what it ran.
        assert last_run.startswith("last run ") and before in last_run, last_run
        # Turned back to where the run had it, the header is the run's again.
        for _ in turn.values[1:]:
            await pilot.press(key)
        await pilot.pause()
        assert app.panes[model].config.options == ran
        assert "FINISHED" in header(app, model)[0]


@sync
async def test_a_knob_that_does_not_concern_the_run_leaves_the_header_alone() -> None:
    app, _made = make_app()
    async with app.run_test(size=(120, 36)) as pilot:
        await pilot.press("2")
        finish_with_current_options(app, "thread", "cpu")
        await pilot.press("n")  # the web site's latency: a cpu run never asks it
        await pilot.pause()
        assert "FINISHED" in header(app, "thread")[0]


@sync
async def test_the_preparation_line_is_drawn_while_the_run_prepares() -> None:
    app, _made = make_app()
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("2")
        base = make_snapshot("thread", "files", 8, 0, phase=Phase.PREPARING)
        for note in (
            CorpusProgress(1240, 4000, 38_400_000, 120_000_000),
            SiteStarting(),
            SiteReady("127.0.0.1:40123", 0.42),
        ):
            app.show_snapshot("thread", replace(base, preparation=note, message=note.describe()))
            await pilot.pause()
            lines = header(app, "thread")
            assert "PREPARING" in lines[0]
            # Whole at 80 columns: the sentence, or its short form where it is narrow.
            assert note.describe() in lines or note.brief() in lines, lines
        corpus = CorpusProgress(1240, 4000, 38_400_000, 120_000_000)
        assert corpus.describe() == "preparing: 1,240 of 4,000 files, 38 of 120 MB"
        assert corpus.brief() == "preparing 1,240/4,000 files · 38/120 MB"
        assert SiteReady("127.0.0.1:40123", 0.42).describe() == (
            "site ready on 127.0.0.1:40123 in 0.4 s"
        )

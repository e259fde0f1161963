"""The help screen at 80×24: what matters first, and a word that more follows."""

from __future__ import annotations

from test_app_pilot import make_app, sync
from textual.containers import VerticalScroll

from conc_tui.app import ConcApp
from conc_tui.registry import MODEL_SPECS
from conc_tui.screens.help import (
    ESSENTIALS,
    SCROLL_HINT,
    HelpScreen,
    essential_keys,
    model_rows,
)
from conc_tui.telemetry.states import STATE_LABELS


def screen_rows(app: ConcApp) -> list[str]:
    return [strip.text for strip in app.screen._compositor.render_strips()]


@sync
async def test_the_first_screen_at_80x24_has_the_main_keys_and_states_and_says_more_follows() -> (
    None
):
    app, _made = make_app()
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("question_mark")
        await pilot.pause(0.2)
        assert isinstance(app.screen, HelpScreen)
        box = app.screen.query_one("#help-box", VerticalScroll)
        assert box.scroll_y == 0
        rows = screen_rows(app)
        shown = "\n".join(rows)
        # Each essential key with its words on one row, the lane states, all unscrolled.
        for written, words in essential_keys():
            assert any(written in row and words in row for row in rows), (written, words)
        # The footer's keys at 80 columns are among them.
        for written in ("1 2 3 4", "Space", "w", "c", "?", "q"):
            assert any(written in key.split(" / ") for key, _words in essential_keys()), written
        for label in STATE_LABELS.values():
            assert label in shown, label
        # ...and it says that more follows, and how to get there.
        assert "More below" in shown and "PgDn" in shown
        assert SCROLL_HINT in rows[-1]
        # ↓ scrolls at once (the box has the focus), down to the rule of thumb.
        await pilot.press("down")
        await pilot.pause(0.1)
        assert box.scroll_y > 0
        await pilot.press("end")
        await pilot.pause(0.2)
        assert "Rule" in "\n".join(screen_rows(app))
        assert SCROLL_HINT not in screen_rows(app)[-1]


def test_every_essential_names_a_declared_key() -> None:
    assert len(essential_keys()) == len(ESSENTIALS)
    assert len(ESSENTIALS) % 2 == 0  # two to a row


@sync
async def test_wide_help_has_two_columns_and_no_summary() -> None:
    app, _made = make_app()
    async with app.run_test(size=(200, 60)) as pilot:
        await pilot.press("question_mark")
        await pilot.pause(0.2)
        rows = screen_rows(app)
        assert any("Keys" in row and "Models" in row for row in rows)
        assert not any("Keys that matter most" in row for row in rows)


def test_only_the_baseline_is_called_the_yardstick() -> None:
    for (title, line), spec in zip(model_rows(), MODEL_SPECS.values(), strict=True):
        assert ("yardstick" in line) == spec.baseline, (title, line)

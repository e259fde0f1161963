"""The registries: every model and workload is described once, and everything else is
derived from them. These tests walk the registries and check that each derived table
has every entry, and that an unknown name fails loudly instead of falling through."""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import subprocess
import sys
import textwrap
from pathlib import Path
from types import MappingProxyType
from typing import Any

import pytest

from conc_tui import cli, registry, report, runner
from conc_tui.config import ConfigError, RunConfig, WorkloadOptions
from conc_tui.engine import make_workload
from conc_tui.keys import KEYS, bindings, help_rows, palette_entries
from conc_tui.registry import (
    BASELINE,
    CONTENDERS,
    MODELS,
    PANE_MODELS,
    WORKLOADS,
    UnknownName,
    default_workers,
    model_spec,
    workload_spec,
)
from conc_tui.screens.help import model_rows
from conc_tui.screens.race import RACE_ORDER
from conc_tui.telemetry.snapshot import Phase, Snapshot, WorkerView
from conc_tui.widgets import panels, presentation
from conc_tui.widgets.card import RULE_OF_THUMB as CARD_RULE
from conc_tui.widgets.card import card_text, look_for
from conc_tui.workloads.base import Workload

ROOT = Path(__file__).resolve().parent.parent
PAIRS = [(m, w) for m in MODELS for w in WORKLOADS]


def _cli_choices(command: str, option: str) -> tuple[str, ...]:
    action = next(a for a in _subparser(command)._actions if option in a.option_strings)
    return tuple(action.choices or ())


def _subparser(command: str) -> argparse.ArgumentParser:
    parser = cli.build_parser()
    sub = next(a for a in parser._actions if a.dest == "command")
    choices: dict[str, argparse.ArgumentParser] = sub.choices  # type: ignore[assignment]
    return choices[command]


def _subparser_help(command: str) -> str:
    return _subparser(command).format_help()


# --- every model × workload has every derived entry -------------------------------------


@pytest.mark.parametrize("model,workload", PAIRS)
def test_every_pair_has_a_runner_a_card_a_panel_a_help_line_and_a_cli_choice(
    model: str, workload: str
) -> None:
    spec = model_spec(model)
    if spec.available() is None:  # a model this Python cannot run has no runner entry
        assert runner.MODELS[model] is spec.runner()
    else:
        assert model not in runner.MODELS
    assert model in _cli_choices("run", "--model")
    assert workload in _cli_choices("run", "--workload")
    # The card: the model's analogy and a look-for line written for this workload.
    text = card_text(model, workload).plain
    assert presentation.presentation(model).card.analogy in text
    line = look_for(model, workload)
    assert line and line in text
    assert line != look_for(model, next(w for w in WORKLOADS if w != workload)) or spec.baseline
    # The panel: the model's own view, idle.
    assert presentation.model_lines(model, None, 40)
    # A help line: the 'w' key names the workload; the number keys name each pane.
    help_text = "\n".join(f"{keys} {what}" for keys, what in help_rows())
    assert workload in help_text
    if model in PANE_MODELS:
        assert spec.title in help_text
    assert any(title == spec.title and spec.built_on in line for title, line in model_rows())
    # How the model runs it is said: natively, or how otherwise.
    assert spec.how_it_runs(workload)


@pytest.mark.parametrize("workload", WORKLOADS)
def test_every_workload_builds_from_its_registry_entry(workload: str) -> None:
    built = make_workload(RunConfig(BASELINE, workload, 1, WorkloadOptions(items=2)))
    assert isinstance(built, Workload)
    assert type(built).__name__ == workload_spec(workload).class_name
    assert WorkloadOptions().items_for(workload) == workload_spec(workload).items


def test_the_derived_tables_follow_the_registry() -> None:
    assert _cli_choices("run", "--model") == MODELS
    assert _cli_choices("run", "--workload") == WORKLOADS
    # Models this Python cannot run (interp before 3.13) are left out of both.
    assert (BASELINE, *registry.available_contenders()) == RACE_ORDER
    assert registry.available_contenders() == cli.DEFAULT_BENCH_MODELS
    assert set(report.NOUNS) == set(MODELS)
    assert set(report.EXPECTED_WINNER) == set(WORKLOADS)
    # The rule of thumb is said once: the card and the report quote the same words.
    assert report.RULE_OF_THUMB in CARD_RULE
    for spec in registry.MODEL_SPECS.values():
        assert spec.rule_of_thumb in report.RULE_OF_THUMB
    # One default_workers, one answer (cli and app had two, with different fallbacks).
    assert cli.default_workers is registry.default_workers
    assert default_workers("process", cores=6) == 6
    assert default_workers("thread", cores=6) == 8
    assert default_workers(BASELINE, cores=6) == 1
    # The input limits are said once, in config: the parser checks the same numbers.
    from conc_tui import config

    assert cli.parse_args(["run", "--items", str(config.MAX_ITEMS)]).items == config.MAX_ITEMS
    with pytest.raises(SystemExit):
        cli.parse_args(["run", "--items", str(config.MAX_ITEMS + 1)])
    with pytest.raises(ConfigError, match=f"between 1 and {config.MAX_ITEMS}"):
        RunConfig(BASELINE, "cpu", 1, WorkloadOptions(items=config.MAX_ITEMS + 1)).validate()


def test_model_options_are_checked_against_the_owning_model() -> None:
    # --to-thread is the async model's option: the error names the owner.
    assert registry.owner_of_option("--to-thread") == ("async",)
    run_help = _subparser_help("run")
    for spec in registry.MODEL_SPECS.values():
        for option in spec.options:
            assert option in run_help
    for workload in registry.WORKLOAD_SPECS.values():
        for option in workload.options:
            assert option in run_help


# --- unknown names fail loudly ------------------------------------------------------------


@pytest.mark.parametrize(
    "call",
    [
        lambda: model_spec("fortran"),
        lambda: default_workers("fortran"),
        lambda: look_for("fortran", "cpu"),
        lambda: look_for("thread", "video"),
        lambda: card_text("fortran", "cpu"),
        lambda: presentation.model_lines("fortran", None, 40),
        lambda: workload_spec("video"),
        lambda: make_workload(RunConfig("thread", "video", 1)),
        lambda: WorkloadOptions().items_for("video"),
    ],
    ids=[
        "model_spec",
        "default_workers",
        "look_for model",
        "look_for workload",
        "card_text",
        "model_lines",
        "workload_spec",
        "make_workload",
        "items_for",
    ],
)
def test_an_unknown_name_raises_naming_the_accepted_ones(call: Any) -> None:
    with pytest.raises(UnknownName, match="choose one of: "):
        call()


def test_an_unknown_name_in_a_config_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match="unknown model 'fortran'; choose one of: serial"):
        RunConfig("fortran", "cpu", 1).validate()
    with pytest.raises(ConfigError, match="unknown workload 'video'; choose one of: images"):
        RunConfig("thread", "video", 1).validate()


def test_the_app_refuses_an_unknown_workload_rather_than_a_key_error() -> None:
    from conc_tui.app import ConcApp

    app = ConcApp(controller_factory=lambda: None)  # type: ignore[arg-type,return-value]
    with pytest.raises(UnknownName):
        app._config("thread", "video", 8)


# --- a model without its presentation fails loudly ------------------------------------------


def test_a_model_added_without_its_presentation_stops_the_ui_at_import() -> None:
    """A fake fifth model in the registry, no presentation: importing the UI fails,
    naming the model and the file to edit (not a silent fall-through to another panel)."""
    script = textwrap.dedent(
        """
        import dataclasses
        from types import MappingProxyType
        from conc_tui import registry
        fake = dataclasses.replace(registry.MODEL_SPECS["thread"], name="fake_model", title="Fakes")
        registry.MODEL_SPECS = MappingProxyType({**registry.MODEL_SPECS, "fake_model": fake})
        import conc_tui.widgets.presentation
        """
    )
    done = subprocess.run(
        [sys.executable, "-c", script],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=60,
        env={"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin"},
    )
    assert done.returncode != 0
    assert "PresentationMissing" in done.stderr
    assert "model 'fake_model' is in the registry but has no presentation" in done.stderr
    assert "conc_tui/widgets/presentation.py" in done.stderr


def test_a_workload_without_look_for_lines_fails_the_check() -> None:
    with pytest.raises(presentation.PresentationMissing, match="workload 'video'"):
        presentation.check_presentations(workloads=(*WORKLOADS, "video"))
    with pytest.raises(presentation.PresentationMissing, match="names no model"):
        presentation.check_presentations(models=tuple(m for m in MODELS if m != "async"))


# --- a model this Python cannot run -------------------------------------------------------


@pytest.fixture
def thread_unavailable(monkeypatch: pytest.MonkeyPatch) -> str:
    reason = "it needs Python 3.13 or newer; this is 3.11"
    spec = dataclasses.replace(model_spec("thread"), available=lambda: reason)
    monkeypatch.setattr(
        registry, "MODEL_SPECS", MappingProxyType({**registry.MODEL_SPECS, "thread": spec})
    )
    return reason


def test_an_unavailable_model_is_refused_by_the_cli_in_one_line(
    thread_unavailable: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert cli.main(["run", "--model", "thread", "--workload", "cpu"]) == 2
    err = capsys.readouterr().err
    assert err == (
        f"conc-tui: error: --model thread is not available on this Python: {thread_unavailable}\n"
    )
    assert cli.main(["bench", "--models", "thread", "--workloads", "cpu"]) == 2
    assert "not available" in capsys.readouterr().err
    assert registry.available_contenders() == tuple(
        m for m in CONTENDERS if m != "thread" and registry.model_spec(m).available() is None
    )


def test_an_unavailable_model_s_pane_says_why_and_does_not_start(thread_unavailable: str) -> None:
    from conc_tui.app import ConcApp
    from conc_tui.widgets.lanes import WorkerLanes

    started: list[object] = []

    class Refuse:
        def start(self, *args: object) -> None:
            started.append(args)

    async def scenario() -> None:
        app = ConcApp(controller_factory=Refuse)  # type: ignore[arg-type]
        async with app.run_test(size=(120, 40)) as pilot:
            await pilot.press("2")
            await pilot.pause()
            lanes = app.query_one("#pane-thread").query_one(WorkerLanes)
            assert thread_unavailable in lanes._placeholder
            await pilot.press("space")
            await pilot.pause()
            assert started == []
            await app.action_quit()

    asyncio.run(scenario())


# --- keys are declared once --------------------------------------------------------------


def test_keys_are_declared_once_and_every_place_follows() -> None:
    from conc_tui.app import ConcApp

    assert [getattr(b, "key", b) for b in ConcApp.BINDINGS] == [k.keys for k in KEYS]
    assert [getattr(b, "key", b) for b in bindings()] == [k.keys for k in KEYS]
    rows = dict(help_rows())
    commands = {title: action for title, _text, action in palette_entries()}
    # The race and the hazard lab are in the palette; the hazard key is in the help.
    assert commands["Race"] == "race"
    assert commands["Hazard lab"] == "hazards"
    assert rows["h"].startswith("hazard lab")
    assert rows["c"].startswith("race")
    # Every key is explained: its own help line, or a grouped one naming it.
    for key in KEYS:
        shown = key.help_keys or key.display or key.keys
        assert shown in rows, f"key {key.keys!r} is not in the help"
    # One number key per pane, in registry order.
    numbers = [k for k in KEYS if k.keys.isdigit()]
    assert [k.action for k in numbers] == [f"show_pane({m!r})" for m in PANE_MODELS]


def test_the_palette_runs_the_race_key_s_action() -> None:
    from conc_tui.app import ConcApp

    ran: list[str] = []

    async def scenario() -> None:
        app = ConcApp(controller_factory=lambda: None)  # type: ignore[arg-type,return-value]
        app.action_race = lambda: ran.append("race")  # type: ignore[method-assign]
        async with app.run_test(size=(120, 40)) as pilot:
            commands = {c.title: c for c in app.get_system_commands(app.screen)}
            commands["Race"].callback()
            await pilot.pause()
            await app.action_quit()

    asyncio.run(scenario())
    assert ran == ["race"]


# --- free-threaded Python -------------------------------------------------------------------


def _thread_snapshot(share: float | None) -> Snapshot:
    views = tuple(
        WorkerView(worker_id=i, label=f"thread {i}", state=1, lane=b"\x01", gil_wait_share=share)
        for i in range(2)
    )
    return Snapshot(
        model="thread",
        workload="cpu",
        workers=2,
        phase=Phase.RUNNING,
        elapsed_s=1.0,
        items_total=4,
        items_done=1,
        items_failed=0,
        throughput=1.0,
        column_s=0.1,
        worker_views=views,
    )


def test_without_a_gil_the_threads_pane_says_it_is_off_not_zero(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(panels, "gil_enabled", lambda: False)
    text = "\n".join(line.plain for line in panels.thread_lines(_thread_snapshot(None), 50))
    assert "GIL: off (free-threaded Python)" in text
    assert "not applicable" in text
    assert "0%" not in text
    monkeypatch.setattr(panels, "gil_enabled", lambda: True)
    text = "\n".join(line.plain for line in panels.thread_lines(_thread_snapshot(0.0), 50))
    assert "GIL wait share" in text and "0%" in text


def test_without_a_gil_the_engine_does_not_measure_gil_waits(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from conc_tui import engine

    monkeypatch.setattr(engine, "gil_enabled", lambda: False)
    result = engine.execute(RunConfig("thread", "cpu", 2, WorkloadOptions(items=2)))
    assert result.status == "finished"
    assert result.gil_wait_share is None


def test_a_registry_entry_without_its_module_fails_at_import(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    fake = dataclasses.replace(
        model_spec("thread"),
        name="fake_model",
        module="conc_tui.models.fake_model",
        title="Fake models",
    )
    monkeypatch.setattr(registry, "_MODEL_LIST", (*registry._MODEL_LIST, fake))
    with pytest.raises(registry.RegistryError, match="conc_tui.models.fake_model, which does not"):
        registry.check()
    wrong = dataclasses.replace(workload_spec("cpu"), expected_winner="fortran")
    monkeypatch.setattr(registry, "_MODEL_LIST", registry._MODEL_LIST[:-1])
    monkeypatch.setattr(registry, "_WORKLOAD_LIST", (*registry._WORKLOAD_LIST, wrong))
    with pytest.raises(UnknownName, match="unknown model 'fortran'"):
        registry.check()


@pytest.fixture
def thread_refuses_images(monkeypatch: pytest.MonkeyPatch) -> str:
    reason = "PIL._imaging does not support loading in subinterpreters"

    def refuses(workload: str) -> str | None:
        return reason if workload == "images" else None

    spec = dataclasses.replace(model_spec("thread"), refuses=refuses)
    monkeypatch.setattr(
        registry, "MODEL_SPECS", MappingProxyType({**registry.MODEL_SPECS, "thread": spec})
    )
    return reason


def test_a_pair_the_model_refuses_is_refused_in_one_line_and_skipped_by_bench_and_race(
    thread_refuses_images: str, capsys: pytest.CaptureFixture[str]
) -> None:
    from conc_tui.screens.race import RaceScreen

    assert cli.main(["run", "--model", "thread", "--workload", "images"]) == 2
    assert capsys.readouterr().err == (
        f"conc-tui: error: --model thread cannot run the images workload: {thread_refuses_images}\n"
    )
    args = cli.parse_args(["bench", "--models", "thread", "--workloads", "images,cpu"])
    plan = cli.bench_plan_from_args(args)
    pairs = {(c.model, c.workload) for c in plan.schedule()}
    assert pairs == {("serial", "images"), ("serial", "cpu"), ("thread", "cpu")}
    assert plan.skipped() == [f"thread skips images: {thread_refuses_images}"]
    race = RaceScreen(RunConfig("serial", "images", 1), {}, None)  # type: ignore[arg-type]
    assert "thread" not in race.order and "thread" not in race.schedule
    assert "process" in race.order

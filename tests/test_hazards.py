"""The hazard experiments: each broken variant shows its hazard, each fixed one does not.

Everything here is real (threads, processes, loopback TCP, the OS's counters), at the
small sizes ``run(quick=True)`` uses. Races are timing-dependent, so the race tests
repeat until the race shows, bounded in time. Every test checks that it left no
thread or process behind.
"""

from __future__ import annotations

import ast
import asyncio
import dataclasses
import json
import multiprocessing
import os
import re
import sys
import threading
import time
import typing
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, TypeVar

import psutil
import pytest

from conc_tui import cli
from conc_tui.hazards import (
    blocked_loop,
    deadlock,
    debug,
    memory,
    overhead,
    race,
    registry,
    switching,
)
from conc_tui.hazards.report import SCHEMA

ROOT = Path(__file__).resolve().parent.parent
SCHEMA_DOC = ROOT / "docs" / "demo-schema.md"
RACE_BUDGET_S = 15.0
T = TypeVar("T")


def _helper_process(process: psutil.Process) -> bool:
    """multiprocessing's resource tracker: one per parent, shared, gone when it exits."""
    try:
        return any("resource_tracker" in part for part in process.cmdline())
    except psutil.Error:
        return True  # already gone


def _children() -> list[psutil.Process]:
    return [p for p in psutil.Process().children(recursive=True) if not _helper_process(p)]


@pytest.fixture(autouse=True)
def _nothing_left_behind() -> Iterator[None]:
    before = set(threading.enumerate())
    yield
    deadline = time.monotonic() + 5
    while True:
        threads = [t for t in threading.enumerate() if t not in before and t.is_alive()]
        children = _children()
        if not threads and not children or time.monotonic() > deadline:
            break
        time.sleep(0.05)
    assert threads == [], f"threads left behind: {threads}"
    assert children == [], f"processes left behind: {children}"
    assert multiprocessing.active_children() == []


def _until(run: Callable[[], T], shown: Callable[[T], bool], budget_s: float) -> T:
    """Repeat ``run`` until ``shown`` holds or the budget is spent; return the last result."""
    deadline = time.monotonic() + budget_s
    result = run()
    while not shown(result) and time.monotonic() < deadline:
        result = run()
    return result


# --- the registry ------------------------------------------------------------------------


def test_registry_lists_the_issues_experiments_in_order() -> None:
    assert registry.NAMES == (
        "race",
        "deadlock",
        "blocked-loop",
        "overhead",
        "memory",
        "switching",
        "debug",
    )
    for experiment in registry.EXPERIMENTS:
        assert experiment.title and experiment.claim and experiment.broken and experiment.fixed
        assert '"' in experiment.claim, "the claim quotes the seed"


def test_unknown_experiment_names_the_accepted_ones() -> None:
    with pytest.raises(KeyError, match="choose one of: race, deadlock"):
        registry.get("livelock")


def test_hazards_import_no_textual() -> None:
    for path in (ROOT / "conc_tui" / "hazards").glob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            names: list[str] = []
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module:
                names = [node.module]
            for name in names:
                assert not name.startswith(("textual", "rich", "conc_tui.screens")), path.name


# --- race -------------------------------------------------------------------------------


def test_threads_without_a_lock_lose_updates() -> None:
    run = _until(
        lambda: race.count_with_threads(4, 300, locked=False),
        lambda r: r.lost > 0,
        RACE_BUDGET_S,
    )
    assert run.lost > 0
    assert run.final + run.lost == run.expected == 1_200


def test_threads_with_a_lock_lose_none_and_report_the_wait() -> None:
    run = race.count_with_threads(4, 300, locked=True)
    assert run.lost == 0 and run.final == 1_200
    assert run.lock_wait_s is not None and run.lock_wait_s > 0


def test_processes_with_private_counters_lose_nothing() -> None:
    run = race.count_with_processes(2, 20_000, shared=False)
    assert run.lost == 0 and run.final == 40_000


def test_processes_sharing_a_value_without_its_lock_lose_updates() -> None:
    run = _until(
        lambda: race.count_with_processes(2, 50_000, shared=True),
        lambda r: r.lost > 0,
        RACE_BUDGET_S,
    )
    assert run.lost > 0, "two processes doing v.value += 1 never collided"


def test_race_sentence_quotes_its_figures() -> None:
    result = race.run(quick=True)
    assert f"lost {result.broken.lost:,} of {result.broken.expected:,}" in result.sentence
    assert f"lost {result.processes_shared_unlocked.lost:,}" in result.sentence
    assert "time.sleep(0)" in result.yield_point


# --- deadlock ---------------------------------------------------------------------------


def test_find_cycle_reads_who_holds_and_who_waits() -> None:
    # A holds lock-1 and waits for lock-2; B holds lock-2 and waits for lock-1.
    cycle = deadlock.find_cycle([0b01, 0b10], [1, 0])
    assert cycle == (
        deadlock.WaitEdge("A", ("lock-1",), "lock-2", "B"),
        deadlock.WaitEdge("B", ("lock-2",), "lock-1", "A"),
    )
    assert deadlock.find_cycle([0b01, 0], [deadlock.NOBODY, 0]) == ()


@pytest.mark.parametrize("runner", [deadlock.run_threads, deadlock.run_processes])
def test_opposite_lock_order_deadlocks_and_is_recovered(
    runner: Callable[..., deadlock.DeadlockRun],
) -> None:
    began = time.monotonic()
    run = runner(opposite=True, rounds=5)
    assert run.deadlocked and run.cancelled
    assert run.detected_after_s is not None and run.detected_after_s < 5
    assert {edge.worker for edge in run.cycle} == {"A", "B"}
    for edge in run.cycle:
        assert edge.waits_for not in edge.holds and edge.held_by != edge.worker
    assert run.left_alive == 0 and run.killed == 0
    assert time.monotonic() - began < 10
    assert not [t for t in threading.enumerate() if t.name.startswith("deadlock-")]


@pytest.mark.parametrize("runner", [deadlock.run_threads, deadlock.run_processes])
def test_one_lock_order_completes(runner: Callable[..., deadlock.DeadlockRun]) -> None:
    run = runner(opposite=False, rounds=5)
    assert not run.deadlocked and not run.cancelled
    assert run.rounds_done == (5, 5) and run.left_alive == 0


# --- blocked loop -----------------------------------------------------------------------


def test_a_blocking_call_stalls_every_task_for_its_duration() -> None:
    run = blocked_loop.run_loop(blocking=True, tasks=20, block_s=0.3)
    assert run.block_s >= 0.3
    assert run.max_lag_s >= run.block_s
    assert run.round_trips_during_block == 0 and run.tasks_progressed_during_block == 0
    assert run.round_trips > 0, "the tasks made real round trips before and after"


def test_to_thread_keeps_the_loop_running() -> None:
    run = blocked_loop.run_loop(blocking=False, tasks=20, block_s=0.3)
    assert run.max_lag_s < run.block_s
    assert run.tasks_progressed_during_block == 20
    assert run.round_trips_during_block >= 20


# --- overhead ---------------------------------------------------------------------------


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="write_chars is Linux's")
def test_bytes_sent_per_task_match_the_pickled_task() -> None:
    result = overhead.run(quick=True)
    measured = result.broken.bytes_written_per_task
    assert measured is not None
    assert abs(measured - result.pickled_bytes_per_task) <= 0.1 * result.pickled_bytes_per_task
    # Tiny tasks: the crossing dominates, and chunking cuts it.
    assert result.hazard_shown, (result.broken.wall_s, result.serial_s)
    assert result.fixed_clean, (result.fixed.wall_s, result.broken.wall_s)
    assert result.pool_startup_s > 0 and result.crossing_us > 0
    assert result.sweep and result.sweep[0].work_us > 0


# --- memory -----------------------------------------------------------------------------


def test_processes_use_more_memory_than_threads_and_tasks() -> None:
    result = memory.run(quick=True)
    if sys.platform.startswith("linux"):
        assert result.measure == "uss"
    assert result.hazard_shown and result.fixed_clean
    assert result.broken.processes == 2 and result.fixed.processes == 1
    assert result.idle_interpreter_bytes > 0
    # Every model spawns, and the document says so (a forked child shares pages).
    assert result.start_method == "spawn"


# --- switching --------------------------------------------------------------------------


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="per-thread counters are /proc's")
def test_switches_are_counted_per_thread_and_per_process() -> None:
    result = switching.run(quick=True)
    for run in (result.broken, result.fixed, result.processes_broken, result.processes_fixed):
        assert run.voluntary_per_s is not None and run.involuntary_per_s is not None
        assert run.work_steps > 0
    assert result.broken.workers == 4 * result.cores
    assert result.hazard_shown, (result.broken, result.fixed)
    assert result.thread_handoff_us > 0 and result.process_handoff_us > 0


# --- debug ------------------------------------------------------------------------------


def test_the_view_exposes_the_exception_nobody_awaited() -> None:
    run = debug.run_program(awaits_its_tasks=False, records=8)
    assert run.program_outcome == "finished" and not run.error_reached_program
    assert run.records_parsed == 7
    assert run.failure_seen_by_view == "BadRecordError: record 5 is malformed"
    assert run.failed_task is not None and run.failed_task.startswith("consumer-")
    failed = [line for line in run.final_view if line.state == "failed"]
    assert [line.name for line in failed] == [run.failed_task]


def test_the_view_shows_what_each_task_awaits() -> None:
    run = debug.run_program(awaits_its_tasks=False, records=8)
    chains = {line.name: line.detail for line in run.view if line.state == "awaiting"}
    assert "producer" in chains and chains["producer"].startswith("_producer:")
    assert any(" → get:" in detail or " → _parse:" in detail for detail in chains.values())


def test_awaiting_the_tasks_lets_the_error_reach_the_program() -> None:
    run = debug.run_program(awaits_its_tasks=True, records=8)
    assert run.error_reached_program
    assert run.program_outcome == "failed: BadRecordError: record 5 is malformed"


# --- the command and its document -------------------------------------------------------


def test_demo_alone_lists_the_experiments(capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["demo"]) == 0
    out = capsys.readouterr().out
    for name in registry.NAMES:
        assert f"  {name} " in out


def test_unknown_demo_is_one_line_and_status_2(capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["demo", "livelock"]) == 2
    out, err = capsys.readouterr()
    assert out == ""
    assert err.count("\n") == 1
    assert "unknown experiment 'livelock'; choose one of: race, deadlock" in err


def test_demo_text_puts_the_variants_side_by_side(capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["demo", "deadlock", "--quick"]) == 0
    out = capsys.readouterr().out
    header = next(line for line in out.splitlines() if "broken" in line and "fixed" in line)
    assert header.split() == ["broken", "fixed", "processes", "broken", "processes", "fixed"]
    cycle = next(line for line in out.splitlines() if line.strip().startswith("cycle"))
    assert "A holds lock-1, waits for lock-2 (B)" in cycle
    assert out.rstrip().splitlines()[-1].startswith("Two threads taking two locks")


def _documented_envelope() -> dict[str, str]:
    text = SCHEMA_DOC.read_text()
    section = text.split("## `conc-tui/demo/1`", 1)[1].split("\n## ", 1)[0]
    rows = re.findall(r"^\| `(\w+)` \| ([^|]+) \|", section, flags=re.MULTILINE)
    return {name: kind.strip() for name, kind in rows}


JSON_TYPES: dict[str, type | tuple[type, ...]] = {
    "string": str,
    "boolean": bool,
    "number": (int, float),
    "object": dict,
}


def test_demo_json_matches_the_documented_fields(capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["demo", "debug", "--json", "--quick"]) == 0
    out, err = capsys.readouterr()
    document = json.loads(out)
    assert err.splitlines() == [
        "demo: broken: consumers never awaited",
        "demo: fixed: consumers awaited with asyncio.gather",
    ]
    documented = _documented_envelope()
    assert set(document) == set(documented)
    for name, kind in documented.items():
        assert isinstance(document[name], JSON_TYPES[kind]), (name, kind)
    assert document["schema"] == SCHEMA == "conc-tui/demo/1"
    assert document["name"] == "debug" and document["quick"] is True
    assert document["hazard_shown"] and document["fixed_clean"]
    assert {"broken", "fixed"} <= set(document["figures"])
    assert (
        document["sentence"]
        == debug.DebugResult(
            view_method=document["figures"]["view_method"],
            broken=_rebuild(debug.DebugRun, document["figures"]["broken"]),
            fixed=_rebuild(debug.DebugRun, document["figures"]["fixed"]),
        ).sentence
    )
    # ...and quotes them: the equality above also holds for a sentence that says nothing.
    broken, fixed = document["figures"]["broken"], document["figures"]["fixed"]
    assert (
        f"parsed {broken['records_parsed']} of {broken['records']} records" in document["sentence"]
    )
    assert f"the program ended '{fixed['program_outcome']}'" in document["sentence"]


def _rebuild(cls: type[T], data: dict[str, Any]) -> T:
    """A result dataclass back from its JSON, to check the sentence is built from it."""
    hints = typing.get_type_hints(cls)
    values: dict[str, Any] = {}
    for field in dataclasses.fields(cls):  # type: ignore[arg-type]
        value = data[field.name]
        if isinstance(value, list):
            value = tuple(
                debug.TaskLine(**item) if isinstance(item, dict) else item for item in value
            )
        values[field.name] = value
    assert set(hints) >= set(values)
    return cls(**values)


def _field_names(cls: Any) -> set[str]:
    names: set[str] = set()
    for field in dataclasses.fields(cls):
        names.add(field.name)
        for arg in (*typing.get_args(typing.get_type_hints(cls)[field.name]), None):
            target = arg if arg is not None else typing.get_type_hints(cls)[field.name]
            if dataclasses.is_dataclass(target):
                names |= _field_names(target)
    return names


@pytest.mark.parametrize(
    "module",
    [race, deadlock, blocked_loop, overhead, memory, switching, debug],
    ids=lambda m: m.__name__.rsplit(".", 1)[-1],
)
def test_every_figure_is_documented(module: Any) -> None:
    text = SCHEMA_DOC.read_text()
    name = {"blocked_loop": "blocked-loop"}.get(module.__name__.rsplit(".", 1)[-1])
    name = name or module.__name__.rsplit(".", 1)[-1]
    assert f"### `{name}`" in text
    section = text.split(f"### `{name}`", 1)[1].split("\n### ", 1)[0]
    result_class = typing.get_type_hints(module.run)["return"]
    missing = {n for n in _field_names(result_class) if f"`{n}`" not in section}
    assert not missing, f"{name}: fields not in docs/demo-schema.md: {sorted(missing)}"


# --- the hazard screen ------------------------------------------------------------------


def _app() -> Any:
    from fakes import FakeController, FixedCores

    from conc_tui.app import ConcApp

    idle = FixedCores(((0.0, 0.0),))
    return ConcApp(controller_factory=lambda: FakeController(interval=0.5), core_sampler=idle)


async def _start_experiment(app: Any, pilot: Any, name: str, *, quick: bool = False) -> Any:
    """Open the hazard lab (h), pick one experiment and run it (Enter); the screen."""
    from textual.widgets import OptionList

    from conc_tui.screens.hazards import HazardScreen

    await pilot.press("h")
    screen = app.screen
    assert isinstance(screen, HazardScreen)
    screen.quick = quick
    screen.query_one("#hazard-list", OptionList).highlighted = registry.NAMES.index(name)
    await pilot.press("enter")
    return screen


def _text(renderable: Any) -> str:
    from rich.console import Console

    console = Console(width=200, record=True, file=open(os.devnull, "w"))  # noqa: SIM115
    console.print(renderable)
    return console.export_text()


def _shown(screen: Any) -> str:
    """What the lab's right-hand side shows: the title and lanes, then the rest."""
    from textual.widgets import Static

    from conc_tui.screens.hazards import LanesView

    lanes = screen.query_one(LanesView).render()
    return _text(lanes) + _text(screen.query_one("#hazard-body", Static).content)


def test_h_opens_the_lab_which_runs_an_experiment_and_shows_both_variants() -> None:
    from textual.widgets import OptionList

    from conc_tui.screens.hazards import HazardScreen, experiment_view

    async def scenario() -> None:
        app = _app()
        async with app.run_test(size=(140, 40)) as pilot:
            await pilot.press("h")
            screen = app.screen
            assert isinstance(screen, HazardScreen)
            screen.quick = True
            options = screen.query_one(OptionList)
            names = [options.get_option_at_index(i).id for i in range(options.option_count)]
            assert tuple(names) == registry.NAMES
            options.highlighted = registry.NAMES.index("debug")
            await pilot.pause()
            assert "Hard to debug" in _shown(screen)
            await pilot.press("enter")
            await pilot.pause()
            assert screen.running == "debug"
            deadline = time.monotonic() + 60
            while "debug" not in screen.outcomes and time.monotonic() < deadline:
                await pilot.pause(0.1)
            outcome = screen.outcomes["debug"]
            assert outcome.error is None and outcome.document is not None
            assert outcome.document["schema"] == SCHEMA and outcome.document["quick"]
            await pilot.pause()
            shown = _shown(screen)
            variants = screen.timelines["debug"].variants()
            assert [v.title.split(":")[0] for v in variants] == ["broken", "fixed"]
            view = _text(experiment_view(registry.get("debug"), outcome, None, (), variants))
            # The same view, drawn as wide as the screen has room for.
            assert shown.split("── done")[-1].split() == view.split("── done")[-1].split()
            assert "broken: " in shown and "fixed: " in shown
            assert "hazard shown: yes · fixed variant clean: yes" in shown
            assert "record 5 is malformed" in shown
            await pilot.press("escape")
            assert not isinstance(app.screen, HazardScreen)

    asyncio.run(scenario())


def test_closing_the_lab_kills_a_running_experiment() -> None:

    from conc_tui.screens.hazards import HazardScreen

    async def scenario() -> None:
        app = _app()
        async with app.run_test(size=(140, 40)) as pilot:
            screen = await _start_experiment(app, pilot, "switching")
            deadline = time.monotonic() + 20
            while not screen.steps and time.monotonic() < deadline:
                await pilot.pause(0.1)
            assert screen.running == "switching"
            assert screen.steps[0].startswith("broken: ") and "threads spinning" in screen.steps[0]
            # The step shows as a step, or once its lanes come, as their heading.
            shown = _shown(screen)
            assert f"▶ {screen.steps[-1]}" in shown or f"{screen.steps[-1]}  " in shown
            assert _children(), "the experiment runs in a child process"
            began = time.monotonic()
            await pilot.press("escape")
            assert not isinstance(app.screen, HazardScreen)
            while _children() and time.monotonic() - began < 10:
                await pilot.pause(0.1)
            assert _children() == []
            assert time.monotonic() - began < 5

    asyncio.run(scenario())


def test_quitting_with_an_experiment_running_leaves_no_process() -> None:

    async def scenario() -> float:
        app = _app()
        async with app.run_test(size=(140, 40)) as pilot:
            await _start_experiment(app, pilot, "memory")
            # Wait for the experiment's process to exist (a fixed pause was too short on
            # a busy machine), then quit while it runs.
            started = time.monotonic()
            while not _children() and time.monotonic() - started < 10:
                await pilot.pause(0.05)
            assert _children()
            began = time.monotonic()
            await pilot.press("q")
        return time.monotonic() - began

    assert asyncio.run(scenario()) < 10
    deadline = time.monotonic() + 5
    while _children() and time.monotonic() < deadline:
        time.sleep(0.05)
    assert _children() == []


def test_the_lab_draws_the_wait_for_cycle() -> None:
    from conc_tui.screens.hazards import cycle_lines

    edges = [
        {"worker": "A", "holds": ["lock-1"], "waits_for": "lock-2", "held_by": "B"},
        {"worker": "B", "holds": ["lock-2"], "waits_for": "lock-1", "held_by": "A"},
    ]
    figures = {"broken": {"kind": "threads", "cycle": edges}, "fixed": {"cycle": []}}
    assert [line.plain for line in cycle_lines(figures)] == [
        "threads wait-for cycle: A waits for lock-2 held by B, which waits for lock-1 "
        "held by A (back to the start)"
    ]


def test_the_lab_is_in_the_command_palette() -> None:
    from conc_tui.screens.hazards import HazardScreen

    async def scenario() -> None:
        app = _app()
        async with app.run_test(size=(140, 40)) as pilot:
            commands = {c.title: c for c in app.get_system_commands(app.screen)}
            commands["Hazard lab"].callback()
            await pilot.pause()
            assert isinstance(app.screen, HazardScreen)

    asyncio.run(scenario())

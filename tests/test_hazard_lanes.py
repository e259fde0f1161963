"""The hazard experiments' workers drawn as lanes: recorded where they happen, streamed
while they run, drawn broken above fixed.

The timelines are read from real runs (threads, processes, loopback TCP) at small sizes;
each test asserts what a class would see on the lanes: who waits for which lock, whose
lane freezes, where the lock waits are.
"""

from __future__ import annotations

import asyncio
import json
import math
import time
from typing import Any

import pytest
from test_hazards import _children, _nothing_left_behind, _shown  # noqa: F401 (a fixture)

from conc_tui import cli
from conc_tui.hazards import blocked_loop, deadlock, debug, race, registry, switching, timeline
from conc_tui.hazards.stream import (
    LANES_PREFIX,
    Batch,
    StreamError,
    Timelines,
    VariantTimeline,
    encode,
    parse,
)
from conc_tui.hazards.timeline import LaneState, Mark

Span = tuple[float, float, LaneState, str]


def _recorded(title: str, work: Any) -> tuple[Any, VariantTimeline]:
    result, variant, _ = _recorded_and_streamed(title, work)
    return result, variant


def _recorded_and_streamed(title: str, work: Any) -> tuple[Any, VariantTimeline, VariantTimeline]:
    """The run's result, its lanes mark by mark, and its lanes as the screen receives
    them: binned in one batch at the end, through the wire."""
    with timeline.recording(title) as recording:
        result = work()
    timelines = Timelines()
    assert timelines.feed(encode(recording, recording.take_bins())), timelines.rejected
    (streamed,) = timelines.variants()
    return result, VariantTimeline.of(recording), streamed


def _lane(variant: VariantTimeline, name: str) -> list[Span]:
    return variant.spans(variant.names.index(name))


def _overlap(a: Span, b: Span) -> float:
    return min(a[1], b[1]) - max(a[0], b[0])


# --- deadlock ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("runner", "kind"),
    [(deadlock.run_threads, "thread"), (deadlock.run_processes, "process")],
)
def test_the_deadlocked_workers_each_wait_for_the_lock_the_other_holds(
    runner: Any, kind: str
) -> None:
    run, marked, streamed = _recorded_and_streamed(
        "broken", lambda: runner(opposite=True, rounds=5)
    )
    assert run.deadlocked
    # The same on the workers' own marks and on the bins the screen receives (where a
    # span's ends may move by a bin).
    for variant, slack in ((marked, 0.0), (streamed, 2 * timeline.BIN_S)):
        a, b = _lane(variant, f"{kind} A"), _lane(variant, f"{kind} B")
        # Each lane's longest lock wait is the deadlock: A holds lock-1 and waits for
        # lock-2, B the other way round, both at once until the watcher confirmed it.
        wait_a = max((s for s in a if s[2] is LaneState.WAIT_LOCK), key=lambda s: s[1] - s[0])
        wait_b = max((s for s in b if s[2] is LaneState.WAIT_LOCK), key=lambda s: s[1] - s[0])
        assert wait_a[3] == "waits for lock-2, holds lock-1"
        assert wait_b[3] == "waits for lock-1, holds lock-2"
        assert _overlap(wait_a, wait_b) >= deadlock.CONFIRM_S - slack
        # ... and the lanes end with both workers gone, after the cancel.
        assert a[-1][2] is LaneState.DONE and b[-1][2] is LaneState.DONE
        assert "cancelled" in a[-1][3] and "cancelled" in b[-1][3]


def test_one_lock_order_never_waits_while_holding_the_other_lock() -> None:
    run, variant = _recorded("fixed", lambda: deadlock.run_threads(opposite=False, rounds=5))
    assert run.rounds_done == (5, 5)
    for name in ("thread A", "thread B"):
        waits = [s[3] for s in _lane(variant, name) if s[2] is LaneState.WAIT_LOCK]
        assert waits, "every round starts with a lock wait, however short"
        assert "waits for lock-1, holds lock-2" not in waits
        assert _lane(variant, name)[-1][2:] == (LaneState.DONE, "5 rounds done")


# --- blocked loop -----------------------------------------------------------------------


def test_a_blocking_call_freezes_every_other_tasks_lane_for_its_duration() -> None:
    block_s = 0.3
    run, marked, streamed = _recorded_and_streamed(
        "broken", lambda: blocked_loop.run_loop(blocking=True, tasks=10, block_s=block_s)
    )
    assert run.round_trips > 0
    (blocked,) = [s for s in _lane(marked, "waiter") if s[2] is LaneState.BLOCKED]
    start, end = blocked[0], blocked[1]
    assert end - start >= block_s
    for n in range(1, 11):
        spans = _lane(marked, f"task {n}")
        assert any(s[2] is LaneState.RUNNING for s in spans), "the task ran before and after"
        # Frozen: the task's lane does not change for the whole blocking call; it sits in
        # the I/O wait it was in when the waiter blocked the loop.
        (frozen,) = [s for s in spans if s[0] <= start < s[1]]
        assert frozen[2] is LaneState.WAIT_IO
        assert frozen[1] >= end and frozen[1] - frozen[0] >= block_s
    # Binned, a bin where the waiter blocked at all shows it blocked (an edge bin may
    # show it running instead); every task sits in one I/O wait the whole time but
    # for the edge bins, where it ran.
    slack = 2 * timeline.BIN_S
    (shown,) = [s for s in _lane(streamed, "waiter") if s[2] is LaneState.BLOCKED]
    assert shown[1] - shown[0] >= block_s - slack
    for n in range(1, 11):
        waits = [s for s in _lane(streamed, f"task {n}") if s[2] is LaneState.WAIT_IO]
        frozen = max(waits, key=lambda s: s[1] - s[0])
        assert _overlap(frozen, shown) >= block_s - 2 * slack


def test_to_thread_leaves_every_tasks_lane_moving() -> None:
    run, variant = _recorded(
        "fixed", lambda: blocked_loop.run_loop(blocking=False, tasks=10, block_s=0.3)
    )
    (waiting,) = [s for s in _lane(variant, "waiter") if "to_thread" in s[3]]
    assert waiting[2] is LaneState.WAIT_IO
    for n in range(1, 11):
        ran = [s for s in _lane(variant, f"task {n}") if s[2] is LaneState.RUNNING]
        assert any(waiting[0] < s[0] < waiting[1] for s in ran)


# --- race -------------------------------------------------------------------------------


def test_the_locked_counter_shows_lock_waits_and_the_unlocked_one_none() -> None:
    fixed, locked, streamed = _recorded_and_streamed(
        "fixed", lambda: race.count_with_threads(4, 200, locked=True)
    )
    broken, unlocked, unlocked_streamed = _recorded_and_streamed(
        "broken", lambda: race.count_with_threads(4, 200, locked=False)
    )
    # Binned, the lanes still show the lock waits (three threads wait while one holds).
    lanes = range(len(streamed.names))
    assert any(s[2] is LaneState.WAIT_LOCK for n in lanes for s in streamed.spans(n))
    assert not any(s[2] is LaneState.WAIT_LOCK for n in lanes for s in unlocked_streamed.spans(n))
    waited = 0.0
    for n in range(1, 5):
        spans = _lane(locked, f"thread {n}")
        states = {s[2] for s in spans}
        assert {LaneState.WAIT_LOCK, LaneState.HOLDING} <= states
        waited += sum(s[1] - s[0] for s in spans if s[2] is LaneState.WAIT_LOCK)
        assert LaneState.WAIT_LOCK not in {s[2] for s in _lane(unlocked, f"thread {n}")}
    # The lanes' lock waits are the figure the experiment reports, measured the same way
    # at the same places (the marks sit just outside its timer).
    assert fixed.lock_wait_s is not None
    assert waited == pytest.approx(fixed.lock_wait_s, rel=0.5, abs=0.02)
    assert fixed.lost == 0 and broken.expected == 800


def test_processes_send_their_marks_back_through_their_pipes() -> None:
    run, variant = _recorded("beside", lambda: race.count_with_processes(2, 1000, shared=True))
    assert run.expected == 2000
    for name in ("process 1", "process 2"):
        states = [s[2] for s in _lane(variant, name)]
        assert states[0] is LaneState.IDLE and states[-1] is LaneState.DONE
        assert LaneState.RUNNING in states


# --- the other experiments --------------------------------------------------------------


def test_the_unawaited_failure_shows_on_its_lane_while_the_program_says_finished() -> None:
    run, variant = _recorded("broken", lambda: debug.run_program(awaits_its_tasks=False, records=8))
    assert run.program_outcome == "finished"
    failed = [
        (name, spans[-1])
        for name in variant.names
        if (spans := _lane(variant, name)) and spans[-1][2] is LaneState.FAILED
    ]
    assert [(name, span[3]) for name, span in failed] == [
        (failed[0][0], "BadRecordError: record 5 is malformed")
    ]
    assert failed[0][0].startswith("consumer")
    assert _lane(variant, "main")[-1][2:] == (LaneState.DONE, "reports: finished")
    # The failed lane stays failed to the end: nobody awaited it.
    assert failed[0][1][1] == pytest.approx(variant.t)


def test_oversubscribed_threads_show_gil_waits() -> None:
    run, variant = _recorded("broken", lambda: switching.spin_threads(4, 0.3))
    assert run.workers == 4
    waits = [
        sum(s[1] - s[0] for s in _lane(variant, f"thread {n}") if s[2] is LaneState.WAIT_GIL)
        for n in range(1, 5)
    ]
    # Four threads share one GIL: together they wait for it most of the time.
    assert sum(waits) >= 0.3


def test_the_parent_samples_processes_it_cannot_mark() -> None:
    import multiprocessing

    child = multiprocessing.get_context("spawn").Process(target=_spin_then_sleep, daemon=True)
    child.start()
    try:
        assert child.pid is not None
        with timeline.recording("sampled") as recording, timeline.sampled_processes([child.pid]):
            child.join(timeout=10)
        variant = VariantTimeline.of(recording)
    finally:
        if child.is_alive():
            child.kill()
            child.join()
    states = [s[2] for s in _lane(variant, "process 1")]
    assert LaneState.RUNNING in states, "it spun for 0.6 s"
    assert states[-1] is LaneState.DONE, "it exited"


def _spin_then_sleep() -> None:
    began = time.perf_counter()
    while time.perf_counter() - began < 0.6:
        pass
    time.sleep(0.2)


# --- the stream -------------------------------------------------------------------------


def _marks_at(recording: timeline.Recording, lane: Any, marks: list[Mark]) -> None:
    """Marks at chosen seconds from the recording's start, as the worker makes them."""
    lane.raw += [(recording.began + t, state, detail) for t, state, detail in marks]


def test_a_batch_survives_the_wire() -> None:
    lock, run, io, done = LaneState.WAIT_LOCK, LaneState.RUNNING, LaneState.WAIT_IO, LaneState.DONE
    with timeline.recording("broken: two threads") as recording:
        lane = timeline.thread_lane("thread 1")
        _marks_at(recording, lane, [
            (0.0, lock, "waits for lock-2, holds lock-1"),
            (0.012, run, ""), (0.013, io, "awaits the server"),
            (0.032, done, "5 rounds done"),
        ])  # fmt: skip
        recording.ended_at = recording.began + 0.04
    line = encode(recording, recording.take_bins())
    assert line.startswith(LANES_PREFIX) and "\n" not in line
    batch = parse(line)
    assert batch.title == "broken: two threads" and batch.lanes == ("thread 1",)
    # One mark per bin whose dominant state changed: the lock wait; the 1 ms run in
    # a bin otherwise spent waiting; the I/O wait; the end.
    assert [m for _, m in batch.marks] == [
        (0.0, lock, "waits for lock-2, holds lock-1"),
        (0.01, run, ""),
        (0.02, io, "awaits the server"),
        (0.03, done, "5 rounds done"),
    ]
    assert batch.now == ((done, "5 rounds done"),) and batch.ended
    assert batch.binned_s == pytest.approx(0.04)


def test_what_crosses_is_bounded_by_lanes_and_bins_not_by_marks() -> None:
    # Two workers marking every 20 µs for 0.5 s (the locked counter's rate, and more):
    # 50,000 marks, sent as at most one mark per lane per bin.
    hold, wait = LaneState.HOLDING, LaneState.WAIT_LOCK
    with timeline.recording("fixed: threads, a lock") as recording:
        lanes = [timeline.thread_lane(f"thread {n}") for n in (1, 2)]
        for n, lane in enumerate(lanes):
            _marks_at(recording, lane, [
                (k * 20e-6, hold if k % 4 == n else wait, "waits for the lock")
                for k in range(25_000)
            ])  # fmt: skip
        recording.ended_at = recording.began + 0.5
    bins = recording.take_bins()
    line = encode(recording, bins)
    assert len(bins) <= 2 * round(0.5 / timeline.BIN_S)
    assert len(line) < 20_000, "a few kB, not the megabyte 50,000 marks take"
    timelines = Timelines()
    assert timelines.feed(line)
    (variant,) = timelines.variants()
    assert variant.ended and variant.t == pytest.approx(0.5)
    # Held a quarter of the time and waited the rest: every cell shows the wait.
    assert variant.cells(0, 10, 0.05) == [wait] * 10
    assert recording.take_bins() == [], "every bin was sent once"


def test_bins_are_sent_as_they_close_and_the_lanes_own_state_fills_the_rest() -> None:
    io, blocked = LaneState.WAIT_IO, LaneState.BLOCKED
    with timeline.recording("broken: time.sleep") as recording:
        lane = timeline.thread_lane("waiter")
        _marks_at(recording, lane, [(0.0, io, ""), (0.001, blocked, "time.sleep(1)")])
        recording.began -= 0.1  # the variant has run 100 ms
        first = parse(encode(recording, recording.take_bins()))
        timelines = Timelines()
        timelines.feed(encode(recording, []))
    # Bins up to the grace before now, not the one still filling.
    assert first.binned_s is not None
    assert 0.1 - timeline.GRACE_S - timeline.BIN_S <= first.binned_s <= 0.1 - timeline.GRACE_S
    assert first.now == ((blocked, "time.sleep(1)"),) and not first.ended
    (variant,) = timelines.variants()
    assert variant.state_at(0, variant.t) == (blocked, "time.sleep(1)")


GOOD = {"variant": 0, "title": "t", "lanes": ["a"], "marks": [], "t": 0.5, "ended": False}


@pytest.mark.parametrize(
    ("line", "reason"),
    [
        ("lanes: not json", "one JSON object"),
        ("lanes: [1, 2]", "JSON object"),
        ("lanes: {}", "lacks"),
        ("lanes: " + "[" * 100_000, "not nested"),
        (json.dumps({**GOOD, "variant": -1}), "variant"),
        (json.dumps({**GOOD, "variant": True}), "variant"),
        (json.dumps({**GOOD, "lanes": "a"}), "lanes"),
        (json.dumps({**GOOD, "marks": [[0, 0.1, "dancing", ""]]}), "one of running"),
        (json.dumps({**GOOD, "marks": [[3, 0.1, "running", ""]]}), "lane must be one of 0..0"),
        (json.dumps({**GOOD, "marks": [[0, "soon", "running", ""]]}), "finite number"),
        (json.dumps({**GOOD, "marks": [[0, 0.1, "running"]]}), "[lane, seconds"),
        (json.dumps({**GOOD, "marks": [[0, 0.1, "running", 7]]}), "detail"),
        (json.dumps({**GOOD, "t": math.inf}).replace("Infinity", "1e999"), "finite"),
        (json.dumps({**GOOD, "ended": "yes"}), "ended"),
    ],
)
def test_a_bad_line_is_ignored_with_its_reason(line: str, reason: str) -> None:
    with pytest.raises(StreamError, match=reason.replace("[", r"\[").replace(".", r"\.")):
        parse(line)
    timelines = Timelines()
    assert timelines.feed(LANES_PREFIX + json.dumps(GOOD))
    assert not timelines.feed(line)
    assert reason in timelines.rejected[-1]
    assert "\n" not in timelines.rejected[-1] and "Traceback" not in timelines.rejected[-1]
    assert [v.names for v in timelines.variants()] == [["a"]], "what was read is kept"


def test_a_cell_shows_a_task_that_ran_at_all_and_a_wait_by_its_length() -> None:
    variant = VariantTimeline(
        title="t",
        names=["task", "worker"],
        marks=[
            # An I/O wait with a 1 ms run in the first cell, then nothing for two cells.
            [(0.0, LaneState.WAIT_IO, ""), (0.05, LaneState.RUNNING, ""),
             (0.051, LaneState.WAIT_IO, "")],
            # Held a lock 20 ms, then waited 80 ms for another; then done.
            [(0.0, LaneState.HOLDING, ""), (0.02, LaneState.WAIT_LOCK, ""),
             (0.1, LaneState.DONE, "")],
        ],
        t=0.3,
        ended=True,
    )  # fmt: skip
    assert variant.cells(0, 3, 0.1) == [LaneState.RUNNING, LaneState.WAIT_IO, LaneState.WAIT_IO]
    assert variant.cells(1, 4, 0.1) == [LaneState.WAIT_LOCK, LaneState.DONE, LaneState.DONE, None]
    assert variant.summary_cells(range(2), 3, 0.1)[1] in (LaneState.WAIT_IO, LaneState.DONE)


def test_demo_streams_lanes_only_when_asked(capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["demo", "blocked-loop", "--quick", "--json", "--stream"]) == 0
    captured = capsys.readouterr()
    document = json.loads(captured.out)
    assert document["schema"] == "conc-tui/demo/1"
    timelines = Timelines()
    lines = [line for line in captured.err.splitlines() if line.startswith(LANES_PREFIX)]
    assert all(timelines.feed(line) for line in lines), timelines.rejected
    broken, fixed = timelines.variants()
    assert broken.ended and fixed.ended
    assert broken.title.startswith("broken") and fixed.title.startswith("fixed")
    assert broken.names[0] == "waiter" and len(broken.names) == 1 + blocked_loop.TASKS
    assert any(m[1] is LaneState.BLOCKED for m in broken.marks[0])
    # Binned: no more than one mark per lane per bin crossed.
    for variant in (broken, fixed):
        assert sum(map(len, variant.marks)) <= len(variant.names) * (variant.t / timeline.BIN_S + 1)
    # Batches come every 100 ms while a variant runs, not only at its end.
    assert len(lines) >= 2 * broken.t / timeline.FLUSH_S * 0.5
    assert cli.main(["demo", "blocked-loop", "--quick", "--json"]) == 0
    assert LANES_PREFIX not in capsys.readouterr().err


# --- the screen ---------------------------------------------------------------------------


def test_the_lab_draws_lanes_before_the_result() -> None:
    from test_hazards import _app, _start_experiment

    async def scenario() -> None:
        app = _app()
        async with app.run_test(size=(80, 24)) as pilot:
            screen = await _start_experiment(app, pilot, "deadlock", quick=True)
            seen_before_result = ""
            deadline = time.monotonic() + 60
            while "deadlock" not in screen.outcomes and time.monotonic() < deadline:
                shown = _shown(screen)
                if "thread A" in shown and "▚" in shown:
                    seen_before_result = shown
                await pilot.pause(0.1)
            assert seen_before_result, "lanes were drawn while the experiment ran"
            assert "hazard shown" not in seen_before_result
            assert "broken: two threads, locks in opposite order" in seen_before_result
            outcome = screen.outcomes["deadlock"]
            assert outcome.error is None, outcome.error
            await pilot.pause(0.3)
            shown = _shown(screen)
            # The lanes stay, with the result under them, all four variants drawn.
            lines = shown.splitlines()
            assert sum(line.startswith(("broken: ", "fixed: ")) for line in lines) == 4
            assert "hazard shown: yes" in shown
            assert lines.index(next(ln for ln in lines if ln.startswith("fixed: two threads"))) > (
                lines.index(next(ln for ln in lines if ln.startswith("broken: two threads")))
            )
            lanes = [line for line in lines if line.startswith(("thread ", "process "))]
            assert len(lanes) == 8 and max(len(line.rstrip()) for line in lanes) <= 80
            assert screen.timelines["deadlock"].rejected == []

    asyncio.run(scenario())
    deadline = time.monotonic() + 5
    while _children() and time.monotonic() < deadline:
        time.sleep(0.05)
    assert _children() == []


def test_a_failed_lane_is_drawn_on_its_own_when_lanes_are_folded() -> None:
    from conc_tui.screens.hazards import lanes_lines

    io, fail = LaneState.WAIT_IO, LaneState.FAILED
    marks: list[list[Any]] = [[(0.0, io, "")] for _ in range(6)]
    marks[4].append((0.5, fail, "BadRecordError: record 5 is malformed"))
    variant = VariantTimeline("broken: x")
    names = tuple(f"consumer {n}" for n in range(1, 7))
    flat = tuple((lane, mark) for lane, lane_marks in enumerate(marks) for mark in lane_marks)
    variant.add(Batch(0, "broken: x", names, flat, 1.0, False))
    lines = [line.plain for line in lanes_lines([variant], 60, height=10)]
    drawn = [line for line in lines if line.startswith("consumer")]
    # Three lanes drawn (the failed one among them) and the other three folded into one.
    assert [line.split("  ")[0] for line in drawn] == [
        "consumer 1",
        "consumer 2",
        "consumer 5",
        "consumers ×3",
    ]
    assert "✗" in drawn[2] and "✗" not in drawn[3]
    assert all(len(line) <= 60 for line in lines[:-1])
    assert any("consumer 5: BadRecordError" in line for line in lines)


def test_a_variant_whose_process_died_says_how_it_ended_and_keeps_its_lanes() -> None:
    import signal

    import psutil
    from test_hazards import _app, _start_experiment

    async def scenario() -> None:
        app = _app()
        async with app.run_test(size=(80, 24)) as pilot:
            screen = await _start_experiment(app, pilot, "blocked-loop", quick=True)
            deadline = time.monotonic() + 60
            while "task 1" not in _shown(screen) and time.monotonic() < deadline:
                await pilot.pause(0.05)
            assert "running" in _shown(screen)
            (child,) = [p for p in psutil.Process().children() if "demo" in " ".join(p.cmdline())]
            child.send_signal(signal.SIGKILL)
            while "blocked-loop" not in screen.outcomes and time.monotonic() < deadline:
                await pilot.pause(0.05)
            await pilot.pause(0.3)
            shown = _shown(screen)
            lines = shown.splitlines()
            said = "the experiment's process was killed by SIGKILL (signal 9)"
            # The variant says it ended, when and how, in full at 80 columns; nothing
            # says it is still running; its lanes drawn so far stay.
            heading = lines.index(next(ln for ln in lines if ln.startswith("broken: ")))
            ending = " ".join(lines[heading + 1 : heading + 3])
            assert ending.startswith("ended at ") and said in ending, shown
            assert ", running" not in shown and "running for" not in shown
            assert any(line.startswith("task 1 ") and line[14:].strip() for line in lines)
            assert f"no result: {said}" in shown

    asyncio.run(scenario())


# --- the start method ---------------------------------------------------------------------


@pytest.mark.skipif("fork" not in __import__("multiprocessing").get_all_start_methods(), reason="")
def test_the_document_and_the_screen_say_which_start_method_the_processes_used() -> None:
    import subprocess
    import sys

    from conc_tui.hazards.isolated import Outcome
    from conc_tui.screens.hazards import result_part

    def figures(*extra: str) -> dict[str, Any]:
        command = [sys.executable, "-m", "conc_tui", "demo", "race", "--quick", "--json"]
        done = subprocess.run([*command, *extra], capture_output=True, text=True, timeout=120)
        assert done.returncode == 0, done.stderr[-500:]
        document = json.loads(done.stdout)
        assert document["figures"]["processes_private"]["lost"] == 0
        return document

    # The plain command has no other thread and forks; streaming, a flusher thread
    # runs, and the processes are spawned: the figure must say which.
    assert figures()["figures"]["start_method"] == "fork"
    streamed = figures("--stream")
    assert streamed["figures"]["start_method"] == "spawn"
    experiment = registry.get("race")
    parts = result_part(experiment, Outcome("race", streamed, None), None, lanes=True)
    shown = "\n".join(part.plain for part in parts if hasattr(part, "plain"))
    assert "processes started by spawn" in shown and "`conc-tui demo` alone forks" in shown


def test_cells_drawn_as_batches_come_match_cells_drawn_once_at_the_end() -> None:
    import random

    states = [s for s in LaneState if s is not LaneState.FAILED]
    rng = random.Random(11)
    names = tuple(f"task {n}" for n in range(1, 6))
    growing, whole = VariantTimeline("t"), VariantTimeline("t")
    every: list[tuple[int, Mark]] = []
    t = 0.0
    for _ in range(30):
        batch = []
        for _ in range(rng.randrange(0, 12)):
            t += rng.random() * 0.01
            batch.append((rng.randrange(5), (t, rng.choice(states), "")))
        batch.sort(key=lambda item: item[1][0])
        every += batch
        now = tuple((rng.choice(states), "") for _ in names)
        growing.add(Batch(0, "t", names, tuple(batch), t + 0.005, False, t, now))
        # Drawn on every batch, as the screen does on every tick (a copy, as it draws).
        drawn = growing.copy()
        for lane in range(5):
            drawn.cells(lane, 40, 0.01)
        drawn.summary_cells(range(5), 40, 0.01)
    whole.add(Batch(0, "t", names, tuple(every), t + 0.005, False, t, now))
    for lane in range(5):
        assert growing.cells(lane, 40, 0.01) == whole.cells(lane, 40, 0.01)
    assert growing.summary_cells(range(5), 40, 0.01) == whole.summary_cells(range(5), 40, 0.01)


def test_processes_an_experiment_started_go_with_it_when_it_dies() -> None:
    """Killing the experiment's process mid-run must not leave the processes it started
    (the deadlocked pair) running: they are killed as a group with it."""
    import signal
    import threading

    import psutil

    from conc_tui.hazards.isolated import run_isolated

    reached = threading.Event()

    def on_step(text: str) -> None:
        if "two processes" in text:
            reached.set()

    done: list[object] = []
    runner = threading.Thread(
        target=lambda: done.append(run_isolated("deadlock", quick=True, on_step=on_step)),
        daemon=True,
    )
    runner.start()
    assert reached.wait(60), "the processes variant never started"
    (child,) = [p for p in psutil.Process().children() if "demo" in " ".join(p.cmdline())]
    deadline = time.monotonic() + 20
    workers: list[psutil.Process] = []
    while len(workers) < 2 and time.monotonic() < deadline:
        workers = [
            p
            for p in child.children(recursive=True)
            if "resource_tracker" not in " ".join(p.cmdline())
        ]
        time.sleep(0.05)
    assert len(workers) >= 2, workers
    child.send_signal(signal.SIGKILL)
    runner.join(30)
    assert done, "run_isolated did not return"
    gone, alive = psutil.wait_procs(workers, timeout=5)
    assert not alive, alive

"""Hard to debug: what every asyncio task awaits right now, and the error nobody saw.

A small pipeline (a producer feeding three consumers through an ``asyncio.Queue``,
beside a task waiting on an ``asyncio.Event``) runs while a view samples every task
from inside the loop: ``Task.get_stack()`` gives the frame where the task is suspended,
and following ``cr_await`` from its coroutine gives the whole chain down to the future
it waits on. One record is malformed and its consumer raises.

Broken: the consumers are started with ``create_task`` and never awaited, so the
exception stays in a finished task nobody looks at; the program reports success with
records missing. ``asyncio.all_tasks()`` forgets finished tasks, so the view keeps every
task it has seen and flags one that is done with an exception. Fixed: the program
awaits its consumers with ``asyncio.gather``, so the error reaches it at once.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass
from typing import Any

from conc_tui.hazards import timeline
from conc_tui.hazards.base import step
from conc_tui.hazards.timeline import LaneState, Marker

RECORDS = 20
QUICK_RECORDS = 8
BAD_RECORD = 5
CONSUMERS = 3
SEND_EVERY_S = 0.03
PARSE_S = 0.02
SAMPLE_EVERY_S = 0.02
SETTLE_S = 0.2
"""How long the broken program waits for its unawaited consumers before it ends."""


class BadRecordError(ValueError):
    """The malformed record's parse error."""


async def _parse(record: int) -> int:
    await asyncio.sleep(PARSE_S)
    if record == BAD_RECORD:
        raise BadRecordError(f"record {record} is malformed")
    return record * 2


async def _consumer(queue: asyncio.Queue[int | None], parsed: list[int], lane: Marker) -> None:
    try:
        lane.mark(LaneState.WAIT_IO, "awaits queue.get()")
        while (record := await queue.get()) is not None:
            lane.mark(LaneState.WAIT_IO, f"awaits _parse({record})")
            parsed.append(await _parse(record))
            lane.mark(LaneState.WAIT_IO, "awaits queue.get()")
    except asyncio.CancelledError:
        lane.mark(LaneState.DONE, "cancelled")
        raise
    except Exception as error:
        # The lane shows the failure where it happened, whether or not anyone awaits it.
        lane.mark(LaneState.FAILED, f"{type(error).__name__}: {error}")
        raise
    lane.mark(LaneState.DONE)


async def _producer(
    queue: asyncio.Queue[int | None], records: int, finished: asyncio.Event, lane: Marker
) -> None:
    try:
        for record in range(records):
            lane.mark(LaneState.WAIT_IO, "asyncio.sleep")
            await asyncio.sleep(SEND_EVERY_S)
            lane.mark(LaneState.RUNNING, f"puts record {record}")
            await queue.put(record)
    except asyncio.CancelledError:
        lane.mark(LaneState.DONE, "cancelled")
        raise
    for _ in range(CONSUMERS):
        await queue.put(None)
    finished.set()
    lane.mark(LaneState.DONE)


async def _reporter(finished: asyncio.Event) -> None:
    await finished.wait()


def describe_await(task: asyncio.Task[Any]) -> str:
    """Where the task is suspended and what it waits for, outermost call first."""
    stack = task.get_stack(limit=1)
    where = [f"{frame.f_code.co_name}:{frame.f_lineno}" for frame in stack]
    awaited: Any = getattr(task.get_coro(), "cr_await", None)
    while awaited is not None and hasattr(awaited, "cr_frame"):
        frame = awaited.cr_frame
        line = f":{frame.f_lineno}" if frame is not None else ""
        where.append(f"{awaited.cr_code.co_name}{line}")
        awaited = awaited.cr_await
    if awaited is not None:
        # Awaiting a Future goes through its iterator (FutureIter in C): name the Future.
        kind = type(awaited).__name__
        where.append("Future" if kind in ("FutureIter", "generator") else kind)
    elif len(where) == 1:
        # Suspended on nothing: the task is queued to run (or has not started yet).
        where.append("ready to run")
    return " → ".join(where) if where else "running"


@dataclass(frozen=True)
class TaskLine:
    """One task in one sample of the view."""

    name: str
    state: str
    """``awaiting``, ``done``, ``cancelled`` or ``failed``."""
    detail: str
    """The await chain while pending; the exception when failed."""


class TaskView:
    """Samples every task of the running loop, remembering the finished ones."""

    def __init__(self) -> None:
        self.seen: dict[asyncio.Task[Any], float] = {}
        self.samples = 0
        self.lines_at: list[tuple[float, tuple[TaskLine, ...]]] = []
        self.failure: tuple[str, str, float] | None = None
        """(task name, exception, seconds since start) of the first failed task seen."""

    def sample(self, began: float, me: asyncio.Task[Any] | None) -> tuple[TaskLine, ...]:
        now = time.perf_counter() - began
        for task in asyncio.all_tasks():
            if task is not me:
                self.seen.setdefault(task, now)
        lines = []
        for task in sorted(self.seen, key=lambda t: (self.seen[t], t.get_name())):
            lines.append(self._line(task, now))
        self.samples += 1
        self.lines_at.append((now, tuple(lines)))
        return tuple(lines)

    def _line(self, task: asyncio.Task[Any], now: float) -> TaskLine:
        name = task.get_name()
        if not task.done():
            return TaskLine(name, "awaiting", describe_await(task))
        if task.cancelled():
            return TaskLine(name, "cancelled", "")
        error = task.exception()
        if error is None:
            return TaskLine(name, "done", "")
        text = f"{type(error).__name__}: {error}"
        if self.failure is None:
            self.failure = (name, text, now)
        return TaskLine(name, "failed", text)


@dataclass(frozen=True)
class DebugRun:
    """One run of the pipeline under the view."""

    awaits_its_tasks: bool
    records: int
    records_parsed: int
    program_outcome: str
    """What the program itself reported at its end."""
    error_reached_program: bool
    samples: int
    tasks_seen: int
    view: tuple[TaskLine, ...]
    """The sample with the deepest await chains: the juggling, call by call."""
    final_view: tuple[TaskLine, ...]
    failed_task: str | None
    failure_seen_by_view: str | None
    failure_seen_after_s: float | None
    elapsed_s: float


@dataclass(frozen=True)
class DebugResult:
    """The pipeline with unawaited consumers (broken), then awaiting them (fixed)."""

    view_method: str
    broken: DebugRun
    fixed: DebugRun

    @property
    def hazard_shown(self) -> bool:
        b = self.broken
        return b.failure_seen_by_view is not None and not b.error_reached_program

    @property
    def fixed_clean(self) -> bool:
        return self.fixed.error_reached_program

    @property
    def sentence(self) -> str:
        b, f = self.broken, self.fixed
        seen = (
            f"the view, sampling {b.tasks_seen} tasks {b.samples} times, found {b.failed_task} "
            f"done with {b.failure_seen_by_view} after {b.failure_seen_after_s:.2f} s"
            if b.failure_seen_by_view is not None and b.failure_seen_after_s is not None
            else f"the view found no failed task in {b.samples} samples"
        )
        return (
            f"With its consumers never awaited the program ended '{b.program_outcome}' having "
            f"parsed {b.records_parsed} of {b.records} records, and only {seen}; awaiting "
            f"them with asyncio.gather, the program ended '{f.program_outcome}'."
        )


async def _sampling(view: TaskView, began: float, stop: asyncio.Event) -> None:
    me = asyncio.current_task()
    while not stop.is_set():
        view.sample(began, me)
        await asyncio.sleep(SAMPLE_EVERY_S)


async def _program(records: int, awaits_its_tasks: bool, parsed: list[int]) -> str:
    queue: asyncio.Queue[int | None] = asyncio.Queue()
    finished = asyncio.Event()
    main = timeline.thread_lane("main")
    producer_lane = timeline.thread_lane("producer")
    lanes = [timeline.thread_lane(f"consumer {n + 1}") for n in range(CONSUMERS)]
    producer = asyncio.create_task(
        _producer(queue, records, finished, producer_lane), name="producer"
    )
    reporter = asyncio.create_task(_reporter(finished), name="reporter")
    consumers = [
        asyncio.create_task(_consumer(queue, parsed, lanes[n]), name=f"consumer-{n}")
        for n in range(CONSUMERS)
    ]
    if not awaits_its_tasks:
        # The hazard: fire-and-forget consumers. Whatever they raise stays in them.
        main.mark(LaneState.WAIT_IO, "awaits the producer only")
        await asyncio.gather(producer, reporter)
        await asyncio.sleep(SETTLE_S)
        main.mark(LaneState.DONE, "reports: finished")
        return "finished"
    try:
        main.mark(LaneState.WAIT_IO, "awaits gather(producer, consumers)")
        await asyncio.gather(producer, reporter, *consumers)
    except BadRecordError as error:
        main.mark(LaneState.DONE, f"reports: {type(error).__name__}")
        return f"failed: {type(error).__name__}: {error}"
    finally:
        # gather does not cancel the others when one fails; leave nothing running.
        for task in (producer, reporter, *consumers):
            task.cancel()
        await asyncio.gather(producer, reporter, *consumers, return_exceptions=True)
    main.mark(LaneState.DONE, "reports: finished")
    return "finished"


async def _observed(records: int, awaits_its_tasks: bool) -> DebugRun:
    main = asyncio.current_task()
    if main is not None:
        main.set_name("main")  # asyncio.run calls it Task-1; the view shows this name
    view = TaskView()
    stop = asyncio.Event()
    began = time.perf_counter()
    sampler = asyncio.create_task(_sampling(view, began, stop), name="task-view")
    parsed: list[int] = []
    outcome = await _program(records, awaits_its_tasks, parsed)
    final = view.sample(began, sampler)
    stop.set()
    await sampler
    # The sample with the deepest await chains shows the most of the juggling at once.
    busiest = max(
        view.lines_at,
        key=lambda sample: sum(
            line.detail.count("→") for line in sample[1] if line.state == "awaiting"
        ),
    )[1]
    failed = view.failure
    return DebugRun(
        awaits_its_tasks=awaits_its_tasks,
        records=records,
        records_parsed=len(parsed),
        program_outcome=outcome,
        error_reached_program=outcome.startswith("failed"),
        samples=view.samples,
        tasks_seen=len(view.seen),
        view=busiest,
        final_view=final,
        failed_task=failed[0] if failed else None,
        failure_seen_by_view=failed[1] if failed else None,
        failure_seen_after_s=failed[2] if failed else None,
        elapsed_s=time.perf_counter() - began,
    )


def run_program(*, awaits_its_tasks: bool, records: int = RECORDS) -> DebugRun:
    """Run the pipeline once under the view, on a fresh event loop."""
    return asyncio.run(_observed(records, awaits_its_tasks))


def run(quick: bool = False) -> DebugResult:
    """The fire-and-forget pipeline, then the one that awaits its consumers."""
    records = QUICK_RECORDS if quick else RECORDS
    return DebugResult(
        view_method=(
            f"a task on the same loop samples asyncio.all_tasks() every "
            f"{SAMPLE_EVERY_S * 1000:.0f} ms: Task.get_stack() for the suspended frame, "
            "cr_await for the chain below it; finished tasks are remembered by the view"
        ),
        broken=_stepped("broken: consumers never awaited", False, records),
        fixed=_stepped("fixed: consumers awaited with asyncio.gather", True, records),
    )


def _stepped(text: str, awaits_its_tasks: bool, records: int) -> DebugRun:
    step(text)
    return run_program(awaits_its_tasks=awaits_its_tasks, records=records)

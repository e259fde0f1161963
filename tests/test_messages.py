"""The typed protocol between the runner, its workers and the observer."""

from __future__ import annotations

import dataclasses
import multiprocessing
import os
import pickle
import select
import time
from pathlib import Path
from typing import ClassVar, get_args

import pytest

from conc_tui.config import RunConfig
from conc_tui.engine import execute
from conc_tui.messages import (
    AsyncMode,
    ControlNote,
    PoolStarting,
    Prepared,
    RunFinished,
    WorkerHello,
    WorkThread,
)
from conc_tui.models.base import Outcome
from conc_tui.telemetry.aggregator import Aggregator
from conc_tui.telemetry.hub import TelemetryHub
from conc_tui.telemetry.link import TelemetryLink
from conc_tui.workloads.base import Item, ItemResult, Workload, WorkloadError


def test_every_note_a_link_sends_reaches_the_aggregator() -> None:
    reader, writer = multiprocessing.Pipe(duplex=False)
    link = TelemetryLink(writer, multiprocessing.Value("i", 0))
    agg = Aggregator(model="async", workload="cpu", workers=2, origin_ns=time.monotonic_ns())
    hub = TelemetryHub(agg, reader, os.getpid())
    sent: list[ControlNote] = []
    original = link.send_control

    def spy(note: ControlNote) -> None:
        sent.append(note)
        original(note)

    link.send_control = spy  # type: ignore[method-assign]
    link.pool_starting()
    link.local_recorder("task 1", os_thread=False)
    link.send_control(AsyncMode("to_thread"))
    link.send_control(WorkThread(4242))
    hub.read_available()

    # A note added to the protocol without a test here fails this line.
    assert {type(note) for note in sent} == set(get_args(ControlNote))
    pool, hello = sent[0], sent[1]
    assert isinstance(pool, PoolStarting) and isinstance(hello, WorkerHello)
    assert agg.pool_started_ns == pool.t_ns
    (track,) = agg.tracks.values()
    assert (track.label, track.pid, track.tid) == ("task 1", os.getpid(), None)
    assert track.startup_s == (hello.t_ns - pool.t_ns) / 1e9
    assert agg.async_mode == "to_thread"
    assert agg.work_threads == {4242}


def test_a_note_is_one_atomic_pipe_write() -> None:
    # Frames up to PIPE_BUF bytes never interleave between writers (see telemetry.link).
    hello = WorkerHello(2**31, "x" * 200, 2**22, 2**22, time.monotonic_ns())
    assert len(pickle.dumps(hello)) + 1 <= select.PIPE_BUF
    assert pickle.loads(pickle.dumps(hello)) == hello


def test_messages_are_frozen() -> None:
    note = PoolStarting(1)
    with pytest.raises(dataclasses.FrozenInstanceError):
        note.t_ns = 2  # type: ignore[misc]
    report = RunFinished(Outcome([]), 1.0, 0, 1, 0.5, 0)
    with pytest.raises(dataclasses.FrozenInstanceError):
        report.wall_s = 0.0  # type: ignore[misc]
    assert Prepared(3, "three", frozenset({7})).helper_pids == {7}


class RejectingWorkload(Workload):
    """Input the user must fix: the runner reports it instead of running."""

    name: ClassVar[str] = "rejecting"
    description: ClassVar[str] = "test input"

    def prepare(self, work_dir: Path) -> None:
        raise WorkloadError("the test folder is empty")

    def initial_items(self) -> list[Item]:
        return [Item(0, "never")]

    def run(self, item: Item) -> ItemResult:
        raise AssertionError("a rejected input must not run")


class BrokenWorkload(Workload):
    """A workload that raises outside any item: the runner reports a crash."""

    name: ClassVar[str] = "broken"
    description: ClassVar[str] = "test input"

    def initial_items(self) -> list[Item]:
        raise ValueError("no items today")

    def run(self, item: Item) -> ItemResult:
        raise AssertionError("unreachable")


def test_rejected_input_reaches_the_caller_as_a_workload_error() -> None:
    with pytest.raises(WorkloadError, match="the test folder is empty"):
        execute(RunConfig("serial", "cpu", 1), workload=RejectingWorkload())


def test_a_crash_in_the_runner_fails_the_run_with_its_reason() -> None:
    result = execute(RunConfig("thread", "cpu", 2), workload=BrokenWorkload())
    assert result.status == "failed"
    assert result.reason.startswith("the run crashed: ")
    assert "no items today" in result.reason
    assert result.items_done == 0
    assert 0 < result.wall_s < 60  # how long it went before the crash, not "0 ms"

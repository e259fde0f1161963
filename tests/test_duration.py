"""Timed runs (the app's ``--duration``): items cycle until the time is up, then the run
finishes normally; fixed-size runs (the CLI's) are untouched."""

from __future__ import annotations

import time
from dataclasses import replace

import pytest

from conc_tui.cli import parse_args
from conc_tui.config import ConfigError, RunConfig, WorkloadOptions
from conc_tui.engine import execute
from conc_tui.models.base import Frontier
from conc_tui.workloads.base import Item, ItemResult, Workload

INPUTS = 4


@pytest.mark.slow
@pytest.mark.parametrize("model,workers", [("thread", 2), ("process", 2)])
def test_a_timed_cpu_run_lasts_its_duration_and_cycles_the_inputs(model: str, workers: int) -> None:
    options = WorkloadOptions(items=INPUTS, duration_s=2.0)
    began = time.monotonic()
    result = execute(RunConfig(model, "cpu", workers, options, telemetry=False))
    took = time.monotonic() - began
    assert result.status == "finished", result.reason
    assert 2.0 <= result.wall_s <= 3.5, result.wall_s
    assert took <= 3.5 + 3.0  # preparing and the pool's start-up come on top
    assert result.items_done > INPUTS  # it went round the inputs again
    assert result.items_failed == 0


@pytest.mark.slow
@pytest.mark.parametrize("model,workers", [("serial", 1), ("async", 2)])
def test_every_model_honours_the_duration(model: str, workers: int) -> None:
    options = WorkloadOptions(items=2, duration_s=1.0)
    result = execute(RunConfig(model, "cpu", workers, options, telemetry=False))
    assert result.status == "finished", result.reason
    assert 1.0 <= result.wall_s <= 2.5, result.wall_s
    assert result.items_done > 2


@pytest.mark.slow
def test_a_timed_crawl_that_runs_out_of_pages_simply_finishes() -> None:
    fixed = WorkloadOptions(items=6, latency_ms=1)
    once = execute(RunConfig("thread", "web", 3, fixed, telemetry=False))
    options = replace(fixed, duration_s=30.0)
    result = execute(RunConfig("thread", "web", 3, options, telemetry=False))
    assert result.status == "finished", result.reason
    assert result.items_done == once.items_done  # every page once, no repeats
    assert result.checksum == once.checksum
    assert result.wall_s < 10


def test_the_cli_run_stays_fixed_size() -> None:
    args = parse_args(["run", "--model", "thread", "--workload", "cpu", "--items", "3"])
    assert not hasattr(args, "duration")
    result = execute(RunConfig("thread", "cpu", 2, WorkloadOptions(items=3), telemetry=False))
    assert result.status == "finished"
    assert result.items_done == 3


def test_the_app_runs_twenty_seconds_unless_told() -> None:
    assert parse_args([]).duration == 20.0
    assert parse_args(["--duration", "5"]).duration == 5.0
    assert parse_args(["--duration", "0"]).duration == 0.0


@pytest.mark.parametrize("text", ["-1", "0.5", "4000", "nan", "soon"])
def test_a_bad_duration_is_one_line_naming_the_range(
    text: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as exited:
        parse_args(["--duration", text])
    assert exited.value.code == 2
    err = capsys.readouterr().err.strip()
    assert "1 to 3600" in err and "\n" not in err


def test_the_config_names_the_accepted_range() -> None:
    bad = RunConfig("thread", "cpu", 2, WorkloadOptions(duration_s=0.2))
    with pytest.raises(ConfigError, match="between 1 and 3600 s"):
        bad.validate()


class _Listed(Workload):
    name = "listed"
    description = "a few named items"

    def __init__(self, keys: list[str], cycles: bool = True) -> None:
        self._keys = keys
        self.cycles = cycles  # type: ignore[misc]

    def initial_items(self) -> list[Item]:
        return [Item(i, key) for i, key in enumerate(self._keys)]

    def run(self, item: Item) -> ItemResult:
        return ItemResult(item.index, item.key, ok=True)


def _drain(frontier: Frontier, count: int) -> list[Item]:
    taken = []
    for _ in range(count):
        item = frontier.take()
        if item is None:
            break
        frontier.complete(ItemResult(item.index, item.key, ok=True))
        taken.append(item)
    return taken


def test_a_timed_frontier_cycles_under_unique_indexes_and_keys() -> None:
    taken = _drain(Frontier(_Listed(["a.jpg", "b.jpg"]), duration_s=60), 5)
    assert [i.key for i in taken] == ["a.jpg", "b.jpg", "a.jpg #2", "b.jpg #2", "a.jpg #3"]
    assert [i.index for i in taken] == [0, 1, 2, 3, 4]


def test_a_fixed_frontier_and_a_crawl_do_not_cycle() -> None:
    assert len(_drain(Frontier(_Listed(["a", "b"])), 10)) == 2
    crawl = Frontier(_Listed(["a", "b"], cycles=False), duration_s=60)
    assert len(_drain(crawl, 10)) == 2
    assert crawl.exhausted  # ran out of pages before the time: it simply finishes


def test_a_timed_frontier_hands_out_nothing_after_its_deadline() -> None:
    frontier = Frontier(_Listed(["a"]), duration_s=0.05)
    assert frontier.take() is not None
    time.sleep(0.06)
    assert frontier.take() is None
    assert not frontier.exhausted  # the item in flight still finishes
    frontier.complete(ItemResult(0, "a", ok=True))
    assert frontier.exhausted


def test_items_that_finished_as_the_stop_arrived_are_counted() -> None:
    """A stop drops the items still queued or running, never ones already done."""
    import threading
    from concurrent.futures import Future

    from conc_tui.models.base import drive_pool

    frontier = Frontier(_Listed(["a", "b", "c", "d"]))
    stop = threading.Event()
    queued: list[Future[ItemResult]] = []

    def submit(item: Item) -> Future[ItemResult]:
        future: Future[ItemResult] = Future()
        if item.index < 2:  # these two finish; the stop comes with the third
            future.set_result(ItemResult(item.index, item.key, ok=True))
        else:
            stop.set()
        queued.append(future)
        return future

    assert drive_pool(submit, frontier, capacity=4, stop=stop) == ""
    assert sorted(r.key for r in frontier.results) == ["a", "b"]
    assert all(f.cancelled() for f in queued[2:])

"""Verdicts are honest about noise: no winner inside the scatter, the machine's load said,
and every reason quotes the figure it rests on."""

from __future__ import annotations

import re
from typing import Any

from fakes import make_result

from conc_tui import report
from conc_tui.telemetry.snapshot import RunResult


def run(model: str, wall_s: float, workload: str = "cpu", **changes: Any) -> RunResult:
    """A run on a quiet 2-core machine that kept one core busy."""
    quiet = {
        "workers": 1 if model == "serial" else 2,
        "cpu_s": wall_s,
        "mean_cores_busy": 1.0,
        "others_cores_busy": 0.05,
        "machine_cores": 2,
    }
    return make_result(model, workload, wall_s, **{**quiet, **changes})


def runs(
    walls: dict[str, tuple[float, ...]], workload: str = "cpu", **changes: Any
) -> list[RunResult]:
    return [run(m, w, workload, **changes) for m, ws in walls.items() for w in ws]


def judged(results: list[RunResult], workload: str = "cpu") -> report.Verdict:
    return report.judge(workload, report.summarize_bench(results))


def test_overlapping_runs_name_no_winner() -> None:
    # The case: two races on cpu, "threads win 1.9×" and then "serial wins".
    v = judged(runs({"serial": (1.0, 1.9, 1.2), "thread": (0.9, 1.5, 1.1)}))
    assert v.call == "too close" and v.winner is None
    assert "too close to call" in v.text
    assert " win" not in v.text
    assert "threads 1.10 s (0.90–1.50 s, 3 runs)" in v.text


def test_a_busy_machine_is_named_with_its_figure() -> None:
    # bench on a busy machine: asyncio's images runs spread from 2.6 to 7.5 s.
    results = runs(
        {"serial": (3.1, 6.0, 3.4), "async": (2.6, 7.5, 2.9), "process": (2.8, 6.9, 3.5)},
        workload="images",
        others_cores_busy=1.8,
    )
    v = judged(results, "images")
    assert v.call == "too busy" and v.winner is None
    assert "too busy to tell" in v.text
    assert "other programs kept 1.8 of 2 cores busy" in v.text
    assert v.others_cores_busy == 1.8


def test_a_clear_margin_names_the_winner_and_the_load() -> None:
    results = runs({"serial": (2.0, 2.1, 2.2), "process": (1.0, 1.1, 1.05)}, others_cores_busy=0.6)
    v = judged(results)
    assert v.call == "winner" and v.winner == "process"
    assert v.text.startswith("cpu: processes win, 2.0× over serial")
    assert "other programs kept 0.6 of 2 cores busy meanwhile" in v.text


def test_half_the_machine_taken_by_others_leaves_no_winner_even_with_a_clear_margin() -> None:
    # Measured with two busy loops on 2 cores: 8 threads won more CPU from them than
    # serial did (0.5 cores against 0.3) and "won" cpu 1.4×, every run clear of serial's.
    results = [
        *runs({"serial": (1.66, 1.66, 1.84)}, others_cores_busy=1.62, mean_cores_busy=0.34),
        *runs({"thread": (1.04, 1.15, 1.50)}, others_cores_busy=1.44, mean_cores_busy=0.5),
        *runs({"process": (1.76, 1.78, 1.89)}, others_cores_busy=1.56, mean_cores_busy=0.38),
    ]
    v = judged(results)
    assert v.call == "too busy" and v.winner is None
    assert "too busy to tell (other programs kept 1.6 of 2 cores busy on average" in v.text
    assert " win" not in v.text
    line = report.rule_of_thumb(report.summarize_bench(results))
    assert "the machine was too busy to tell for cpu" in line and "not for" not in line


def test_touching_ranges_are_not_clear() -> None:
    results = runs({"serial": (2.0, 2.1, 2.2), "process": (1.0, 1.1, 2.0)})
    assert judged(results).winner is None


def test_the_winner_must_stand_clear_of_every_model_not_only_the_runner_up() -> None:
    # Serial's median is slow, but one of its runs beat the "winner".
    results = runs(
        {"serial": (1.0, 5.0, 5.2), "thread": (2.0, 2.1, 2.2), "process": (1.5, 1.6, 1.55)}
    )
    v = judged(results)
    assert v.winner is None
    assert "processes 1.55 s (1.50–1.60 s, 3 runs) and serial 5.00 s" in v.text


def test_fewer_than_three_runs_name_no_winner() -> None:
    v = judged(runs({"serial": (2.0, 2.1), "process": (1.0, 1.1)}))
    assert v.call == "too few runs" and v.winner is None
    assert "too few runs to call (only 2 of processes finished" in v.text


def test_serial_can_win_clearly() -> None:
    v = judged(runs({"serial": (1.0, 1.02, 1.01), "thread": (1.5, 1.6, 1.55)}, "files"), "files")
    assert v.winner == "serial"
    assert v.text.startswith("files: serial wins; every model was slower (threads 0.65×)")


def test_every_reason_quotes_the_figure_it_rests_on() -> None:
    results = [
        *runs({"serial": (4.0, 4.1, 4.2)}, "web", mean_cores_busy=0.3),
        *runs({"thread": (2.0, 2.1, 2.2)}, "web", gil_wait_share=0.76, mean_cores_busy=0.4),
        *runs({"async": (0.5, 0.52, 0.51)}, "web", calls_on_hold_mean=43.2),
        *runs(
            {"process": (1.8, 1.9, 1.85)},
            "web",
            startup_s=0.3,
            mean_cores_busy=0.9,
            lock_wait_s=0.5,
        ),
    ]
    v = judged(results, "web")
    assert v.winner == "async"
    assert "threads waited for the GIL 76% of their running time" in v.reasons
    assert "asyncio kept 43 calls on hold on average" in v.reasons
    assert "processes' start-up took 0.30 s of a 1.85 s run" in v.reasons
    assert "processes kept 0.90 cores busy, serial 0.30" in v.reasons
    assert "processes' workers waited 0.50 s for the log lock in a 1.85 s run" in v.reasons
    for reason in v.reasons:
        assert re.search(r"\d", reason), reason
        assert reason in v.text


def test_a_missing_figure_leaves_its_reason_out() -> None:
    # Without telemetry there is no GIL share, start-up or calls on hold: no reason
    # may stand in for them, whoever wins.
    results = runs(
        {"serial": (4.0, 4.1, 4.2), "thread": (5.0, 5.1, 5.2), "async": (0.5, 0.6, 0.55)},
        "web",
    )
    v = judged(results, "web")
    assert v.winner == "async"
    assert v.reasons == ()
    assert "event loop" not in v.text and "GIL" not in v.text


def test_the_rule_of_thumb_is_not_broken_by_a_margin_inside_the_noise() -> None:
    rows = report.summarize_bench(
        runs({"serial": (1.0, 1.3, 1.1), "thread": (1.2, 1.25, 1.4)}, "files")
    )
    line = report.rule_of_thumb(rows)
    assert "not for" not in line
    assert "too close to tell for files (serial and threads)" in line


def test_the_bench_document_says_how_busy_the_machine_was() -> None:
    results = runs({"serial": (2.0, 2.1, 2.2), "process": (1.5, 2.15, 1.6)}, others_cores_busy=1.7)
    doc = report.bench_document(
        results,
        repeat=3,
        workloads=["cpu"],
        models=["process"],
        workers=None,
        options={},
        telemetry=True,
    )
    assert doc["machine"] == {
        "cores": 2,
        "others_cores_busy_median": 1.7,
        "others_cores_busy_max": 1.7,
        "busy": True,
    }
    assert doc["verdict_details"]["cpu"]["call"] == "too busy"
    assert doc["verdict_details"]["cpu"]["winner"] is None
    assert "1.7 of 2 cores" in doc["verdicts"]["cpu"]
    assert doc["summary"][0]["median_others_cores_busy"] == 1.7
    assert doc["runs"][0]["others_cores_busy"] == 1.7


def test_without_a_winner_the_figures_are_what_was_measured_not_why() -> None:
    results = [
        *runs({"serial": (1.0, 1.9, 1.2)}),
        # A thread's "ready" under pure-Python load is a GIL wait, not a start-up cost.
        *runs({"thread": (0.9, 1.5, 1.1)}, gil_wait_share=0.5, startup_s=0.9),
    ]
    v = judged(results)
    assert v.winner is None
    assert v.text.endswith("; measured: threads waited for the GIL 50% of their running time")
    assert not any("start-up" in reason for reason in v.reasons)

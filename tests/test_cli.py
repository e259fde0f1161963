"""The command line: one-line errors with exit status 2, help texts, run and bench output.

No real runs here: ``conc_tui.cli.execute`` and ``make_workload`` are replaced by fakes
that return hand-made :class:`RunResult` objects. The end-to-end tests live elsewhere.
"""

from __future__ import annotations

import json
import subprocess
import sys
import types
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from fakes import make_result

from conc_tui import cli, report
from conc_tui.config import (
    APP_DURATION_S,
    MAX_WORKERS,
    ConfigError,
    RunConfig,
    WorkloadOptions,
)
from conc_tui.telemetry.snapshot import RunResult
from conc_tui.workloads.base import WorkloadError

REPO = Path(__file__).resolve().parent.parent


class FakeEngine:
    """Stands in for the engine: records configs, returns results from a function."""

    def __init__(self) -> None:
        self.configs: list[RunConfig] = []
        self.built: list[RunConfig] = []
        self.wall: Callable[[RunConfig], float] = lambda config: 1.0
        self.error: BaseException | None = None
        self.build_error: BaseException | None = None

    def execute(self, config: RunConfig, **_: Any) -> RunResult:
        self.configs.append(config)
        if self.error is not None:
            raise self.error
        return make_result(config.model, config.workload, self.wall(config), workers=config.workers)

    def make_workload(self, config: RunConfig) -> object:
        self.built.append(config)
        if self.build_error is not None:
            raise self.build_error
        return object()


@pytest.fixture
def engine(monkeypatch: pytest.MonkeyPatch) -> FakeEngine:
    fake = FakeEngine()
    monkeypatch.setattr(cli, "execute", fake.execute)
    monkeypatch.setattr(cli, "make_workload", fake.make_workload)
    return fake


def one_error_line(err: str) -> str:
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 1, err
    assert lines[0].startswith("conc-tui: error: "), err
    return lines[0]


# --- errors: subprocess, to prove nothing but one line reaches stderr ---------------------


@pytest.mark.parametrize(
    ("argv", "expected"),
    [
        (["frobnicate"], "unknown command 'frobnicate'; choose one of: app, run, bench, serve"),
        (["run", "--model", "fibers", "--workload", "cpu"], "serial, process, thread, async"),
        (["run", "--model", "thread", "--workload", "cpu", "--workers", "lots"], "1 to 256"),
        (["bench", "--colour"], "unrecognized argument '--colour'"),
    ],
)
def test_bad_input_in_a_real_process_is_one_line_and_status_2(
    argv: list[str], expected: str
) -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "conc_tui", *argv],
        capture_output=True,
        text=True,
        cwd=REPO,
        timeout=60,
    )
    assert proc.returncode == 2
    assert "Traceback" not in proc.stderr
    assert expected in one_error_line(proc.stderr)
    assert proc.stdout == ""


def test_cli_does_not_import_textual() -> None:
    code = (
        "import sys\n"
        "from conc_tui.cli import main\n"
        "assert main(['run', '--model', 'x']) == 2\n"
        "assert main(['bench', '--help']) == 0\n"
        "print('textual' in sys.modules)\n"
    )
    proc = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, cwd=REPO, timeout=60
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip().splitlines()[-1] == "False"


# --- errors: in process -------------------------------------------------------------------

RUN = ["run", "--model", "thread", "--workload", "cpu"]


@pytest.mark.parametrize(
    ("argv", "expected"),
    [
        (["lab2"], "unknown command 'lab2'"),
        (["run", "--workload", "cpu"], "run needs --model; choose one of: serial"),
        (["run", "--model", "thread"], "run needs --workload; choose one of: images"),
        (["run", "--model", "thread", "--workload", "video"], "images, files, web, cpu"),
        ([*RUN, "--filter", "sepia"], "blur, sharpen, resize, median, contour"),
        ([*RUN, "--workers", "0"], "0 is out of range; use 1 to 256"),
        ([*RUN, "--workers", str(MAX_WORKERS + 1)], "out of range; use 1 to 256"),
        ([*RUN, "--workers", "-3"], "out of range"),
        ([*RUN, "--workers", "2.5"], "'2.5' is not a whole number"),
        ([*RUN, "--items", "0"], "--items: 0 is out of range; use 1 to 100000"),
        ([*RUN, "--items", "ten"], "'ten' is not a whole number"),
        ([*RUN, "--max-pages", "0"], "--max-pages"),
        ([*RUN, "--latency", "-5"], "--latency: '-5' is out of range"),
        ([*RUN, "--io-latency", "-0.1"], "--io-latency"),
        ([*RUN, "--latency", "nan"], "milliseconds from 0 to 10000"),
        ([*RUN, "--io-latency", "fast"], "'fast' is not a number"),
        ([*RUN, "--images", "/no/such/folder"], "does not exist; give the path of"),
        ([*RUN, "--url", "not a url"], "not a valid URL"),
        ([*RUN, "--url", "ftp://example.com/"], "has scheme 'ftp'; give a full http://"),
        ([*RUN, "--url", "example.com/page"], "has no scheme"),
        ([*RUN, "--url", "http://"], "has no host"),
        ([*RUN, "--url", "http://host:99999/"], "not a valid URL"),
        ([*RUN, "--workers"], "expected one argument"),
        ([*RUN, "--turbo"], "unrecognized argument '--turbo'; see 'conc-tui run --help'"),
        ([*RUN, "--to-thread"], "--to-thread only applies to --model async"),
        (["run", "--model", "serial", "--workload", "cpu", "--workers", "4"], "one worker"),
        (["bench", "--workloads", "cpu,video"], "unknown workload 'video'"),
        (["bench", "--models", "fibers"], "unknown model 'fibers'"),
        (["bench", "--workloads", ","], "the list of workloads is empty"),
        (["bench", "--repeat", "0"], "--repeat: 0 is out of range; use 1 to 100"),
        (["serve", "--port", "70000"], "--port: 70000 is out of range; use 0 to 65535"),
        (["serve", "--pages", "many"], "'many' is not a whole number"),
        (["serve", "--latency", "-1"], "out of range"),
        (["--images", "/no/such/folder"], "does not exist"),
        (["app", "--items", "0"], "out of range"),
    ],
)
def test_bad_input_is_one_line_and_status_2(
    argv: list[str], expected: str, engine: FakeEngine, capsys: pytest.CaptureFixture[str]
) -> None:
    assert cli.main(argv) == 2
    out, err = capsys.readouterr()
    assert expected in one_error_line(err)
    assert out == ""
    assert engine.configs == []  # nothing ran


def test_path_that_is_a_file_is_not_a_folder(
    tmp_path: Path, engine: FakeEngine, capsys: pytest.CaptureFixture[str]
) -> None:
    afile = tmp_path / "notes.txt"
    afile.write_text("x")
    assert cli.main(["run", "--model", "thread", "--workload", "files", "--files", str(afile)]) == 2
    assert "is not a folder; give the path of an existing folder" in one_error_line(
        capsys.readouterr().err
    )


def test_newlines_in_bad_input_stay_on_one_line(capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["run\nrm -rf", "x"]) == 2
    assert "\\n" in one_error_line(capsys.readouterr().err)


@pytest.mark.parametrize(
    "error",
    [
        WorkloadError("the images folder '/tmp/x' has no JPEG, PNG or WebP images"),
        ConfigError("--latency must be between 0 and 10000 ms, got 20000"),
        WorkloadError("could not reach http://127.0.0.1:1/: Connection refused"),
    ],
)
def test_engine_input_errors_print_their_message(
    error: Exception, engine: FakeEngine, capsys: pytest.CaptureFixture[str]
) -> None:
    engine.error = error
    assert cli.main(RUN) == 2
    assert one_error_line(capsys.readouterr().err) == f"conc-tui: error: {error}"


def test_bench_checks_every_workload_before_the_first_run(
    engine: FakeEngine, capsys: pytest.CaptureFixture[str]
) -> None:
    engine.build_error = WorkloadError("the files folder '/x' contains no readable files")
    assert cli.main(["bench", "--workloads", "cpu,files"]) == 2
    assert "no readable files" in one_error_line(capsys.readouterr().err)
    assert engine.configs == []


@pytest.mark.parametrize("command", [RUN, ["bench", "--workloads", "cpu"]])
def test_ctrl_c_is_status_130_without_traceback(
    command: list[str], engine: FakeEngine, capsys: pytest.CaptureFixture[str]
) -> None:
    engine.error = KeyboardInterrupt()
    assert cli.main(command) == 130
    out, err = capsys.readouterr()
    assert err.strip().splitlines()[-1] == "conc-tui: interrupted"
    assert "Traceback" not in err


# --- help ---------------------------------------------------------------------------------

WORKLOAD_FLAGS = [
    "--images",
    "--filter",
    "--files",
    "--io-latency",
    "--url",
    "--max-pages",
    "--latency",
    "--items",
    "--to-thread",
]


@pytest.mark.parametrize(
    ("command", "flags"),
    [
        ("app", WORKLOAD_FLAGS),
        (
            "run",
            ["--model", "--workload", "--workers", "--json", "--no-telemetry", *WORKLOAD_FLAGS],
        ),
        (
            "bench",
            ["--workloads", "--models", "--workers", "--repeat", "--json", *WORKLOAD_FLAGS],
        ),
        ("serve", ["--pages", "--latency", "--port", "--host"]),
    ],
)
def test_help_lists_every_option(
    command: str, flags: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    assert cli.main([command, "--help"]) == 0
    out = capsys.readouterr().out
    for flag in flags:
        assert f"  {flag}" in out, flag
    for name in ("blur", "sharpen", "resize", "median", "contour"):
        if "--filter" in flags:
            assert name in out


def test_top_help_lists_commands_but_hides_lab(capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["--help"]) == 0
    out = capsys.readouterr().out
    for command in ("app", "run", "bench", "serve"):
        assert f"    {command} " in out
    assert "lab" not in out


# --- run ----------------------------------------------------------------------------------


def test_run_json_is_one_document_with_the_result(
    engine: FakeEngine, capsys: pytest.CaptureFixture[str]
) -> None:
    assert cli.main([*RUN, "--workers", "3", "--json"]) == 0
    out, err = capsys.readouterr()
    document = json.loads(out)
    assert document["schema"] == "conc-tui/run/1"
    assert document["model"] == "thread"
    assert document["workload"] == "cpu"
    assert document["workers"] == 3
    assert document["wall_s"] == 1.0
    assert document["items_done"] == 24
    assert document["items_failed"] == 0
    assert document["checksum"] == "0123456789abcdef"
    assert document["lock_wait_s"] is None
    assert err == ""


def test_run_report_shows_the_measured_figures(
    engine: FakeEngine, capsys: pytest.CaptureFixture[str]
) -> None:
    assert cli.main(RUN) == 0
    out = capsys.readouterr().out
    for text in ("1.000 s", "24 done, 0 failed", "24.0 items/s", "3.0 MiB", "2.50 s"):
        assert text in out
    assert "1.50 cores busy" in out
    assert "80.0 MiB" in out
    assert "50.0 ms" in out
    assert "0123456789abcdef" in out


def test_report_shows_lock_gil_loop_and_failures() -> None:
    result = make_result(
        "async",
        "web",
        lock_wait_s=0.25,
        lock_hold_s=0.5,
        lock_acquisitions=400,
        lock_contended=37,
        gil_wait_share=0.43,
        loop_lag_mean_ms=1.5,
        loop_lag_max_ms=9.25,
        async_mode="blocking the loop",
        items_failed=7,
        failures=tuple((f"/page/{i}", "HTTP 404") for i in range(7)),
        startup_s=None,
    )
    text = report.format_run(result)
    assert "waited 0.250 s, held 0.500 s (400 acquisitions, 37 had to wait)" in text
    assert "43% of the threads' running time" in text
    assert "lag 1.5 ms mean, 9.2 ms max; blocking the loop" in text
    assert "first 5 of 7" in text
    assert "/page/4: HTTP 404" in text
    assert "/page/5" not in text
    assert "start-up" not in text


def test_failed_run_exits_1_and_says_why(
    engine: FakeEngine, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    broken = make_result(status="failed", reason="a worker process died (exit code -9)")
    monkeypatch.setattr(cli, "execute", lambda config, **_: broken)
    assert cli.main(RUN) == 1
    assert "a worker process died" in capsys.readouterr().out


@pytest.mark.parametrize(
    ("model", "workers"), [("serial", 1), ("thread", 8), ("async", 50), ("process", None)]
)
def test_worker_defaults(model: str, workers: int | None) -> None:
    config = cli.parse_run_config(["--model", model, "--workload", "cpu"])
    expected = workers if workers is not None else cli.default_workers("process")
    assert config.workers == expected
    assert 1 <= config.workers <= MAX_WORKERS


def test_parse_run_config_builds_the_config(tmp_path: Path) -> None:
    config = cli.parse_run_config(
        [
            "run",
            "--model=async",
            "--workload",
            "web",
            "--workers",
            "12",
            "--url",
            "http://127.0.0.1:8765/",
            "--max-pages",
            "30",
            "--to-thread",
            "--no-telemetry",
            "--files",
            str(tmp_path),
        ]
    )
    assert config == RunConfig(
        "async",
        "web",
        12,
        WorkloadOptions(
            url="http://127.0.0.1:8765/", max_pages=30, to_thread=True, files=str(tmp_path)
        ),
        telemetry=False,
    )


# --- app, lab, serve ------------------------------------------------------------------------


def fake_module(monkeypatch: pytest.MonkeyPatch, name: str, **attrs: Any) -> None:
    module = types.ModuleType(name)
    for key, value in attrs.items():
        setattr(module, key, value)
    monkeypatch.setitem(sys.modules, name, module)


@pytest.mark.parametrize(
    ("argv", "items"), [([], None), (["app", "--items", "5"], 5), (["--items", "7"], 7)]
)
def test_app_is_the_default_and_gets_the_options(
    argv: list[str], items: int | None, monkeypatch: pytest.MonkeyPatch
) -> None:
    made: list[WorkloadOptions] = []

    class FakeApp:
        return_code = 0

        def __init__(self, options: WorkloadOptions, projector: bool = False) -> None:
            made.append(options)

        def run(self) -> None:
            pass

    fake_module(monkeypatch, "conc_tui.app", ConcApp=FakeApp)
    assert cli.main(argv) == 0
    # The app's runs are timed unless --duration 0 says otherwise.
    assert made == [WorkloadOptions(items=items, duration_s=APP_DURATION_S)]


def test_lab_is_dispatched(monkeypatch: pytest.MonkeyPatch) -> None:
    fake_module(monkeypatch, "conc_tui.lab", lab_main=lambda: 3)
    assert cli.main(["lab"]) == 3


@pytest.fixture
def fake_site(monkeypatch: pytest.MonkeyPatch) -> dict[str, Any]:
    calls: dict[str, Any] = {"error": KeyboardInterrupt()}

    def serve(
        host: str,
        port: int,
        pages: int,
        latency_ms: float,
        jitter: float = 0.0,
        ready: Callable[[str], None] | None = None,
    ) -> None:
        calls.update(host=host, port=port, pages=pages, latency_ms=latency_ms)
        assert ready is not None
        ready(f"http://{host}:{port or 40000}")
        raise calls["error"]

    fake_module(monkeypatch, "conc_tui.workloads.site", serve=serve)
    import conc_tui.workloads

    monkeypatch.setattr(conc_tui.workloads, "site", sys.modules["conc_tui.workloads.site"], False)
    return calls


def test_serve_prints_the_url_and_ctrl_c_exits_0(
    fake_site: dict[str, Any], capsys: pytest.CaptureFixture[str]
) -> None:
    assert cli.main(["serve", "--pages", "40", "--latency", "20", "--port", "0"]) == 0
    out, err = capsys.readouterr()
    assert "http://127.0.0.1:40000/" in out
    assert "40 pages with 20 ms latency" in out
    assert err == ""
    assert fake_site == {
        "error": fake_site["error"],
        "host": "127.0.0.1",
        "port": 0,
        "pages": 40,
        "latency_ms": 20.0,
    }


def test_serve_refuses_a_host_that_is_not_loopback(capsys: pytest.CaptureFixture[str]) -> None:
    # The real site, not the fake: it checks the host before it binds anything.
    assert cli.main(["serve", "--host", "0.0.0.0"]) == 2
    err = one_error_line(capsys.readouterr().err)
    assert "binds loopback only; use one of 127.0.0.1, localhost, ::1, got '0.0.0.0'" in err


@pytest.mark.parametrize(
    ("error", "expected"),
    [
        (OSError(98, "Address already in use"), "Address already in use); choose another"),
        (WorkloadError("the local site binds loopback only"), "binds loopback only"),
    ],
)
def test_serve_errors_are_one_line(
    error: Exception,
    expected: str,
    fake_site: dict[str, Any],
    capsys: pytest.CaptureFixture[str],
) -> None:
    fake_site["error"] = error
    assert cli.main(["serve"]) == 2
    assert expected in one_error_line(capsys.readouterr().err)


# --- bench ----------------------------------------------------------------------------------

SPEED = {"serial": 2.0, "process": 1.0, "thread": 2.1, "async": 2.2, "interp": 1.1}


@pytest.fixture
def bench_engine(engine: FakeEngine) -> Iterator[FakeEngine]:
    counter = iter(range(10_000))

    def wall(config: RunConfig) -> float:
        # A little scatter around each model's speed, so min and max differ.
        return SPEED[config.model] * (1 + 0.01 * (next(counter) % 3))

    engine.wall = wall
    yield engine


def test_bench_schedule_interleaves_rounds(
    bench_engine: FakeEngine, capsys: pytest.CaptureFixture[str]
) -> None:
    # The models are named: the default set depends on this Python (interp from 3.13).
    argv = ["bench", "--workloads", "cpu,files", "--models", "process,thread,async"]
    assert cli.main([*argv, "--repeat", "3", "--workers", "3"]) == 0
    runs = [(c.workload, c.model, c.workers) for c in bench_engine.configs]
    one_round = [("serial", 1), ("process", 3), ("thread", 3), ("async", 3)]
    expected = [(w, m, n) for w in ("cpu", "files") for _ in range(3) for m, n in one_round]
    assert runs == expected
    out, err = capsys.readouterr()
    assert "[24/24] files async ×3" in err
    assert "cpu: processes win, 2.0× over serial; threads 0.95×, asyncio 0.91×" in out
    assert "rule of thumb" in out.splitlines()[-1]
    assert "holds for cpu" in out
    assert "files (expected threads, processes won 2.0× against 0.95×)" in out


def test_bench_json_is_clean_on_stdout(
    bench_engine: FakeEngine, capsys: pytest.CaptureFixture[str]
) -> None:
    assert cli.main(["bench", "--workloads", "cpu", "--models", "thread", "--json"]) == 0
    out, err = capsys.readouterr()
    document = json.loads(out)
    assert document["schema"] == "conc-tui/bench/1"
    assert document["repeat"] == 3
    assert document["models"] == ["thread"]
    assert len(document["runs"]) == 6
    assert {run["model"] for run in document["runs"]} == {"serial", "thread"}
    thread = next(row for row in document["summary"] if row["model"] == "thread")
    assert thread["median_wall_s"] == pytest.approx(2.1 * 1.01)
    assert thread["speedup"] == pytest.approx(2.02 / (2.1 * 1.01))
    assert document["verdicts"]["cpu"].startswith("cpu: serial wins")
    assert "bench: " in err


def test_bench_medians_and_speedups() -> None:
    results = [
        make_result("serial", "cpu", 4.0),
        make_result("serial", "cpu", 3.0),
        make_result("serial", "cpu", 5.0),
        make_result("process", "cpu", 2.0),
        make_result("process", "cpu", 1.0),
        make_result("process", "cpu", 9.0, status="failed", reason="died"),
        make_result("process", "cpu", 3.0),
    ]
    serial, process = report.summarize_bench(results)
    assert (serial.median_s, serial.min_s, serial.max_s, serial.speedup) == (4.0, 3.0, 5.0, 1.0)
    # The failed run is left out of the timing but counted.
    assert process.walls == (2.0, 1.0, 3.0)
    assert process.runs == 4
    assert (process.median_s, process.speedup) == (2.0, 2.0)
    table = report.format_bench_table([serial, process])
    assert "2.000 s (1 of 4 broke)" in table
    assert "1.000–3.000 s" in table


def test_bench_without_a_finished_baseline_has_no_speedups() -> None:
    rows = report.summarize_bench(
        [
            make_result("serial", "web", 1.0, status="failed"),
            make_result("async", "web", 0.5),
        ]
    )
    assert [r.speedup for r in rows] == [None, None]
    assert "no verdict" in report.verdict("web", rows)


def test_verdicts_explain_the_winner() -> None:
    def rows_for(workload: str, **walls: float) -> list[report.BenchRow]:
        return report.summarize_bench(
            make_result(model, workload, wall * scatter, gil_wait_share=0.55)
            for model, wall in walls.items()
            for scatter in (1.0, 1.01, 1.02)
        )

    web = rows_for("web", serial=10.0, process=4.0, thread=2.0, **{"async": 0.5})
    assert report.verdict("web", web).startswith("web: asyncio wins, 20× over serial;")
    images = rows_for("images", serial=4.0, process=1.9, thread=2.0)
    assert report.verdict("images", images).startswith("images: processes win")
    cpu = report.verdict("cpu", rows_for("cpu", serial=1.0, process=0.5, thread=1.02))
    assert "threads 0.98×" in cpu
    assert "threads waited for the GIL 55% of their running time" in cpu
    files = rows_for("files", serial=1.0, thread=1.1, process=1.5)
    assert report.verdict("files", files).startswith(
        "files: serial wins; every model was slower (threads 0.91×, processes 0.67×); "
        "serial 1.01 s (1.00–1.02 s, 3 runs) against threads 1.11 s"
    )
    line = report.rule_of_thumb([*web, *images, *files])
    assert "holds for web, images" in line
    assert "not for files (expected threads, serial won 1.0× against 0.91×)" in line

"""Property tests of the option parser.

1. Any argv made of plausible and garbage tokens ends in a status (0 or 2 here, since the
   fake engine always finishes), never an exception; a 2 always comes with exactly one
   non-empty line on stderr.
2. Any valid set of ``run`` options, in any order and either spelling (``--x v`` or
   ``--x=v``), parses into exactly the RunConfig it describes.
"""

from __future__ import annotations

import contextlib
import io
import sys
import types
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from fakes import make_result
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import conc_tui.workloads
from conc_tui import cli
from conc_tui.config import FILTERS, MAX_WORKERS, MODELS, WORKLOADS, RunConfig, WorkloadOptions
from conc_tui.registry import model_spec
from conc_tui.telemetry.snapshot import RunResult

FOLDER = str(Path(__file__).resolve().parent)
"""An existing folder for --images and --files (its contents are never read here)."""


def fake_execute(config: RunConfig, **_: Any) -> RunResult:
    return make_result(config.model, config.workload, 0.5, workers=config.workers)


class FakeApp:
    return_code = 0

    def __init__(self, options: WorkloadOptions, projector: bool = False) -> None:
        self.options = options

    def run(self) -> None:
        pass


def fake_serve(
    host: str,
    port: int,
    pages: int,
    latency_ms: float,
    jitter: float = 0.0,
    ready: Callable[[str], None] | None = None,
) -> None:
    if ready is not None:
        ready(f"http://{host}:{port}")
    raise KeyboardInterrupt  # the user pressed Ctrl+C


def module(name: str, **attrs: Any) -> types.ModuleType:
    mod = types.ModuleType(name)
    for key, value in attrs.items():
        setattr(mod, key, value)
    return mod


@dataclass
class Outcome:
    status: int
    out: str
    err: str


def run_main(argv: list[str]) -> Outcome:
    """``cli.main`` with every slow or interactive part replaced by a fake."""
    out, err = io.StringIO(), io.StringIO()
    site = module("conc_tui.workloads.site", serve=fake_serve)
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(cli, "execute", fake_execute)
        mp.setattr(cli, "make_workload", lambda config: object())
        mp.setitem(sys.modules, "conc_tui.app", module("conc_tui.app", ConcApp=FakeApp))
        mp.setitem(sys.modules, "conc_tui.lab", module("conc_tui.lab", lab_main=lambda: 0))
        mp.setitem(sys.modules, "conc_tui.workloads.site", site)
        mp.setattr(conc_tui.workloads, "site", site, raising=False)
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            status = cli.main(argv)
    return Outcome(status, out.getvalue(), err.getvalue())


PLAUSIBLE = [
    *cli.COMMANDS,
    "lab",
    *MODELS,
    *WORKLOADS,
    *FILTERS,
    "--model",
    "--workload",
    "--workers",
    "--json",
    "--no-telemetry",
    "--to-thread",
    "--images",
    "--filter",
    "--files",
    "--io-latency",
    "--url",
    "--max-pages",
    "--latency",
    "--items",
    "--workloads",
    "--models",
    "--repeat",
    "--pages",
    "--port",
    "--host",
    "-h",
    "--help",
    "--version",
    "--",
    "-",
    "--workers=4",
    "--model=serial",
    "--items=",
    "0",
    "1",
    "2",
    "8",
    "300",
    "-1",
    "1e3",
    "nan",
    "inf",
    "0x10",
    "http://127.0.0.1:8765/",
    "ftp://x",
    "http://[::1",
    "/no/such/folder",
    FOLDER,
    "cpu,web",
    "thread,async",
    ",",
    "~nobody_here/x",
    "a\nb",
    "\udcff",
    "\x00",
]

tokens = st.one_of(st.sampled_from(PLAUSIBLE), st.text(max_size=10))


@settings(max_examples=300, deadline=None)
@given(st.lists(tokens, max_size=8))
def test_any_argv_ends_in_a_status_and_errors_are_one_line(argv: list[str]) -> None:
    outcome = run_main(argv)
    assert outcome.status in (0, 2), (argv, outcome)
    if outcome.status == 2:
        lines = [line for line in outcome.err.splitlines() if line.strip()]
        assert len(lines) == 1, (argv, outcome.err)
        assert lines[0].startswith("conc-tui: error: ")
        assert "Traceback" not in outcome.err
        assert outcome.out == ""


@settings(max_examples=150, deadline=None)
@given(st.lists(tokens, max_size=8))
def test_parse_run_config_returns_a_valid_config_or_exits_0_or_2(argv: list[str]) -> None:
    err = io.StringIO()
    with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(err):
        try:
            config = cli.parse_run_config(argv)
        except SystemExit as exc:
            assert exc.code in (0, 2)
            if exc.code == 2:
                assert len(err.getvalue().strip().splitlines()) == 1
            return
    assert config.validate() is config


@st.composite
def run_options(draw: st.DrawFn) -> tuple[list[list[str]], RunConfig]:
    """Option groups (each a list of tokens) and the RunConfig they should give."""
    # A pair this Python cannot run (interp before 3.13, or on images) is refused.
    model = draw(st.sampled_from([m for m in MODELS if model_spec(m).available() is None]))
    workload = draw(st.sampled_from([w for w in WORKLOADS if not model_spec(model).cannot_run(w)]))
    workers = 1 if model == "serial" else draw(st.none() | st.integers(1, MAX_WORKERS))
    ms = st.floats(0, 10_000, allow_nan=False)
    options = WorkloadOptions(
        items=draw(st.none() | st.integers(1, 100_000)),
        images=draw(st.none() | st.just(FOLDER)),
        filter=draw(st.sampled_from(FILTERS)),
        files=draw(st.none() | st.just(FOLDER)),
        io_latency_ms=draw(ms),
        url=draw(
            st.none() | st.sampled_from(["http://127.0.0.1:8765/", "https://example.org/a?b=c"])
        ),
        max_pages=draw(st.integers(1, 100_000)),
        latency_ms=draw(ms),
        to_thread=model == "async" and draw(st.booleans()),
    )
    telemetry = draw(st.booleans())
    values: dict[str, object] = {
        "--model": model,
        "--workload": workload,
        "--workers": workers,
        "--items": options.items,
        "--images": options.images,
        "--filter": options.filter,
        "--files": options.files,
        "--io-latency": options.io_latency_ms,
        "--url": options.url,
        "--max-pages": options.max_pages,
        "--latency": options.latency_ms,
    }
    groups: list[list[str]] = []
    for flag, value in values.items():
        if value is None:
            continue
        text = repr(value) if isinstance(value, float) else str(value)
        joined = draw(st.booleans())
        groups.append([f"{flag}={text}"] if joined else [flag, text])
    if options.to_thread:
        groups.append(["--to-thread"])
    if not telemetry:
        groups.append(["--no-telemetry"])
    if draw(st.booleans()):
        groups.append(["--json"])
    groups = draw(st.permutations(groups))
    expected_workers = workers if workers is not None else cli.default_workers(model)
    config = RunConfig(model, workload, expected_workers, options, telemetry)
    return groups, config


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(run_options())
def test_valid_options_round_trip_into_the_run_config(
    case: tuple[list[list[str]], RunConfig],
) -> None:
    groups, expected = case
    argv = [token for group in groups for token in group]
    assert cli.parse_run_config(argv) == expected

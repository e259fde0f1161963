"""The ``conc-tui`` command line: ``app`` (the default), ``run``, ``bench`` and ``serve``.

Every mistake in the arguments ends the same way: one line on stderr,
``conc-tui: error: <what is wrong>; <what is accepted>``, and exit status 2. Everything
that can be checked (numbers, choices, folders, URL syntax, each workload's inputs) is
checked before any slow work starts. Textual is imported only by ``app``.

Exit statuses: 0 success, 1 a run broke off (status ``failed``), 2 bad input,
130 interrupted by Ctrl+C.
"""

from __future__ import annotations

import argparse
import contextlib
import gc
import json
import math
import sys
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import NoReturn

from conc_tui import __version__, report
from conc_tui.config import (
    APP_DURATION_S,
    FILTERS,
    MAX_DURATION_S,
    MAX_ITEMS,
    MAX_LATENCY_MS,
    MAX_WORKERS,
    MIN_DURATION_S,
    MODELS,
    WORKLOADS,
    ConfigError,
    RunConfig,
    WorkloadOptions,
)
from conc_tui.engine import execute, make_workload
from conc_tui.lifecycle import remove_orphaned_run_dirs, tracebacks_as_one_line
from conc_tui.printable import printable
from conc_tui.registry import (
    BASELINE,
    MODEL_SPECS,
    WORKLOAD_SPECS,
    available_contenders,
    model_spec,
    owner_of_option,
)
from conc_tui.registry import (
    default_workers as default_workers,
)
from conc_tui.telemetry.snapshot import RunResult
from conc_tui.workloads.base import WorkloadError

PROG = "conc-tui"
COMMANDS = ("app", "run", "bench", "serve", "demo")
"""The subcommands shown in ``--help``; ``lab`` exists too, for the app's child process."""
HIDDEN_COMMANDS = ("lab",)
ROOT_FLAGS = ("-h", "--help", "--version")

EXIT_OK = 0
EXIT_RUN_FAILED = 1
EXIT_USAGE = 2
EXIT_INTERRUPTED = 130

MAX_REPEAT = 100
DEFAULT_PORT = 8765

DEFAULT_BENCH_MODELS = available_contenders()
"""Every model this Python can run, raced against the baseline."""


def _workers_help() -> str:
    parts = [
        f"{spec.workers_doc} for {spec.name}" for spec in MODEL_SPECS.values() if not spec.baseline
    ]
    return f"workers (default: {', '.join(parts)}; {BASELINE} always uses 1)"


def _choices_help(names: Sequence[str]) -> str:
    """Each model or workload with what it is built on, from the registry."""
    parts = []
    for name in names:
        if name in MODEL_SPECS:
            spec = MODEL_SPECS[name]
            reason = spec.available()
            text = spec.built_on + (f" (unavailable: {reason})" if reason else "")
        else:
            text = WORKLOAD_SPECS[name].summary
        parts.append(f"{name} = {text}")
    return "; ".join(parts)


def check_available(model: str, workloads: Sequence[str] = ()) -> None:
    """Exit 2 with one line if this Python cannot run ``model`` (or it one of ``workloads``)."""
    spec = model_spec(model)
    reason = spec.available()
    if reason is not None:
        fail(f"--model {model} is not available on this Python: {reason}")
    for workload in workloads:
        refused = spec.refuses(workload)
        if refused is not None:
            fail(f"--model {model} cannot run the {workload} workload: {refused}")


# --- one-line errors ------------------------------------------------------------------


def _one_line(text: str) -> str:
    """Escape newlines and other unprintable characters so a message stays one line."""
    return printable(text)


def _print_error(message: str) -> None:
    sys.stderr.write(f"{PROG}: error: {_one_line(message)}\n")
    sys.stderr.flush()


def fail(message: str) -> NoReturn:
    """Print ``conc-tui: error: <message>`` and exit with status 2."""
    _print_error(message)
    raise SystemExit(EXIT_USAGE)


class CliParser(argparse.ArgumentParser):
    """An argument parser whose errors are one line, never a usage dump."""

    def error(self, message: str) -> NoReturn:
        # argparse's own messages ("unrecognized arguments: --x") name the problem but
        # not the remedy; ours always carry "; <accepted values>" already.
        if ";" not in message:
            message += f"; see '{self.prog} --help' for the accepted options"
        fail(message)


# --- argument types: each names the problem and the accepted values -------------------


def _int_type(low: int, high: int) -> Callable[[str], int]:
    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(
                f"{text!r} is not a whole number; use {low} to {high}"
            ) from None
        if not low <= value <= high:
            raise argparse.ArgumentTypeError(f"{value} is out of range; use {low} to {high}")
        return value

    return parse


def _ms_type(text: str) -> float:
    accepted = f"use a number of milliseconds from 0 to {MAX_LATENCY_MS:g}"
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number; {accepted}") from None
    if not math.isfinite(value) or not 0 <= value <= MAX_LATENCY_MS:
        raise argparse.ArgumentTypeError(f"{text!r} is out of range; {accepted}")
    return value


def _seconds_type(text: str) -> float:
    accepted = (
        f"use a number of seconds from {MIN_DURATION_S:g} to {MAX_DURATION_S:g}, "
        "or 0 for a fixed-size run"
    )
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number; {accepted}") from None
    if not math.isfinite(value) or not (value == 0 or MIN_DURATION_S <= value <= MAX_DURATION_S):
        raise argparse.ArgumentTypeError(f"{text!r} is out of range; {accepted}")
    return value


def _choice_type(noun: str, choices: Sequence[str]) -> Callable[[str], str]:
    def parse(text: str) -> str:
        if text not in choices:
            raise argparse.ArgumentTypeError(
                f"unknown {noun} {text!r}; choose one of: {', '.join(choices)}"
            )
        return text

    return parse


def _list_type(noun: str, choices: Sequence[str]) -> Callable[[str], tuple[str, ...]]:
    """A comma-separated list of choices; duplicates are dropped, order is kept."""

    def parse(text: str) -> tuple[str, ...]:
        names = [name.strip() for name in text.split(",") if name.strip()]
        if not names:
            raise argparse.ArgumentTypeError(
                f"the list of {noun}s is empty; name one or more of: {','.join(choices)}"
            )
        for name in names:
            if name not in choices:
                raise argparse.ArgumentTypeError(
                    f"unknown {noun} {name!r}; choose from: {','.join(choices)}"
                )
        return tuple(dict.fromkeys(names))

    return parse


def _folder_type(text: str) -> str:
    accepted = "give the path of an existing folder"
    if not text:
        raise argparse.ArgumentTypeError(f"the folder path is empty; {accepted}")
    try:
        path = Path(text).expanduser()
        exists, is_dir = path.exists(), path.is_dir()
    except (OSError, ValueError, RuntimeError):
        # ValueError: an embedded NUL; RuntimeError: "~user" for an unknown user.
        raise argparse.ArgumentTypeError(f"{text!r} is not a usable path; {accepted}") from None
    if not exists:
        raise argparse.ArgumentTypeError(f"folder {text!r} does not exist; {accepted}")
    if not is_dir:
        raise argparse.ArgumentTypeError(f"{text!r} is not a folder; {accepted}")
    # Absolute, because runs happen in other processes with their own working folder.
    return str(path.resolve())


def _url_type(text: str) -> str:
    from conc_tui.workloads.web import url_problem  # the crawler's own check, loaded on use

    problem = url_problem(text)
    if problem is not None:
        example = "give a full http:// or https:// URL such as http://127.0.0.1:8765/"
        raise argparse.ArgumentTypeError(f"{text!r} {problem}; {example}")
    return text


def _host_type(text: str) -> str:
    if not text or any(ch.isspace() or not ch.isprintable() for ch in text):
        raise argparse.ArgumentTypeError(
            f"{text!r} is not a host name; use an address such as 127.0.0.1"
        )
    return text


# --- the parser ---------------------------------------------------------------------------


def add_workload_options(parser: argparse.ArgumentParser) -> None:
    """Add the options every workload understands (shared by app, run and bench)."""
    d = WorkloadOptions()
    group = parser.add_argument_group(
        "workload options", "each workload uses the options that concern it"
    )
    group.add_argument(
        "--images",
        metavar="DIR",
        type=_folder_type,
        help="folder of images for the images workload (default: the bundled samples)",
    )
    group.add_argument(
        "--filter",
        type=_choice_type("filter", FILTERS),
        choices=FILTERS,
        default=d.filter,
        help=f"Pillow filter the images workload applies (default: {d.filter})",
    )
    group.add_argument(
        "--files",
        metavar="DIR",
        type=_folder_type,
        help="folder of files for the files workload (default: a generated text corpus)",
    )
    group.add_argument(
        "--io-latency",
        metavar="MS",
        type=_ms_type,
        default=d.io_latency_ms,
        help=f"extra wait per file read, to mimic slow storage (default: {d.io_latency_ms:g})",
    )
    group.add_argument(
        "--url",
        type=_url_type,
        help="site the web workload crawls (default: a local site started on 127.0.0.1)",
    )
    group.add_argument(
        "--max-pages",
        metavar="N",
        type=_int_type(1, MAX_ITEMS),
        default=d.max_pages,
        help=f"most pages the crawler fetches (default: {d.max_pages})",
    )
    group.add_argument(
        "--latency",
        metavar="MS",
        type=_ms_type,
        default=d.latency_ms,
        help=f"response delay of the local site (default: {d.latency_ms:g})",
    )
    group.add_argument(
        "--items",
        metavar="N",
        type=_int_type(1, MAX_ITEMS),
        help="how many images, files, pages or cpu tasks the default inputs have",
    )
    group.add_argument(
        "--to-thread",
        action="store_true",
        help="under asyncio, run blocking work through asyncio.to_thread",
    )


def _subparser(
    sub: argparse._SubParsersAction[CliParser], name: str, summary: str | None, text: str
) -> CliParser:
    kwargs: dict[str, object] = {"description": text, "allow_abbrev": False}
    if summary is not None:
        # A subparser added without help= stays out of the command list: that hides lab.
        kwargs["help"] = summary
    parser: CliParser = sub.add_parser(name, **kwargs)  # type: ignore[arg-type]
    return parser


def build_parser() -> CliParser:
    """The full ``conc-tui`` parser; building it runs nothing."""
    parser = CliParser(
        prog=PROG,
        description="See Python's multiprocessing, multithreading and asyncio run real work.",
        epilog="With no command, or only workload options, conc-tui starts the app.",
        allow_abbrev=False,
    )
    parser.add_argument("--version", action="version", version=f"{PROG} {__version__}")
    sub = parser.add_subparsers(dest="command", title="commands", metavar="COMMAND")

    app = _subparser(sub, "app", "start the terminal app (the default)", "Start the app.")
    add_workload_options(app)
    app.add_argument(
        "--duration",
        metavar="SECONDS",
        type=_seconds_type,
        default=APP_DURATION_S,
        help=(
            "how long each run lasts: the workload takes its inputs again and again until "
            f"the time is up (default: {APP_DURATION_S:g}; 0: every input once, as "
            "'run' and 'bench' do)"
        ),
    )
    app.add_argument(
        "--projector",
        action="store_true",
        help="projector colours: each lane state on a solid background (F2 in the app)",
    )

    run = _subparser(
        sub,
        "run",
        "run one model on one workload and print the measured result",
        "Run one workload under one model, headless, and print what was measured.",
    )
    run.add_argument(
        "--model",
        type=_choice_type("model", MODELS),
        choices=MODELS,
        help="how the work is run (required): " + _choices_help(MODELS),
    )
    run.add_argument(
        "--workload",
        type=_choice_type("workload", WORKLOADS),
        choices=WORKLOADS,
        help="what work is run (required): " + _choices_help(WORKLOADS),
    )
    run.add_argument(
        "--workers",
        metavar="N",
        type=_int_type(1, MAX_WORKERS),
        help=_workers_help(),
    )
    run.add_argument("--json", action="store_true", help="print one JSON document instead")
    run.add_argument(
        "--no-telemetry",
        action="store_true",
        help="run without per-worker telemetry, to measure its overhead",
    )
    add_workload_options(run)

    bench = _subparser(
        sub,
        "bench",
        "race the models against a serial baseline and print who wins",
        "Run each workload serially and under each model, several times, and compare "
        "median wall times. Progress goes to stderr.",
    )
    bench.add_argument(
        "--workloads",
        metavar="LIST",
        type=_list_type("workload", WORKLOADS),
        default=WORKLOADS,
        help=f"comma-separated workloads (default: {','.join(WORKLOADS)})",
    )
    bench.add_argument(
        "--models",
        metavar="LIST",
        type=_list_type("model", MODELS),
        default=DEFAULT_BENCH_MODELS,
        help="comma-separated models raced against serial "
        f"(default: {','.join(DEFAULT_BENCH_MODELS)})",
    )
    bench.add_argument(
        "--workers",
        metavar="N",
        type=_int_type(1, MAX_WORKERS),
        help="workers for every model (default: each model's own; serial always uses 1)",
    )
    bench.add_argument(
        "--repeat",
        metavar="K",
        type=_int_type(1, MAX_REPEAT),
        default=3,
        help="runs of each pair; the median counts (default: 3)",
    )
    bench.add_argument("--json", action="store_true", help="print one JSON document instead")
    bench.add_argument(
        "--no-telemetry", action="store_true", help="run without per-worker telemetry"
    )
    add_workload_options(bench)

    serve = _subparser(
        sub,
        "serve",
        "serve the local test site for the web workload",
        "Serve the generated site the web workload crawls, until Ctrl+C.",
    )
    serve.add_argument(
        "--pages",
        metavar="N",
        type=_int_type(1, MAX_ITEMS),
        default=200,
        help="pages on the site (default: 200)",
    )
    serve.add_argument(
        "--latency",
        metavar="MS",
        type=_ms_type,
        default=WorkloadOptions().latency_ms,
        help=f"delay before every response (default: {WorkloadOptions().latency_ms:g})",
    )
    serve.add_argument(
        "--port",
        metavar="P",
        type=_int_type(0, 65535),
        default=DEFAULT_PORT,
        help=f"TCP port, 0 for any free one (default: {DEFAULT_PORT})",
    )
    serve.add_argument(
        "--host",
        metavar="H",
        type=_host_type,
        default="127.0.0.1",
        help="address to listen on (default: 127.0.0.1, this machine only)",
    )

    from conc_tui.hazards.registry import NAMES as DEMOS

    demo = _subparser(
        sub,
        "demo",
        "run one trade-off as a real experiment: a broken and a fixed variant",
        "Run a hazard experiment (its broken variant, then its fixed one) and print what "
        "was measured; with no NAME, list the experiments.",
    )
    demo.add_argument(
        "name",
        metavar="NAME",
        nargs="?",
        type=_choice_type("experiment", DEMOS),
        help=f"one of: {', '.join(DEMOS)}",
    )
    demo.add_argument("--json", action="store_true", help="print one JSON document instead")
    demo.add_argument("--quick", action="store_true", help="smaller sizes, for a quick look")
    demo.add_argument(
        "--stream",
        action="store_true",
        help="also write each worker's state changes on stderr as they happen "
        "(JSON lines, see docs/demo-schema.md)",
    )

    _subparser(sub, "lab", None, "Internal: the app's child process that runs the work.")
    return parser


def _normalize_argv(argv: list[str]) -> list[str]:
    """Pick the subcommand: none, or only workload options, means ``app``.

    Unknown commands are rejected here rather than by argparse, whose message would
    list the hidden ``lab`` command too.
    """
    if not argv:
        return ["app"]
    first = argv[0]
    if first.startswith("-") and first != "-":
        name = first.split("=", 1)[0]
        return argv if name in ROOT_FLAGS else ["app", *argv]
    if first not in COMMANDS and first not in HIDDEN_COMMANDS:
        fail(f"unknown command {first!r}; choose one of: {', '.join(COMMANDS)}")
    return argv


def parse_args(argv: Sequence[str]) -> argparse.Namespace:
    """Parse a full command line (without the program name); exits 2 on a mistake."""
    namespace, extra = build_parser().parse_known_args(_normalize_argv(list(argv)))
    if extra:
        # Reported here rather than by argparse, which only knows the top-level parser
        # at this point and would point at the wrong --help.
        words = " ".join(repr(word) for word in extra)
        noun = "arguments" if len(extra) > 1 else "argument"
        fail(
            f"unrecognized {noun} {words}; see '{PROG} {namespace.command} --help' "
            "for the accepted options"
        )
    return namespace


# --- from arguments to configs -----------------------------------------------------------


def _model_options(args: argparse.Namespace) -> dict[str, bool]:
    """Each model-specific option and whether it was given."""
    return {"--to-thread": bool(args.to_thread)}


def options_from_args(args: argparse.Namespace) -> WorkloadOptions:
    """The :class:`WorkloadOptions` the workload options in ``args`` describe."""
    return WorkloadOptions(
        items=args.items,
        images=args.images,
        filter=args.filter,
        files=args.files,
        io_latency_ms=args.io_latency,
        url=args.url,
        max_pages=args.max_pages,
        latency_ms=args.latency,
        to_thread=args.to_thread,
    )


def _validated(config: RunConfig) -> RunConfig:
    try:
        return config.validate()
    except ConfigError as exc:
        fail(str(exc))


def run_config_from_args(args: argparse.Namespace) -> RunConfig:
    """Turn parsed ``run`` arguments into a validated :class:`RunConfig` (exits 2 if bad).

    ``--model serial`` with ``--workers`` other than 1 is rejected rather than quietly
    changed: the user asked for something the baseline cannot be.
    """
    if args.model is None:
        fail(f"run needs --model; choose one of: {', '.join(MODELS)}")
    if args.workload is None:
        fail(f"run needs --workload; choose one of: {', '.join(WORKLOADS)}")
    check_available(args.model, (args.workload,))
    workers = args.workers if args.workers is not None else default_workers(args.model)
    if model_spec(args.model).baseline and workers != 1:
        fail(
            f"the {args.model} model runs on one worker, got --workers {workers}; omit it or pass 1"
        )
    for option, given in _model_options(args).items():
        owners = owner_of_option(option)
        if given and args.model not in owners:
            wanted = " or ".join(f"--model {name}" for name in owners)
            fail(f"{option} only applies to {wanted}, got --model {args.model}; drop it")
    return _validated(
        RunConfig(
            model=args.model,
            workload=args.workload,
            workers=workers,
            options=options_from_args(args),
            telemetry=not args.no_telemetry,
        )
    )


def parse_run_config(argv: Sequence[str]) -> RunConfig:
    """Parse the arguments of ``conc-tui run`` into a validated :class:`RunConfig`.

    Args:
        argv: The arguments after ``run`` (a leading ``"run"`` is accepted too).

    Raises:
        SystemExit: with status 2, after one error line on stderr, for bad input
            (status 0 for ``--help``).
    """
    args = list(argv)
    if args[:1] == ["run"]:
        args = args[1:]
    return run_config_from_args(build_parser().parse_args(["run", *args]))


@dataclass(frozen=True)
class BenchPlan:
    """What ``conc-tui bench`` will run."""

    workloads: tuple[str, ...]
    models: tuple[str, ...]
    """The models raced against the serial baseline (serial itself excluded)."""
    workers: int | None
    repeat: int
    options: WorkloadOptions
    telemetry: bool

    def config(self, workload: str, model: str) -> RunConfig:
        """The config of one (workload, model) run."""
        if model_spec(model).baseline:
            workers = 1
        else:
            workers = self.workers if self.workers is not None else default_workers(model)
        return RunConfig(model, workload, workers, self.options, self.telemetry)

    def schedule(self) -> list[RunConfig]:
        """Every run in order: per workload, K rounds of serial then each model.

        Rounds are interleaved (serial, process, thread, ... then again) rather than
        K runs of one model in a row, so slow drift in the machine (heat, caches, other
        load) spreads over all models instead of biasing whichever ran last. A model
        that cannot run a workload here (see :meth:`skipped`) sits that workload out.
        """
        order = (BASELINE, *self.models)
        return [
            self.config(workload, model)
            for workload in self.workloads
            for _ in range(self.repeat)
            for model in order
            if model_spec(model).refuses(workload) is None
        ]

    def skipped(self) -> list[str]:
        """One sentence per (model, workload) pair left out, with the reason."""
        return [
            f"{model} skips {workload}: {reason}"
            for workload in self.workloads
            for model in self.models
            if (reason := model_spec(model).refuses(workload)) is not None
        ]


def bench_plan_from_args(args: argparse.Namespace) -> BenchPlan:
    """Turn parsed ``bench`` arguments into a validated :class:`BenchPlan` (exits 2 if bad)."""
    models = tuple(m for m in args.models if not model_spec(m).baseline)
    for model in models:
        check_available(model)
    plan = BenchPlan(
        workloads=tuple(args.workloads),
        models=models,
        workers=args.workers,
        repeat=args.repeat,
        options=options_from_args(args),
        telemetry=not args.no_telemetry,
    )
    for workload in plan.workloads:
        for model in (BASELINE, *plan.models):
            if model_spec(model).refuses(workload) is None:
                _validated(plan.config(workload, model))
    return plan


# --- commands ----------------------------------------------------------------------------


def _cmd_app(args: argparse.Namespace) -> int:
    options = replace(options_from_args(args), duration_s=args.duration or None)
    # Any model and workload will do: this checks the options' ranges only.
    _validated(RunConfig(BASELINE, WORKLOADS[0], 1, options))
    from conc_tui.app import ConcApp  # Textual is imported here and only here.

    app = ConcApp(options=options, projector=args.projector)
    app.run()
    # Every run is stopped and the terminal restored by now. What is left is the
    # interpreter tearing down thousands of UI objects, which measured 0.05-0.5 s on a
    # busy machine; frozen objects are skipped by that last collection.
    gc.freeze()
    code = getattr(app, "return_code", 0)
    return code if isinstance(code, int) else EXIT_OK


def _status_exit(result: RunResult) -> int:
    if result.status == "failed":
        return EXIT_RUN_FAILED
    if result.status == "stopped":
        return EXIT_INTERRUPTED
    return EXIT_OK


def _cmd_run(args: argparse.Namespace) -> int:
    config = run_config_from_args(args)
    try:
        # --json: a crash's reason is in the document; stderr gets one line, not a traceback.
        with tracebacks_as_one_line(PROG) if args.json else contextlib.nullcontext():
            result = execute(config)
    except (ConfigError, WorkloadError) as exc:
        fail(str(exc))
    if args.json:
        print(json.dumps(report.run_document(result), indent=2))
    else:
        print(report.format_run(result))
    return _status_exit(result)


def _progress(text: str) -> None:
    # stderr, so that stdout carries nothing but the table or the JSON document.
    print(f"bench: {text}", file=sys.stderr, flush=True)


def _cmd_bench(args: argparse.Namespace) -> int:
    plan = bench_plan_from_args(args)
    # Building each workload checks its inputs (folders, URL) before the first timed run,
    # so a bad --files does not surface after minutes of image runs.
    for workload in plan.workloads:
        try:
            make_workload(plan.config(workload, BASELINE))
        except (ConfigError, WorkloadError) as exc:
            fail(str(exc))
    schedule = plan.schedule()
    _progress(
        f"{len(schedule)} runs: {len(plan.workloads)} workloads × "
        f"{len(plan.models) + 1} models × {plan.repeat} rounds"
    )
    for sentence in plan.skipped():
        _progress(sentence)
    results: list[RunResult] = []
    for n, config in enumerate(schedule, start=1):
        try:
            result = execute(config)
        except (ConfigError, WorkloadError) as exc:
            fail(str(exc))
        results.append(result)
        reason = printable(result.reason)
        note = "" if result.status == "finished" else f" ({result.status}: {reason})"
        load = ""
        if result.others_cores_busy is not None:
            load = f", other programs {result.others_cores_busy:.2f} cores"
        _progress(
            f"[{n}/{len(schedule)}] {config.workload} {config.model} ×{config.workers}: "
            f"{result.wall_s:.3f} s, {result.mean_cores_busy:.2f} cores{load}{note}"
        )
    if args.json:
        document = report.bench_document(
            results,
            repeat=plan.repeat,
            workloads=plan.workloads,
            models=plan.models,
            workers=plan.workers,
            options=asdict(plan.options),
            telemetry=plan.telemetry,
        )
        print(json.dumps(document, indent=2))
    else:
        rows = report.summarize_bench(results)
        print(report.format_bench_table(rows))
        print(report.format_load(rows))
        print()
        for judged in report.bench_verdicts(rows).values():
            print(judged.text)
        print(report.rule_of_thumb(rows))
    return EXIT_OK


def _cmd_serve(args: argparse.Namespace) -> int:
    from conc_tui.workloads import site  # aiohttp's server parts load only for serve

    def ready(url: str) -> None:
        print(
            f"serving {args.pages} pages with {args.latency:g} ms latency at {url}/ (Ctrl+C stops)",
            flush=True,
        )

    try:
        site.serve(args.host, args.port, args.pages, args.latency, jitter=0.0, ready=ready)
    except WorkloadError as exc:
        fail(str(exc))
    except OSError as exc:
        reason = exc.strerror or str(exc)
        fail(f"cannot listen on {args.host} port {args.port} ({reason}); choose another --port")
    except KeyboardInterrupt:
        pass  # Ctrl+C is how the user stops the server: a clean exit, not an error.
    return EXIT_OK


def _cmd_demo(args: argparse.Namespace) -> int:
    import threading
    import time

    from conc_tui.hazards import registry, stream, timeline
    from conc_tui.hazards.base import report_steps
    from conc_tui.hazards.report import STEP_PREFIX, demo_document, format_demo, format_list

    if args.name is None:
        print(format_list(registry.EXPERIMENTS))
        return EXIT_OK
    experiment = registry.get(args.name)
    # Steps (and lane batches) go to stderr, like bench's progress, so stdout carries
    # only the result. Each is one write under one lock: two threads write them.
    guard = threading.Lock()

    def say(line: str) -> None:
        with guard:
            sys.stderr.write(line + "\n")
            sys.stderr.flush()

    report_steps(lambda text: say(f"{STEP_PREFIX}{text}"))
    if args.stream:
        timeline.stream_to(lambda recording, new: say(stream.encode(recording, new)))
    began = time.perf_counter()
    try:
        result = experiment.run(args.quick)
    finally:
        timeline.end()
        timeline.stream_to(None)
    elapsed = time.perf_counter() - began
    if args.json:
        print(json.dumps(demo_document(experiment, result, elapsed, args.quick), indent=2))
    else:
        print(format_demo(experiment, result, elapsed))
    return EXIT_OK


def _cmd_lab(args: argparse.Namespace) -> int:
    from conc_tui.lab import lab_main

    code = lab_main()
    return code if isinstance(code, int) else EXIT_OK


_COMMANDS: dict[str, Callable[[argparse.Namespace], int]] = {
    "app": _cmd_app,
    "run": _cmd_run,
    "bench": _cmd_bench,
    "serve": _cmd_serve,
    "demo": _cmd_demo,
    "lab": _cmd_lab,
}


def _exit_status(code: object) -> int:
    if code is None:
        return EXIT_OK
    if isinstance(code, int):
        return code
    # sys.exit("message") elsewhere: keep the message, as the interpreter would.
    _print_error(str(code))
    return EXIT_RUN_FAILED


def main(argv: Sequence[str] | None = None) -> int:
    """Run the ``conc-tui`` command line and return its exit status.

    Args:
        argv: The arguments without the program name; ``sys.argv[1:]`` when None.
    """
    args = list(sys.argv[1:] if argv is None else argv)
    try:
        namespace = parse_args(args)
        if namespace.command != "lab":
            # Run folders of earlier runs that were killed (SIGKILL leaves no chance to
            # clean up) go now; the lab is started by a live app, which already did it.
            remove_orphaned_run_dirs()
        return _COMMANDS[namespace.command](namespace)
    except SystemExit as exc:
        return _exit_status(exc.code)
    except KeyboardInterrupt:
        sys.stderr.write(f"\n{PROG}: interrupted\n")
        return EXIT_INTERRUPTED
    except OSError as exc:
        # The machine, not the arguments: a full disk, a temp folder that cannot be
        # written, too many open files. One line, like every other error.
        where = f" ({exc.filename})" if exc.filename else ""
        _print_error(
            f"{exc.strerror or exc}{where}; free some space or point TMPDIR at a writable folder"
        )
        return EXIT_RUN_FAILED

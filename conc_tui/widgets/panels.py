"""Text for a pane's panels, built from a snapshot: progress, and each model's view.

Pure functions from data to Rich ``Text`` lines, so they are easy to test and cheap to
diff (a :class:`~conc_tui.widgets.lines.LinesView` repaints only changed lines).
"""

from __future__ import annotations

import statistics
import time

from rich.text import Text

from conc_tui.config import RunConfig
from conc_tui.knobs import changed_knobs
from conc_tui.models.interp_costs import InterpCosts, current_costs
from conc_tui.printable import printable
from conc_tui.registry import gil_enabled, model_spec
from conc_tui.telemetry.snapshot import Phase, RunResult, Snapshot, WorkerView
from conc_tui.telemetry.states import WorkerState

PHASE_STYLES: dict[Phase, str] = {
    Phase.IDLE: "panel--phase-idle",
    Phase.PREPARING: "panel--phase-preparing",
    Phase.RUNNING: "panel--phase-running",
    Phase.FINISHED: "panel--phase-finished",
    Phase.FAILED: "panel--phase-failed",
    Phase.STOPPED: "panel--phase-stopped",
}
PHASE_MARKS: dict[Phase, str] = {
    Phase.IDLE: "○",
    Phase.PREPARING: "◌",
    Phase.RUNNING: "●",
    Phase.FINISHED: "✔",
    Phase.FAILED: "✗",
    Phase.STOPPED: "■",
}
_DIM = "panel--dim"
GOOD = "panel--good"
"""Bold green: a speedup worth having, the lock's holder."""
OK = "panel--ok"
"""Plain green: a calm figure, a bar's fill."""
WARN = "panel--warn"
BAD = "panel--bad"
"""A failure and its reason."""
ALARM = "panel--alarm"
"""A blocked loop."""
LOCK = "panel--lock"
ACCENT = "panel--accent"
GIL = "panel--gil"

PANEL_STYLES: frozenset[str] = frozenset(
    {*PHASE_STYLES.values(), _DIM, GOOD, OK, WARN, BAD, ALARM, LOCK, ACCENT, GIL}
)
"""Style names the panels' text uses. They are TCSS component classes of the view that
draws them (``LinesView > .panel--dim`` in ``app.tcss``), so colours follow the theme;
Rich alone draws them unstyled."""


def bar(fraction: float, width: int, style: str = OK) -> Text:
    """A horizontal bar of ``width`` cells filled to ``fraction``, in eighths."""
    width = max(1, width)
    fraction = max(0.0, min(1.0, fraction))
    eighths = round(fraction * width * 8)
    full, part = divmod(eighths, 8)
    text = Text("█" * full, style=style)
    if full < width:
        text.append(" ▏▎▍▌▋▊▉"[part] if part else " ", style=style)
        text.append(" " * (width - full - 1))
    return Text.assemble(("▕", _DIM), text, ("▏", _DIM))


def fmt_seconds(seconds: float) -> str:
    """Seconds in a compact human form: 14 ms, 2.31 s, 3 m 05 s."""
    if seconds < 1:
        return f"{seconds * 1000:.0f} ms"
    if seconds < 100:
        return f"{seconds:.2f} s"
    minutes, rest = divmod(int(seconds), 60)
    return f"{minutes} m {rest:02d} s"


def fmt_mb(size: int) -> str:
    """Bytes as megabytes."""
    return f"{size / 2**20:.0f} MB"


def run_title(model: str, workers: int, workload: str) -> str:
    """ "thread × 8 · files"."""
    if model_spec(model).baseline:
        return f"serial baseline · {workload}"
    return f"{model} × {workers} · {workload}"


Part = tuple[str, str] | str
"""Text, or (text, style)."""


def fit(parts: list[Part | list[Part]], width: int) -> Text:
    """Join parts in order, leaving out whole parts that no longer fit.

    A part may be a list of alternatives, longest first: the first that fits is used.
    The first part is always kept; a later one that would overflow the width is
    dropped rather than cut, so no figure is ever shown half ("elapsed 2.").
    """
    text = Text(no_wrap=True)
    for index, part in enumerate(parts):
        for choice in part if isinstance(part, list) else [part]:
            piece = Text(choice) if isinstance(choice, str) else Text(choice[0], style=choice[1])
            if index == 0 or text.cell_len + piece.cell_len <= width:
                text.append_text(piece)
                break
    return text


def trim_words(line: str, width: int) -> str:
    """Prose cut to the width at a word boundary, with an ellipsis when cut."""
    if len(line) <= width:
        return line
    cut = line[: max(1, width - 1)]
    head, space, _tail = cut.rpartition(" ")
    return (head if space and head else cut).rstrip(" ,;:·") + "…"


def average_throughput(snapshot: Snapshot) -> float:
    """Items a second over the whole run: items done over the wall time.

    A finished run's rate over its last second says how it ended, not how it went.
    """
    wall = snapshot.result.wall_s if snapshot.result is not None else snapshot.elapsed_s
    return snapshot.items_done / wall if wall > 0 else 0.0


def next_differs(snapshot: Snapshot, config: RunConfig) -> bool:
    """Whether Space would start something else than the run on screen (after w, + or -,
    or a knob that concerns it)."""
    if snapshot.phase.active:
        return False
    shown = (snapshot.model, snapshot.workers, snapshot.workload)
    if shown != (config.model, config.workers, config.workload):
        return True
    return bool(_option_changes(snapshot, config))


def _option_changes(snapshot: Snapshot, config: RunConfig) -> list[tuple[str, str]]:
    """(as the last run had it, as the next run will) for each option that concerns it:
    its knobs, then its input size (always last)."""
    ran = snapshot.options
    if ran is None:  # the snapshot does not say which (only the lab's do)
        return []
    upcoming = config.options
    changes = [
        (k.show(k.value(ran)), k.show(k.value(upcoming)))
        for k in changed_knobs(snapshot.model, snapshot.workload, ran, upcoming)
    ]
    items = ran.items_for(snapshot.workload), upcoming.items_for(snapshot.workload)
    if items[0] != items[1]:
        changes.append((f"{items[0]} items", f"{items[1]} items"))
    return changes


def progress_lines(
    snapshot: Snapshot | None,
    config: RunConfig,
    serial_wall_s: float | None,
    width: int,
    *,
    loop: bool = False,
) -> list[Text]:
    """The progress block: phase, items and bar, result or message, failures.

    Every line fits the width: parts that do not fit are left out whole, prose is
    cut at a word.

    Args:
        snapshot: The latest snapshot of the pane's run, or None before any run.
        config: The pane's configuration (what Space would start).
        serial_wall_s: The serial baseline's wall time for this workload and options.
        width: Cells available.
        loop: Whether loop mode is on; the first line says so.
    """
    loop_mark = ("  ↻ loop", ACCENT)
    if snapshot is None:
        first = fit(
            [
                (f"{PHASE_MARKS[Phase.IDLE]} READY ", PHASE_STYLES[Phase.IDLE]),
                f" {run_title(config.model, config.workers, config.workload)}",
                (f" · {config.options.items_for(config.workload)} items", _DIM),
                *([loop_mark] if loop else []),
            ],
            width,
        )
        hint = fit(
            [
                ("Press Space to start", "bold reverse"),
                "  · b serial baseline",
                " · +/- workers",
                " · w workload",
                " · l loop",
            ],
            width,
        )
        return [first, hint, Text(""), Text("")]

    phase = snapshot.phase
    differs = next_differs(snapshot, config)
    if differs:
        # The header shows what Space starts now; the last run's figures stay below.
        items = config.options.items_for(config.workload)
        turned = [upcoming for _ran, upcoming in _option_changes(snapshot, config)]
        first = fit(
            [
                ("○ NEXT RUN ", PHASE_STYLES[Phase.IDLE]),
                f" {run_title(config.model, config.workers, config.workload)}",
                # What was turned since the last run comes before its size: where the
                # line is short, it is what must not be left out.
                *[f" · {upcoming}" for upcoming in turned if upcoming != f"{items} items"],
                (f" · {items} items", _DIM),
                ("  · Space starts it", _DIM),
                *([loop_mark] if loop else []),
            ],
            width,
        )
    else:
        first = fit(
            [
                (f" {PHASE_MARKS[phase]} {phase.value.upper()} ", PHASE_STYLES[phase]),
                f" {run_title(snapshot.model, snapshot.workers, snapshot.workload)}",
                [
                    (f"  elapsed {fmt_seconds(snapshot.elapsed_s)}", _DIM),
                    (f" · {fmt_seconds(snapshot.elapsed_s)}", _DIM),
                ],
                *([loop_mark] if loop else []),
                (load_text(snapshot), _DIM),
            ],
            width,
        )
    counts = f" {snapshot.items_done}"
    if snapshot.items_total is not None:
        counts += f"/{snapshot.items_total}"
    if phase.active:
        counts += f" items · {snapshot.throughput:.1f}/s"
    else:
        counts += f" items · avg {average_throughput(snapshot):.1f}/s"
    if snapshot.items_failed:
        counts += f" · {snapshot.items_failed} failed"
    if snapshot.items_total:
        bar_width = max(4, min(40, width - len(counts) - 2))
        second = bar(snapshot.items_done / snapshot.items_total, bar_width)
        second.append(counts)
    else:
        second = Text(counts.lstrip())
    if snapshot.items_failed:
        second.stylize(BAD, len(second) - len(f"{snapshot.items_failed} failed"))
    result = result_line(snapshot, serial_wall_s, width)
    note = snapshot.preparation
    if note is not None and phase is Phase.PREPARING:
        # Its figures whole or not at all: the sentence, else its short form.
        result = fit(["", [(note.describe(), _DIM), (note.brief(), _DIM)]], width)
    if differs:
        ran = "".join(f" · {ran}" for ran, _upcoming in _option_changes(snapshot, config))
        title = run_title(snapshot.model, snapshot.workers, snapshot.workload)
        result = Text.assemble((f"last run {title}{ran}: ", _DIM), result)
    return [first, second, result, failure_line(snapshot)]


def load_text(snapshot: Snapshot) -> str:
    """ " · 1.8 cores · others 0.4": the run's mean cores busy and other programs' load."""
    text = ""
    if snapshot.cores_busy is not None:
        text += f" · {snapshot.cores_busy:.1f} cores"
    if snapshot.others_cores_busy is not None:
        text += f" · others {snapshot.others_cores_busy:.1f}"
    return text


def result_line(snapshot: Snapshot, serial_wall_s: float | None, width: int = 10_000) -> Text:
    """The run's outcome once it ended; before that, the run's message (cut at a word)."""
    result = snapshot.result
    if result is None or snapshot.phase.active:
        return Text(trim_words(printable(snapshot.message), width), style=_DIM)
    if snapshot.phase is Phase.FAILED:
        reason = result.reason or snapshot.message or "the run failed"
        reason = printable(reason)
        return Text(f"✗ failed after {fmt_seconds(result.wall_s)}: {reason}", BAD)
    verb = "finished" if snapshot.phase is Phase.FINISHED else "stopped"
    text = Text(f"{verb} in {fmt_seconds(result.wall_s)}", style="bold")
    if model_spec(result.model).baseline:
        text.append(" · serial baseline recorded for speedups", style=_DIM)
    elif serial_wall_s and result.wall_s > 0 and snapshot.phase is Phase.FINISHED:
        speedup = serial_wall_s / result.wall_s
        style = GOOD if speedup >= 1.2 else WARN
        text.append(f" · {speedup:.1f}× vs serial", style=style)
        text.append(f" ({fmt_seconds(serial_wall_s)})", style=_DIM)
    elif snapshot.phase is Phase.FINISHED:
        text.append(" · press b for the serial baseline", style=_DIM)
    return text


def failure_line(snapshot: Snapshot) -> Text:
    """The first failed item and its reason, if any."""
    if not snapshot.failures:
        return Text("")
    key, reason = snapshot.failures[0]
    more = len(snapshot.failures) - 1
    text = Text(f"✗ {printable(key)}: {printable(reason)}", style=BAD)
    if more:
        text.append(f" (+{more} more)", style=_DIM)
    return text


def _labels(snapshot: Snapshot) -> dict[int, str]:
    return {view.worker_id: view.label for view in snapshot.worker_views}


def _kv(key: str, value: str | Text, key_width: int = 10) -> Text:
    return Text.assemble((key.ljust(key_width), _DIM), value)


def process_lines(snapshot: Snapshot | None, width: int) -> list[Text]:
    """The process view: each worker's own memory, CPU, core and start-up time."""
    if snapshot is None or not snapshot.worker_views:
        return [
            Text("Each worker is a separate OS process:"),
            Text("its own memory, its own interpreter, its own GIL.", _DIM),
            Text("Memory, CPU, core and start-up time", _DIM),
            Text("of every worker appear here.", _DIM),
        ]
    views = snapshot.worker_views
    rss = [v.rss_bytes for v in views if v.rss_bytes]
    # Cores busy is the CPU the OS measured for the workers, not where they last ran.
    measured = [v.cpu_percent for v in views if v.cpu_percent is not None]
    busy = f"{sum(measured) / 100:.1f} cores busy" if measured else "cores busy: measuring…"
    lines = [
        _kv("workers", f"{len(views)} · {busy}"),
        _kv(
            "start-up",
            fmt_seconds(snapshot.startup_s) + " to get ready"
            if snapshot.startup_s is not None
            else "measuring…",
        ),
    ]
    if rss:
        lines.append(
            _kv("memory", f"{fmt_mb(sum(rss))} · {min(rss) // 2**20}–{fmt_mb(max(rss))} each")
        )
    # The start-up column goes first when the panel is narrow; the pid never gets cut.
    show_start = width >= 34
    head = f"{'worker':<12}{'core':>4}{'cpu%':>5}{'RSS':>6}"
    lines.append(Text(head + (f"{'start':>7}" if show_start else ""), "bold"))
    for v in views:
        core = "-" if v.core is None else f"c{v.core}"
        cpu = "-" if v.cpu_percent is None else f"{v.cpu_percent:.0f}"
        # A worker that has exited reports no memory: say so rather than "0M".
        mem = fmt_mb(v.rss_bytes).replace(" MB", "M") if v.rss_bytes else "-"
        row = f"{v.label[:11]:<12}{core:>4}{cpu:>5}{mem:>6}"
        if show_start:
            row += f"{'-' if v.startup_s is None else f'{v.startup_s:.2f}s':>7}"
        lines.append(Text(row))
    return lines


def thread_lines(snapshot: Snapshot | None, width: int) -> list[Text]:
    """The thread view: the shared log's lock as a live object, and GIL waits."""
    if snapshot is None or not snapshot.worker_views:
        return [
            Text("All threads share one process and one log."),
            Text("The log's lock shows here: who holds it,", _DIM),
            Text("who queues for it, and how long they wait;", _DIM),
            Text("then each thread's share of time waiting", _DIM),
            Text("for the GIL.", _DIM),
        ]
    labels = _labels(snapshot)
    lines: list[Text] = []
    lock = snapshot.lock
    if lock is None:
        lines.append(Text("No shared lock in this workload", _DIM))
        lines.append(Text("(the files workload logs through one).", _DIM))
    else:
        title = "Shared log lock" if lock.locks == 1 else f"Log locks: {lock.locks}, one each"
        lines.append(Text(title, "bold"))
        holder = (
            Text(f"▶ {labels.get(lock.holder, str(lock.holder))}", GOOD)
            if lock.holder is not None
            else Text("nobody (free)", _DIM)
        )
        lines.append(_kv("held by", holder))
        if lock.waiters:
            names = " ← ".join(labels.get(w, str(w)) for w in lock.waiters)
            queue = Text(f"{len(lock.waiters)}: ", LOCK)
            queue.append(names)
            queue.truncate(max(1, width - 10), overflow="ellipsis")
        else:
            queue = Text("empty", _DIM)
        lines.append(_kv("queue", queue))
        lines.append(
            _kv(
                "acquired",
                f"{lock.acquisitions} · {lock.contention_share:.0%} waited",
            )
        )
        total, longest = fmt_seconds(lock.total_wait_s), fmt_seconds(lock.longest_wait_s)
        waited = _kv("waited", f"{total} · max {longest}")
        if len(waited) <= width:
            lines.append(waited)
        else:  # two rows rather than a wrap that parts a figure from its unit
            lines.append(_kv("waited", total))
            lines.append(_kv("longest", longest))
    lines.extend(gil_lines(snapshot, width))
    return lines


GIL_ROWS = 12
"""Most threads given a row of their own in the GIL panel. Past that, a line sums them
all up and only the ones that waited most get rows: 64 near-equal bars teach nothing,
and drawing them made every switch to that pane slower."""


def gil_lines(snapshot: Snapshot, width: int) -> list[Text]:
    """Each thread's share of its running time spent waiting for the GIL.

    A share is measured once the thread has run through a sample; until then it says
    "measuring…" rather than drawing an empty bar that would read as 0%. With more
    than :data:`GIL_ROWS` threads: their median and range, then the most waiting.
    """
    if not gil_enabled():
        return [
            Text("GIL: off (free-threaded Python)", "bold"),
            _kv("GIL wait", Text("not applicable: threads run Python in parallel", _DIM)),
        ]
    title = "GIL wait share (of running time)"
    lines = [Text(title if len(title) <= width else "GIL wait, of running time", "bold")]
    bar_width = max(4, min(20, width - 17))  # name 10, bar ends 2, share 5
    pending = "measuring…" if snapshot.phase.active else "not measured"
    views = list(snapshot.worker_views)
    hidden = 0
    if len(views) > GIL_ROWS:
        shares = sorted(v.gil_wait_share for v in views if v.gil_wait_share is not None)
        summary = (
            f"median {statistics.median(shares):.0%} · {shares[0]:.0%}–{shares[-1]:.0%}"
            if shares
            else pending
        )
        lines.append(Text.assemble((f"{len(views)} threads: ", _DIM), summary))
        shown = GIL_ROWS - 2
        views.sort(
            key=lambda v: -1.0 if v.gil_wait_share is None else v.gil_wait_share, reverse=True
        )
        views, hidden = views[:shown], len(views) - shown
        lines.append(Text(f"the {shown} that waited most:", _DIM))
    for view in views:
        line = Text(f"{view.label[:9]:<10}")
        share = view.gil_wait_share
        if share is None:
            line.append(pending, _DIM)
        else:
            line.append_text(bar(share, bar_width, GIL))
            line.append(f"{share:>5.0%}")
        lines.append(line)
    if hidden:
        lines.append(Text(f"… and {hidden} more", _DIM))
    return lines


def _mean_gil_share(snapshot: Snapshot) -> float | None:
    """The tasks' GIL waits over their running time, weighted by running time."""
    pairs = [(v.gil_wait_share, v.busy_s) for v in snapshot.worker_views]
    measured = [(share, busy) for share, busy in pairs if share is not None]
    running = sum(busy for _, busy in measured)
    if not measured or running <= 0:
        return None
    return sum(share * busy for share, busy in measured) / running


def fmt_lag(ms: float) -> str:
    """A lag in as few characters as keep it exact enough: "4.2 ms", "250 ms", "2.58 s".

    A blocked loop's lag grows into seconds; "2582.0 ms" did not fit the panel and was
    cut mid-number.
    """
    if ms < 10:
        return f"{ms:.1f} ms"
    if ms < 1000:
        return f"{ms:.0f} ms"
    return f"{ms / 1000:.2f} s"


def async_lines(snapshot: Snapshot | None, width: int) -> list[Text]:
    """The asyncio view: calls on hold, request rate, loop lag, the one thread."""
    if snapshot is None or snapshot.loop is None:
        return [
            Text("One thread runs an event loop that"),
            Text("juggles every task: while one waits on", _DIM),
            Text("the network, the loop serves another.", _DIM),
            Text("Calls on hold, requests per second and", _DIM),
            Text("loop lag appear here.", _DIM),
        ]
    loop = snapshot.loop
    threads = "1 OS thread" if loop.threads == 1 else f"{loop.threads or '?'} OS threads"
    lines = [
        Text.assemble(("One thread", "bold"), f" runs all {snapshot.workers} tasks ({threads})"),
        _kv("on hold", f"{loop.in_flight} of {snapshot.workers} calls (max {loop.max_in_flight})"),
    ]
    bar_width = max(4, min(30, width - 12))
    lines.append(
        _kv("", bar(loop.in_flight / snapshot.workers if snapshot.workers else 0, bar_width))
    )
    lines.append(_kv("done/s", f"{loop.requests_per_s:.1f} requests a second"))
    lag_style = ALARM if loop.lag_ms >= BLOCKED_LAG_MS else OK
    # Two lines: on one, a narrow panel cut the worst lag mid-number.
    lines.append(_kv("loop lag", Text(fmt_lag(loop.lag_ms) + " now", lag_style)))
    # The mean is over the heartbeats that came back; "now" and the max also count a
    # stall still going on, so during a block the mean can stay small: say which is which.
    lines.append(
        Text(
            f"  mean {fmt_lag(loop.lag_mean_ms)} of ticks done · max {fmt_lag(loop.lag_max_ms)}",
            _DIM,
        )
    )
    lines.append(_kv("mode", loop.blocking))
    if loop.blocking == TO_THREAD_MODE and not gil_enabled():
        lines.append(_kv("GIL wait", "not applicable: the GIL is off"))
    elif loop.blocking == TO_THREAD_MODE:
        share = _mean_gil_share(snapshot)
        pending = "measuring…" if snapshot.phase.active else "not measured"
        lines.append(
            _kv(
                "GIL wait",
                pending if share is None else f"{share:.0%} of the threads' running time",
            )
        )
    if loop.lag_ms >= BLOCKED_LAG_MS:
        lines.append(Text(blocked_sentence(loop.blocking), ALARM))
    return lines


BLOCKED_LAG_MS = 50.0
"""Loop lag from which the pane says the loop is held up (the card's "lag jumps")."""
TO_THREAD_MODE = "to_thread"


def blocked_sentence(mode: str) -> str:
    """Why the loop is late, for how the work runs on it."""
    if mode == TO_THREAD_MODE:
        return "The loop is late: its thread waits for the GIL behind the work threads."
    return "The loop is blocked: every call waits."


def serial_lines(snapshot: Snapshot | None, width: int) -> list[Text]:
    """What the pane shows while it runs the serial baseline."""
    return [
        Text("Serial baseline", "bold"),
        Text("One worker, one item after another.", _DIM),
        Text("Its wall time is the yardstick for", _DIM),
        Text("every speedup shown in this app.", _DIM),
    ]


def worker_cores(views: tuple[WorkerView, ...]) -> frozenset[int]:
    """The cores this snapshot's workers last ran on."""
    return frozenset(v.core for v in views if v.core is not None)


def interp_lines(snapshot: Snapshot | None, width: int) -> list[Text]:
    """The interpreters view, with this machine's costs (measured once, see
    :mod:`conc_tui.models.interp_costs`; the first call starts measuring them)."""
    need = model_spec("interp").available()
    costs: InterpCosts | str = need if need is not None else current_costs()
    return interp_view(snapshot, width, costs, available=need is None)


def interp_view(
    snapshot: Snapshot | None,
    width: int,
    costs: InterpCosts | str,
    *,
    available: bool = True,
    now: float | None = None,
) -> list[Text]:
    """How many interpreters are alive, their start-up and their one process's memory,
    each one's GIL waits (measured per thread: each has its own GIL); then what one
    interpreter costs against a process and a thread, and which workloads it can run.

    ``costs`` is the measurement, or a note saying why there is none ("measuring…");
    without ``available`` (this Python has no interpreters) it is not shown.
    """
    if snapshot is None or not snapshot.worker_views:
        lines = [
            Text("A subinterpreter per worker,"),
            Text("own GIL each, one process.", _DIM),
        ]
        if not available:  # the lanes say what this Python lacks
            return [
                *lines,
                Text("Start-up, memory and workloads", _DIM),
                Text("are measured on Python 3.13+.", _DIM),
            ]
        return lines + _cost_lines(costs, width, now)
    views = snapshot.worker_views
    ended = (int(WorkerState.DONE), int(WorkerState.FAILED))
    alive = sum(1 for v in views if v.state not in ended)
    lines = [
        _kv("alive", f"{alive} of {len(views)}, one process"),
        _kv(
            "start-up",
            fmt_seconds(snapshot.startup_s) + ", all ready"
            if snapshot.startup_s is not None
            else "measuring…",
        ),
    ]
    # Every interpreter lives in the runner: its memory is theirs, shared by all.
    runner = [p.rss_bytes for p in snapshot.processes if p.role == "coordinator"]
    if runner and runner[0]:
        lines.append(_kv("memory", f"{fmt_mb(runner[0])} in all"))
    lines.extend(gil_lines(snapshot, width))
    return lines + _cost_lines(costs, width, now)


def fmt_short_time(seconds: float) -> str:
    """A start-up time in at most six cells, down to microseconds: "104 µs", "6.1 ms"."""
    if seconds < 0.001:
        return f"{seconds * 1e6:.0f} µs"
    if seconds < 0.01:
        return f"{seconds * 1000:.1f} ms"
    if seconds < 1:
        return f"{seconds * 1000:.0f} ms"
    return f"{seconds:.1f} s" if seconds < 10 else f"{seconds:.0f} s"


def _fmt_size(size: int | None) -> str:
    if size is None:
        return "?"
    mb = size / 2**20
    return f"{mb:.1f} MB" if mb < 10 else f"{mb:.0f} MB"


def _cost_row(name: str, start: float, width: int, memory: str = "", style: str = "") -> Text:
    """A row of the costs table (``memory`` empty: that column is not measured)."""
    # Columns are dropped whole when narrow (fit): no figure is cut or wrapped in two.
    parts: list[Part | list[Part]] = [
        (f"{name:<9}", style or _DIM),
        (f"{fmt_short_time(start):>7}", style),
    ]
    if memory:
        parts.append((f"{memory:>9}", style))
    return fit(parts, width)


def fmt_age(seconds: float) -> str:
    """How long ago, in the largest whole unit: "just now", "5 min ago", "3 h ago"."""
    if seconds < 60:
        return "just now"
    for unit, size in (("d", 86400), ("h", 3600)):
        if seconds >= size:
            return f"{int(seconds // size)} {unit} ago"
    return f"{int(seconds // 60)} min ago"


def _cost_lines(costs: InterpCosts | str, width: int, now: float | None = None) -> list[Text]:
    """One interpreter against one process and one thread, and the workloads it runs.

    Figures measured on a busy machine say how busy and how long ago (``now``: the
    clock, seconds since the epoch): they are measured again once it is quiet.
    """
    lines = [Text("One of each, measured here", "bold")]
    if isinstance(costs, str):
        return [*lines, Text(costs, _DIM)]
    lines.append(
        fit([(f"{'':<9}", _DIM), (f"{'start':>7}", _DIM), (f"{'memory':>9}", _DIM)], width)
    )
    interp_mb, process_mb = _fmt_size(costs.interp_uss_bytes), _fmt_size(costs.process_uss_bytes)
    lines.append(_cost_row("interp", costs.interp_start_s, width, interp_mb, ACCENT))
    lines.append(_cost_row("process", costs.process_start_s, width, process_mb))
    server = costs.fork_server_uss_bytes
    server_mb = _fmt_size(server) if server is not None else ""
    lines.append(_cost_row(" first", costs.first_process_start_s, width, server_mb))
    lines.append(_cost_row("thread", costs.thread_start_s, width))
    if costs.process_method == "forkserver":
        lines.append(Text("first: + the fork server, once", _DIM))
    lines.append(Text("memory: pages it alone holds", _DIM))
    busy = costs.others_cores_busy
    if busy is not None and costs.cores and busy >= costs.cores / 4:
        lines.append(fit([("others kept ", WARN), (f"{busy:.1f} cores busy", WARN)], width))
        if costs.measured_at is not None:
            age = fmt_age(max(0.0, (time.time() if now is None else now) - costs.measured_at))
            lines.append(fit([(f"measured {age}", _DIM), ("; again once quiet", _DIM)], width))
    lines.append(Text("Workloads in an interpreter", "bold"))
    for name, reason in costs.support:
        if reason is None:
            lines.append(_kv(name, Text("runs", OK)))
        else:
            lines.append(_kv(name, Text(f"refuses: {reason}", BAD)))
    return lines


def _workers_phrase(result: RunResult) -> str:
    spec = model_spec(result.model)
    if spec.baseline:
        return "The serial baseline"
    noun = spec.worker_noun
    if result.workers == 1 and noun.endswith("es"):
        noun = noun[:-2]
    elif result.workers == 1 and noun.endswith("s"):
        noun = noun[:-1]
    return f"{result.workers} {noun}"


def summary_lines(snapshot: Snapshot | None) -> list[str]:
    """What just happened, in two or three sentences, each built on a measured figure.

    A sentence whose figure the run did not measure is left out, never guessed; an
    active run, or one without a result, gets none.
    """
    if snapshot is None or snapshot.phase.active or snapshot.result is None:
        return []
    result = snapshot.result
    if snapshot.phase is Phase.FAILED or result.wall_s <= 0 or not result.telemetry:
        return []
    who = _workers_phrase(result)
    lines: list[str] = []
    if result.lock_wait_s is not None and result.workers > 0:
        share = result.lock_wait_s / (result.workers * result.wall_s)
        line = f"{who} spent {share:.0%} of their time queueing for the log's lock"
        if share >= 0.5:
            line += "; the lock, not the disk, set the pace"
        lines.append(line + ".")
    gil_applies = result.model == "thread" or result.async_mode == TO_THREAD_MODE
    if result.gil_wait_share is not None and gil_applies and gil_enabled():
        line = f"Threads waited for the GIL {result.gil_wait_share:.0%} of their running time"
        if result.gil_wait_share >= 0.5:
            line += ": one ran Python at a time"
        lines.append(line + ".")
    if result.loop_lag_mean_ms is not None and result.loop_lag_max_ms is not None:
        line = (
            f"The event loop ran {fmt_lag(result.loop_lag_mean_ms)} late on average "
            f"(worst {fmt_lag(result.loop_lag_max_ms)})"
        )
        if result.loop_lag_mean_ms >= BLOCKED_LAG_MS:
            line += ": work that did not yield held it"
        lines.append(line + ".")
    if result.calls_on_hold_mean is not None:
        lines.append(
            f"{result.calls_on_hold_mean:.0f} calls were on hold at once on average, "
            "all on one thread."
        )
    cores = result.machine_cores
    line = f"{who} kept {result.mean_cores_busy:.1f} cores busy"
    if cores:
        line += f" of {cores}"
    if (
        result.model == "process"
        and result.workers > 1
        and result.mean_cores_busy >= 0.8 * min(result.workers, cores or result.workers)
    ):
        line += ": one core each"
    lines.append(line + ".")
    if result.cpu_wait_share is not None and result.cpu_wait_share >= 0.05:
        line = f"Workers waited for a free core {result.cpu_wait_share:.0%} of their running time"
        if cores and result.workers > cores:
            line += f": {result.workers} workers, {cores} cores"
        lines.append(line + ".")
    return lines[:3]

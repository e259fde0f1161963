"""The conc-tui Textual app: one pane per concurrency model, fed by run controllers.

The app never runs a workload. Each pane owns a :class:`~conc_tui.controller.RunController`
(created on the first Space); the controller calls back from its own thread, and the
app turns each callback into ONE small message. Only the visible pane's widgets are
redrawn; hidden panes just keep their latest snapshot, so the UI's cost follows what is
on screen, not how many runs are live.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import signal
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, replace

from rich.markup import escape
from rich.text import Text
from textual import events, work
from textual.app import App, ComposeResult, SystemCommand
from textual.css.query import NoMatches
from textual.message import Message
from textual.screen import ModalScreen, Screen
from textual.widgets import ContentSwitcher, Footer, Header, Static

from conc_tui.config import MAX_WORKERS, WORKLOADS, RunConfig, WorkloadOptions
from conc_tui.controller import RunController
from conc_tui.frame_budget import FrameBudget
from conc_tui.keys import Key, bindings, footer_bindings, footer_keys, palette_entries
from conc_tui.knobs import carry_knobs, knob, untimed
from conc_tui.lifecycle import exit_by, leave_now
from conc_tui.printable import printable
from conc_tui.registry import (
    BASELINE,
    PANE_MODELS,
    available_contenders,
    default_workers,
    model_spec,
    workload_spec,
)
from conc_tui.screens.help import HelpScreen
from conc_tui.screens.race import RaceScreen
from conc_tui.telemetry.cores import CoreSource
from conc_tui.telemetry.snapshot import Phase, Snapshot
from conc_tui.widgets.pane import ModelPane

PANES: tuple[tuple[str, str, str], ...] = tuple(
    (model, model_spec(model).title, model_spec(model).opening_workload or WORKLOADS[0])
    for model in PANE_MODELS
)
"""(model, title, opening workload) of each pane, in key order, from the registry."""

MIN_WIDTH, MIN_HEIGHT = 60, 16
CORE_INTERVAL_S = 0.22
"""Core sampling period: about 4.5 Hz, enough for the kernel's 10 ms tick counts."""
FIGURES_S = 0.25
"""While a run is live, its figures (progress, side panel, core bars) are redrawn at
most this often, the lanes at every frame: a number that changes ten times a second
cannot be read, and each extra region redrawn makes the whole frame dearer."""
HIDDEN_SNAPSHOT_S = 0.5
"""A pane not on screen takes a live run's snapshot at most this often (of the ten a
second its run sends): enough for its tab, loop mode and the stall check, and the UI
is spared the messages it would only store."""
BUDGET_CHECK_S = 1.0
"""How often the UI weighs its own CPU against its budget (see conc_tui.frame_budget)."""

APP_ITEMS: dict[str, int] = {name: workload_spec(name).app_items for name in WORKLOADS}
"""Input sizes the app uses unless ``--items`` is given: big enough that a first run
lasts several seconds and can be watched (the CLI's defaults finish in about one).
Measured on a busy 2-core VM: images 64 with 2 processes ≈ 10 s, files 2000 with 8
threads ≈ 1.3 s (+ ≈ 3 s to generate the corpus the first time), web 1000 with 50 tasks
≈ 2.3 s, cpu 64 with 8 threads ≈ 8 s."""

LOOP_PAUSE_S = 1.5
LOST_TERMINAL_DEADLINE_S = 1.0
"""After a quitting signal, how long the graceful exit may take before it is forced."""
TERMINAL_CHECK_S = 0.2
"""How often the app checks that its terminal is still there."""
STALL_S = 1.0
"""A live run that sent no snapshot for this long is shown as not responding."""
STALL_CHECK_S = 0.25
STARTUP_STALL_S = 10.0
"""The same before a run's first snapshot: starting a lab takes seconds on a busy machine."""
"""How long a finished run's result stays on screen before loop mode starts it again."""

WORKER_STEPS = (1, 2, 3, 4, 6, 8, 12, 16, 24, 32, 48, 64, 96, 128, 192, 256)
"""The ladder + and - climb: fine steps where they matter, big ones for task counts."""


_PANE_ACTIONS = frozenset(
    {
        "show_pane",
        "next_pane",
        "previous_pane",
        "toggle_run",
        "restart",
        "more_workers",
        "fewer_workers",
        "cycle_workload",
        "baseline",
        "toggle_loop",
        "race",
        "knob",
        "compare",
        "toggle_freeze",
        "time_back",
        "time_forward",
        "finer_time",
        "coarser_time",
    }
)


def step_workers(current: int, up: bool) -> int:
    """The next worker count on the ladder, clamped to 1..MAX_WORKERS."""
    if up:
        bigger = [n for n in WORKER_STEPS if n > current]
        return min(MAX_WORKERS, bigger[0] if bigger else current)
    smaller = [n for n in WORKER_STEPS if n < current]
    return max(1, smaller[-1] if smaller else current)


def _default_factory() -> RunController:
    # Imported lazily: the lab pulls in the whole engine, which tests never need.
    from conc_tui.lab import LabController

    controller: RunController = LabController()
    return controller


@dataclass
class PaneState:
    """What the app knows about one pane."""

    model: str
    title: str
    config: RunConfig
    controller: RunController | None = None
    snapshot: Snapshot | None = None
    generation: int = 0
    """Bumped on every start, so late snapshots of an older run are ignored."""
    loop: bool = False
    """Restart the run whenever it finishes (for leaving a demo running)."""
    last_heard: float = 0.0
    """When the run's latest snapshot arrived (monotonic seconds)."""
    stalled_s: float | None = None
    """How long a live run has sent nothing, once that passed :data:`STALL_S`."""
    heard: bool = False
    """Whether the current run has sent anything yet (a lab takes a while to start)."""

    @property
    def running(self) -> bool:
        """True while the pane's latest snapshot says its run is live."""
        return self.snapshot is not None and self.snapshot.phase.active


class SnapshotArrived(Message):
    """A controller produced a snapshot (posted from the controller's thread)."""

    def __init__(self, model: str, generation: int, snapshot: Snapshot) -> None:
        super().__init__()
        self.model = model
        self.generation = generation
        self.snapshot = snapshot

    def can_replace(self, message: Message) -> bool:
        """A newer snapshot of the same run makes a queued one pointless."""
        return (
            isinstance(message, SnapshotArrived)
            and message.model == self.model
            and message.generation == self.generation
        )


class CoresSampled(Message):
    """New per-core CPU samples (posted from the sampling thread)."""

    def __init__(self, history: tuple[tuple[float, ...], ...]) -> None:
        super().__init__()
        self.history = history

    def can_replace(self, message: Message) -> bool:
        """Only the newest history matters."""
        return isinstance(message, CoresSampled)


class ConcApp(App[None]):
    """Python's three concurrency models, running real work, side by side.

    Args:
        controller_factory: Makes one controller per pane (lazily, on first use).
            Defaults to the real lab controller.
        options: Workload options every pane's runs use.
        core_sampler: Per-core CPU source; by default a
            :class:`~conc_tui.telemetry.cores.CoreSampler` created on the sampling thread.
        refresh_hz: Most redraws a second of the visible pane.
        projector: Start with projector colours (F2 toggles them).
    """

    CSS_PATH = "app.tcss"
    TITLE = "conc-tui"
    SUB_TITLE = " · ".join(model_spec(model).noun for model in PANE_MODELS)
    HORIZONTAL_BREAKPOINTS = [(0, "-narrow"), (120, "-wide")]

    BINDINGS = bindings()
    """Declared once in :mod:`conc_tui.keys`: the footer, palette and help follow it."""

    def __init__(
        self,
        controller_factory: Callable[[], RunController] | None = None,
        options: WorkloadOptions | None = None,
        core_sampler: CoreSource | None = None,
        refresh_hz: float = 10.0,
        projector: bool = False,
    ) -> None:
        super().__init__()
        self._projector = projector
        self._factory = controller_factory or _default_factory
        self._race_controller: RunController | None = None
        self.options = options or WorkloadOptions()
        self._core_sampler = core_sampler
        self._min_redraw_s = 1.0 / refresh_hz if refresh_hz > 0 else 0.0
        self.frame_budget = FrameBudget(self._min_redraw_s)
        self._budget_clock = (time.process_time(), time.monotonic())
        self._last_redraw = 0.0
        self._last_figures = 0.0
        self._redraw_pending = False
        self._cores_due = False
        self._cores_stop = threading.Event()
        self._controllers_lock = threading.Lock()
        self.panes: dict[str, PaneState] = {
            model: PaneState(model, title, self._config(model, workload, default_workers(model)))
            for model, title, workload in PANES
        }
        self.current = PANES[0][0]
        self.serial_results: dict[tuple[str, WorkloadOptions], float] = {}
        """Serial wall time by (workload, options): the yardstick for speedups."""
        self.serial_s_per_item: dict[tuple[str, WorkloadOptions], float] = {}
        """Serial seconds per item by (workload, options but the duration): the yardstick
        for timed runs, whose wall times are all their duration."""
        self._cores: tuple[tuple[float, ...], ...] = ()
        self._main_screen: Screen[object] | None = None

    def _config(self, model: str, workload: str, workers: int) -> RunConfig:
        """A pane's config: the user's options, with the app's input size for the workload."""
        options = self.options
        if options.items is None:
            options = replace(options, items=workload_spec(workload).app_items)
        return RunConfig(model, workload, workers, options)

    # -- building -------------------------------------------------------------------

    def compose(self) -> ComposeResult:
        """Header, pane tabs, the panes, footer, and the too-small notice."""
        yield Header(icon="≋")
        yield Static(id="tabs")
        with ContentSwitcher(initial=f"pane-{self.current}", id="panes"):
            for model, _title, _workload in PANES:
                yield ModelPane(model, id=f"pane-{model}")
        yield Static(
            f"Terminal too small: conc-tui needs at least {MIN_WIDTH}×{MIN_HEIGHT}.",
            id="too-small",
        )
        yield Footer()

    def on_mount(self) -> None:
        """Draw the idle panes and start sampling the cores."""
        for state in self.panes.values():
            self._pane(state.model).show(
                None, state.config, self._serial_for(state.config), loop=state.loop
            )
        self._draw_tabs()
        self.screen.set_class(self._projector, "-projector")
        self._check_size(self.size.width, self.size.height)
        self._main_screen = self.screen
        self.screen_change_signal.subscribe(self, self._on_screen_change)
        self._sample_cores()
        self._install_signal_handlers()
        self.set_interval(STALL_CHECK_S, self._check_stalls)
        self.set_interval(BUDGET_CHECK_S, self._keep_to_budget)
        self.call_after_refresh(self._freeze_startup_objects)
        if not self.is_headless:
            self._watch_terminal()

    def _freeze_startup_objects(self) -> None:
        """Take what start-up built out of the cyclic collector's reach, once.

        Modules, parsed CSS and the widgets of every pane live as long as the app; with
        them tracked, each full collection walked them all and held the UI for about
        80 ms with 64 lanes live (the slow tail of key -> screen). Frozen, the full
        collections that remain take 12-21 ms. Run after the first frame, so start-up
        does not wait for the collection that precedes it.
        """
        gc.collect()
        gc.freeze()

    @property
    def panes_covered(self) -> bool:
        """Whether another screen (help, race, compare, the hazard lab) is over the panes.

        The panes and their tabs are not drawn then: under a modal screen every change
        to them makes Textual composite the whole screen stack again, which cost a
        third of a core with help open over a live pane, taken from the very runs being
        measured.
        """
        return self._main_screen is not None and self.screen is not self._main_screen

    def _on_screen_change(self, screen: Screen[object]) -> None:
        """Back on the panes: draw what the runs did while they were covered."""
        if screen is self._main_screen and not self.closing:
            self._last_redraw = self._last_figures = time.monotonic()
            self._cores_due = bool(self._cores)
            self._draw_pane(self.panes[self.current])
            self._draw_tabs()

    def _pane(self, model: str) -> ModelPane:
        return self.query_one(f"#pane-{model}", ModelPane)

    # -- telemetry in -----------------------------------------------------------------

    @work(
        thread=True,
        exclusive=True,
        group="cores",
        exit_on_error=False,
        description="sample per-core CPU",
    )
    def _sample_cores(self) -> None:
        """Sample the cores a few times a second, off the UI loop."""
        if self._core_sampler is None:
            from conc_tui.telemetry.cores import CoreSampler

            # Created here because its constructor already calls psutil.
            self._core_sampler = CoreSampler()
        sampler = self._core_sampler
        while not self._cores_stop.wait(CORE_INTERVAL_S):
            sampler.sample()
            self.post_message(CoresSampled(sampler.history()))

    def on_cores_sampled(self, message: CoresSampled) -> None:
        """Redraw the visible pane's core bars (with its next frame, while it has frames)."""
        if self.closing:
            return  # posted just before the app began closing; its widgets may be gone
        state = self.panes[self.current]
        frames_coming = state.running and time.monotonic() - state.last_heard < FIGURES_S * 2
        if frames_coming or self.panes_covered:
            # The pane's next figures draw them: one region redrawn, not two. (A run
            # that went quiet sends no frames: then they are drawn at once, as idle.)
            self._cores, self._cores_due = message.history, True
            return
        # Samples arrive from a thread, also while the panes are mounted or removed.
        with contextlib.suppress(NoMatches):
            self.show_cores(message.history)

    def _keep_to_budget(self) -> None:
        """Redraw less often while drawing costs more than the UI's CPU budget."""
        cpu, wall = time.process_time(), time.monotonic()
        last_cpu, last_wall = self._budget_clock
        self._budget_clock = (cpu, wall)
        self._min_redraw_s = self.frame_budget.update(cpu - last_cpu, wall - last_wall)

    def _check_stalls(self) -> None:
        """Say so when a live run has sent nothing for a while (a stopped lab, say)."""
        now = time.monotonic()
        for state in self.panes.values():
            silent = now - state.last_heard
            limit = STALL_S if state.heard else STARTUP_STALL_S
            live = state.running and state.controller is not None and state.last_heard > 0
            stalled = silent if live and silent > limit else None
            if stalled is None and state.stalled_s is None:
                continue
            state.stalled_s = stalled
            if state.model == self.current:
                with contextlib.suppress(NoMatches):  # a timer can outlive the panes
                    self._draw_pane(state)

    def show_cores(self, history: tuple[tuple[float, ...], ...]) -> None:
        """Draw per-core samples now (tests call this directly)."""
        self._cores, self._cores_due = history, False
        self._pane(self.current).show_cores(history)

    def _callback(self, model: str, generation: int) -> Callable[[Snapshot], None]:
        last_posted = 0.0

        def on_snapshot(snapshot: Snapshot) -> None:
            # Runs on the controller's thread: only post, never touch widgets.
            nonlocal last_posted
            now = time.monotonic()
            hidden = model != self.current
            if hidden and snapshot.phase.active and now - last_posted < HIDDEN_SNAPSHOT_S:
                return  # the next one will do; a run's last snapshot always goes through
            last_posted = now
            self.post_message(SnapshotArrived(model, generation, snapshot))

        return on_snapshot

    def on_snapshot_arrived(self, message: SnapshotArrived) -> None:
        """Keep the newest snapshot; draw it if its pane is visible."""
        state = self.panes[message.model]
        if message.generation != state.generation or self.closing:
            return
        state.last_heard, state.stalled_s, state.heard = time.monotonic(), None, True
        if state.loop and message.snapshot.phase is Phase.FINISHED:
            generation = state.generation
            self.set_timer(LOOP_PAUSE_S, lambda: self._loop_again(message.model, generation))
        if message.model != self.current:
            # Kept, not drawn: it must not hold back the visible pane's next frame.
            self._store(message.model, message.snapshot)
            return
        now = time.monotonic()
        wait = self._min_redraw_s - (now - self._last_redraw)
        if wait <= 0:
            self._last_redraw = now
            self._store(message.model, message.snapshot)
            self._draw_frame(self.panes[message.model])
            return
        # Too soon after the last redraw: keep the data, draw it once the interval is up.
        self._store(message.model, message.snapshot)
        if not self._redraw_pending:
            self._redraw_pending = True
            self.set_timer(wait, self._flush_redraw)

    def _loop_again(self, model: str, generation: int) -> None:
        """Start a finished run again, unless the user did something in the meantime."""
        state = self.panes[model]
        if state.loop and state.generation == generation and not state.running:
            self._start(state, state.config)

    def _flush_redraw(self) -> None:
        if self.closing or not self.is_running:
            return  # the app is closing: the timer outlived the widgets it would draw
        self._redraw_pending = False
        self._last_redraw = time.monotonic()
        self._draw_frame(self.panes[self.current])

    def _draw_frame(self, state: PaneState) -> None:
        """One frame of a live pane: the lanes always, the figures a few times a second."""
        now = time.monotonic()
        figures = not state.running or now - self._last_figures >= FIGURES_S
        if figures:
            self._last_figures = now
        self._draw_pane(state, figures=figures)

    def show_snapshot(self, model: str, snapshot: Snapshot) -> None:
        """Apply a snapshot to a pane now (tests call this directly, with no threads).

        Args:
            model: The pane's model.
            snapshot: What to show.
        """
        self._store(model, snapshot)
        if model == self.current:
            self._draw_pane(self.panes[model])

    def _store(self, model: str, snapshot: Snapshot) -> None:
        """Keep a pane's newest snapshot; record serial results; update the tabs."""
        state = self.panes[model]
        was_running = state.running
        state.snapshot = snapshot
        result = snapshot.result
        if (
            result is not None
            and result.model == BASELINE
            and snapshot.phase is Phase.FINISHED
            and result.wall_s > 0
        ):
            options = state.config.options
            if result.items_done:
                self.serial_s_per_item[(result.workload, untimed(options))] = (
                    result.wall_s / result.items_done
                )
            # A timed run's wall time is its duration, whatever the model: no yardstick.
            if options.duration_s is None:
                self.serial_results[(result.workload, options)] = result.wall_s
        if state.running != was_running:
            self._draw_tabs()

    def _serial_for(self, config: RunConfig) -> float | None:
        return self.serial_results.get((config.workload, config.options))

    def _draw_pane(self, state: PaneState, *, figures: bool = True) -> None:
        if self.panes_covered:
            return  # drawn when the panes are shown again: see panes_covered
        workload = state.snapshot.workload if state.snapshot else state.config.workload
        serial = self.serial_results.get((workload, state.config.options))
        if state.config.options.duration_s is not None:
            serial = self._timed_serial(state, workload)
        try:
            pane = self._pane(state.model)
        except NoMatches:
            return  # a snapshot that came in as the app closes: its panes are gone
        with self.batch_update():
            pane.show(
                state.snapshot,
                state.config,
                serial,
                loop=state.loop,
                stalled_s=state.stalled_s,
                figures=figures,
            )
            if figures and self._cores_due:
                self._cores_due = False
                pane.show_cores(self._cores)

    def _timed_serial(self, state: PaneState, workload: str) -> float | None:
        """What serial would take for the items a timed run did, at serial's measured rate.

        Every timed run lasts its duration, so wall times cannot be compared; this
        makes the speedup the ratio of throughputs, which they can.
        """
        result = state.snapshot.result if state.snapshot is not None else None
        per_item = self.serial_s_per_item.get((workload, untimed(state.config.options)))
        if result is None or per_item is None or not result.items_done:
            return None
        return per_item * result.items_done

    def _draw_tabs(self) -> None:
        if self.panes_covered:
            return  # drawn when the panes are shown again: see panes_covered
        text = Text(no_wrap=True, overflow="ellipsis")
        for index, (model, title, _workload) in enumerate(PANES, start=1):
            state = self.panes[model]
            mark = (" ●" if state.running else "") + (" ↻" if state.loop else "")
            label = f" {index} {title}{mark} "
            if model == self.current:
                text.append(label, "bold reverse")
            else:
                text.append(label, "bold #3fb950" if state.running else "#8b949e")
            text.append(" ")
        running = [self.panes[m].title for m, _t, _w in PANES if self.panes[m].running]
        self.sub_title = f"running: {', '.join(running)}" if running else "nothing running"
        self.query_one("#tabs", Static).update(text)

    # -- size -----------------------------------------------------------------------

    def on_resize(self, event: events.Resize) -> None:
        """Swap in the too-small notice below the minimum size."""
        self._check_size(event.size.width, event.size.height)

    def _check_size(self, width: int, height: int) -> None:
        small = width < MIN_WIDTH or height < MIN_HEIGHT
        self.screen.set_class(small, "-too-small")
        self._set_footer(footer_keys(width))

    def _set_footer(self, shown: frozenset[Key]) -> None:
        """Show in the footer the keys that fit its width (the rest: help and palette)."""
        if shown == getattr(self, "_footer_keys", None):
            return
        self._footer_keys = shown
        table = self._bindings.key_to_bindings
        for name, keyed in table.items():
            table[name] = footer_bindings(keyed, shown)
        self.refresh_bindings()

    # -- actions ----------------------------------------------------------------------

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        """Once quitting has begun, nothing else; under another screen, no pane keys."""
        if self.closing:
            # Keys typed after q still arrive while Textual takes the screens down: a
            # screen opened then (s: compare) found its widgets gone and crashed.
            return action == "quit"
        return not (isinstance(self.screen, ModalScreen) and action in _PANE_ACTIONS)

    @property
    def closing(self) -> bool:
        """Whether quitting has begun (every controller is closed or closing)."""
        return self._cores_stop.is_set()

    def action_show_pane(self, model: str) -> None:
        """Show a pane; its run (if any) keeps going either way."""
        if model not in self.panes or model == self.current:
            return
        self.current = model
        self.query_one("#panes", ContentSwitcher).current = f"pane-{model}"
        state = self.panes[model]
        self._draw_pane(state)
        if self._cores:
            self._pane(model).show_cores(self._cores)
        self._draw_tabs()

    def _cycle(self, delta: int) -> None:
        models = [model for model, _t, _w in PANES]
        index = (models.index(self.current) + delta) % len(models)
        self.action_show_pane(models[index])

    def action_next_pane(self) -> None:
        """Show the next pane."""
        self._cycle(1)

    def action_previous_pane(self) -> None:
        """Show the previous pane."""
        self._cycle(-1)

    def _controller(self, state: PaneState) -> RunController:
        if state.controller is None:
            state.controller = self._factory()
        return state.controller

    def _start(self, state: PaneState, config: RunConfig) -> None:
        unavailable = model_spec(config.model).cannot_run(config.workload)
        if unavailable is not None:
            self.notify(unavailable, title=f"{state.title} cannot run here", severity="error")
            return
        controller = self._controller(state)
        state.generation += 1
        state.last_heard, state.stalled_s, state.heard = time.monotonic(), None, False
        try:
            controller.start(config, self._callback(state.model, state.generation))
        except Exception as error:  # noqa: BLE001 - any start failure is shown, not raised
            message = escape(printable(str(error)))  # paths in it are the user's, not markup
            self.notify(message, title="Could not start the run", severity="error")

    def action_toggle_run(self) -> None:
        """Start the current pane's run, or stop it if it is running."""
        state = self.panes[self.current]
        if state.controller is not None and (state.running or state.controller.running):
            # Never wait on the event loop: the final snapshot shows when it stopped.
            state.controller.request_stop()
        else:
            self._start(state, state.config)

    def action_restart(self) -> None:
        """Start the current pane's run again from scratch."""
        state = self.panes[self.current]
        self._start(state, state.config)

    def _reconfigure(self, config: RunConfig) -> None:
        state = self.panes[self.current]
        state.config = config
        if state.running:
            self._start(state, config)
        else:
            self._draw_pane(state)

    def action_more_workers(self) -> None:
        """More workers (restarts a running run with the new count)."""
        config = self.panes[self.current].config
        self._reconfigure(config.with_workers(step_workers(config.workers, up=True)))

    def action_fewer_workers(self) -> None:
        """Fewer workers (restarts a running run with the new count)."""
        config = self.panes[self.current].config
        self._reconfigure(config.with_workers(step_workers(config.workers, up=False)))

    def action_cycle_workload(self) -> None:
        """Next workload (restarts a running run with it)."""
        config = self.panes[self.current].config
        workload = WORKLOADS[(WORKLOADS.index(config.workload) + 1) % len(WORKLOADS)]
        new = self._config(config.model, workload, config.workers)
        self._reconfigure(replace(new, options=carry_knobs(new.options, config.options)))

    def action_knob(self, name: str) -> None:
        """Turn one knob of the current pane (restarts a running run with it)."""
        state = self.panes[self.current]
        turn = knob(name)
        config = replace(state.config, options=turn.turned(state.config.options))
        self._reconfigure(config)
        shown = turn.show(turn.value(config.options))
        if not turn.applies(config.model, config.workload):
            shown += f" (not used by {state.title} on '{config.workload}')"
        self.notify(shown, title=state.title, timeout=2)

    def action_baseline(self) -> None:
        """Run the serial baseline of the current pane's workload, in this pane."""
        state = self.panes[self.current]
        self._start(state, replace(state.config, model=BASELINE, workers=1))

    def action_toggle_loop(self) -> None:
        """Loop mode on or off for the current pane: restart the run whenever it finishes."""
        state = self.panes[self.current]
        state.loop = not state.loop
        self._draw_pane(state)
        self._draw_tabs()
        self.notify(
            "Loop on: the run starts again whenever it finishes."
            if state.loop
            else "Loop off: the run stops when it finishes.",
            title=state.title,
            timeout=2,
        )

    # -- time control (the pane's lanes keep the run's history) ---------------------

    def action_toggle_freeze(self) -> None:
        """Freeze the current pane's picture while its run goes on, or go back to live."""
        frozen = self._pane(self.current).toggle_freeze()
        if not frozen:
            self._draw_pane(self.panes[self.current])

    def action_time_back(self) -> None:
        """Scroll the current pane back in time (freezing it first)."""
        self._pane(self.current).scroll_time(-1)

    def action_time_forward(self) -> None:
        """Scroll the current pane's frozen picture forward in time."""
        self._pane(self.current).scroll_time(+1)

    def action_finer_time(self) -> None:
        """A finer time scale for the lanes."""
        self._pane(self.current).change_scale(-1)

    def action_coarser_time(self) -> None:
        """A coarser time scale for the lanes."""
        self._pane(self.current).change_scale(+1)

    def action_race(self) -> None:
        """Race every model on this pane's workload, with `conc-tui bench`'s sizes."""
        config = self.panes[self.current].config
        # The race uses the CLI's input sizes unless the user chose some.
        base = replace(config, options=replace(self.options, duration_s=None))
        workers = {model: default_workers(model) for model in (BASELINE, *available_contenders())}
        self._race_controller = self._factory()
        self.push_screen(RaceScreen(base, workers, self._race_controller))

    def action_compare(self) -> None:
        """Side by side: each model on this pane's workload and options, one after another."""
        from conc_tui.screens.compare import CompareScreen

        if isinstance(self.screen, CompareScreen):
            return
        config = self.panes[self.current].config
        # Every input once: timed runs would all end together and show nothing.
        options = replace(config.options, duration_s=None)
        configs = [
            RunConfig(model, config.workload, self._compare_workers(model), options)
            for model in available_contenders()
            if model_spec(model).cannot_run(config.workload) is None
        ][:3]
        self._race_controller = self._factory()
        self.push_screen(CompareScreen(configs, self._race_controller))

    def _compare_workers(self, model: str) -> int:
        state = self.panes.get(model)
        return state.config.workers if state is not None else default_workers(model)

    def action_hazards(self) -> None:
        """Open the hazard lab: races, deadlocks, a blocked loop, the price of processes."""
        from conc_tui.screens.hazards import HazardScreen

        if not isinstance(self.screen, HazardScreen):
            self.push_screen(HazardScreen())

    def action_toggle_projector(self) -> None:
        """Projector colours on or off: each lane state on a solid background."""
        # On the panes' screen, not whichever is on top (the palette, when run from it);
        # the lanes and legend restyle through their TCSS component classes.
        self.screen_stack[0].toggle_class("-projector")

    def action_help(self) -> None:
        """Open the help screen."""
        if not isinstance(self.screen, HelpScreen):
            self.push_screen(HelpScreen())

    async def action_quit(self) -> None:
        """Stop every run and close every controller, then exit."""
        self.close_controllers()
        self.exit()

    def close_controllers(self) -> None:
        """Close every pane's controller and stop sampling (idempotent, thread-safe).

        Also called off the UI thread, when the terminal is gone and the UI is stuck.
        """
        with self._controllers_lock:
            self._close_controllers()

    def _close_controllers(self) -> None:
        self._cores_stop.set()
        if self._race_controller is not None:
            self._race_controller.close()
            self._race_controller = None
        live = [state for state in self.panes.values() if state.controller is not None]
        # Ask every run to stop at once, so the runs wind down in parallel and quitting
        # takes one grace period, not one per pane.
        for state in live:
            if state.controller is not None:
                state.controller.request_stop()
        for state in live:
            if state.controller is not None:
                state.controller.close()
                state.controller = None

    def _install_signal_handlers(self) -> None:
        """SIGTERM, SIGHUP (the terminal went away) and SIGINT end the app like ``q``.

        Without this the default action kills the UI at once: the terminal stays in
        the alternate screen and the runs linger until they notice. The handlers are
        Python's, not the event loop's: a terminal that went away can leave the main
        thread blocked for good in Textual's output queue (its writer thread died on
        EIO), and then only a handler that does not need the loop can still make sure
        the process ends (:func:`~conc_tui.lifecycle.exit_by`).
        """
        self._signals: dict[int, object] = {}
        if threading.current_thread() is not threading.main_thread():
            return
        loop = asyncio.get_running_loop()

        def handler(signum: int, frame: object) -> None:
            exit_by(LOST_TERMINAL_DEADLINE_S, self.close_controllers, 128 + signum)
            with contextlib.suppress(RuntimeError):  # the loop already closed
                loop.call_soon_threadsafe(self._exit_on_signal, signum)

        for signum in (signal.SIGTERM, signal.SIGHUP, signal.SIGINT):
            self._signals[signum] = signal.signal(signum, handler)

    def _exit_on_signal(self, signum: int) -> None:
        self.close_controllers()
        # The shell's convention for "ended by signal N".
        self.exit(return_code=128 + signum)

    @work(thread=True, exit_on_error=False, description="watch the terminal")
    def _watch_terminal(self) -> None:
        """End the app when its terminal is gone but no hang-up signal came.

        (The app was not the terminal's session leader, say.) Writes then fail with
        EIO, Textual's writer thread dies, and the next full queue blocks the UI.
        """
        while not self._cores_stop.wait(TERMINAL_CHECK_S):
            writer = getattr(self._driver, "_writer_thread", None)
            if writer is not None and not writer.is_alive():
                leave_now(self.close_controllers, 128 + int(signal.SIGHUP))
                return

    def on_unmount(self) -> None:
        """Make sure no run outlives the app, however it exits."""
        self.close_controllers()
        signals: dict[int, object] = getattr(self, "_signals", {})
        for signum, previous in signals.items():
            with contextlib.suppress(ValueError, TypeError):
                signal.signal(signum, previous)  # type: ignore[arg-type]

    def get_system_commands(self, screen: Screen[object]) -> Iterable[SystemCommand]:
        """Every key's action in the command palette, too."""
        yield from super().get_system_commands(screen)
        for title, text, action in palette_entries():
            yield SystemCommand(title, text, lambda a=action: self.call_later(self.run_action, a))


__all__ = ["ConcApp", "PaneState", "SnapshotArrived", "CoresSampled"]

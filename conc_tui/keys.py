"""The app's keys, declared once: the bindings, the footer, the palette and the help
screen are all built from :data:`KEYS`.

The number keys come from the registry's panes (key 1 is the first pane model), so a
model with a pane gets its key, its palette command and its help line with no edit here.
"""

from __future__ import annotations

from dataclasses import dataclass

from textual.binding import Binding, BindingType

from conc_tui.knobs import knob
from conc_tui.registry import PANE_MODELS, WORKLOADS, model_spec


@dataclass(frozen=True)
class Key:
    """One key of the app, and every place it is shown."""

    keys: str
    """Textual's key names, comma-separated: ``"plus,equals_sign"``."""
    action: str
    """The action it runs, as Textual writes it: ``"show_pane('process')"``."""
    label: str
    """The footer's word for it."""
    help: str | None
    """The help screen's line; None when another key's line covers it (``help_keys``)."""
    help_keys: str | None = None
    """How the help screen writes the key(s) of its line: ``"+ / -"``."""
    display: str | None = None
    """How the footer writes the key: ``"Space"``."""
    footer: bool = True
    priority: bool = False
    command: str | None = None
    """The command palette's title; None keeps it out of the palette."""
    command_help: str | None = None
    """The palette's line under the title, when ``help`` does not fit it."""


def _pane_keys() -> tuple[Key, ...]:
    titles = [model_spec(model).title for model in PANE_MODELS]
    listed = ", ".join(titles[:-1]) + f" or {titles[-1]}" if len(titles) > 1 else titles[0]
    return tuple(
        Key(
            keys=str(number),
            action=f"show_pane({model!r})",
            label=model_spec(model).title,
            help=f"show the {listed} pane" if number == 1 else None,
            help_keys=" ".join(str(n) for n in range(1, len(PANE_MODELS) + 1)),
            priority=True,
            command=f"Show {model_spec(model).title}",
            command_help=f"Show the {model_spec(model).title} pane",
        )
        for number, model in enumerate(PANE_MODELS, start=1)
    )


def _workload_line() -> str:
    return "next workload: " + ", ".join(WORKLOADS)


KEYS: tuple[Key, ...] = (
    *_pane_keys(),
    Key(
        "tab",
        "next_pane",
        "Next pane",
        "next / previous pane",
        help_keys="Tab / Shift+Tab",
        footer=False,
        priority=True,
    ),
    Key(
        "shift+tab",
        "previous_pane",
        "Previous pane",
        None,
        help_keys="Tab / Shift+Tab",
        footer=False,
        priority=True,
    ),
    Key(
        "space",
        "toggle_run",
        "Start/stop",
        "start or stop this pane's run",
        display="Space",
        priority=True,
        command="Start / stop",
    ),
    Key("r", "restart", "Restart", "restart this pane's run", priority=True, command="Restart"),
    Key(
        "plus,equals_sign",
        "more_workers",
        "Workers +",
        "more / fewer workers (a running run restarts)",
        help_keys="+ / -",
        display="+",
        command="More workers",
        command_help="Add workers",
    ),
    Key(
        "minus",
        "fewer_workers",
        "Workers -",
        None,
        help_keys="+ / -",
        display="-",
        command="Fewer workers",
        command_help="Remove workers",
    ),
    Key("w", "cycle_workload", "Workload", _workload_line(), command="Next workload"),
    Key(
        "b",
        "baseline",
        "Serial baseline",
        "run the serial baseline here, for speedups",
        command="Serial baseline",
    ),
    Key(
        "l",
        "toggle_loop",
        "Loop",
        "loop: start this pane's run again whenever it finishes",
        command="Loop on / off",
    ),
    Key(
        "c",
        "race",
        "Race",
        "race: every model on this workload against serial, with a verdict",
        command="Race",
    ),
    Key(
        "p,f",
        "toggle_freeze",
        "Freeze",
        "freeze the picture while the run goes on; again for live",
        help_keys="p / f",
        display="p",
        footer=False,
        command="Freeze / live",
    ),
    Key(
        "left",
        "time_back",
        "Back",
        "scroll back / forward through the whole run (← from live freezes)",
        help_keys="← / →",
        display="←",
        footer=False,
        command="Scroll back in time",
    ),
    Key(
        "right",
        "time_forward",
        "Forward",
        None,
        help_keys="← / →",
        display="→",
        footer=False,
        command="Scroll forward in time",
    ),
    Key(
        "left_square_bracket,less_than_sign",
        "finer_time",
        "Finer",
        "finer / coarser time scale: 1 cell = 0.1, 0.25, 0.5 or 1 s",
        help_keys="[ / ]",
        display="[",
        footer=False,
        command="Finer time scale",
    ),
    Key(
        "right_square_bracket,greater_than_sign",
        "coarser_time",
        "Coarser",
        None,
        help_keys="[ / ]",
        display="]",
        footer=False,
        command="Coarser time scale",
    ),
    Key(
        "h",
        "hazards",
        "Hazards",
        "hazard lab: races, deadlocks and other trade-offs, measured",
        footer=False,
        command="Hazard lab",
    ),
    *(
        Key(
            knob.key,
            f"knob({knob.name!r})",
            title,
            help_line,
            footer=False,
            command=title,
            command_help=f"{help_line[:1].upper()}{help_line[1:]}; a running run restarts",
        )
        for knob, title, help_line in (
            (knob("filter"), "Image filter", "image filter: blur frees the GIL, median holds it"),
            (knob("to_thread"), "Asyncio to_thread", "asyncio to_thread on / off"),
            (knob("web_latency"), "Web site latency", "latency of the local web site"),
            (knob("io_latency"), "Files I/O latency", "files: extra wait per read"),
            (knob("duration"), "Run duration", "run length: 10-60 s, or every input once"),
        )
    ),
    Key(
        "s",
        "compare",
        "Compare",
        "side by side: each model's lanes, one time axis",
        footer=False,
        command="Compare side by side",
    ),
    Key(
        "question_mark",
        "help",
        "Help",
        "this help; Esc closes it",
        display="?",
        command="Keys and legend",
        command_help="Open the help screen",
    ),
    Key("q", "quit", "Quit", "quit (stops every run first)", help_keys="q / Ctrl+C"),
    # Textual only hints at ctrl+q on Ctrl+C; here it quits, as users expect.
    Key("ctrl+c", "quit", "Quit", None, help_keys="q / Ctrl+C", footer=False, priority=True),
)

PALETTE_KEY = ("Ctrl+P", "command palette")
"""Textual's own key for the palette, listed in the help beside ours."""


def bindings() -> list[BindingType]:
    """The app's bindings, in the order the footer shows them."""
    return [
        Binding(
            key.keys,
            key.action,
            key.label,
            show=key.footer,
            key_display=key.display,
            priority=key.priority,
        )
        for key in KEYS
    ]


def help_rows() -> list[tuple[str, str]]:
    """(keys, what they do) for the help screen: one row per line a key declares."""
    rows: list[tuple[str, str]] = []
    for key in KEYS:
        if key.help is None:
            continue
        rows.append((key.help_keys or key.display or key.keys, key.help))
        if key.action == "help":
            rows.append(PALETTE_KEY)
    return rows


def palette_entries() -> list[tuple[str, str, str]]:
    """(title, what it does, action) for every key in the command palette."""
    entries = []
    for key in KEYS:
        if key.command is None:
            continue
        text = key.command_help or key.help or key.label
        entries.append((key.command, text[:1].upper() + text[1:], key.action))
    return entries

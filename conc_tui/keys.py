"""The app's keys, declared once: the bindings, the footer, the palette and the help
screen are all built from :data:`KEYS`.

The number keys come from the registry's panes (key 1 is the first pane model), so a
model with a pane gets its key, its palette command and its help line with no edit here.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

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
    narrow: bool = False
    """Kept in the footer when the terminal is too narrow for every key (80x24)."""


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
        "Pane",
        "next / previous pane",
        help_keys="Tab / Shift+Tab",
        display="Tab",
        footer=False,
        priority=True,
        command="Next pane",
        command_help="Show the next pane",
        narrow=True,
    ),
    Key(
        "shift+tab",
        "previous_pane",
        "Previous pane",
        None,
        help_keys="Tab / Shift+Tab",
        footer=False,
        priority=True,
        command="Previous pane",
        command_help="Show the previous pane",
    ),
    Key(
        "space",
        "toggle_run",
        "Start/stop",
        "start or stop this pane's run",
        display="Space",
        priority=True,
        command="Start / stop",
        narrow=True,
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
    Key("w", "cycle_workload", "Workload", _workload_line(), command="Next workload", narrow=True),
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
        narrow=True,
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
        "f2",
        "toggle_projector",
        "Projector",
        "projector colours: each state on a solid, high-contrast background",
        display="F2",
        footer=False,
        command="Projector colours",
        command_help="Projector colours on / off: solid, high-contrast lanes",
    ),
    Key(
        "question_mark",
        "help",
        "Help",
        "this help; Esc closes it",
        display="?",
        command="Keys and legend",
        command_help="Open the help screen",
        narrow=True,
    ),
    Key(
        "q",
        "quit",
        "Quit",
        "quit (stops every run first)",
        help_keys="q / Ctrl+C",
        command="Quit",
        command_help="Stop every run and quit",
        narrow=True,
    ),
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


def _footer_cells(key: Key) -> int:
    # Textual's footer draws " key label " with a cell between keys.
    return len(key.display or key.keys.split(",")[0]) + len(key.label) + 3


PALETTE_CELLS = 12
"""The footer's own "^p palette" at its right end."""


def footer_keys(width: int) -> frozenset[Key]:
    """The keys the footer shows at this width.

    Every footer key when they all fit; otherwise the keys marked ``narrow`` (the
    pane switch, Space, w, c, ?, q), then the other footer keys in order while they
    fit. The rest stay in the help screen and the palette.
    """
    full = [key for key in KEYS if key.footer]
    if sum(map(_footer_cells, full)) + PALETTE_CELLS <= width:
        return frozenset(full)
    shown = [key for key in KEYS if key.narrow]
    used = sum(map(_footer_cells, shown)) + PALETTE_CELLS
    for key in full:
        if key not in shown and used + _footer_cells(key) <= width:
            shown.append(key)
            used += _footer_cells(key)
    return frozenset(shown)


def footer_bindings(bindings: list[Binding], shown: frozenset[Key]) -> list[Binding]:
    """The bindings with ``show`` set for the footer's keys; Textual's own keep theirs."""
    by_key = {name: key for key in KEYS for name in key.keys.split(",")}
    result = []
    for binding in bindings:
        key = by_key.get(binding.key)
        if key is not None and key.action == binding.action:
            binding = replace(binding, show=key in shown)
        result.append(binding)
    return result


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

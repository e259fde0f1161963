"""The short card beside each pane: the analogy, pros and cons, and what to look for.

Plain text only, so the help screen and tests can read it too. What it says about each
model lives in :mod:`conc_tui.widgets.presentation`.
"""

from __future__ import annotations

from rich.text import Text

from conc_tui.config import WorkloadOptions
from conc_tui.registry import RULE_OF_THUMB as RULE_OF_THUMB_TEXT
from conc_tui.registry import workload_spec
from conc_tui.widgets.presentation import (
    GIL_FRIENDLY_FILTERS,
    PRESENTATIONS,
    ModelCard,
    presentation,
)

CARDS: dict[str, ModelCard] = {name: entry.card for name, entry in PRESENTATIONS.items()}

RULE_OF_THUMB = (
    f"Rule of thumb: {RULE_OF_THUMB_TEXT}. Measure it here: press b for the serial baseline."
)


def look_for(model: str, workload: str, options: WorkloadOptions | None = None) -> str:
    """What to watch for right now, for this model, workload and its options.

    Raises:
        UnknownName: for a model or workload the registry does not know.
    """
    workload_spec(workload)
    line = presentation(model).look_for[workload]
    return line if isinstance(line, str) else line(options or WorkloadOptions())


def card_text(model: str, workload: str, options: WorkloadOptions | None = None) -> Text:
    """The whole card as styled text, "Look for" first.

    The card scrolls when its panel is short (80x24): what comes first is what stays
    on screen, so the line the lesson hangs on leads and the pros and cons give way.
    """
    card = presentation(model).card
    text = Text()
    text.append("Look for: ", style="bold yellow")
    text.append(look_for(model, workload, options) + "\n", style="bold")
    text.append(card.analogy, style="italic")
    for pro in card.pros:
        text.append("\n+ ", style="bold green")
        text.append(pro)
    for con in card.cons:
        text.append("\n− ", style="bold red")
        text.append(con)
    return text


__all__ = ["CARDS", "GIL_FRIENDLY_FILTERS", "RULE_OF_THUMB", "ModelCard", "card_text", "look_for"]

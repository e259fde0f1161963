"""An experiment's result as a JSON document (``conc-tui/demo/1``) or as plain text.

The document's fields are described in docs/demo-schema.md; change both together and
bump the schema's number when a field changes meaning or goes away.
"""

from __future__ import annotations

import dataclasses
import os
import platform
import sys
from typing import Any

from conc_tui.hazards.base import Experiment, HazardResult

SCHEMA = "conc-tui/demo/1"
STEP_PREFIX = "demo: "
"""How ``conc-tui demo`` marks the step announcements it writes to stderr."""


def figures(result: HazardResult) -> dict[str, Any]:
    """Every measured field of the result, nested as in its dataclasses."""
    if not dataclasses.is_dataclass(result) or isinstance(result, type):
        raise TypeError(f"an experiment result must be a dataclass, got {type(result).__name__}")
    return dataclasses.asdict(result)


def demo_document(
    experiment: Experiment, result: HazardResult, elapsed_s: float, quick: bool
) -> dict[str, Any]:
    """The JSON document ``conc-tui demo NAME --json`` prints."""
    return {
        "schema": SCHEMA,
        "name": experiment.name,
        "title": experiment.title,
        "claim": experiment.claim,
        "broken": experiment.broken,
        "fixed": experiment.fixed,
        "quick": quick,
        "hazard_shown": result.hazard_shown,
        "fixed_clean": result.fixed_clean,
        "sentence": result.sentence,
        "elapsed_s": elapsed_s,
        "machine": {
            "python": platform.python_version(),
            "implementation": platform.python_implementation(),
            "platform": sys.platform,
            "cpu_count": os.cpu_count() or 1,
        },
        "figures": figures(result),
    }


def describe_item(item: dict[str, Any]) -> str:
    """One element of a list of figures (a wait-for edge, a task line...) on one line."""
    if {"worker", "holds", "waits_for", "held_by"} <= set(item):
        held = ", ".join(item["holds"]) or "nothing"
        return f"{item['worker']} holds {held}, waits for {item['waits_for']} ({item['held_by']})"
    return "  ".join(
        ", ".join(map(str, v)) if isinstance(v, (list, tuple)) else format_value(v)
        for v in item.values()
    )


def format_value(value: Any) -> str:
    """A figure as text: 4 significant digits for floats, a dash for none."""
    if value is None:
        return "—"
    if isinstance(value, float):
        return f"{value:.4g}"
    return str(value)


def cell_lines(value: Any) -> list[str]:
    """A figure as the lines of a table cell: one line per element of a list."""
    if isinstance(value, (list, tuple)):
        if not value:
            return ["—"]
        if isinstance(value[0], dict):
            return [describe_item(item) for item in value]
        return [", ".join(format_value(item) for item in value)]
    return [format_value(value)]


def variant_table(data: dict[str, Any]) -> list[str]:
    """The variants (every dict-valued figure) side by side: one column each."""
    variants = [key for key, value in data.items() if isinstance(value, dict)]
    fields: dict[str, None] = {}
    for key in variants:
        fields.update(dict.fromkeys(data[key]))
    rows = [[[name], *(cell_lines(data[key].get(name)) for key in variants)] for name in fields]
    header = [[""], *([key.replace("_", " ")] for key in variants)]
    widths = [
        max(len(line) for row in (header, *rows) for line in row[n]) for n in range(len(header))
    ]
    lines = []
    for row in (header, *rows):
        for i in range(max(len(cell) for cell in row)):
            parts = [
                (cell[i] if i < len(cell) else "").ljust(widths[n]) for n, cell in enumerate(row)
            ]
            lines.append("  ".join(parts).rstrip())
    return lines


def format_demo(experiment: Experiment, result: HazardResult, elapsed_s: float) -> str:
    """The text ``conc-tui demo NAME`` prints: what ran, both variants side by side, the
    other figures, and the sentence."""
    data = figures(result)
    others = [
        f"{key.replace('_', ' ')}: {' · '.join(cell_lines(value))}"
        for key, value in data.items()
        if not isinstance(value, dict)
    ]
    lines = [
        f"{experiment.title} ({experiment.name}), {elapsed_s:.1f} s",
        f"  the claim: {experiment.claim}",
        f"  broken:    {experiment.broken}",
        f"  fixed:     {experiment.fixed}",
        "",
        *(f"  {line}" for line in variant_table(data)),
        "",
        *(f"  {line}" for line in others),
        "",
        f"hazard shown: {'yes' if result.hazard_shown else 'no'}; "
        f"fixed variant clean: {'yes' if result.fixed_clean else 'no'}",
        result.sentence,
    ]
    return "\n".join(lines)


def format_list(experiments: tuple[Experiment, ...]) -> str:
    """What ``conc-tui demo`` alone prints."""
    width = max(len(e.name) for e in experiments)
    lines = ["experiments (run one with: conc-tui demo NAME [--json] [--quick]):"]
    lines += [f"  {e.name:<{width}}  {e.title}: {e.broken}" for e in experiments]
    return "\n".join(lines)

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


def _flatten(value: Any, prefix: str) -> list[str]:
    if isinstance(value, dict):
        return [line for key, item in value.items() for line in _flatten(item, f"{prefix}.{key}")]
    if isinstance(value, (list, tuple)) and value and isinstance(value[0], (dict, list, tuple)):
        return [line for n, item in enumerate(value) for line in _flatten(item, f"{prefix}[{n}]")]
    if isinstance(value, float):
        return [f"{prefix.lstrip('.')}: {value:.6g}"]
    return [f"{prefix.lstrip('.')}: {value}"]


def format_demo(experiment: Experiment, result: HazardResult, elapsed_s: float) -> str:
    """The text ``conc-tui demo NAME`` prints: what ran, every figure, the sentence."""
    lines = [
        f"{experiment.title} ({experiment.name}), {elapsed_s:.1f} s",
        f"  the claim: {experiment.claim}",
        f"  broken:    {experiment.broken}",
        f"  fixed:     {experiment.fixed}",
        "",
        *(f"  {line}" for line in _flatten(figures(result), "")),
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

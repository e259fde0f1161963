"""A test workload light enough to load in a subinterpreter.

Kept apart from the test modules, which import the engine and with it psutil, an
extension module that refuses to load in a subinterpreter.
"""

from __future__ import annotations

from typing import ClassVar

from conc_tui.workloads.base import Item, ItemResult, Workload


class HalfFailing(Workload):
    """Odd items raise inside the interpreter; even ones succeed."""

    name: ClassVar[str] = "half"
    description: ClassVar[str] = "test items"

    def initial_items(self) -> list[Item]:
        return [Item(i, f"item-{i}") for i in range(6)]

    def run(self, item: Item) -> ItemResult:
        if item.index % 2:
            raise OSError(f"cannot read item {item.index}")
        return ItemResult(item.index, item.key, ok=True, digest=str(item.index))

"""How often the visible pane is redrawn, so that the UI keeps to its share of one core.

Drawing a pane of lanes ten times a second costs the UI process a few milliseconds a
frame; how many depends on the terminal's size, on how many lanes fill it and on how
busy the machine is. A projector at 200x60 with tall lanes costs more than a laptop at
80x24. Rather than pick one rate for every case, the app measures its own CPU over the
last second and lengthens the interval between redraws, a little at a time and never
past 0.15 s (the lanes still move more than six times a second), whenever it spends
more than its budget; it shortens it again once it spends well under.

No Textual here: the app feeds it the process's CPU and wall time.
"""

from __future__ import annotations

from dataclasses import dataclass

CPU_BUDGET = 0.08
"""The UI process's target share of one core (the benchmarked budget is 0.10: this
leaves room for what a second of measuring cannot see coming)."""
SLOWEST_INTERVAL_S = 0.15
"""At most this long between redraws: a snapshot comes every 0.1 s, so a lane then
moves by one or two cells a frame, never more."""
STEP = 1.15
"""How much one second over (or well under) budget changes the interval."""
RELAX = 0.75
"""Spending under this share of the budget lets the rate rise again."""


@dataclass
class FrameBudget:
    """The redraw interval, adjusted from the UI's measured CPU share.

    Args:
        fastest_s: The shortest interval (the app's own refresh rate).
        budget: The share of one core to keep to.
        slowest_s: The longest interval it may grow to.
    """

    fastest_s: float
    budget: float = CPU_BUDGET
    slowest_s: float = SLOWEST_INTERVAL_S

    def __post_init__(self) -> None:
        self.interval_s = self.fastest_s
        self.last_share: float | None = None
        """The CPU share measured last (None before the first full second)."""

    def update(self, cpu_s: float, wall_s: float) -> float:
        """Take the CPU the UI used over ``wall_s`` seconds; return the next interval."""
        if wall_s <= 0 or self.fastest_s <= 0:
            return self.interval_s
        share = cpu_s / wall_s
        self.last_share = share
        slowest = max(self.fastest_s, self.slowest_s)
        if share > self.budget:
            self.interval_s = min(slowest, self.interval_s * STEP)
        elif share < self.budget * RELAX:
            self.interval_s = max(self.fastest_s, self.interval_s / STEP)
        return self.interval_s

    @property
    def slowed(self) -> bool:
        """Whether the pane is drawn less often than the app's own rate right now."""
        return self.interval_s > self.fastest_s * 1.01

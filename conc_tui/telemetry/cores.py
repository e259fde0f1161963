"""Per-core CPU load, sampled from the OS, with a short history.

No Textual here. The app calls :meth:`CoreSampler.sample` from a background thread a
few times a second (a psutil call costs tens of microseconds, which must not land on
the UI loop); tests hand the app any object with the same two methods.
"""

from __future__ import annotations

from collections import deque
from typing import Protocol

import psutil

HISTORY = 16
"""How many samples of history each core keeps (about 4 s at 4 Hz)."""


class CoreSource(Protocol):
    """Anything that reports per-core load: the real sampler or a test fake."""

    def sample(self) -> tuple[float, ...]:
        """Take a sample now; return the busy percent of every core since the last one."""
        ...

    def history(self) -> tuple[tuple[float, ...], ...]:
        """The recent samples, oldest first, one tuple of per-core percents each."""
        ...


class CoreSampler:
    """Measures how busy every CPU core is, keeping the last few samples.

    Args:
        history: How many samples to keep.
    """

    def __init__(self, history: int = HISTORY) -> None:
        self._history: deque[tuple[float, ...]] = deque(maxlen=history)
        # The first percpu call only sets psutil's baseline (it returns zeros), so
        # make it here rather than showing an invented all-idle first frame.
        psutil.cpu_percent(percpu=True)

    @property
    def cores(self) -> int:
        """How many logical cores the OS reports."""
        return psutil.cpu_count() or 1

    def sample(self) -> tuple[float, ...]:
        """Busy percent of every logical core since the previous call.

        Returns:
            One value in 0..100 per core.
        """
        values = tuple(float(v) for v in psutil.cpu_percent(percpu=True))
        self._history.append(values)
        return values

    def history(self) -> tuple[tuple[float, ...], ...]:
        """The kept samples, oldest first."""
        return tuple(self._history)

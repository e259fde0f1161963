"""The seam between the app and the engine: something that runs one pane's runs.

The app only ever talks to a :class:`RunController`. The real one
(:class:`conc_tui.lab.LabController`) runs each run in a child "lab" process and
streams snapshots back; tests hand the app a fake that produces deterministic ones.
No Textual here.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Protocol

from conc_tui.config import RunConfig
from conc_tui.telemetry.snapshot import Snapshot

SnapshotCallback = Callable[[Snapshot], None]


class RunController(Protocol):
    """Runs one pane's runs, one at a time."""

    def start(self, config: RunConfig, on_snapshot: SnapshotCallback) -> None:
        """Start a run (stopping any current one first).

        ``on_snapshot`` is called from a background thread, several times a second,
        and once more with the final snapshot (phase FINISHED, FAILED or STOPPED).
        """

    def request_stop(self) -> None:
        """Ask the current run to stop and return at once; the final snapshot says when."""

    def stop(self) -> None:
        """Stop the current run, if any; returns within a second."""

    def close(self) -> None:
        """Stop and release everything; the controller is not used again."""

    @property
    def running(self) -> bool:
        """True while a run is preparing or running."""

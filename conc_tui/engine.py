"""Run one (model, workload, workers) combination to completion, measured.

STUB: the lead is writing this module; the signatures below are the contract.
"""

from __future__ import annotations

import threading
from collections.abc import Callable

from conc_tui.config import RunConfig
from conc_tui.telemetry.snapshot import RunResult, Snapshot
from conc_tui.workloads.base import Workload


def make_workload(config: RunConfig) -> Workload:
    """Build the workload a config names (not prepared yet)."""
    raise NotImplementedError


def execute(
    config: RunConfig,
    *,
    on_snapshot: Callable[[Snapshot], None] | None = None,
    stop: threading.Event | None = None,
    snapshot_interval: float = 0.1,
) -> RunResult:
    """Prepare the workload, run it under the model, and return the measured result.

    Raises:
        ConfigError: a setting is out of range (config.validate()).
        WorkloadError: the input cannot be used (missing folder, bad URL, ...).
    """
    raise NotImplementedError

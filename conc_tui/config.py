"""What one run is: a model, a workload, a worker count and the workload's options.

Plain data shared by the CLI, the engine, the lab process and the app.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field, replace

from conc_tui.registry import (
    MAX_WORKERS,
    MODELS,
    WORKLOAD_SPECS,
    WORKLOADS,
    UnknownName,
    model_spec,
    workload_spec,
)

FILTERS = ("blur", "sharpen", "resize", "median", "contour")
MAX_ITEMS = 100_000
"""Most items, pages (``--items``, ``--max-pages``)."""
MAX_LATENCY_MS = 10_000.0
"""Longest added delay (``--io-latency``, ``--latency``)."""
MIN_DURATION_S, MAX_DURATION_S = 1.0, 3600.0
"""Shortest and longest timed run (``conc-tui --duration``)."""
APP_DURATION_S = 20.0
"""How long an app run lasts unless ``--duration`` says otherwise: long enough to talk
over, whatever the machine (a fixed input size ends in 1 s on one and 10 on another)."""

DEFAULT_ITEMS = {name: spec.items for name, spec in WORKLOAD_SPECS.items()}

__all__ = [
    "DEFAULT_ITEMS",
    "FILTERS",
    "APP_DURATION_S",
    "MAX_DURATION_S",
    "MAX_ITEMS",
    "MIN_DURATION_S",
    "MAX_LATENCY_MS",
    "MAX_WORKERS",
    "MODELS",
    "WORKLOADS",
    "ConfigError",
    "RunConfig",
    "WorkloadOptions",
]


class ConfigError(ValueError):
    """A setting is out of range; the message names it and the accepted values."""


@dataclass(frozen=True)
class WorkloadOptions:
    """Options every workload understands (each uses the ones that concern it)."""

    items: int | None = None
    """How many images, files, pages or cpu tasks the default inputs have."""
    images: str | None = None
    filter: str = "blur"
    files: str | None = None
    io_latency_ms: float = 0.0
    url: str | None = None
    max_pages: int = 1000
    latency_ms: float = 100.0
    to_thread: bool = False
    """Under asyncio, run blocking workloads through ``asyncio.to_thread``."""
    duration_s: float | None = None
    """A timed run: take items (cycling the inputs) until this many seconds have passed.
    None: a fixed-size run that does every input once (the CLI's ``run`` and ``bench``)."""

    def items_for(self, workload: str) -> int:
        return self.items if self.items is not None else workload_spec(workload).items


@dataclass(frozen=True)
class RunConfig:
    model: str
    workload: str
    workers: int
    options: WorkloadOptions = field(default_factory=WorkloadOptions)
    telemetry: bool = True

    def validate(self) -> RunConfig:
        try:
            model_spec(self.model)
            workload_spec(self.workload)
        except UnknownName as exc:
            raise ConfigError(str(exc)) from None
        if not 1 <= self.workers <= MAX_WORKERS:
            raise ConfigError(f"--workers must be between 1 and {MAX_WORKERS}, got {self.workers}")
        opts = self.options
        if opts.filter not in FILTERS:
            raise ConfigError(
                f"unknown filter {opts.filter!r}; choose one of: {', '.join(FILTERS)}"
            )
        if opts.items is not None and not 1 <= opts.items <= MAX_ITEMS:
            raise ConfigError(f"--items must be between 1 and {MAX_ITEMS}, got {opts.items}")
        if not 0 <= opts.io_latency_ms <= MAX_LATENCY_MS:
            raise ConfigError(
                f"--io-latency must be between 0 and {MAX_LATENCY_MS:g} ms, "
                f"got {opts.io_latency_ms:g}"
            )
        if not 0 <= opts.latency_ms <= MAX_LATENCY_MS:
            raise ConfigError(
                f"--latency must be between 0 and {MAX_LATENCY_MS:g} ms, got {opts.latency_ms:g}"
            )
        if not 1 <= opts.max_pages <= MAX_ITEMS:
            raise ConfigError(
                f"--max-pages must be between 1 and {MAX_ITEMS}, got {opts.max_pages}"
            )
        if opts.duration_s is not None and not (
            MIN_DURATION_S <= opts.duration_s <= MAX_DURATION_S
        ):
            raise ConfigError(
                f"--duration must be between {MIN_DURATION_S:g} and {MAX_DURATION_S:g} s "
                f"(0 for a fixed-size run), got {opts.duration_s:g}"
            )
        return self

    def with_workers(self, workers: int) -> RunConfig:
        return replace(self, workers=workers)

    def to_json(self) -> str:
        return json.dumps(asdict(self))

    @classmethod
    def from_json(cls, text: str) -> RunConfig:
        data = json.loads(text)
        options = WorkloadOptions(**data.pop("options"))
        return cls(options=options, **data)

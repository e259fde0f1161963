"""What one run is: a model, a workload, a worker count and the workload's options.

Plain data shared by the CLI, the engine, the lab process and the app.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field, replace

MODELS = ("serial", "process", "thread", "async", "interp")
WORKLOADS = ("images", "files", "web", "cpu")
FILTERS = ("blur", "sharpen", "resize", "median", "contour")
MAX_WORKERS = 256

DEFAULT_ITEMS = {"images": 16, "files": 400, "web": 200, "cpu": 24}


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

    def items_for(self, workload: str) -> int:
        return self.items if self.items is not None else DEFAULT_ITEMS[workload]


@dataclass(frozen=True)
class RunConfig:
    model: str
    workload: str
    workers: int
    options: WorkloadOptions = field(default_factory=WorkloadOptions)
    telemetry: bool = True

    def validate(self) -> RunConfig:
        if self.model not in MODELS:
            raise ConfigError(f"unknown model {self.model!r}; choose one of: {', '.join(MODELS)}")
        if self.model == "interp":
            from conc_tui.models.interp import available  # only this model needs it

            if (need := available()) is not None:
                raise ConfigError(need)
        if self.workload not in WORKLOADS:
            raise ConfigError(
                f"unknown workload {self.workload!r}; choose one of: {', '.join(WORKLOADS)}"
            )
        if not 1 <= self.workers <= MAX_WORKERS:
            raise ConfigError(f"--workers must be between 1 and {MAX_WORKERS}, got {self.workers}")
        opts = self.options
        if opts.filter not in FILTERS:
            raise ConfigError(
                f"unknown filter {opts.filter!r}; choose one of: {', '.join(FILTERS)}"
            )
        if opts.items is not None and not 1 <= opts.items <= 100_000:
            raise ConfigError(f"--items must be between 1 and 100000, got {opts.items}")
        if not 0 <= opts.io_latency_ms <= 10_000:
            raise ConfigError(
                f"--io-latency must be between 0 and 10000 ms, got {opts.io_latency_ms:g}"
            )
        if not 0 <= opts.latency_ms <= 10_000:
            raise ConfigError(f"--latency must be between 0 and 10000 ms, got {opts.latency_ms:g}")
        if not 1 <= opts.max_pages <= 100_000:
            raise ConfigError(f"--max-pages must be between 1 and 100000, got {opts.max_pages}")
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

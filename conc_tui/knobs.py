"""The app's knobs: the workload options a teacher changes without the command line.

Each knob steps one :class:`~conc_tui.config.WorkloadOptions` field through a few
values that make a point in a lesson (blur releases the GIL and median holds it;
``to_thread`` frees a blocked event loop; slower storage or a slower site gives
threads and tasks more waiting to overlap). The app binds a key to each (see
:mod:`conc_tui.keys`), and the pane header shows the values that concern its run
(:func:`knob_text`). No Textual here.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any

from conc_tui.config import APP_DURATION_S, FILTERS, WorkloadOptions
from conc_tui.registry import owner_of_option, workload_spec

# Natively asynchronous workloads ignore to_thread: their waits are awaited already.
_NATIVE_ASYNC = frozenset({"web"})


@dataclass(frozen=True)
class Knob:
    """One knob: the option it changes, the values it steps through, how it reads."""

    name: str
    """The action's argument: ``knob('filter')``."""
    key: str
    """The key that turns it (for the header's hint)."""
    field: str
    """The :class:`WorkloadOptions` field it sets."""
    values: tuple[Any, ...]
    show: Callable[[Any], str]
    """The value as the header writes it: ``"filter median"``."""
    option: str
    """The CLI option it stands for; its owner (a workload or a model) decides where
    the knob applies."""

    def value(self, options: WorkloadOptions) -> Any:
        return getattr(options, self.field)

    def next_value(self, options: WorkloadOptions) -> Any:
        """The value after the current one (the first, if the current one is not listed)."""
        current = self.value(options)
        if current not in self.values:
            return self.values[0]
        return self.values[(self.values.index(current) + 1) % len(self.values)]

    def turned(self, options: WorkloadOptions) -> WorkloadOptions:
        return replace(options, **{self.field: self.next_value(options)})

    def applies(self, model: str, workload: str) -> bool:
        """Whether a run of ``model`` on ``workload`` uses this knob's option."""
        if self.option == "--duration":
            return True
        if self.option in workload_spec(workload).options:
            return True
        return model in owner_of_option(self.option) and workload not in _NATIVE_ASYNC


def _filter(value: str) -> str:
    from conc_tui.widgets.presentation import GIL_FRIENDLY_FILTERS

    holds = "" if GIL_FRIENDLY_FILTERS.get(value, False) else ", holds the GIL"
    return f"filter {value}{holds}"


def _duration(value: float | None) -> str:
    return f"{value:g} s run" if value is not None else "every input once"


KNOBS: tuple[Knob, ...] = (
    Knob("filter", "i", "filter", FILTERS, _filter, "--filter"),
    Knob(
        "to_thread",
        "t",
        "to_thread",
        (False, True),
        lambda on: f"to_thread {'on' if on else 'off'}",
        "--to-thread",
    ),
    Knob(
        "web_latency",
        "n",
        "latency_ms",
        (0.0, 20.0, 100.0, 300.0, 1000.0),
        lambda ms: f"site latency {ms:g} ms",
        "--latency",
    ),
    Knob(
        "io_latency",
        "o",
        "io_latency_ms",
        (0.0, 1.0, 5.0, 20.0),
        lambda ms: f"I/O latency {ms:g} ms",
        "--io-latency",
    ),
    Knob(
        "duration",
        "d",
        "duration_s",
        (10.0, APP_DURATION_S, 30.0, 60.0, None),
        _duration,
        "--duration",
    ),
)
KNOB_NAMES = tuple(knob.name for knob in KNOBS)


def knob(name: str) -> Knob:
    for candidate in KNOBS:
        if candidate.name == name:
            return candidate
    raise KeyError(f"unknown knob {name!r}; choose one of: {', '.join(KNOB_NAMES)}")


def knob_text(model: str, workload: str, options: WorkloadOptions) -> str:
    """The pane header's knob line: each knob that concerns this run, with its key."""
    return " · ".join(
        f"{k.key} {k.show(k.value(options))}" for k in KNOBS if k.applies(model, workload)
    )


def changed_knobs(
    model: str, workload: str, ran: WorkloadOptions, upcoming: WorkloadOptions
) -> list[Knob]:
    """The knobs that concern this run and are set otherwise in ``upcoming`` than in ``ran``."""
    return [k for k in KNOBS if k.applies(model, workload) and k.value(ran) != k.value(upcoming)]


def carry_knobs(options: WorkloadOptions, turned: WorkloadOptions) -> WorkloadOptions:
    """``options`` with every knob set as in ``turned`` (a new workload keeps the knobs)."""
    return replace(options, **{k.field: k.value(turned) for k in KNOBS})


def untimed(options: WorkloadOptions) -> WorkloadOptions:
    """The options without a duration: what a per-item rate depends on."""
    return replace(options, duration_s=None)

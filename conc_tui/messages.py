"""The low-rate messages between the runner, its workers and the observer, typed.

Two channels carry them, both pickled:

- **Control notes** go down the telemetry pipe beside the packed event batches
  (:mod:`conc_tui.telemetry.states` keeps events binary: they are the high-rate
  traffic). A model sends a note through the run's link, which may be None when
  telemetry is off::

      from conc_tui.messages import WorkThread
      if ctx.link is not None:
          ctx.link.send_control(WorkThread(threading.get_native_id()))

  Workers are announced by ``ctx.local_recorder(label)`` (it sends
  :class:`WorkerHello`); a pool's start by ``ctx.pool_starting()``. The observer's
  :class:`~conc_tui.telemetry.hub.TelemetryHub` folds each note into the aggregator.
- **Runner reports** go down the results pipe, in this order: any number of
  :data:`Preparation` notes while the input is being made (a corpus generated, the
  local site started), :class:`Prepared` once the input is ready (the clock starts),
  then exactly one of :class:`RunFinished`, :class:`InputRejected` or
  :class:`RunnerCrashed`.

Every class is a frozen dataclass, so strict mypy checks both ends of the protocol
and a missing field is an error where the message is built, not a silent default
where it is read. Adding a note: a class here, a member of :data:`ControlNote`, and
a branch in ``TelemetryHub._control`` (mypy reports the branch if it is missing).
Keep notes rare (a few per worker): each is pickled into one atomic pipe write.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, TypeAlias

if TYPE_CHECKING:
    # Only for annotations: models.base imports the telemetry link, which imports this.
    from conc_tui.models.base import Outcome

# -- control notes (workers -> observer, on the telemetry pipe) ---------------------


@dataclass(frozen=True)
class WorkerHello:
    """A worker has started: the observer gives it a lane and reads its OS counters."""

    worker_id: int
    label: str
    pid: int
    tid: int | None
    """Native thread id; None for an asyncio task (it shares the loop's thread)."""
    t_ns: int
    """``time.monotonic_ns()`` when it started."""


@dataclass(frozen=True)
class PoolStarting:
    """The model is creating its pool: workers' start-up is measured from ``t_ns``."""

    t_ns: int


@dataclass(frozen=True)
class AsyncMode:
    """How the asyncio model runs this workload (native, blocking the loop, to_thread)."""

    mode: str


@dataclass(frozen=True)
class WorkThread:
    """A thread of the runner that does the run's work without a lane of its own.

    The asyncio model sends one for the loop's thread and each ``to_thread`` thread,
    so their CPU and scheduler delay are counted.
    """

    tid: int


ControlNote: TypeAlias = WorkerHello | PoolStarting | AsyncMode | WorkThread

# -- preparation notes (a workload preparing its input -> runner -> observer) -------


@dataclass(frozen=True)
class CorpusProgress:
    """The default files corpus is being generated: files and bytes written so far."""

    files_done: int
    files_total: int
    bytes_done: int
    bytes_total: int

    def describe(self) -> str:
        """What the pane shows: ``preparing: 1,240 of 4,000 files, 38 of 120 MB``."""
        return (
            f"preparing: {self.files_done:,} of {self.files_total:,} files, "
            f"{self.bytes_done / 1e6:,.0f} of {self.bytes_total / 1e6:,.0f} MB"
        )

    def brief(self) -> str:
        """The same in fewer cells: ``preparing 1,240/4,000 files · 38/120 MB``."""
        return (
            f"preparing {self.files_done:,}/{self.files_total:,} files · "
            f"{self.bytes_done / 1e6:,.0f}/{self.bytes_total / 1e6:,.0f} MB"
        )


@dataclass(frozen=True)
class SiteStarting:
    """The local web site's process is being started."""

    def describe(self) -> str:
        return "starting the local site…"

    def brief(self) -> str:
        return self.describe()


@dataclass(frozen=True)
class SiteReady:
    """The local web site serves: where, and how long it took to start."""

    address: str
    """``host:port``."""
    start_s: float
    """From starting its process until it answered ready."""

    def describe(self) -> str:
        return f"site ready on {self.address} in {self.start_s:.1f} s"

    def brief(self) -> str:
        return f"site ready: {self.address}, {self.start_s:.1f} s"


Preparation: TypeAlias = CorpusProgress | SiteStarting | SiteReady
"""What a workload says while it prepares its input; the pane shows the newest.
Each says it in a sentence (``describe``) and in fewer cells (``brief``)."""


# -- runner reports (runner -> observer, on the results pipe) -----------------------


@dataclass(frozen=True)
class Prepared:
    """The input is ready and the run's clock starts now."""

    items_total: int | None
    """None when the number is not known up front (a crawl)."""
    input_text: str
    """What the input is, in a few words."""
    helper_pids: frozenset[int]
    """Processes serving the input (the local web site): their CPU is counted apart."""


@dataclass(frozen=True)
class InputRejected:
    """The input cannot be used (a missing folder, a bad URL): the user's to fix."""

    reason: str


@dataclass(frozen=True)
class RunnerCrashed:
    """The model or the runner raised outside any item."""

    reason: str


@dataclass(frozen=True)
class RunFinished:
    """The model returned: its outcome and what the runner measured around it."""

    outcome: Outcome
    wall_s: float
    start_ns: int
    end_ns: int
    cpu_s: float
    """The runner's own CPU and its reaped children's: the fallback when the
    observer's tree count saw nothing (pool workers of a fork server are missed)."""
    peak_rss_bytes: int


RunnerReport: TypeAlias = Preparation | Prepared | InputRejected | RunnerCrashed | RunFinished

"""The hazard experiments, in the order the issue lists them (and the screen shows them)."""

from __future__ import annotations

from conc_tui.hazards import blocked_loop, deadlock, debug, memory, overhead, race, switching
from conc_tui.hazards.base import Experiment

EXPERIMENTS: tuple[Experiment, ...] = (
    Experiment(
        name="race",
        title="Race condition",
        claim='threads have "concurrency issues (race condition or deadlock)"; processes '
        'have "no memory sharing problem (race condition or deadlock)"',
        broken="threads add to a shared counter with a read, a yield and a write, no lock",
        fixed="the same with a lock; beside them, processes with private counters and "
        "processes sharing a multiprocessing.Value without its lock",
        run=race.run,
    ),
    Experiment(
        name="deadlock",
        title="Deadlock",
        claim='threads have "concurrency issues (race condition or deadlock)"; processes '
        'have "no memory sharing problem (race condition or deadlock)"',
        broken="two workers take two locks in opposite order (threads, then processes "
        "with multiprocessing.Locks); the wait-for cycle is detected and the run cancelled",
        fixed="both workers take the locks in one order",
        run=deadlock.run,
    ),
    Experiment(
        name="blocked-loop",
        title="Blocked event loop",
        claim='asyncio is "not ideal for CPU-bound tasks": anything that blocks stops every task',
        broken="fifty tasks make loopback round trips while one task calls time.sleep",
        fixed="the same wait through await asyncio.to_thread",
        run=blocked_loop.run,
    ),
    Experiment(
        name="overhead",
        title="The price of processes",
        claim='processes have "slower communication" and cost "more to create"',
        broken="thousands of tiny tasks sent to a process pool one per message",
        fixed="the same tasks sent in chunks (chunksize); a sweep finds the break-even size",
        run=overhead.run,
    ),
    Experiment(
        name="memory",
        title="Memory",
        claim='processes have "higher memory usage"; threads have "lower memory usage"',
        broken="N processes, each holding the same data",
        fixed="N threads, and N asyncio tasks, holding it in one process",
        run=memory.run,
    ),
    Experiment(
        name="switching",
        title="Context switches",
        claim='processes cost "more to create and switch between"',
        broken="four CPU-bound workers per core (threads, then processes)",
        fixed="one worker per core; and the measured cost of one hand-off",
        run=switching.run,
    ),
    Experiment(
        name="debug",
        title="Hard to debug",
        claim='asyncio is "hard to debug"',
        broken="a pipeline whose consumers are never awaited: one fails silently",
        fixed="the same pipeline awaiting its consumers with asyncio.gather",
        run=debug.run,
    ),
)

NAMES: tuple[str, ...] = tuple(experiment.name for experiment in EXPERIMENTS)


def get(name: str) -> Experiment:
    """The experiment called ``name``.

    Raises:
        KeyError: with a message naming the accepted names, for an unknown one.
    """
    for experiment in EXPERIMENTS:
        if experiment.name == name:
            return experiment
    raise KeyError(f"unknown experiment {name!r}; choose one of: {', '.join(NAMES)}")

"""Run one experiment in a child process, so the app's own threads are not part of it.

The experiments start threads that contend for the GIL, spin on the CPU and block
event loops on purpose; inside the app's process they would slow the UI and be slowed
by it. The child is ``conc-tui demo NAME --json``, a fresh interpreter whose only output
is the documented ``conc-tui/demo/1`` document, so the app shows the very figures the
command line prints; with ``--stream`` its stderr also carries its workers' lanes as
they happen. (A multiprocessing child would not do: under Textual, stderr is not
a real file, and multiprocessing's spawn start-up fails on it.) Cancelling, or a run
past its time limit, kills the child and every process it started.
"""

from __future__ import annotations

import contextlib
import json
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import IO, Any

import psutil

from conc_tui.hazards import registry
from conc_tui.hazards.report import SCHEMA, STEP_PREFIX
from conc_tui.hazards.stream import LANES_PREFIX
from conc_tui.lifecycle import kill_group

TIME_LIMIT_S = 120.0
POLL_S = 0.1


@dataclass(frozen=True)
class Outcome:
    """What came back from the child: its JSON document, or why there is none."""

    name: str
    document: dict[str, Any] | None
    error: str | None
    ended: str | None = None
    """How the child ended when it ended early, in one sentence (its exit status or
    the signal that killed it; the time limit or the cancel that had it killed)."""


def _kill_tree(pid: int) -> None:
    try:
        parent = psutil.Process(pid)
        family = [*parent.children(recursive=True), parent]
    except psutil.NoSuchProcess:
        return
    for process in family:
        with contextlib.suppress(psutil.NoSuchProcess):
            process.kill()
    psutil.wait_procs(family, timeout=5)


def how_it_ended(code: int) -> str:
    """The child's end, from its exit status (negative for a signal, as
    :mod:`subprocess` gives it), in one sentence."""
    if code < 0:
        try:
            name = signal.Signals(-code).name
        except ValueError:
            name = "a signal"
        return f"the experiment's process was killed by {name} (signal {-code})"
    return f"the experiment's process exited with status {code}"


def _last_line(text: str) -> str:
    lines = [line for line in text.strip().splitlines() if line.strip()]
    return lines[-1] if lines else "no output"


def _drain(
    stream: IO[str],
    into: list[str],
    on_step: Callable[[str], None] | None,
    on_lanes: Callable[[str], object] | None = None,
) -> None:
    for line in stream:
        if line.startswith(STEP_PREFIX):
            if on_step is not None:
                on_step(line[len(STEP_PREFIX) :].rstrip("\n"))
        elif line.startswith(LANES_PREFIX):
            if on_lanes is not None:
                on_lanes(line)
        else:
            into.append(line)


def run_isolated(
    name: str,
    quick: bool = False,
    cancel: threading.Event | None = None,
    on_step: Callable[[str], None] | None = None,
    on_lanes: Callable[[str], object] | None = None,
) -> Outcome:
    """Run ``conc-tui demo NAME --json`` in a child process and wait for its document.

    Args:
        name: One of :data:`registry.NAMES`.
        quick: Use the small sizes.
        cancel: Set it to stop the run: the child and its processes are killed.
        on_step: Called (on a reader thread) with each step the child announces.
        on_lanes: Given, the child streams its workers' lanes (``--stream``), and this
            is called (on the same reader thread) with each line of it, as it comes.
    """
    registry.get(name)  # an unknown name fails here, before a process starts
    command = [sys.executable, "-m", "conc_tui", "demo", name, "--json"]
    if quick:
        command.append("--quick")
    if on_lanes is not None:
        command.append("--stream")
    # Its own session and process group: whatever it starts (an experiment's worker
    # processes) can be killed with it, even after the child itself died.
    child = subprocess.Popen(
        command,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    assert child.stdout is not None and child.stderr is not None
    out: list[str] = []
    err: list[str] = []
    # Both pipes are read as the child writes, so a long document never fills a pipe
    # and stalls the child, and each step is known the moment it starts.
    readers = [
        threading.Thread(target=_drain, args=(child.stdout, out, None), daemon=True),
        threading.Thread(target=_drain, args=(child.stderr, err, on_step, on_lanes), daemon=True),
    ]
    for reader in readers:
        reader.start()
    deadline = time.monotonic() + TIME_LIMIT_S
    try:
        while child.poll() is None:
            if cancel is not None and cancel.wait(POLL_S):
                return Outcome(name, None, "cancelled", "the run was cancelled")
            if cancel is None:
                time.sleep(POLL_S)
            if time.monotonic() > deadline:
                limit = f"no result within {TIME_LIMIT_S:.0f} s"
                return Outcome(name, None, limit, f"{limit}, the run was killed")
        for reader in readers:
            reader.join(timeout=5)
        if child.returncode != 0:
            ended = how_it_ended(child.returncode)
            return Outcome(name, None, f"{ended}: {_last_line(''.join(err))}", ended)
        try:
            document = json.loads("".join(out))
        except json.JSONDecodeError:
            return Outcome(name, None, f"the output was not JSON: {_last_line(''.join(out))}")
        if not isinstance(document, dict) or document.get("schema") != SCHEMA:
            return Outcome(name, None, f"the output is not a {SCHEMA} document")
        return Outcome(name, document, None)
    finally:
        if child.poll() is None:
            _kill_tree(child.pid)
        # A child that died (killed, crashed) leaves its own processes orphaned, still
        # in its group: they go too.
        kill_group(child.pid)
        child.wait(timeout=5)
        for reader in readers:
            reader.join(timeout=5)
        child.stdout.close()
        child.stderr.close()

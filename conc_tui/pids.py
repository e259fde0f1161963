"""Whether a process is alive, asked of the kernel without psutil.

Apart from :mod:`conc_tui.lifecycle` because psutil refuses to load in a
subinterpreter, and the interpreters model's workers import the workloads, which
need this (the files workload sweeps corpora left by dead processes).
"""

from __future__ import annotations

import os

# State letters in /proc/<pid>/stat of a process that will never run again: a zombie
# (exited, not reaped), and "dead" (being torn down).
_GONE_STATES = frozenset("ZXx")


def process_alive(pid: int) -> bool:
    """True while ``pid`` runs; a zombie counts as gone (it will never clean up)."""
    if pid <= 0:  # 0 and negatives name process groups to os.kill, not a process
        return False
    try:
        with open(f"/proc/{pid}/stat", "rb") as stat:
            fields = stat.read()
    except FileNotFoundError:
        return False
    except OSError:  # no /proc (not Linux), or it hides other users' processes
        return _signal_reaches(pid)
    # The command name in parentheses may hold spaces or ")": the state follows the last ")".
    state = fields.rpartition(b")")[2].split()[:1]
    return not state or state[0].decode("ascii", "replace") not in _GONE_STATES


def _signal_reaches(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # someone else's process: it exists
        return True
    return True

"""Hostile inputs and faults, measured (issue #10): what a bad input or a kill costs.

The tests prove each promise holds; this records the figures behind them, on a busy
machine where that matters (two pure-Python CPU hogs run during the kill cases):

- **kills**: a process-model run is killed (SIGKILL of the CLI, SIGKILL of the runner,
  Ctrl+C of the CLI); how long until every process the run started is gone;
- **memory**: two large files read by two processes; the run's peak memory;
- **bombs**: a folder with a 30000×30000 PNG and a 12000×12000 PNG next to a good
  JPEG; the run's status, what failed and why, and what reached stderr;
- **crawl stops**: a page that drips one byte a second; how long a stop request takes
  to end the run, per model.

    python -m benchmarks.bench_hostile [--runs 3] [--cases kills,memory,bombs,stops]
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import signal
import statistics
import struct
import subprocess
import sys
import tempfile
import threading
import time
import zlib
from pathlib import Path
from typing import Any

from benchmarks.common import RESULTS, write_results
from benchmarks.instruments import CpuHogs, ProcTreePoller, find_runner
from conc_tui.config import RunConfig, WorkloadOptions
from conc_tui.engine import execute

CLI = [sys.executable, "-m", "conc_tui"]
TESTS = Path(__file__).resolve().parent.parent / "tests"


def _descendants(root: int) -> set[int]:
    poller = ProcTreePoller(root)
    poller.poll()
    return {pid for pid, _start in poller.last_ticks}


def _alive(pids: set[int]) -> set[int]:
    alive = set()
    for pid in pids:
        try:
            state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
        except (OSError, IndexError):
            continue
        if state != "Z":  # a zombie has exited; only its parent's wait is missing
            alive.add(pid)
    return alive


def kill_case(how: str) -> dict[str, Any]:
    """Start a process-model run, kill part of it, time until the whole tree is gone."""
    cli = subprocess.Popen(
        [*CLI, "run", "--model", "process", "--workload", "cpu", "--items", "400", "--json"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    runner = find_runner(cli.pid)
    time.sleep(3.0)  # the pool is up and busy
    tree = _descendants(cli.pid) | {cli.pid}
    started = time.monotonic()
    if how == "kill -9 CLI":
        os.kill(cli.pid, signal.SIGKILL)
    elif how == "kill -9 runner" and runner is not None:
        os.kill(runner, signal.SIGKILL)
    elif how == "Ctrl+C":
        os.killpg(cli.pid, signal.SIGINT)  # a terminal sends it to the whole group
    gone_s = None
    deadline = started + 10.0
    while time.monotonic() < deadline:
        if not _alive(tree):
            gone_s = time.monotonic() - started
            break
        time.sleep(0.02)
    survivors = _alive(tree)
    for pid in survivors:  # never leave a benchmark's processes behind
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
    cli.wait()
    return {"how": how, "processes": len(tree), "all_gone_s": gone_s, "survivors": len(survivors)}


def memory_case(size_mb: int) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="conc-tui-big-") as folder:
        for name in ("a.txt", "b.txt"):
            with open(Path(folder) / name, "wb") as f:
                f.truncate(size_mb * 2**20)  # sparse: reads as zeros, costs no disk
        result = execute(RunConfig("process", "files", 2, WorkloadOptions(files=folder)))
    return {
        "file_mb": size_mb,
        "status": result.status,
        "peak_rss_mib": result.peak_rss_bytes / 2**20,
        "wall_s": result.wall_s,
    }


def _png_header_only(path: Path, width: int, height: int) -> None:
    def chunk(kind: bytes, data: bytes) -> bytes:
        crc = struct.pack(">I", zlib.crc32(kind + data))
        return struct.pack(">I", len(data)) + kind + data + crc

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    idat = zlib.compress(b"\0" * (1 + 3 * min(width, 4096)))
    path.write_bytes(
        b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", idat) + chunk(b"IEND", b"")
    )


def bombs_case() -> dict[str, Any]:
    from PIL import Image

    with tempfile.TemporaryDirectory(prefix="conc-tui-bombs-") as folder:
        Image.new("RGB", (640, 480), "teal").save(Path(folder) / "good.jpg")
        _png_header_only(Path(folder) / "bomb.png", 30000, 30000)
        _png_header_only(Path(folder) / "big.png", 12000, 12000)
        started = time.monotonic()
        done = subprocess.run(
            [*CLI, "run", "--model", "thread", "--workers", "2", "--workload", "images"]
            + ["--images", folder, "--json"],
            capture_output=True,
            text=True,
        )
        elapsed = time.monotonic() - started
    doc = json.loads(done.stdout)
    return {
        "exit_status": done.returncode,
        "status": doc["status"],
        "items_done": doc["items_done"],
        "items_failed": doc["items_failed"],
        "failures": doc["failures"],
        "stderr_lines": len(done.stderr.splitlines()),
        "peak_rss_mib": doc["peak_rss_bytes"] / 2**20,
        "command_s": elapsed,
    }


def stops_case(model: str) -> dict[str, Any]:
    sys.path.insert(0, str(TESTS))
    from hostile_site import HostileSite  # the tests' hostile server, loopback only

    from conc_tui.workloads.web import WebWorkload

    with HostileSite(drip_s=0.3, drip_budget_s=12) as site:
        options = WorkloadOptions(url=site.url + "/drip")
        workload = WebWorkload(options)
        workload.reach_timeout_s = 30.0  # the stop, not the item's deadline, ends it
        stop = threading.Event()
        results: list[Any] = []
        run = threading.Thread(
            target=lambda: results.append(
                execute(RunConfig(model, "web", 2, options), stop=stop, workload=workload)
            ),
            daemon=True,
        )
        run.start()
        site.drips_started.wait(20)
        time.sleep(0.5)  # well inside the drip
        asked = time.monotonic()
        stop.set()
        run.join(20)
        latency = time.monotonic() - asked if not run.is_alive() else None
    return {
        "model": model,
        "status": results[0].status if results else "still running",
        "stop_to_end_s": latency,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--cases", default="kills,memory,bombs,stops")
    args = parser.parse_args(argv)
    cases = set(args.cases.split(","))
    out: dict[str, Any] = {"runs": args.runs}
    if "kills" in cases:
        rows = []
        with CpuHogs(2, 600):
            for how in ("kill -9 CLI", "kill -9 runner", "Ctrl+C"):
                samples = [kill_case(how) for _ in range(args.runs)]
                times = [s["all_gone_s"] for s in samples]
                finite = [t for t in times if t is not None]
                rows.append(
                    {
                        "how": how,
                        "samples": samples,
                        "all_gone_s_median": statistics.median(finite) if finite else None,
                        "never_gone": sum(t is None for t in times),
                    }
                )
                print(
                    f"kills: {how}: all gone after {times} s (2 CPU hogs running)", file=sys.stderr
                )
        out["kills"] = rows
    if "memory" in cases:
        out["memory"] = memory_case(1024)
        print(f"memory: {out['memory']}", file=sys.stderr)
    if "bombs" in cases:
        out["bombs"] = bombs_case()
        print(f"bombs: {out['bombs']}", file=sys.stderr)
    if "stops" in cases:
        rows = []
        for model in ("serial", "thread", "process", "async"):
            samples = [stops_case(model) for _ in range(args.runs)]
            values = [s["stop_to_end_s"] for s in samples if s["stop_to_end_s"] is not None]
            rows.append(
                {
                    "model": model,
                    "samples": samples,
                    "stop_to_end_s_median": statistics.median(values) if values else None,
                    "stop_to_end_s_max": max(values) if values else None,
                }
            )
            print(f"stops: {model}: {values}", file=sys.stderr)
        out["stops"] = rows
    # A run of some cases keeps the other cases' last figures.
    previous = RESULTS / "hostile.json"
    if previous.exists():
        kept = json.loads(previous.read_text())
        kept.pop("machine", None)
        out = {**kept, **out}
    print(f"wrote {write_results('hostile', out)}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

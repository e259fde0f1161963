"""The app as an instrument: its own CPU, its latencies, and what it costs the runs.

Everything here drives the real ``conc-tui`` in a real terminal (tmux) with the real
engine, and measures from the outside:

a. **CPU budget**: all three panes' runs live (loop mode, so they never end), 160x48
   (and part e: the same at 200x60, the lanes filling the taller screen),
   default refresh; the UI process's own CPU time (psutil, not its lab/runner/worker
   children) over a window, side by side with ``htop -d 1`` in a terminal of the
   same size during the same window.
b. **Event-rate scaling**: the Threads pane on the files workload with no extra I/O
   latency (many items, many telemetry events a second) against the same workload
   with 50 ms per read (about a tenth of the rate); the screen shows the same
   widgets either way. The rates are read off the screen (items done at the start
   and the end of the window).
c. **Latencies**: first frame after launch (tmux capture polling from the moment the
   session starts); a key press until the pane it selects is on screen; a worker's
   state change until its lane shows it. For the last one the bench serves the
   crawl itself: every page blocks until the bench releases it, so the moment a
   worker stops waiting for I/O is known, and tmux is polled until that lane's
   newest cell stops showing the I/O glyph.
d. **Speedup with the UI open**: the cpu workload under a process pool, serial
   baseline then pool, in the app (wall times read off the result lines) and
   headless (``conc-tui run --json``).

Run: ``python -m benchmarks.bench_ui`` (about 6 minutes; ``--quick`` for a smoke run).
Results go to ``benchmarks/results/ui.json``.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import psutil

from benchmarks.common import RESULTS, median, spread, write_results

COLS, ROWS = 160, 48
IO_GLYPH = "░"
PANE_MARKS = {"1": "Own tools: one process each", "2": "Shared tools, in shifts"}
"""Text only that pane's card shows: when it is on screen, the pane is."""


# -- tmux -------------------------------------------------------------------------------


class Term:
    """One detached tmux session running one command."""

    def __init__(self, name: str, command: list[str], cols: int = COLS, rows: int = ROWS) -> None:
        self.name = name
        subprocess.run(["tmux", "kill-session", "-t", name], capture_output=True)
        env_cmd = " ".join(_quote(part) for part in command)
        self.started = time.monotonic()
        subprocess.run(
            ["tmux", "new-session", "-d", "-s", name, "-x", str(cols), "-y", str(rows), env_cmd],
            check=True,
        )
        out = subprocess.run(
            ["tmux", "display", "-p", "-t", name, "#{pane_pid}"],
            check=True,
            capture_output=True,
            text=True,
        )
        self.pid = int(out.stdout.strip())

    def capture(self) -> str:
        return subprocess.run(
            ["tmux", "capture-pane", "-p", "-t", self.name], capture_output=True, text=True
        ).stdout

    def keys(self, *keys: str) -> None:
        for key in keys:
            subprocess.run(["tmux", "send-keys", "-t", self.name, key], check=True)
            time.sleep(0.15)

    def wait_for(self, test: Callable[[str], bool], limit_s: float, poll_s: float = 0.005) -> float:
        """Seconds until ``test(screen)`` holds (polling tmux); raises after ``limit_s``."""
        start = time.monotonic()
        while time.monotonic() - start < limit_s:
            if test(self.capture()):
                return time.monotonic() - start
            time.sleep(poll_s)
        raise TimeoutError(f"{self.name}: screen condition not met in {limit_s} s")

    def time_key(self, key: str, shows: str, limit_s: float = 3.0) -> float:
        """Seconds from sending ``key`` until ``shows`` is on the screen."""
        started = time.monotonic()
        subprocess.run(["tmux", "send-keys", "-t", self.name, key], check=True)
        self.wait_for(lambda screen: shows in screen, limit_s, poll_s=0.002)
        return time.monotonic() - started

    def close(self) -> None:
        subprocess.run(["tmux", "send-keys", "-t", self.name, "q"], capture_output=True)
        time.sleep(1.0)
        subprocess.run(["tmux", "kill-session", "-t", self.name], capture_output=True)


def _quote(part: str) -> str:
    return part if re.fullmatch(r"[\w./:=,-]+", part) else "'" + part.replace("'", "'\\''") + "'"


def app_command(*args: str) -> list[str]:
    return [sys.executable, "-m", "conc_tui", *args]


def ui_process(term: Term) -> psutil.Process:
    """The UI process itself (the pane's command), never its lab children."""
    proc = psutil.Process(term.pid)
    assert "lab" not in proc.cmdline()[-1:], proc.cmdline()
    return proc


def cpu_s(proc: psutil.Process) -> float:
    times = proc.cpu_times()
    return float(times.user + times.system)


def measure_cpu(procs: dict[str, psutil.Process], window_s: float) -> dict[str, float]:
    """Percent of one core each process used over the same window."""
    before = {name: cpu_s(p) for name, p in procs.items()}
    t0 = time.monotonic()
    time.sleep(window_s)
    wall = time.monotonic() - t0
    return {name: 100 * (cpu_s(p) - before[name]) / wall for name, p in procs.items()}


def items_done(screen: str) -> int:
    # "812/2000 items" for a fixed-size run, "11712 items" for a timed one.
    found = re.search(r"(\d+)(?:/\d+)? items", screen)
    return int(found.group(1)) if found else 0


# -- a: the CPU budget ---------------------------------------------------------------


def live_panes(screen: str) -> int:
    """How many panes the tab line marks as running."""
    lines = screen.splitlines()
    return lines[1].count("●") if len(lines) > 1 else 0


def all_panes_live(term: Term) -> None:
    """Loop mode and Space in every pane, ending on the Threads pane."""
    term.wait_for(lambda s: "READY" in s, 10)
    for pane in ("1", "3", "2"):
        term.keys(pane, "l", "space")
    # The first files run may generate its corpus: give it time.
    term.wait_for(lambda s: live_panes(s) == 3 and "RUNNING" in s, 180, poll_s=0.2)


def bench_cpu(window_s: float, cols: int = COLS, rows: int = ROWS) -> dict[str, float]:
    # Big inputs so that every run outlasts the window; loop mode covers the rest.
    app = Term("bench-ui-app", app_command("--items", "2000", "--max-pages", "5000"), cols, rows)
    top = Term("bench-ui-htop", ["htop", "-d", "1"], cols, rows)
    try:
        all_panes_live(app)
        time.sleep(2)
        procs = {"ui": ui_process(app), "htop": psutil.Process(top.pid)}
        before = {name: cpu_s(p) for name, p in procs.items()}
        t0 = time.monotonic()
        live: list[int] = []
        while time.monotonic() - t0 < window_s:
            time.sleep(1.0)
            live.append(live_panes(app.capture()))
        wall = time.monotonic() - t0
        shares = {name: 100 * (cpu_s(p) - before[name]) / wall for name, p in procs.items()}
        shares["panes_live_min"] = min(live)
        shares["panes_live_mean"] = sum(live) / len(live)
        return shares
    finally:
        app.close()
        top.close()


# -- b: event-rate scaling --------------------------------------------------------------


def bench_rate(window_s: float, io_latency_ms: float) -> dict[str, float]:
    term = Term(
        "bench-ui-rate",
        app_command("--items", "2000", "--io-latency", f"{io_latency_ms:g}"),
    )
    try:
        term.wait_for(lambda s: "READY" in s, 10)
        term.keys("2", "l", "space")
        term.wait_for(lambda s: "RUNNING" in s and items_done(s) > 0, 120, poll_s=0.1)
        time.sleep(2)
        proc = ui_process(term)
        # Loop mode restarts short runs inside the window, so the rate is the pane's
        # own throughput figure (items a second over the last second), sampled.
        rates: list[float] = []
        stop = threading.Event()

        def sample() -> None:
            while not stop.wait(0.5):
                found = re.search(r"items · ([\d.]+)/s", term.capture())
                if found:
                    rates.append(float(found.group(1)))

        sampler = threading.Thread(target=sample, daemon=True)
        sampler.start()
        share = measure_cpu({"ui": proc}, window_s)["ui"]
        stop.set()
        sampler.join()
        return {"ui_percent": share, "items_per_s": median(rates) if rates else 0.0}
    finally:
        term.close()


# -- c: latencies ---------------------------------------------------------------------


def bench_first_frame_from_launch() -> float:
    subprocess.run(["tmux", "kill-session", "-t", "bench-ui-first"], capture_output=True)
    t0 = time.monotonic()
    term = Term("bench-ui-first", app_command())
    try:
        term.wait_for(lambda s: "READY" in s and "Space" in s, 10, poll_s=0.002)
        return time.monotonic() - t0
    finally:
        term.close()


def bench_keys(presses: int) -> list[float]:
    """Seconds from sending a pane key until that pane's title is on screen."""
    term = Term("bench-ui-keys", app_command())
    out: list[float] = []
    try:
        term.wait_for(lambda s: "READY" in s, 10)
        for i in range(presses):
            key = "2" if i % 2 == 0 else "1"
            time.sleep(0.3)
            out.append(term.time_key(key, PANE_MARKS[key], 2))
        return out
    finally:
        term.close()


class HeldSite:
    """A site whose pages each block until the bench releases them, one at a time."""

    def __init__(self, pages: int) -> None:
        self.pages = pages
        self.gates = {f"/p{i}": threading.Event() for i in range(pages)}
        self.waiting: list[str] = []
        self.lock = threading.Lock()
        site = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                pass

            def do_GET(self) -> None:
                if self.path == "/":
                    links = "".join(f'<a href="/p{i}">p{i}</a>' for i in range(site.pages))
                    self._send(f"<html><body>{links}</body></html>")
                elif self.path in site.gates:
                    with site.lock:
                        site.waiting.append(self.path)
                    site.gates[self.path].wait(60)
                    self._send("<html><body>done</body></html>")
                else:
                    self.send_error(404)

            def _send(self, body: str) -> None:
                data = body.encode()
                self.send_response(200)
                self.send_header("Content-Type", "text/html")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}/"

    def release_one(self) -> float:
        with self.lock:
            path = self.waiting.pop(0)
        t0 = time.monotonic()
        self.gates[path].set()
        return t0

    def close(self) -> None:
        for gate in self.gates.values():
            gate.set()
        self.server.shutdown()


def waiting_lanes(screen: str) -> int:
    """Lanes of thread workers whose newest cell is the I/O-wait glyph."""
    count = 0
    for line in screen.splitlines():
        if not line.startswith("thread"):
            continue
        main = line.split("│")[0].rstrip()
        main = re.sub(r"\s*\d+$", "", main)
        if main.endswith(IO_GLYPH):
            count += 1
    return count


def bench_state_change(workers: int = 8) -> list[float]:
    """Seconds from a worker's I/O wait ending to its lane showing it."""
    site = HeldSite(workers)
    term = Term("bench-ui-state", app_command("--url", site.url))
    out: list[float] = []
    try:
        term.wait_for(lambda s: "READY" in s, 10)
        term.keys("2", "w", "space")  # Threads pane, files -> web, start
        term.wait_for(lambda s: waiting_lanes(s) == workers, 30, poll_s=0.05)
        for left in range(workers - 1, -1, -1):
            time.sleep(0.7)  # random phase against the 0.1 s snapshot period
            t0 = site.release_one()
            try:
                # The last release ends the run: FINISHED on screen shows that change
                # too (a finished lane keeps its last column's state, the I/O wait).
                def moved(screen: str, n: int = left) -> bool:
                    return waiting_lanes(screen) <= n or "FINISHED" in screen

                term.wait_for(moved, 3, poll_s=0.002)
            except TimeoutError:
                print(term.capture(), site.waiting, file=sys.stderr)
                raise
            out.append(time.monotonic() - t0)
        return out
    finally:
        term.close()
        site.close()


# -- d: speedup with the UI open -----------------------------------------------------------


def wall_on_screen(screen: str) -> float | None:
    found = re.search(r"finished in ([\d.]+) (ms|s)", screen)
    if not found:
        return None
    value = float(found.group(1))
    return value / 1000 if found.group(2) == "ms" else value


def speedup_in_app(items: int) -> float:
    # Fixed-size runs, as headless: a timed run's wall time is its duration, whatever
    # the model, so the walls would say nothing.
    term = Term("bench-ui-speed", app_command("--items", str(items), "--duration", "0"))
    try:
        term.wait_for(lambda s: "READY" in s, 10)
        term.keys("w", "w", "w")  # images -> files -> web -> cpu
        term.wait_for(lambda s: "· cpu" in s, 5)
        term.keys("b")
        term.wait_for(lambda s: "serial baseline recorded" in s, 300, poll_s=0.1)
        serial = wall_on_screen(term.capture())
        term.keys("space")
        term.wait_for(lambda s: "vs serial" in s, 300, poll_s=0.1)
        parallel = wall_on_screen(term.capture())
        assert serial and parallel
        return serial / parallel
    finally:
        term.close()


def speedup_headless(items: int) -> float:
    walls = {}
    for model, workers in (("serial", 1), ("process", os.cpu_count() or 1)):
        out = subprocess.run(
            [*app_command("run"), "--model", model, "--workload", "cpu"]
            + ["--workers", str(workers), "--items", str(items), "--json"],
            check=True,
            capture_output=True,
            text=True,
        )
        walls[model] = float(json.loads(out.stdout)["wall_s"])
    return walls["serial"] / walls["process"]


# -- main ----------------------------------------------------------------------------


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--window", type=float, default=20.0)
    parser.add_argument("--quick", action="store_true", help="one short run of each")
    parser.add_argument(
        "--parts", default="abcde", help="which measurements: a, b, c, d, e (a at 200x60)"
    )
    args = parser.parse_args()
    runs, window = (1, 5.0) if args.quick else (args.runs, args.window)
    for tool in ("tmux", "htop"):
        if shutil.which(tool) is None:
            print(f"bench_ui needs {tool} on PATH", file=sys.stderr)
            return 2

    results: dict[str, Any] = {"terminal": f"{COLS}x{ROWS}", "runs": runs, "window_s": window}
    previous = RESULTS / "ui.json"
    if args.parts != "abcde" and previous.exists():
        # Measuring some parts again keeps the others' figures.
        kept = json.loads(previous.read_text())
        kept.pop("machine", None)
        results.update(kept)
    if "a" in args.parts:
        results["a_cpu"] = measure_a(runs, window)
        log(f"a {results['a_cpu']}")
    if "e" in args.parts:
        results["e_cpu_200x60"] = measure_a(runs, window, 200, 60)
        log(f"e {results['e_cpu_200x60']}")
    if "b" in args.parts:
        results["b_rate"] = measure_b(runs, window)
        log(f"b {results['b_rate']}")
    if "c" in args.parts:
        results["c_latency"] = measure_c(runs, args.quick)
        log(f"c {results['c_latency']}")
    if "d" in args.parts:
        results["d_speedup"] = measure_d(runs, args.quick)
        log(f"d {results['d_speedup']}")
    path = write_results("ui", results)
    print(json.dumps(results, indent=2))
    log(f"wrote {path}")
    return 0


def log(text: str) -> None:
    print(f"bench_ui: {text}", file=sys.stderr, flush=True)


def measure_a(runs: int, window: float, cols: int = COLS, rows: int = ROWS) -> dict[str, Any]:
    cpu = [bench_cpu(window, cols, rows) for _ in range(runs)]
    ui = [c["ui"] for c in cpu]
    top = [c["htop"] for c in cpu]
    ratios = [c["ui"] / c["htop"] for c in cpu if c["htop"] > 0]
    return {
        "ui_percent_of_core_median": round(median(ui), 2),
        "ui_spread": spread(ui),
        "htop_d1_percent_median": round(median(top), 2),
        "htop_spread": spread(top),
        "ratio_ui_over_htop_median": round(median(ratios), 2),
        "panes_live_min": min(c["panes_live_min"] for c in cpu),
        "panes_live_mean": round(median([c["panes_live_mean"] for c in cpu]), 2),
        "budget_percent": 10,
    }


def measure_b(runs: int, window: float) -> dict[str, Any]:
    fast, slow = [], []
    for _ in range(runs):
        fast.append(bench_rate(window, 0))
        slow.append(bench_rate(window, 50))
    rate_ratio = median([f["items_per_s"] for f in fast]) / max(
        1e-9, median([s["items_per_s"] for s in slow])
    )
    cpu_ratio = median([f["ui_percent"] for f in fast]) / max(
        1e-9, median([s["ui_percent"] for s in slow])
    )
    return {
        "fast_items_per_s_median": round(median([f["items_per_s"] for f in fast]), 1),
        "slow_items_per_s_median": round(median([s["items_per_s"] for s in slow]), 1),
        "fast_ui_percent_median": round(median([f["ui_percent"] for f in fast]), 2),
        "slow_ui_percent_median": round(median([s["ui_percent"] for s in slow]), 2),
        "rate_ratio": round(rate_ratio, 1),
        "ui_cpu_ratio": round(cpu_ratio, 2),
        "budget_ratio": 1.2,
    }


def measure_c(runs: int, quick: bool) -> dict[str, Any]:
    first = [bench_first_frame_from_launch() for _ in range(max(3, runs))]
    keys = bench_keys(6 if quick else 20)
    states: list[float] = []
    for _ in range(runs):
        states.extend(bench_state_change())
    return {
        "first_frame_s_median": round(median(first), 3),
        "first_frame_spread": spread(first),
        "key_to_screen_ms_median": round(1000 * median(keys), 1),
        "key_to_screen_ms_max": round(1000 * max(keys), 1),
        "state_to_screen_ms_median": round(1000 * median(states), 1),
        "state_to_screen_ms_max": round(1000 * max(states), 1),
        "state_samples": len(states),
        "budgets_ms": {"first_frame": 1000, "key": 100, "state": 200},
    }


def measure_d(runs: int, quick: bool) -> dict[str, Any]:
    items = 8 if quick else 24
    in_app = [speedup_in_app(items) for _ in range(runs)]
    headless = [speedup_headless(items) for _ in range(runs)]
    return {
        "items": items,
        "workers": os.cpu_count(),
        "in_app_median": round(median(in_app), 3),
        "in_app_spread": spread(in_app),
        "headless_median": round(median(headless), 3),
        "headless_spread": spread(headless),
        "ratio": round(median(in_app) / median(headless), 3),
        "budget_ratio": 0.95,
    }


if __name__ == "__main__":
    sys.exit(main())

"""The three local workloads (images, cpu, files) on real inputs, kept small and fast."""

from __future__ import annotations

import hashlib
import io
import multiprocessing
import os
import pickle
import subprocess
import sys
import threading
import time
from collections import deque
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor, ThreadPoolExecutor
from pathlib import Path

import pytest
from fakes import LocalRecorder
from PIL import Image, ImageFilter

from conc_tui.config import WorkloadOptions
from conc_tui.paths import sample_images_dir
from conc_tui.telemetry.recorder import set_current_recorder
from conc_tui.telemetry.states import Event, EventKind, WorkerState
from conc_tui.workloads.base import Item, ItemResult, Workload, WorkloadError, checksum
from conc_tui.workloads.cpu import (
    BANDS,
    CENTRE,
    MAX_ITER,
    ROWS,
    SPAN,
    WIDTH,
    CpuWorkload,
    mandelbrot_band,
)
from conc_tui.workloads.files import FilesWorkload, corpus_dir, ensure_corpus
from conc_tui.workloads.filters import GIL_FRIENDLY
from conc_tui.workloads.images import ImagesWorkload

# As the app does: a fork server where there is one (never a fork of this
# multi-threaded test process), else spawn.
_MP = multiprocessing.get_context(
    "forkserver" if "forkserver" in multiprocessing.get_all_start_methods() else "spawn"
)


@pytest.fixture
def cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    path = tmp_path / "cache"
    monkeypatch.setenv("CONC_TUI_CACHE", str(path))
    return path


def _run_all(workload: Workload, work_dir: Path) -> list[ItemResult]:
    workload.prepare(work_dir)
    workload.attach()
    try:
        return [workload.run(item) for item in workload.initial_items()]
    finally:
        workload.detach()


def _attach_and_run(workload: Workload, item: Item) -> tuple[int, ItemResult]:
    """Runs in a pool worker process, as the process model will."""
    workload.attach()
    try:
        return os.getpid(), workload.run(item)
    finally:
        workload.detach()


def _save(image: Image.Image, path: Path, fmt: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    image.save(path, fmt)


def _small_image(seed: int, mode: str = "RGB") -> Image.Image:
    data = hashlib.sha256(str(seed).encode()).digest() * (64 * 48 * 4 // 32)
    return Image.frombytes("RGBA", (64, 48), data).convert(mode)


# --- images ---------------------------------------------------------------------------


def test_images_default_samples_are_processed_deterministically(tmp_path: Path) -> None:
    options = WorkloadOptions(items=3, filter="contour")
    first = _run_all(ImagesWorkload(options), tmp_path / "a")
    second = _run_all(ImagesWorkload(options), tmp_path / "b")
    assert [r.key for r in first] == ["0000-sample-0.jpg", "0001-sample-1.jpg", "0002-sample-2.jpg"]
    assert [r.digest for r in first] == [r.digest for r in second]
    assert len({r.digest for r in first}) == 3
    outputs = sorted((tmp_path / "a" / "images-out").iterdir())
    assert len(outputs) == 3
    for result, path in zip(first, outputs, strict=True):
        data = path.read_bytes()
        assert hashlib.sha256(data).hexdigest() == result.digest
        with Image.open(path) as image:
            assert image.format == "JPEG"
            assert image.size == (1440, 1080)
            image.verify()
        assert result.size > 100_000  # the input's bytes: a real ~2 MP sample


def test_images_digest_is_the_same_in_another_process(tmp_path: Path) -> None:
    workload = ImagesWorkload(WorkloadOptions(items=1, filter="sharpen"))
    workload.prepare(tmp_path)
    item = workload.initial_items()[0]
    here = workload.run(item)
    with ProcessPoolExecutor(1, mp_context=_MP) as pool:
        pid, there = pool.submit(_attach_and_run, workload, item).result(timeout=60)
    assert pid != os.getpid()
    assert there.digest == here.digest


def test_images_user_folder_skips_other_files_and_fails_only_corrupt_ones(
    tmp_path: Path,
) -> None:
    folder = tmp_path / "pics"
    _save(_small_image(1), folder / "a.jpg", "JPEG")
    _save(_small_image(2, "RGBA"), folder / "nested" / "b.png", "PNG")
    _save(_small_image(3), folder / "nested" / "deeper" / "c.webp", "WEBP")
    _save(_small_image(4), folder / "d.bmp", "BMP")  # a real image, but not accepted
    (folder / "notes.txt").write_text("not an image")
    (folder / "fake.jpg").write_text("not a jpeg either")
    png = io.BytesIO()
    _small_image(5).save(png, "PNG")
    (folder / "broken.png").write_bytes(png.getvalue()[:120])  # valid header, no pixels

    workload = ImagesWorkload(WorkloadOptions(images=str(folder), filter="blur"))
    workload.prepare(tmp_path / "run")
    keys = [item.key for item in workload.initial_items()]
    assert keys == ["a.jpg", "broken.png", "nested/b.png", "nested/deeper/c.webp"]
    assert workload.skipped == 3
    assert "4 images from" in workload.describe()
    assert "(3 other files skipped)" in workload.describe()

    outcomes: dict[str, str] = {}
    for item in workload.initial_items():
        try:
            outcomes[item.key] = workload.run(item).digest
        except ValueError as exc:
            outcomes[item.key] = f"error: {exc}"
    assert outcomes["broken.png"].startswith("error: cannot decode broken.png")
    assert all(len(outcomes[k]) == 64 for k in keys if k != "broken.png")
    assert len(list((tmp_path / "run" / "images-out").glob("*.jpg"))) == 3


def test_images_bad_folders_raise_one_clear_sentence(tmp_path: Path) -> None:
    (tmp_path / "only-text").mkdir()
    (tmp_path / "only-text" / "readme.md").write_text("hello")
    (tmp_path / "file.jpg").write_text("x")
    cases = {
        str(tmp_path / "missing"): "does not exist",
        str(tmp_path / "file.jpg"): "must be a folder",
        str(tmp_path / "only-text"): "has no JPEG, PNG or WebP images",
    }
    for folder, message in cases.items():
        with pytest.raises(WorkloadError, match=message):
            ImagesWorkload(WorkloadOptions(images=folder)).prepare(tmp_path / "run")


def _stall_share(step: Callable[[], object]) -> float:
    """Longest time a pure-Python thread could not run during ``step()``, as a share of it."""
    stamps: list[float] = []
    stop = threading.Event()

    def ticker() -> None:
        while not stop.is_set():
            stamps.append(time.perf_counter())

    thread = threading.Thread(target=ticker)
    thread.start()
    time.sleep(0.01)
    t0 = time.perf_counter()
    step()
    t1 = time.perf_counter()
    stop.set()
    thread.join()
    points = [t0, *(s for s in stamps if t0 <= s <= t1), t1]
    return max(b - a for a, b in zip(points, points[1:], strict=False)) / (t1 - t0)


def test_gil_friendly_matches_what_pillow_does() -> None:
    # The two extremes the app teaches with: median holds the GIL, blur lets go. One
    # band, so the median runs as one C call (on RGB it runs once per band).
    assert GIL_FRIENDLY["median"] is False
    assert GIL_FRIENDLY["blur"] is True
    with Image.open(sample_images_dir() / "sample-0.jpg") as opened:
        image = opened.convert("L")
    old = sys.getswitchinterval()
    sys.setswitchinterval(0.001)
    try:
        median = _stall_share(lambda: image.filter(ImageFilter.MedianFilter(3)))
        blur = _stall_share(lambda: image.filter(ImageFilter.GaussianBlur(6)))
    finally:
        sys.setswitchinterval(old)
    assert median > 0.8, f"median let other threads run ({median:.0%} of the call stalled)"
    assert blur < 0.5, f"blur stalled other threads for {blur:.0%} of the call"


# --- cpu ------------------------------------------------------------------------------


def test_cpu_bands_are_deterministic_and_cycle(tmp_path: Path) -> None:
    workload = CpuWorkload(WorkloadOptions(items=BANDS + 1))
    items = workload.initial_items()
    assert len(items) == BANDS + 1 and workload.total_items() == BANDS + 1
    first = workload.run(items[0])
    again = CpuWorkload(WorkloadOptions(items=2)).run(items[0])
    wrapped = workload.run(items[BANDS])  # the first band again, under another key
    assert first.digest == again.digest == wrapped.digest
    assert first.key != wrapped.key
    assert workload.run(items[1]).digest != first.digest
    assert first.size == 2 * len(mandelbrot_band(0))


def test_cpu_band_has_both_escaping_and_bounded_points() -> None:
    counts = mandelbrot_band(BANDS // 2)
    assert max(counts) == MAX_ITER  # inside the set
    assert min(counts) < 50  # escaped quickly
    # Pixels recomputed with complex numbers, apart from the kernel's unrolled floats.
    step = SPAN / WIDTH
    x0, y0 = CENTRE[0] - SPAN / 2, CENTRE[1] - step * ROWS * BANDS / 2
    for i in range(0, len(counts), 97):
        row, col = BANDS // 2 * ROWS + i // WIDTH, i % WIDTH
        c = complex(x0 + col * step, y0 + row * step)
        z, n = 0j, 0
        while n < MAX_ITER and z.real * z.real + z.imag * z.imag <= 4.0:
            z, n = z * z + c, n + 1
        assert counts[i] == n, (row, col)


# --- files ----------------------------------------------------------------------------


def test_corpus_is_generated_once_and_deterministically(cache: Path, tmp_path: Path) -> None:
    path = ensure_corpus(20)
    assert path == corpus_dir(20) and path.parent == cache
    files = sorted(p for p in path.rglob("*") if p.is_file())
    assert len(files) == 20
    sizes = [p.stat().st_size for p in files]
    assert min(sizes) >= 1000 and len(set(sizes)) == 20
    stamp = files[0].stat().st_mtime_ns
    assert ensure_corpus(20) == path
    assert files[0].stat().st_mtime_ns == stamp  # reused, not regenerated
    assert not [p for p in cache.iterdir() if p.name.startswith(".")]  # no temp left over

    os.environ["CONC_TUI_CACHE"] = str(tmp_path / "other-cache")
    other = ensure_corpus(20)
    assert other != path
    for a, b in zip(files, sorted(p for p in other.rglob("*") if p.is_file()), strict=True):
        assert a.read_bytes() == b.read_bytes()


def test_files_default_corpus_run_logs_one_line_per_file(cache: Path, tmp_path: Path) -> None:
    options = WorkloadOptions(items=20)
    workload = FilesWorkload(options)
    first = _run_all(workload, tmp_path / "a")
    second = _run_all(FilesWorkload(options), tmp_path / "b")
    assert len(first) == 20 and all(r.ok for r in first)
    assert checksum(first) == checksum(second)
    for item, result in zip(workload.initial_items(), first, strict=True):
        data = Path(item.payload).read_bytes()
        assert result.digest == hashlib.sha256(data).hexdigest()
        assert result.size == len(data)
    lines = (tmp_path / "a" / "files.log").read_text().splitlines()
    assert len(lines) == 20
    assert all(f"pid={os.getpid()}" in line for line in lines)
    assert {line.split()[4] for line in lines} == {r.key for r in first}
    assert "20 files from the generated corpus" in workload.describe()


def test_files_latency_is_a_recorded_io_wait(cache: Path, tmp_path: Path) -> None:
    workload = FilesWorkload(WorkloadOptions(items=20, io_latency_ms=20))
    workload.prepare(tmp_path)
    assert "with 20 ms simulated latency per read" in workload.describe()
    sink: deque[Event] = deque()
    recorder = LocalRecorder(3, sink.append)
    set_current_recorder(recorder)
    recorder.state(WorkerState.RUNNING)
    workload.attach()
    try:
        workload.run(workload.initial_items()[0])
        events = list(sink)  # before detach: closing the handler takes its lock too
    finally:
        workload.detach()
    states = [(e[0], e[3]) for e in events if e[2] == EventKind.STATE]
    assert [s for _, s in states] == [WorkerState.RUNNING, WorkerState.WAIT_IO, WorkerState.RUNNING]
    assert states[2][0] - states[1][0] >= 20_000_000
    # The log write took the handler lock once (emit's inner flush re-enters silently).
    kinds = [e[2] for e in events if e[2] != EventKind.STATE]
    assert kinds == [EventKind.LOCK_ACQUIRED, EventKind.LOCK_RELEASED]


def test_files_user_folder_stays_inside_and_fails_only_unreadable_items(
    tmp_path: Path,
) -> None:
    folder = tmp_path / "docs"
    (folder / "sub" / "deeper").mkdir(parents=True)
    (folder / "a.txt").write_text("one two\nthree\n")
    (folder / "sub" / "b.txt").write_text("four five six")
    (folder / "sub" / "deeper" / "c.log").write_bytes(b"\x00\x01 binary too\n")
    (folder / "gone.txt").write_text("deleted after listing")
    (folder / "dir-named.txt").mkdir()  # a folder named like a file is not a file
    secret = tmp_path / "secret.txt"
    secret.write_text("outside")
    (folder / "escape.txt").symlink_to(secret)
    (folder / "sub" / "outside-dir").symlink_to(tmp_path, target_is_directory=True)
    (folder / "alias.txt").symlink_to(folder / "a.txt")  # inside: same file, listed once

    workload = FilesWorkload(WorkloadOptions(files=str(folder)))
    workload.prepare(tmp_path / "run")
    keys = [item.key for item in workload.initial_items()]
    assert keys == ["a.txt", "gone.txt", "sub/b.txt", "sub/deeper/c.log"]
    assert workload.skipped == 1
    (folder / "gone.txt").unlink()

    results, errors = {}, {}
    workload.attach()
    try:
        for item in workload.initial_items():
            try:
                results[item.key] = workload.run(item)
            except OSError as exc:
                errors[item.key] = str(exc)
    finally:
        workload.detach()
    assert set(results) == {"a.txt", "sub/b.txt", "sub/deeper/c.log"}
    assert "cannot read gone.txt" in errors["gone.txt"]
    assert results["a.txt"].digest == hashlib.sha256(b"one two\nthree\n").hexdigest()
    log = (tmp_path / "run" / "files.log").read_text().splitlines()
    assert len(log) == 4  # one line per file, the failure included
    assert "a.txt bytes=14 lines=2 words=3" in log[0]
    assert "FAILED gone.txt" in log[1]
    assert not any("outside" in line for line in log)


def test_files_bad_folders_raise_one_clear_sentence(tmp_path: Path) -> None:
    (tmp_path / "empty" / "nothing-here").mkdir(parents=True)
    (tmp_path / "plain.txt").write_text("x")
    cases = {
        str(tmp_path / "missing"): "does not exist",
        str(tmp_path / "plain.txt"): "must be a folder",
        str(tmp_path / "empty"): "contains no readable files",
    }
    for folder, message in cases.items():
        with pytest.raises(WorkloadError, match=message):
            FilesWorkload(WorkloadOptions(files=folder)).prepare(tmp_path / "run")


def test_files_workload_pickles_after_attach_and_logs_from_another_process(
    cache: Path, tmp_path: Path
) -> None:
    workload = FilesWorkload(WorkloadOptions(items=20))
    workload.prepare(tmp_path)
    workload.attach()
    try:
        copy = pickle.loads(pickle.dumps(workload))
        assert copy._handler is None and workload._handler is not None
        items = workload.initial_items()
        here = workload.run(items[0])
        with ProcessPoolExecutor(1, mp_context=_MP) as pool:
            pid, there = pool.submit(_attach_and_run, workload, items[1]).result(timeout=60)
    finally:
        workload.detach()
    assert there.ok and there.digest != here.digest
    lines = (tmp_path / "files.log").read_text().splitlines()
    assert len(lines) == 2
    assert {f"pid={os.getpid()}", f"pid={pid}"} == {line.split()[2] for line in lines}


# --- the engine rule ------------------------------------------------------------------


def test_local_workloads_import_no_textual() -> None:
    code = (
        "import sys, conc_tui.workloads.images, conc_tui.workloads.cpu, "
        "conc_tui.workloads.files, conc_tui.telemetry.lock; "
        "sys.exit(any(m.split('.')[0] == 'textual' for m in sys.modules))"
    )
    assert subprocess.run([sys.executable, "-c", code], check=False).returncode == 0


def test_corpus_generated_by_two_at_once_ends_up_whole(cache: Path) -> None:
    with ThreadPoolExecutor(2) as pool:
        paths = list(pool.map(ensure_corpus, [20, 20]))
    assert paths[0] == paths[1]
    assert len([p for p in paths[0].rglob("*") if p.is_file()]) == 20
    assert [p.name for p in cache.iterdir()] == [paths[0].name]  # the loser's copy is gone

"""Hostile inputs and faults (issue #10, sections 2, 3, 4 and 6), each reproduced for real.

Escape sequences in file names, image bombs, names that are not UTF-8, folders nested
deeper than Python's recursion limit, huge files, read-only and full disks, Ctrl+C
while the corpus is generated. Full disks are real: a 2 MB tmpfs mounted for the test
(needs root; the test is skipped otherwise).
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import io
import json
import os
import signal
import struct
import subprocess
import sys
import time
import warnings
import zlib
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from fakes import FakeController
from PIL import Image, ImageOps

from conc_tui.config import RunConfig, WorkloadOptions
from conc_tui.engine import execute
from conc_tui.printable import printable
from conc_tui.report import format_run, run_document
from conc_tui.telemetry.snapshot import Phase, RunResult, Snapshot
from conc_tui.workloads import files as files_module
from conc_tui.workloads.base import Item, ItemResult, checksum
from conc_tui.workloads.files import (
    FilesWorkload,
    corpus_dir,
    count_chunks,
    ensure_corpus,
    list_files_under,
)
from conc_tui.workloads.images import (
    BYTES_PER_PIXEL,
    MIN_PIXEL_BUDGET,
    PILLOW_PIXEL_LIMIT,
    ImagesWorkload,
    pixel_budget,
    process_image,
)

REPO = Path(__file__).resolve().parent.parent
HOSTILE = "e\033[2J\033]0;PWNED\007"
"""Clears the screen and renames the terminal when printed raw."""
CONTROLS = {chr(c) for c in range(32)} - {"\n"} | {"\x7f"} | {chr(c) for c in range(0x80, 0xA0)}


def _cli(
    *args: str, env: dict[str, str] | None = None, timeout: float = 120
) -> subprocess.CompletedProcess[str]:
    full_env = {**os.environ, "PYTHONPATH": str(REPO), **(env or {})}
    return subprocess.run(
        [sys.executable, "-m", "conc_tui", *args],
        capture_output=True,
        text=True,
        errors="surrogateescape",
        cwd=REPO,
        env=full_env,
        timeout=timeout,
    )


def _no_controls(text: str) -> bool:
    return not (set(text) & CONTROLS)


def _jpeg(path: Path, size: tuple[int, int] = (64, 48), exif: bytes | None = None) -> None:
    image = Image.new("RGB", size)
    # Left half red, right half blue: orientation shows in where the colours end up.
    image.paste((255, 0, 0), (0, 0, size[0] // 2, size[1]))
    image.paste((0, 0, 255), (size[0] // 2, 0, size[0], size[1]))
    path.parent.mkdir(parents=True, exist_ok=True)
    if exif is None:
        image.save(path, "JPEG")
    else:
        image.save(path, "JPEG", exif=exif)


def _png_header_only(path: Path, width: int, height: int) -> None:
    """A PNG that claims ``width`` x ``height`` pixels (its pixels are never needed)."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return (
            struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
        )

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    idat = zlib.compress(b"\0" * (1 + 3 * min(width, 4096)))
    path.write_bytes(
        b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", idat) + chunk(b"IEND", b"")
    )


def _broken_png(path: Path) -> None:
    data = io.BytesIO()
    Image.new("RGB", (32, 32), (9, 9, 9)).save(data, "PNG")
    path.write_bytes(data.getvalue()[:60])  # a valid header, no pixels: fails to decode


@pytest.fixture
def tiny_tmpfs(tmp_path: Path) -> Iterator[Path]:
    """A real 2 MB filesystem, to fill up; skipped where mounting is not allowed."""
    mount_point = tmp_path / "tiny"
    mount_point.mkdir()
    if os.geteuid() != 0:
        pytest.skip("mounting a tmpfs needs root")
    done = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=2m", "tmpfs", str(mount_point)],
        capture_output=True,
        check=False,
    )
    if done.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {done.stderr.decode().strip()}")
    try:
        yield mount_point
    finally:
        subprocess.run(["umount", "-l", str(mount_point)], check=False)


# --- 2. terminal escape injection ----------------------------------------------------------


def test_printable_escapes_controls_visibly_and_keeps_real_text() -> None:
    assert printable(HOSTILE) == "e\\x1b[2J\\x1b]0;PWNED\\x07"
    assert printable("caf\udcff.txt") == "caf\\xff.txt"  # a byte that is not UTF-8
    assert printable("line\nbreak\ttab\x9b\u202e") == "line\\nbreak\\ttab\\x9b\\u202e"
    kept = "plain ascii, été, 日本語, emoji 🎉, [bold]markup[/bold]"
    assert printable(kept) == kept


def test_cli_run_with_an_escape_named_file_prints_it_escaped(tmp_path: Path) -> None:
    folder = tmp_path / "pics"
    _jpeg(folder / "good.jpg")
    _broken_png(folder / f"{HOSTILE}.png")
    text = _cli("run", "--model", "serial", "--workload", "images", "--images", str(folder))
    assert "e\\x1b[2J\\x1b]0;PWNED\\x07.png" in text.stdout
    assert _no_controls(text.stdout) and _no_controls(text.stderr)
    as_json = _cli(
        "run", "--model", "serial", "--workload", "images", "--images", str(folder), "--json"
    )
    document = json.loads(as_json.stdout)
    assert [key for key, _reason in document["failures"]] == [f"{HOSTILE}.png"]  # exact
    assert _no_controls(as_json.stdout)


def test_text_report_escapes_every_outside_field_and_json_keeps_them_exact() -> None:
    result = RunResult(
        model="serial",
        workload="files",
        workers=1,
        wall_s=1.0,
        items_done=1,
        items_failed=1,
        checksum="0" * 16,
        throughput=1.0,
        bytes_processed=1,
        cpu_s=0.1,
        mean_cores_busy=0.1,
        peak_rss_bytes=1,
        startup_s=None,
        status="failed",
        reason=f"server said {HOSTILE}",
        failures=((HOSTILE, f"cannot read {HOSTILE}: Input/output error"),),
        input=f"2 files from /tmp/{HOSTILE}",
    )
    text = format_run(result)
    assert _no_controls(text)
    assert text.count("\\x1b]0;PWNED\\x07") == 4
    assert json.loads(json.dumps(run_document(result)))["failures"][0][0] == HOSTILE


def test_app_panels_show_outside_text_escaped() -> None:
    from conc_tui.widgets.panels import failure_line, result_line

    result = RunResult(
        model="thread",
        workload="files",
        workers=2,
        wall_s=1.0,
        items_done=0,
        items_failed=1,
        checksum="",
        throughput=0.0,
        bytes_processed=0,
        cpu_s=0.0,
        mean_cores_busy=0.0,
        peak_rss_bytes=0,
        startup_s=None,
        status="failed",
        reason=f"every item failed; {HOSTILE}",
    )
    snapshot = Snapshot(
        model="thread",
        workload="files",
        workers=2,
        phase=Phase.FAILED,
        elapsed_s=1.0,
        items_total=1,
        items_done=0,
        items_failed=1,
        throughput=0.0,
        column_s=0.1,
        result=result,
        message=HOSTILE,
        failures=((HOSTILE, f"cannot read {HOSTILE}"),),
    )
    for line in (failure_line(snapshot), result_line(snapshot, None)):
        assert _no_controls(line.plain)
        assert "\\x1b]0;PWNED\\x07" in line.plain
    running = Snapshot(**{**snapshot.__dict__, "phase": Phase.RUNNING, "result": None})
    assert _no_controls(result_line(running, None).plain)


# --- 3. one bad item fails one item -------------------------------------------------------


def test_image_bomb_fails_its_item_and_the_good_image_is_processed(tmp_path: Path) -> None:
    folder = tmp_path / "pics"
    _jpeg(folder / "good.jpg")
    _png_header_only(folder / "bomb.png", 30000, 30000)  # Pillow refuses to open it
    _png_header_only(folder / "big.png", 12000, 12000)  # Pillow warns, then decodes 1.2 GB
    run = _cli(
        "run",
        "--model",
        "thread",
        "--workers",
        "2",
        "--workload",
        "images",
        "--images",
        str(folder),
        "--json",
    )
    assert run.returncode == 0, run.stderr
    assert run.stderr == ""  # no traceback, no DecompressionBombWarning
    document = json.loads(run.stdout)
    assert document["items_done"] == 1 and document["items_failed"] == 2
    reasons = dict(document["failures"])
    assert set(reasons) == {"bomb.png", "big.png"}
    assert "30000x30000" in reasons["bomb.png"] and "pixel budget" in reasons["bomb.png"]
    assert "12000x12000" in reasons["big.png"]


def test_pixel_budget_follows_memory_and_workers() -> None:
    gib = 1024**3
    # A quarter of the available memory, shared by the workers, at 12 bytes a pixel,
    # and never beyond Pillow's own limit.
    assert BYTES_PER_PIXEL == 12
    assert pixel_budget(workers=2, available_bytes=2 * gib) == 2 * gib // 4 // 2 // 12
    assert pixel_budget(workers=4, available_bytes=2 * gib) == 2 * gib // 4 // 4 // 12
    assert pixel_budget(workers=8, available_bytes=gib // 2) == MIN_PIXEL_BUDGET == 4_000_000
    assert pixel_budget(workers=1, available_bytes=1024 * gib) == PILLOW_PIXEL_LIMIT


def test_image_over_the_budget_fails_with_a_clear_reason(tmp_path: Path) -> None:
    folder = tmp_path / "pics"
    _jpeg(folder / "a.jpg", (300, 200))
    workload = ImagesWorkload(WorkloadOptions(images=str(folder), filter="contour"))
    workload.prepare(tmp_path / "run")
    workload.pixel_budget = 300 * 200 - 1
    with pytest.raises(ValueError, match=r"a.jpg is 300x200 pixels, over the pixel budget"):
        workload.run(workload.initial_items()[0])
    workload.pixel_budget = 300 * 200
    assert workload.run(workload.initial_items()[0]).ok


def test_exif_orientation_is_honoured(tmp_path: Path) -> None:
    exif = Image.Exif()
    exif[0x0112] = 6  # stored landscape, shown rotated 90° clockwise: portrait
    _jpeg(tmp_path / "rotated.jpg", (400, 200), exif=exif.tobytes())
    encoded = process_image((tmp_path / "rotated.jpg").read_bytes(), "blur")
    with Image.open(io.BytesIO(encoded)) as image:
        assert image.size == (540, 1080)
        rgb = image.convert("RGB")
        # The stored left (red) half is on top once rotated clockwise.
        top, bottom = rgb.getpixel((270, 100)), rgb.getpixel((270, 980))
    assert isinstance(top, tuple) and isinstance(bottom, tuple)
    assert top[0] > 150 > top[2] and bottom[2] > 150 > bottom[0]


_QUADRANTS = [(255, 0, 0), (0, 255, 0), (0, 0, 255), (255, 255, 0)]


@pytest.mark.parametrize("orientation", range(1, 9))
def test_every_exif_orientation_matches_pillows_exif_transpose(orientation: int) -> None:
    stored = Image.new("RGB", (400, 200))
    for i, colour in enumerate(_QUADRANTS):
        stored.paste(
            colour, ((i % 2) * 200, (i // 2) * 100, (i % 2) * 200 + 200, (i // 2) * 100 + 100)
        )
    exif = Image.Exif()
    exif[0x0112] = orientation
    data = io.BytesIO()
    stored.save(data, "JPEG", quality=95, exif=exif.tobytes())
    with Image.open(io.BytesIO(data.getvalue())) as reference_source:
        upright = ImageOps.exif_transpose(reference_source)
    with Image.open(io.BytesIO(process_image(data.getvalue(), "blur"))) as ours:
        assert ours.size == _fit_to_box(upright.size)
        scale_x, scale_y = ours.width / upright.width, ours.height / upright.height
        for fx, fy in [(0.25, 0.25), (0.75, 0.25), (0.25, 0.75), (0.75, 0.75)]:
            want = upright.getpixel((int(fx * upright.width), int(fy * upright.height)))
            got = ours.getpixel(
                (int(fx * upright.width * scale_x), int(fy * upright.height * scale_y))
            )
            assert isinstance(want, tuple) and isinstance(got, tuple)
            assert all(abs(a - b) < 60 for a, b in zip(want, got, strict=True)), (fx, fy, want, got)


def _fit_to_box(size: tuple[int, int]) -> tuple[int, int]:
    scale = min(1440 / size[0], 1080 / size[1])
    return round(size[0] * scale), round(size[1] * scale)


def test_names_that_are_not_utf8_work_in_files_and_images(tmp_path: Path) -> None:
    folder = tmp_path / "odd"
    folder.mkdir()
    (folder / os.fsdecode(b"caf\xff.txt")).write_text("some words\n")
    (folder / "plain.txt").write_text("more words\n")
    _jpeg(tmp_path / "pics" / os.fsdecode(b"\xffimage.jpg"))
    files = _cli("run", "--model", "thread", "--workload", "files", "--files", str(folder))
    assert files.returncode == 0, files.stderr
    assert "Logging error" not in files.stderr and files.stderr == ""
    assert "2 done, 0 failed" in files.stdout
    images = _cli(
        "run", "--model", "serial", "--workload", "images", "--images", str(tmp_path / "pics")
    )
    assert images.returncode == 0, images.stderr
    assert "1 done, 0 failed" in images.stdout
    # The checksum of names that are UTF-8 is what it always was.
    plain = ItemResult(index=0, key="plain.txt", ok=True, digest="ab")
    odd = ItemResult(index=1, key=os.fsdecode(b"caf\xff.txt"), ok=True, digest="cd")
    assert checksum([plain]) == hashlib.sha256(b"plain.txt\0ab\n").hexdigest()[:16]
    assert len(checksum([plain, odd])) == 16


def test_image_with_the_longest_file_name_is_written(tmp_path: Path) -> None:
    folder = tmp_path / "pics"
    _jpeg(folder / ("é" * 125 + ".jpg"))  # 254 bytes: the most a name may have
    workload = ImagesWorkload(WorkloadOptions(images=str(folder), filter="contour"))
    workload.prepare(tmp_path / "run")
    assert workload.run(workload.initial_items()[0]).ok


def test_file_far_larger_than_any_image_in_the_budget_fails_before_it_is_read(
    tmp_path: Path,
) -> None:
    folder = tmp_path / "pics"
    _jpeg(folder / "a.jpg")
    with open(folder / "a.jpg", "ab") as handle:
        handle.truncate(64 * 1024 * 1024)  # a valid header, then 64 MB of nothing
    workload = ImagesWorkload(WorkloadOptions(images=str(folder)))
    workload.prepare(tmp_path / "run")
    workload.pixel_budget = 1_000_000
    with pytest.raises(ValueError, match="a.jpg is a 64 MiB file, larger than any image"):
        workload.run(workload.initial_items()[0])


def test_walk_survives_folders_nested_deeper_than_the_recursion_limit(tmp_path: Path) -> None:
    deep = tmp_path / "deep"
    path = deep
    deep.mkdir()
    for _ in range(1200):  # one level at a time: os.makedirs itself recurses
        path = path / "d"
        path.mkdir()
    (path / "bottom.txt").write_text("down here\n")
    (deep / "top.txt").write_text("up here\n")
    try:
        listing = list_files_under(deep)
        assert [p.name for p in listing.files] == ["bottom.txt", "top.txt"]
        assert listing.outside == 0 and listing.unreadable_folders == 0
    finally:
        # pytest's own clean-up (shutil.rmtree) recurses and would fail on this tree.
        (path / "bottom.txt").unlink()
        while path != deep:
            path.rmdir()
            path = path.parent


def test_unreadable_subfolders_are_counted_and_reported(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    folder = tmp_path / "docs"
    (folder / "open").mkdir(parents=True)
    (folder / "locked").mkdir()
    (folder / "open" / "a.txt").write_text("a\n")
    (folder / "locked" / "b.txt").write_text("b\n")
    (folder / "locked").chmod(0)
    # Root reads any folder whatever its mode, so as root the refusal is injected at
    # the system call the walk makes, with the error the kernel would give.
    real_scandir = os.scandir

    def scandir(path: str) -> object:
        if os.geteuid() == 0 and Path(path).name == "locked":
            raise PermissionError(13, "Permission denied", path)
        return real_scandir(path)

    monkeypatch.setattr(files_module.os, "scandir", scandir)
    try:
        workload = FilesWorkload(WorkloadOptions(files=str(folder)))
        workload.prepare(tmp_path / "run")
    finally:
        (folder / "locked").chmod(0o755)
    assert [item.key for item in workload.initial_items()] == ["open/a.txt"]
    assert "1 unreadable folder skipped" in workload.describe()


def test_a_run_where_every_item_failed_is_failed_and_exits_1(tmp_path: Path) -> None:
    folder = tmp_path / "pics"
    folder.mkdir()
    _broken_png(folder / "a.png")
    _broken_png(folder / "b.png")
    config = RunConfig("serial", "images", 1, WorkloadOptions(images=str(folder)))
    result = execute(config)
    assert result.status == "failed"
    assert result.reason.startswith("every item failed (2 of 2)")
    run = _cli("run", "--model", "serial", "--workload", "images", "--images", str(folder))
    assert run.returncode == 1
    assert ": failed" in run.stdout.splitlines()[0]


# --- 4. bounded memory ---------------------------------------------------------------------

_TRICKY = [
    b"",
    b"\n",
    b"one",
    b"one two",
    b"  lead and trail  ",
    b"a\nb\n\nc",
    b"x\ty\r\nz\x0b w\x0cv",
    b"word" * 7 + b" " + b"\n" * 3 + b"tail",
    bytes(range(256)) * 3,
]


@pytest.mark.parametrize("data", _TRICKY)
def test_chunked_counts_match_whole_file_counts_on_every_boundary(data: bytes) -> None:
    whole_lines = data.count(b"\n") + (1 if data and not data.endswith(b"\n") else 0)
    whole = (len(data), whole_lines, len(data.split()))
    for size in range(1, max(2, len(data) + 2)):
        chunks = [data[i : i + size] for i in range(0, len(data), size)]
        assert count_chunks(chunks) == whole, (data, size)


def test_files_digest_and_counts_are_unchanged_by_chunking(tmp_path: Path) -> None:
    folder = tmp_path / "docs"
    folder.mkdir()
    data = b"alpha beta\n" * 300_000 + b"gamma"  # 3.3 MB: several chunks
    (folder / "big.txt").write_bytes(data)
    workload = FilesWorkload(WorkloadOptions(files=str(folder)))
    workload.prepare(tmp_path / "run")
    workload.attach()
    try:
        result = workload.run(workload.initial_items()[0])
    finally:
        workload.detach()
    assert result.digest == hashlib.sha256(data).hexdigest() and result.size == len(data)
    log = (tmp_path / "run" / "files.log").read_text()
    assert f"bytes={len(data)} lines=300001 words=600001" in log


_PEAK_RSS = """
import sys
from pathlib import Path


def status_kib(field):
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    raise SystemExit("no " + field)


def reset_peak():
    # ru_maxrss is no good here: a child starts with its parent's peak (pytest's, after
    # hundreds of tests). Writing 5 to clear_refs resets this process's VmHWM instead.
    Path("/proc/self/clear_refs").write_text("5")
    return status_kib("VmRSS")
"""

_MEASURE_FILE = (
    _PEAK_RSS
    + """
from conc_tui.config import WorkloadOptions
from conc_tui.workloads.files import FilesWorkload
w = FilesWorkload(WorkloadOptions(files=sys.argv[1]))
w.prepare(Path(sys.argv[2]))
w.attach()
start = reset_peak()
result = w.run(w.initial_items()[0])
print(result.size, status_kib("VmHWM") - start)
"""
)


def _measure(script: str, *args: str) -> list[int]:
    if not Path("/proc/self/clear_refs").exists():
        pytest.skip("needs Linux's /proc/self/clear_refs to measure a peak")
    done = subprocess.run(
        [sys.executable, "-c", script, *args],
        capture_output=True,
        text=True,
        env={**os.environ, "PYTHONPATH": str(REPO)},
        timeout=120,
        check=True,
    )
    return [int(x) for x in done.stdout.split()]


def test_files_memory_stays_bounded_whatever_the_file_size(tmp_path: Path) -> None:
    folder = tmp_path / "docs"
    folder.mkdir()
    size = 400 * 1024 * 1024
    with open(folder / "sparse.bin", "wb") as handle:
        handle.truncate(size)  # a sparse file: 400 MB to read, no disk used
    read, growth_kib = _measure(_MEASURE_FILE, str(folder), str(tmp_path / "run"))
    assert read == size
    assert growth_kib < 100 * 1024, f"peak RSS +{growth_kib >> 10} MiB reading {size >> 20} MiB"


_MEASURE_IMAGE = (
    _PEAK_RSS
    + """
from conc_tui.workloads.images import process_image
data = open(sys.argv[1], "rb").read()
start = reset_peak()
process_image(data, "blur", budget=2000 * 2000)
print(status_kib("VmHWM") - start)
"""
)


def test_image_memory_per_pixel_stays_within_what_the_budget_assumes(tmp_path: Path) -> None:
    # RGBA is the costliest common source: decoded, then converted to RGB.
    ramp = Image.linear_gradient("L").resize((2000, 2000))
    Image.merge("RGBA", [ramp, ramp.transpose(Image.Transpose.ROTATE_90), ramp, ramp]).save(
        tmp_path / "rgba.png"
    )
    (growth_kib,) = _measure(_MEASURE_IMAGE, str(tmp_path / "rgba.png"))
    assert growth_kib > 2000 * 2000 * 4 // 1024  # it did decode: the measure sees it
    assert growth_kib * 1024 / (2000 * 2000) <= BYTES_PER_PIXEL


# --- 6. read-only and full disks -----------------------------------------------------------


def test_cache_that_cannot_be_written_falls_back_to_a_temp_folder(tmp_path: Path) -> None:
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("a file where the cache folder should be")
    env = {"CONC_TUI_CACHE": "", "XDG_CACHE_HOME": str(blocker), "TMPDIR": str(tmp_path / "tmp")}
    (tmp_path / "tmp").mkdir()
    run = _cli("run", "--model", "serial", "--workload", "files", "--items", "5", env=env)
    assert run.returncode == 0, run.stderr
    assert "Traceback" not in run.stderr and "None" not in run.stdout
    input_line = next(line for line in run.stdout.splitlines() if line.strip().startswith("input"))
    assert str(blocker / "conc-tui") in input_line
    assert "Not a directory" in input_line
    assert str(tmp_path / "tmp") in input_line


def test_read_only_cache_falls_back_to_a_temp_folder(tiny_tmpfs: Path, tmp_path: Path) -> None:
    subprocess.run(["mount", "-o", "remount,ro", str(tiny_tmpfs)], check=True)
    env = {"CONC_TUI_CACHE": "", "XDG_CACHE_HOME": str(tiny_tmpfs), "TMPDIR": str(tmp_path)}
    run = _cli("run", "--model", "serial", "--workload", "files", "--items", "5", env=env)
    assert run.returncode == 0, run.stderr
    assert run.stderr == ""
    assert f"cannot write the cache {tiny_tmpfs / 'conc-tui'} (Read-only file system)" in run.stdout
    assert f"so it is in {tmp_path / 'conc-tui-cache-'}" in run.stdout


def test_cache_and_temp_folder_both_full_is_one_line(tiny_tmpfs: Path) -> None:
    with open(tiny_tmpfs / "filler", "wb") as handle, contextlib.suppress(OSError):
        handle.write(b"\0" * (2 * 1024 * 1024))
    env = {"CONC_TUI_CACHE": str(tiny_tmpfs / "cache"), "TMPDIR": str(tiny_tmpfs)}
    run = _cli("run", "--model", "serial", "--workload", "files", "--items", "5", env=env)
    assert run.returncode == 2 and run.stdout == ""
    assert run.stderr.count("\n") == 1 and "Traceback" not in run.stderr
    assert f"cannot write the cache {tiny_tmpfs / 'cache'} (No space left on device)" in run.stderr
    assert f"nor the temp folder {tiny_tmpfs} (No space left on device)" in run.stderr


def test_full_cache_falls_back_to_a_temp_folder(tiny_tmpfs: Path, tmp_path: Path) -> None:
    env = {"CONC_TUI_CACHE": str(tiny_tmpfs / "cache"), "TMPDIR": str(tmp_path)}
    run = _cli(
        "run", "--model", "serial", "--workload", "files", "--items", "100", "--json", env=env
    )
    assert run.returncode == 0, run.stderr
    assert run.stderr == ""
    document = json.loads(run.stdout)
    assert document["items_done"] == 100
    assert "No space left on device" in document["input"]
    assert not list((tiny_tmpfs / "cache").glob(".*tmp*"))  # the half-made corpus is gone


def test_full_temp_folder_fails_the_images_run_in_one_line(
    tiny_tmpfs: Path, tmp_path: Path
) -> None:
    folder = tmp_path / "pics"
    for i in range(6):
        _jpeg(folder / f"{i}.jpg", (1600, 1200))  # about 100 KB out each at 1440x1080
    with open(tiny_tmpfs / "filler", "wb") as handle:
        handle.write(b"\0" * (2 * 1024 * 1024 - 150 * 1024))
    run = _cli(
        "run",
        "--model",
        "serial",
        "--workload",
        "images",
        "--images",
        str(folder),
        env={"TMPDIR": str(tiny_tmpfs)},
    )
    assert run.returncode == 1, run.stdout
    assert run.stderr == ""
    assert "RunBroken: cannot write to" in run.stdout
    assert "No space left on device" in run.stdout


def test_full_temp_folder_fails_the_files_run_in_one_line(tiny_tmpfs: Path, tmp_path: Path) -> None:
    folder = tmp_path / "docs"
    folder.mkdir()
    for i in range(300):
        (folder / f"f{i:03d}.txt").write_text("words " * 10)
    filler = tiny_tmpfs / "filler"
    with open(filler, "wb") as handle:  # leave about 20 KB: the log fills it up
        handle.write(b"\0" * (2 * 1024 * 1024 - 20 * 1024))
    env = {"TMPDIR": str(tiny_tmpfs)}
    run = _cli("run", "--model", "thread", "--workload", "files", "--files", str(folder), env=env)
    assert "Logging error" not in run.stderr
    assert len(run.stderr.splitlines()) <= 1, run.stderr[:2000]
    assert run.returncode == 1
    assert "No space left on device" in run.stdout
    assert ": failed" in run.stdout.splitlines()[0]


def test_stale_corpus_temp_folders_are_swept_only_when_their_owner_is_gone(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CONC_TUI_CACHE", str(tmp_path / "cache"))
    final = corpus_dir(5)
    final.parent.mkdir(parents=True)
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    stale = final.parent / f".{final.name}.tmp-{dead.pid}-deadbeef"
    live = final.parent / f".{final.name}.tmp-{os.getpid()}-cafecafe"
    for folder in (stale, live):
        (folder / "part-00").mkdir(parents=True)
    ensure_corpus(5)
    assert not stale.exists()
    assert live.exists()


def test_ctrl_c_during_corpus_generation_leaves_no_temp_folder(tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    env = {**os.environ, "PYTHONPATH": str(REPO), "CONC_TUI_CACHE": str(cache)}
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "conc_tui",
            "run",
            "--model",
            "serial",
            "--workload",
            "files",
            "--items",
            "3000",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=env,
        cwd=REPO,
        start_new_session=True,
    )
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and not list(cache.glob(".*.tmp-*/part-*/doc-00020.txt")):
            time.sleep(0.05)
        assert list(cache.glob(".*.tmp-*")), "generation never started"
        os.killpg(proc.pid, signal.SIGINT)  # what Ctrl+C in the terminal sends
        proc.wait(timeout=30)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
    time.sleep(0.5)
    assert not list(cache.glob(".*.tmp-*")), "a half-made corpus is left in the cache"
    assert not corpus_dir(3000, cache).exists()


def test_files_item_and_checksum_for_an_item_key_with_surrogates() -> None:
    item = Item(index=0, key=os.fsdecode(b"\xff"), payload="")
    assert checksum([ItemResult(index=item.index, key=item.key, ok=True, digest="00")])


def test_no_warning_escapes_while_listing_a_bomb(tmp_path: Path) -> None:
    folder = tmp_path / "pics"
    folder.mkdir()
    _png_header_only(folder / "big.png", 12000, 12000)
    _png_header_only(folder / "bomb.png", 30000, 30000)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        workload = ImagesWorkload(WorkloadOptions(images=str(folder)))
        workload.prepare(tmp_path / "run")
    assert [item.key for item in workload.initial_items()] == ["big.png", "bomb.png"]


# --- 2, in the app ---------------------------------------------------------------------------


class _HostileController(FakeController):
    """A controller whose one run fails at once on a file named to attack the terminal."""

    def start(self, config: RunConfig, on_snapshot: Callable[[Snapshot], None]) -> None:
        result = RunResult(
            model=config.model,
            workload=config.workload,
            workers=config.workers,
            wall_s=0.5,
            items_done=0,
            items_failed=1,
            checksum="",
            throughput=0.0,
            bytes_processed=0,
            cpu_s=0.0,
            mean_cores_busy=0.0,
            peak_rss_bytes=0,
            startup_s=None,
            status="failed",
            reason=f"every item failed (1 of 1); the first: {HOSTILE}: [bold]x",
        )
        on_snapshot(
            Snapshot(
                model=config.model,
                workload=config.workload,
                workers=config.workers,
                phase=Phase.FAILED,
                elapsed_s=0.5,
                items_total=1,
                items_done=0,
                items_failed=1,
                throughput=0.0,
                column_s=0.1,
                result=result,
                message=result.reason,
                failures=((HOSTILE, f"cannot read {HOSTILE}"),),
            )
        )


def test_app_pane_shows_a_hostile_failure_escaped() -> None:
    from conc_tui.app import ConcApp
    from conc_tui.widgets.lines import LinesView

    async def scenario() -> list[str]:
        app = ConcApp(controller_factory=_HostileController)
        async with app.run_test(size=(160, 40)) as pilot:
            await pilot.press("space")
            await pilot.pause(0.3)
            progress = app.query_one("#pane-process").query_one(".progress", LinesView)
            return progress.lines

    lines = asyncio.run(scenario())
    shown = "\n".join(lines)
    assert "e\\x1b[2J\\x1b]0;PWNED\\x07: cannot read e\\x1b[2J" in shown
    assert _no_controls(shown)

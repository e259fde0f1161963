"""The ``images`` workload: decode, resize, filter and re-encode real images with Pillow.

Each item reads one image file (marked ``WAIT_IO``), decodes it, scales it to fit
1440x1080, applies the chosen filter, encodes it as a JPEG (quality 85) and writes
it to ``work_dir/images-out/``. The digest is the SHA-256 of the encoded bytes:
Pillow's codecs are deterministic, so it is the same under every model and in every
process.

Which filters let threads run in parallel? Pillow releases the GIL inside most of its
C loops, but not all. Measured with Pillow 13.0 (libjpeg-turbo 3.x), CPython 3.11, on
the 2-core machine: while one thread runs a step on a 1440x1080 RGB image, a second
thread appends ``perf_counter()`` in a tight loop; the longest gap in its timestamps
is how long the step kept the GIL in one go. (Throughput with 1 vs 2 threads points
the same way but is too noisy on a shared VM to be the evidence.)

=======  ===========================  =========  =============  ================
filter   what it does                 call       longest stall  releases the GIL
=======  ===========================  =========  =============  ================
blur     ``GaussianBlur(6)``          75-95 ms   8 ms           yes
sharpen  ``UnsharpMask(4, 160, 2)``   90-150 ms  4-10 ms        yes
resize   Lanczos up 2x and back down  200 ms     2-10 ms        yes
median   ``MedianFilter(3)``          320 ms     105-115 ms     **no**
contour  ``CONTOUR`` 3x3 kernel       30-35 ms   0.5-2 ms       yes
=======  ===========================  =========  =============  ================

The median (rank) filter holds the GIL for a whole band: Pillow runs it once per
band from Python, so an RGB image stalls every other thread three times for ~110 ms.
Decoding (1-3 ms stalls in 27 ms) and encoding release the GIL too, so with ``median``
a thread pool barely beats one thread, while with ``blur`` two threads on two cores
nearly double the throughput (1.6-2.0x measured). The verdicts are in
:data:`conc_tui.workloads.filters.GIL_FRIENDLY` (Pillow-free, so the UI reads them
too); ``tests/test_workloads_local.py`` re-checks the two extremes.

Whole-task times with a 1600x1200 sample (read, decode, resize, filter, encode,
write), one thread: blur ~130 ms, sharpen ~125 ms, resize ~250 ms, median ~350 ms,
contour ~80-110 ms.
"""

from __future__ import annotations

import errno
import hashlib
import io
import os
from collections.abc import Callable
from pathlib import Path
from typing import ClassVar

from PIL import Image, ImageFilter

from conc_tui.config import FILTERS, WorkloadOptions
from conc_tui.paths import sample_images_dir
from conc_tui.telemetry.recorder import current_recorder
from conc_tui.telemetry.states import WorkerState
from conc_tui.workloads.base import Item, ItemResult, RunBroken, Workload, WorkloadError
from conc_tui.workloads.files import list_files_under
from conc_tui.workloads.filters import GIL_FRIENDLY

FIT = (1440, 1080)
"""Every image is scaled (up or down) to fit this box before filtering."""
QUALITY = 85
OUT_DIR = "images-out"
ACCEPTED_FORMATS = frozenset({"JPEG", "PNG", "WEBP"})


def _resize_round_trip(image: Image.Image) -> Image.Image:
    big = image.resize((image.width * 2, image.height * 2), Image.Resampling.LANCZOS)
    return big.resize(image.size, Image.Resampling.LANCZOS)


_FILTERS: dict[str, Callable[[Image.Image], Image.Image]] = {
    "blur": lambda im: im.filter(ImageFilter.GaussianBlur(6)),
    "sharpen": lambda im: im.filter(ImageFilter.UnsharpMask(4, 160, 2)),
    "resize": _resize_round_trip,
    "median": lambda im: im.filter(ImageFilter.MedianFilter(3)),
    "contour": lambda im: im.filter(ImageFilter.CONTOUR),
}
assert set(_FILTERS) == set(FILTERS) == set(GIL_FRIENDLY), "filters out of step with config"


PILLOW_PIXEL_LIMIT: int | None = Image.MAX_IMAGE_PIXELS
"""Pillow's own decompression-bomb limit (about 89 megapixels), kept before it is lifted."""
BYTES_PER_PIXEL = 12
"""Peak bytes one source pixel may cost while an item runs. Pillow keeps RGB and RGBA
at 4 bytes a pixel; converting RGBA to RGB holds both for a moment (8), and the
resize's first pass adds about 2. Measured as the growth of VmHWM for a 3000x3000 PNG
with a blur: RGB 6.1, palette and grey 6.0, RGBA 8.1 bytes a pixel (10.1 for every
mode before the source was let go early); 12 leaves a margin for the allocator."""
MEMORY_SHARE = 4
"""Decoding may use 1/MEMORY_SHARE of the memory available when the run starts."""
MIN_PIXEL_BUDGET = 4_000_000
"""The budget never goes below an ordinary 4-megapixel photo (48 MB at 12 bytes a
pixel): the samples and everyday pictures always run, even on a small machine."""

_ORIENTATIONS: dict[int, Image.Transpose] = {
    2: Image.Transpose.FLIP_LEFT_RIGHT,
    3: Image.Transpose.ROTATE_180,
    4: Image.Transpose.FLIP_TOP_BOTTOM,
    5: Image.Transpose.TRANSPOSE,
    6: Image.Transpose.ROTATE_270,
    7: Image.Transpose.TRANSVERSE,
    8: Image.Transpose.ROTATE_90,
}
"""EXIF orientation tag -> the transposition that shows the image upright (as
``ImageOps.exif_transpose`` does); 1 or no tag means it is upright already."""
_SWAPS_AXES = frozenset({5, 6, 7, 8})
_ORIENTATION_TAG = 0x0112


def pixel_budget(workers: int, available_bytes: int) -> int:
    """The largest image (in pixels) one item may decode, so that all workers fit in memory.

    Every worker may decode at once (threads release the GIL in Pillow, processes
    each have their own), so a quarter of the available memory is shared out among
    them at :data:`BYTES_PER_PIXEL` each -- never beyond Pillow's own bomb limit and
    never below :data:`MIN_PIXEL_BUDGET`. With 23 GiB available and 4 workers that is
    Pillow's 89 megapixels; with 2 GiB and 8 workers, 5.6 megapixels.

    Args:
        workers: how many items can be decoded at the same time.
        available_bytes: memory available (``psutil.virtual_memory().available``).
    """
    budget = available_bytes // MEMORY_SHARE // max(1, workers) // BYTES_PER_PIXEL
    if PILLOW_PIXEL_LIMIT is not None:
        budget = min(budget, PILLOW_PIXEL_LIMIT)
    return max(MIN_PIXEL_BUDGET, budget)


def _lift_pillow_limit() -> None:
    """Leave the size check to the pixel budget, in the processes that run images.

    Pillow's own check warns on stderr above 89 megapixels and raises at ``open``
    above 179, before the size can be read; the budget is never larger, so lifting
    it loses no protection and gives every too-large image the same clear reason.
    """
    Image.MAX_IMAGE_PIXELS = None


def _fit(size: tuple[int, int]) -> tuple[int, int]:
    scale = min(FIT[0] / size[0], FIT[1] / size[1])
    return max(1, round(size[0] * scale)), max(1, round(size[1] * scale))


class ImageTooLarge(ValueError):
    """An image with more pixels than the budget allows: it fails its item only."""


def process_image(data: bytes, filter_name: str, budget: int | None = None) -> bytes:
    """Decode ``data``, turn it upright, fit it to :data:`FIT`, filter it and return JPEG bytes.

    Args:
        data: the encoded image.
        filter_name: one of :data:`~conc_tui.config.FILTERS`.
        budget: the most pixels it may have (see :func:`pixel_budget`); None: any.

    Raises:
        ImageTooLarge: the image has more pixels than ``budget`` (nothing is decoded).
        OSError, ValueError: the image cannot be decoded (Pillow's errors).
    """
    with Image.open(io.BytesIO(data)) as opened:
        width, height = opened.size
        if budget is not None and width * height > budget:
            raise ImageTooLarge(
                f"{width}x{height} pixels, over the pixel budget of {budget:,} for this "
                "machine's free memory and worker count"
            )
        orientation = opened.getexif().get(_ORIENTATION_TAG, 1)
        opened.load()
        # JPEG cannot hold alpha or palettes; RGB is also what every filter accepts.
        # Resizing straight from the decoded image (no copy) keeps the peak at one
        # full-size image for RGB sources; others are let go once converted, so the
        # resize never runs with two full-size images alive.
        if opened.mode == "RGB":
            image = opened
        else:
            image = opened.convert("RGB")
            opened.close()
        swaps = orientation in _SWAPS_AXES
        shown = _fit((height, width) if swaps else (width, height))
        # Turned upright after the resize: the transposition then moves the small
        # image, not the full-size one, and the upright result fits the box.
        image = image.resize((shown[1], shown[0]) if swaps else shown, Image.Resampling.LANCZOS)
    method = _ORIENTATIONS.get(orientation) if isinstance(orientation, int) else None
    if method is not None:
        image = image.transpose(method)
    image = _FILTERS[filter_name](image)
    out = io.BytesIO()
    image.save(out, "JPEG", quality=QUALITY)
    return out.getvalue()


def _is_usable_image(path: Path) -> bool:
    """True when Pillow recognises a JPEG, PNG or WebP header (pixels are not read)."""
    try:
        with Image.open(path) as image:
            return image.format in ACCEPTED_FORMATS
    except Exception:  # noqa: BLE001 - whatever one hostile header raises, it is not usable
        return False


_OUTPUT_GONE = frozenset(
    code for code in (errno.ENOSPC, errno.EDQUOT, errno.EROFS, errno.EIO) if code is not None
)
"""Write errors that are the output folder's, not the item's."""


def _read_image_file(item: Item, budget: int | None) -> bytes:
    """The encoded bytes of an image, refusing files no image within the budget needs.

    Raises:
        OSError: the file cannot be read.
        ValueError: the file is larger than an uncompressed image of ``budget`` pixels.
    """
    with open(item.payload, "rb") as handle:
        size = os.fstat(handle.fileno()).st_size
        # Even an uncompressed 4-channel image of the budget's size is smaller.
        if budget is not None and size > budget * 4 + 1024 * 1024:
            raise ValueError(
                f"{item.key} is a {size / 2**20:.0f} MiB file, larger than any image "
                f"within the pixel budget of {budget:,}"
            )
        return handle.read()


class ImagesWorkload(Workload):
    """Decode, resize, filter and encode images with Pillow; write the results."""

    name: ClassVar[str] = "images"
    description: ClassVar[str] = "Pillow decode, resize, filter and JPEG encode"

    def __init__(self, options: WorkloadOptions) -> None:
        if options.filter not in _FILTERS:
            raise WorkloadError(
                f"unknown filter {options.filter!r}; choose one of: {', '.join(FILTERS)}"
            )
        self.options = options
        self.filter = options.filter
        self.source: Path | None = None
        self.skipped = 0
        self.out_dir: Path | None = None
        self.skipped_text = ""
        self.pixel_budget: int | None = None
        """Most pixels one item may decode; set by :meth:`prepare` (see :func:`pixel_budget`)."""
        self._items: list[Item] = []

    def prepare(self, work_dir: Path) -> None:
        """Find the input images and create the output folder.

        Raises:
            WorkloadError: the folder is missing, is not a folder, or holds no JPEG,
                PNG or WebP image.
        """
        import psutil  # only here, in the runner: workers do not need it

        _lift_pillow_limit()
        self.pixel_budget = pixel_budget(self.workers, psutil.virtual_memory().available)
        if self.options.images is None:
            self._items = self._sample_items()
        else:
            self._items = self._folder_items(Path(self.options.images).expanduser())
        self.out_dir = work_dir / OUT_DIR
        self.out_dir.mkdir(parents=True, exist_ok=True)

    def _sample_items(self) -> list[Item]:
        folder = sample_images_dir()
        samples = sorted(folder.glob("sample-*.jpg")) if folder.is_dir() else []
        if not samples:
            raise WorkloadError(
                f"no sample images in {str(folder)!r}; run 'python assets/make_samples.py'"
            )
        self.source = folder
        count = self.options.items_for("images")
        return [
            Item(
                index=i,
                key=f"{i:04d}-{samples[i % len(samples)].name}",
                payload=str(samples[i % len(samples)]),
            )
            for i in range(count)
        ]

    def _folder_items(self, root: Path) -> list[Item]:
        if not root.exists():
            raise WorkloadError(f"the images folder {str(root)!r} does not exist")
        if not root.is_dir():
            raise WorkloadError(f"--images must be a folder, but {str(root)!r} is not one")
        listing = list_files_under(root)
        usable = [path for path in listing.files if _is_usable_image(path)]
        others = len(listing.files) - len(usable)
        self.skipped = others + listing.outside + listing.unreadable_folders
        self.skipped_text = ", ".join(
            part
            for part in (f"{others} other files skipped" if others else "", listing.skipped_text())
            if part
        )
        if not usable:
            raise WorkloadError(f"the images folder {str(root)!r} has no JPEG, PNG or WebP images")
        base = root.resolve()
        self.source = base
        return [
            Item(index=i, key=path.relative_to(base).as_posix(), payload=str(path))
            for i, path in enumerate(usable)
        ]

    def initial_items(self) -> list[Item]:
        return list(self._items)

    def total_items(self) -> int:
        return len(self._items)

    def attach(self) -> None:
        _lift_pillow_limit()  # a pool worker is a fresh process

    def run(self, item: Item) -> ItemResult:
        if self.out_dir is None:
            raise RuntimeError("ImagesWorkload.prepare() must run before run()")
        recorder = current_recorder()
        with recorder.waiting(WorkerState.WAIT_IO):
            data = _read_image_file(item, self.pixel_budget)
        try:
            encoded = process_image(data, self.filter, self.pixel_budget)
        except ImageTooLarge as exc:
            raise ValueError(f"{item.key} is {exc}") from exc
        except (OSError, ValueError, Image.DecompressionBombError) as exc:
            raise ValueError(f"cannot decode {item.key}: {exc}") from exc
        # The stem is cut so that index, stem and suffix stay within a file name's
        # 255 bytes (60 characters of up to 4 bytes each).
        target = self.out_dir / f"{item.index:04d}-{Path(item.key).stem[:60]}.jpg"
        try:
            with recorder.waiting(WorkerState.WAIT_IO):
                target.write_bytes(encoded)
        except OSError as exc:
            if exc.errno in _OUTPUT_GONE:  # every later item would fail the same way
                raise RunBroken(f"cannot write to {self.out_dir}: {exc.strerror}") from exc
            raise
        return ItemResult(
            index=item.index,
            key=item.key,
            ok=True,
            digest=hashlib.sha256(encoded).hexdigest(),
            size=len(data),
        )

    def describe(self) -> str:
        gil = "releases the GIL" if GIL_FRIENDLY[self.filter] else "holds the GIL"
        if self.options.images is None:
            where = f"{len(self._items)} images cycled from the samples"
        else:
            where = f"{len(self._items)} images from {self.source or self.options.images}"
            if self.skipped_text:
                where += f" ({self.skipped_text})"
        return f"{where}, filter {self.filter} ({gil})"

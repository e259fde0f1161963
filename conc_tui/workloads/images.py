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
nearly double the throughput (1.6-2.0x measured). :data:`GIL_FRIENDLY` has the
verdicts; ``tests/test_workloads_local.py`` re-checks the two extremes.

Whole-task times with a 1600x1200 sample (read, decode, resize, filter, encode,
write), one thread: blur ~130 ms, sharpen ~125 ms, resize ~250 ms, median ~350 ms,
contour ~80-110 ms.
"""

from __future__ import annotations

import hashlib
import io
from collections.abc import Callable
from pathlib import Path
from typing import ClassVar

from PIL import Image, ImageFilter, UnidentifiedImageError

from conc_tui.config import FILTERS, WorkloadOptions
from conc_tui.paths import sample_images_dir
from conc_tui.telemetry.recorder import current_recorder
from conc_tui.telemetry.states import WorkerState
from conc_tui.workloads.base import Item, ItemResult, Workload, WorkloadError
from conc_tui.workloads.files import list_files_under

FIT = (1440, 1080)
"""Every image is scaled (up or down) to fit this box before filtering."""
QUALITY = 85
OUT_DIR = "images-out"
ACCEPTED_FORMATS = frozenset({"JPEG", "PNG", "WEBP"})

GIL_FRIENDLY: dict[str, bool] = {
    "blur": True,
    "sharpen": True,
    "resize": True,
    "median": False,
    "contour": True,
}
"""Whether Pillow releases the GIL while the filter runs (measured; see the module doc)."""


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


def _fit(size: tuple[int, int]) -> tuple[int, int]:
    scale = min(FIT[0] / size[0], FIT[1] / size[1])
    return max(1, round(size[0] * scale)), max(1, round(size[1] * scale))


def process_image(data: bytes, filter_name: str) -> bytes:
    """Decode ``data``, fit it to :data:`FIT`, filter it and return the JPEG bytes.

    Raises:
        OSError, ValueError: the image cannot be decoded (Pillow's errors).
    """
    with Image.open(io.BytesIO(data)) as opened:
        opened.load()
        # JPEG cannot hold alpha or palettes; RGB is also what every filter accepts.
        image = opened.convert("RGB") if opened.mode != "RGB" else opened.copy()
    image = image.resize(_fit(image.size), Image.Resampling.LANCZOS)
    image = _FILTERS[filter_name](image)
    out = io.BytesIO()
    image.save(out, "JPEG", quality=QUALITY)
    return out.getvalue()


def _is_usable_image(path: Path) -> bool:
    """True when Pillow recognises a JPEG, PNG or WebP header (pixels are not read)."""
    try:
        with Image.open(path) as image:
            return image.format in ACCEPTED_FORMATS
    except (UnidentifiedImageError, OSError, ValueError):
        return False


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
        self._items: list[Item] = []

    def prepare(self, work_dir: Path) -> None:
        """Find the input images and create the output folder.

        Raises:
            WorkloadError: the folder is missing, is not a folder, or holds no JPEG,
                PNG or WebP image.
        """
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
        paths, outside = list_files_under(root)
        usable = [path for path in paths if _is_usable_image(path)]
        self.skipped = len(paths) - len(usable) + outside
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

    def run(self, item: Item) -> ItemResult:
        if self.out_dir is None:
            raise RuntimeError("ImagesWorkload.prepare() must run before run()")
        recorder = current_recorder()
        with recorder.waiting(WorkerState.WAIT_IO):
            data = Path(item.payload).read_bytes()
        try:
            encoded = process_image(data, self.filter)
        except (OSError, ValueError, Image.DecompressionBombError) as exc:
            raise ValueError(f"cannot decode {item.key}: {exc}") from exc
        target = self.out_dir / f"{item.index:04d}-{Path(item.key).stem}.jpg"
        with recorder.waiting(WorkerState.WAIT_IO):
            target.write_bytes(encoded)
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
            if self.skipped:
                where += f" ({self.skipped} other files skipped)"
        return f"{where}, filter {self.filter} ({gil})"

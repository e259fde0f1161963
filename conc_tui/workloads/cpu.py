"""The ``cpu`` workload: a pure-Python Mandelbrot kernel, with no I/O at all.

Each item computes one horizontal band of a fixed image of the Seahorse Valley
(centre -0.745 + 0.11i, 0.03 wide). That region is full of boundary, so every band
needs many iterations and the bands cost about the same: measured with CPython 3.11
on the 2-core CI machine, 50-85 ms a band (mean about 65 ms). There are
:data:`BANDS` bands; a run with more items cycles through them again.

The inner loop is plain Python floats, so it holds the GIL the whole time: threads
take turns and do not speed it up, while processes do. That is the textbook case.
"""

from __future__ import annotations

import hashlib
from array import array
from typing import ClassVar

from conc_tui.config import WorkloadOptions
from conc_tui.workloads.base import Item, ItemResult, Workload

WIDTH = 320
"""Pixels per row."""
ROWS = 12
"""Rows per band."""
BANDS = 24
"""Bands in the image; the image is WIDTH x (ROWS * BANDS) pixels."""
MAX_ITER = 300
CENTRE = (-0.745, 0.11)
SPAN = 0.03
"""Width of the view on the real axis."""


def mandelbrot_band(band: int) -> array[int]:
    """Escape-time iteration counts of one band, row by row (``WIDTH * ROWS`` values).

    Args:
        band: which band, 0 <= band < BANDS.
    """
    height = ROWS * BANDS
    step = SPAN / WIDTH
    x0 = CENTRE[0] - SPAN / 2
    y0 = CENTRE[1] - step * height / 2
    counts = array("H")
    append = counts.append
    max_iter = MAX_ITER
    for row in range(band * ROWS, (band + 1) * ROWS):
        ci = y0 + row * step
        for col in range(WIDTH):
            cr = x0 + col * step
            zr = zi = 0.0
            n = 0
            # Squares are kept between steps: the cheapest escape test in pure Python.
            while n < max_iter:
                zr2 = zr * zr
                zi2 = zi * zi
                if zr2 + zi2 > 4.0:
                    break
                zi = 2.0 * zr * zi + ci
                zr = zr2 - zi2 + cr
                n += 1
            append(n)
    return counts


class CpuWorkload(Workload):
    """Mandelbrot bands computed in pure Python: CPU-bound, GIL-bound, no I/O."""

    name: ClassVar[str] = "cpu"
    description: ClassVar[str] = "pure-Python Mandelbrot bands (CPU-bound, holds the GIL)"

    def __init__(self, options: WorkloadOptions) -> None:
        self.options = options
        self.count = options.items_for("cpu")

    def initial_items(self) -> list[Item]:
        return [
            Item(index=i, key=f"{i:04d}-band-{i % BANDS:02d}", payload=str(i % BANDS))
            for i in range(self.count)
        ]

    def total_items(self) -> int:
        return self.count

    def run(self, item: Item) -> ItemResult:
        counts = mandelbrot_band(int(item.payload))
        if counts.itemsize != 2:  # pragma: no cover - "H" is 2 bytes on every platform we run
            raise RuntimeError("unexpected array item size")
        # Little-endian bytes, so the digest is the same on any machine.
        data = counts.tobytes() if _LITTLE_ENDIAN else _swapped(counts)
        return ItemResult(
            index=item.index,
            key=item.key,
            ok=True,
            digest=hashlib.sha256(data).hexdigest(),
            size=len(data),
        )

    def describe(self) -> str:
        return (
            f"{self.count} Mandelbrot bands of {WIDTH}x{ROWS} pixels "
            f"(up to {MAX_ITER} iterations each, pure Python)"
        )


_LITTLE_ENDIAN = array("H", [1]).tobytes() == b"\x01\x00"


def _swapped(counts: array[int]) -> bytes:
    copy = array("H", counts)
    copy.byteswap()
    return copy.tobytes()

"""Generate the sample images the ``images`` workload uses by default.

Every image is procedural art drawn from a seeded random generator: a smooth colour
field, several octaves of value noise, translucent shapes and a fine grain. The grain
and the sharp shape edges give the JPEG encoder real detail to chew on, so the files
weigh a few hundred kilobytes like photographs do, and the filters have something to
blur, sharpen and trace. Nothing is downloaded.

The output depends only on the seed and the Pillow build, so running the script again
rewrites identical files. Run it from the repository's top::

    python assets/make_samples.py
"""

from __future__ import annotations

import argparse
import math
import random
from pathlib import Path

from PIL import Image, ImageChops, ImageDraw, ImageEnhance, ImageFilter, ImageOps

WIDTH, HEIGHT = 1600, 1200
COUNT = 8
QUALITY = 88
SEED = 20240611


def _smooth_noise(rng: random.Random, cells: tuple[int, int], size: tuple[int, int]) -> Image.Image:
    """Random values on a coarse grid, stretched bicubically into soft blobs (one octave)."""
    w, h = cells
    small = Image.frombytes("RGB", (w, h), rng.randbytes(w * h * 3))
    return small.resize(size, Image.Resampling.BICUBIC)


def _colour(rng: random.Random, alpha: int) -> tuple[int, int, int, int]:
    return (rng.randrange(256), rng.randrange(256), rng.randrange(256), alpha)


def make_image(index: int, size: tuple[int, int] = (WIDTH, HEIGHT)) -> Image.Image:
    """Draw sample ``index``: the same index always gives the same pixels."""
    rng = random.Random(SEED + index * 7919)
    width, height = size

    # A soft colour field: a 3x3 palette stretched over the whole canvas.
    canvas = _smooth_noise(rng, (3, 3), size)

    # Octaves of value noise, coarse to fine, each blended in more lightly.
    for cells, weight in ((12, 0.45), (48, 0.25), (160, 0.12)):
        octave = _smooth_noise(rng, (cells, max(2, cells * height // width)), size)
        canvas = Image.blend(canvas, octave, weight)
    # Averaging noise pulls every channel towards grey; stretch it back to full range.
    canvas = ImageEnhance.Color(ImageOps.autocontrast(canvas, cutoff=1)).enhance(1.5)

    # Translucent shapes with hard edges: circles, polygons, stripes and rings.
    overlay = Image.new("RGBA", size, (0, 0, 0, 0))
    draw = ImageDraw.Draw(overlay)
    for _ in range(rng.randrange(18, 30)):
        kind = rng.randrange(4)
        cx, cy = rng.uniform(0, width), rng.uniform(0, height)
        r = rng.uniform(30, min(width, height) / 3)
        fill = _colour(rng, rng.randrange(60, 190))
        if kind == 0:
            draw.ellipse((cx - r, cy - r, cx + r, cy + r), fill=fill)
        elif kind == 1:
            sides = rng.randrange(3, 8)
            turn = rng.uniform(0, math.tau)
            points = [
                (
                    cx + r * math.cos(turn + k * math.tau / sides),
                    cy + r * math.sin(turn + k * math.tau / sides),
                )
                for k in range(sides)
            ]
            draw.polygon(points, fill=fill)
        elif kind == 2:
            angle = rng.uniform(0, math.pi)
            dx, dy = math.cos(angle) * width, math.sin(angle) * width
            for k in range(rng.randrange(4, 12)):
                off = (k - 6) * rng.uniform(8, 24)
                ox, oy = -math.sin(angle) * off, math.cos(angle) * off
                draw.line(
                    (cx - dx + ox, cy - dy + oy, cx + dx + ox, cy + dy + oy),
                    fill=fill,
                    width=rng.randrange(2, 9),
                )
        else:
            for k in range(rng.randrange(3, 9)):
                rr = r * (1 - k / 10)
                draw.ellipse(
                    (cx - rr, cy - rr, cx + rr, cy + rr), outline=fill, width=rng.randrange(2, 7)
                )
    canvas = Image.alpha_composite(canvas.convert("RGBA"), overlay).convert("RGB")

    # Film-like grain: full-resolution noise, softened a little and added lightly, so the
    # encoder sees texture everywhere (as in a photo) rather than flat areas.
    grain = Image.frombytes("L", size, rng.randbytes(width * height))
    grain = grain.filter(ImageFilter.GaussianBlur(0.6)).point(lambda v: v // 5).convert("RGB")
    # add() computes (a + b) / scale + offset; grain is 0..51, so this adds +-25 around 0.
    canvas = ImageChops.add(canvas, grain, scale=1.0, offset=-25)
    return canvas


def main(argv: list[str] | None = None) -> int:
    """Write the samples as ``sample-<n>.jpg`` into the output folder."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--out",
        type=Path,
        default=Path(__file__).resolve().parent / "images",
        help="output folder (default: assets/images next to this script)",
    )
    parser.add_argument("--count", type=int, default=COUNT)
    args = parser.parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)
    for index in range(args.count):
        path = args.out / f"sample-{index}.jpg"
        make_image(index).save(path, "JPEG", quality=QUALITY, optimize=True)
        print(f"{path}  {path.stat().st_size // 1024} KB")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

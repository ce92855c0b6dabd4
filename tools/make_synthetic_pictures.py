"""Draw a small synthetic picture set: test data for own-image folders.

Coloured shapes (circles, rectangles, triangles, stars) over gradient, striped or
checked backgrounds, so a GAN has something colourful and learnable; at mixed
sizes (40x30 up to 400x400, landscape and portrait), formats (png, jpg, bmp,
webp, gif, tif) and modes (RGB, RGBA, palette, grayscale, a few JPEGs with an
EXIF rotation), some in sub-folders; plus a few broken files (a truncated JPEG,
a text file named .png, an empty .jpg). Everything is drawn here from a seed:
never pictures from the internet. The same seed gives the same bytes (with the
same Pillow build), and picture i does not depend on n.

Usage: python tools/make_synthetic_pictures.py OUT [--n 300] [--seed 0] [--broken 3]
"""

from __future__ import annotations

import argparse
import io
import math
import sys
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw

FORMATS = ("png", "jpg", "bmp", "webp", "gif", "tif")
MODES = {  # what each format is written in (RGB the most often)
    "png": ("RGB", "RGB", "RGBA", "P", "L"),
    "jpg": ("RGB", "RGB", "RGB", "L"),
    "bmp": ("RGB", "RGB", "L", "P"),
    "webp": ("RGB", "RGB", "RGBA"),
    "gif": ("P",),
    "tif": ("RGB", "RGB", "RGBA", "L"),
}
SUB_FOLDERS = ("", "", "", "shapes", "more/deeper")  # most at the top, some below
BROKEN = (("truncated", "jpg"), ("text", "png"), ("empty", "jpg"))
SHAPES = ("circle", "rectangle", "triangle", "star")


class PictureSetError(ValueError):
    """The picture set cannot be written where asked; the message says why."""


def make_pictures(folder: str | Path, n: int = 300, seed: int = 0, broken: int = 3) -> dict:
    """Write n pictures and `broken` broken files into `folder`, which must be empty or new.
    Returns {"written": files written, "pictures": n, "broken": broken}."""
    folder = Path(folder)
    if folder.exists() and not folder.is_dir():
        raise PictureSetError(f"{folder}: exists and is not a folder; give a new or empty folder")
    if folder.is_dir() and any(folder.iterdir()):
        raise PictureSetError(f"{folder}: the folder is not empty; give a new or empty folder "
                              "(nothing already there is overwritten)")
    if n < 0 or broken < 0:
        raise PictureSetError(f"n = {n}, broken = {broken}: both must be 0 or more")
    folder.mkdir(parents=True, exist_ok=True)
    for i in range(n):
        rng = np.random.default_rng([seed, i])  # picture i is the same whatever n is
        fmt = FORMATS[i % len(FORMATS)]
        sub = SUB_FOLDERS[int(rng.integers(len(SUB_FOLDERS)))]
        path = folder / sub / f"pic_{i:04d}.{fmt}"
        path.parent.mkdir(parents=True, exist_ok=True)
        _save(_picture(rng, fmt), path, fmt, rng)
    for j in range(broken):
        kind, ext = BROKEN[j % len(BROKEN)]
        name = f"broken_{kind}{'' if j < len(BROKEN) else f'_{j}'}.{ext}"
        path = folder / ("more" if kind == "empty" else "") / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(_broken_bytes(kind, np.random.default_rng([seed, n + j])))
    return {"written": n + broken, "pictures": n, "broken": broken}


def _picture(rng: np.random.Generator, fmt: str) -> Image.Image:
    long_side = int(rng.integers(40, 401))
    short_side = max(30, round(long_side * rng.uniform(0.6, 1.0)))
    w, h = (long_side, short_side) if rng.random() < 0.5 else (short_side, long_side)
    mode = MODES[fmt][int(rng.integers(len(MODES[fmt])))]
    # Drawn at twice the size and scaled down: ImageDraw does not smooth edges.
    big = (2 * w, 2 * h)
    transparent = mode == "RGBA" and rng.random() < 0.7  # shapes alone on a see-through background
    canvas = Image.new("RGBA", big, (0, 0, 0, 0)) if transparent else _background(rng, big).convert("RGBA")
    draw = ImageDraw.Draw(canvas)
    for _ in range(int(rng.integers(1, 5))):
        _shape(draw, rng, big)
    im = canvas.resize((w, h), Image.Resampling.LANCZOS)
    if mode == "RGBA":
        return im
    im = im.convert("RGB")
    if mode == "L":
        return im.convert("L")
    if mode == "P":
        return im.quantize(colors=int(rng.integers(16, 129)))
    return im


def _background(rng: np.random.Generator, size: tuple[int, int]) -> Image.Image:
    w, h = size
    c0, c1 = _colour(rng, 0.3, 0.9), _colour(rng, 0.3, 0.9)
    angle = rng.uniform(0, 2 * math.pi)
    y, x = np.mgrid[0:h, 0:w].astype(np.float32)
    t = x * math.cos(angle) + y * math.sin(angle)
    t = (t - t.min()) / max(float(t.max() - t.min()), 1.0)
    kind = rng.integers(3)
    if kind == 1:  # stripes across the gradient
        t = 0.5 + 0.5 * np.sin(t * rng.uniform(6, 30))
    elif kind == 2:  # checks blended with the gradient
        cell = int(rng.integers(8, 40))
        t = 0.6 * t + 0.4 * (((x // cell) + (y // cell)) % 2)
    rgb = c0[None, None, :] * (1 - t[..., None]) + c1[None, None, :] * t[..., None]
    return Image.fromarray(np.clip(rgb, 0, 255).astype(np.uint8), "RGB")


def _shape(draw: ImageDraw.ImageDraw, rng: np.random.Generator, size: tuple[int, int]) -> None:
    w, h = size
    r = rng.uniform(0.1, 0.35) * min(w, h)
    cx, cy = rng.uniform(r, w - r), rng.uniform(r, h - r)
    fill = tuple(int(c) for c in _colour(rng, 0.6, 1.0)) + (255,)
    outline = (0, 0, 0, 255) if rng.random() < 0.3 else None
    width = max(1, round(r / 10))
    kind = SHAPES[int(rng.integers(len(SHAPES)))]
    rotation = rng.uniform(0, 360)
    if kind == "circle":
        draw.ellipse((cx - r, cy - r, cx + r, cy + r), fill=fill, outline=outline, width=width)
    elif kind == "rectangle":
        draw.regular_polygon((cx, cy, r), 4, rotation=rotation, fill=fill, outline=outline, width=width)
    elif kind == "triangle":
        draw.regular_polygon((cx, cy, r), 3, rotation=rotation, fill=fill, outline=outline, width=width)
    else:
        points, tips = [], int(rng.integers(5, 8))
        for k in range(2 * tips):
            radius = r if k % 2 == 0 else r * 0.45
            a = math.radians(rotation) + k * math.pi / tips
            points.append((cx + radius * math.cos(a), cy + radius * math.sin(a)))
        draw.polygon(points, fill=fill, outline=outline, width=width)


def _colour(rng: np.random.Generator, lo: float, hi: float) -> np.ndarray:
    """A saturated colour: a random hue at value lo..hi, as floats 0..255."""
    hue, value = rng.uniform(0, 6), rng.uniform(lo, hi)
    saturation = rng.uniform(0.5, 1.0)
    k = (np.array([5.0, 3.0, 1.0]) + hue) % 6
    rgb = value - value * saturation * np.clip(np.minimum(k, 4 - k), 0, 1)
    return rgb * 255


def _save(im: Image.Image, path: Path, fmt: str, rng: np.random.Generator) -> None:
    if fmt == "jpg":
        exif = Image.Exif()
        if rng.random() < 0.25:
            exif[0x0112] = int(rng.choice([3, 6, 8]))  # orientation: shown rotated by a viewer
        im.save(path, "JPEG", quality=int(rng.integers(75, 96)), exif=exif)
    elif fmt == "webp":
        im.save(path, "WEBP", quality=80, lossless=bool(rng.random() < 0.3))
    elif fmt == "tif":
        im.save(path, "TIFF", compression="tiff_deflate" if rng.random() < 0.5 else None)
    elif fmt == "gif":
        im.save(path, "GIF")
    elif fmt == "bmp":
        im.save(path, "BMP")
    else:
        im.save(path, "PNG")


def _broken_bytes(kind: str, rng: np.random.Generator) -> bytes:
    if kind == "truncated":  # a real JPEG cut off mid-scan: the header reads, the pixels do not
        buf = io.BytesIO()
        _background(rng, (160, 120)).save(buf, "JPEG", quality=90)
        data = buf.getvalue()
        return data[:len(data) * 3 // 5]
    if kind == "text":
        return b"This is a text file named like a picture.\n"
    return b""


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Draw a small synthetic picture set (shapes, gradients, "
                                     "mixed sizes and formats, a few broken files) into an empty folder.")
    parser.add_argument("out", type=Path, help="a new or empty folder")
    parser.add_argument("--n", type=int, default=300, help="pictures to draw (default 300)")
    parser.add_argument("--seed", type=int, default=0, help="the same seed draws the same pictures")
    parser.add_argument("--broken", type=int, default=3, help="broken files to add (default 3)")
    args = parser.parse_args(argv)
    try:
        counts = make_pictures(args.out, n=args.n, seed=args.seed, broken=args.broken)
    except PictureSetError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    print(f"wrote {counts['written']} files into {args.out}: {counts['pictures']} pictures, "
          f"{counts['broken']} broken on purpose")
    return 0


if __name__ == "__main__":
    sys.exit(main())

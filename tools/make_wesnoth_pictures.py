"""Real pictures from Debian's package archive: Battle for Wesnoth's unit sprites, one folder a race.

The sprites come with Debian's `wesnoth-1.16-data` (`apt-get download wesnoth-1.16-data` and
`dpkg-deb -x` it, or install it), never from the internet. Every PNG under data/core/images/units/<race>/
of the races in FAMILIES (the undead's skeletal and necromancer folders joined to theirs) is composited
on black, its box of opaque pixels centred in a square, resized to --size px (Lanczos) and written as
OUT/<family>/<path with / as _>.png. A sprite with under MIN_OPAQUE of its pixels opaque is skipped, and
one identical to an earlier one (families and files in name order) dropped, so no picture is in two
families. OUT/SOURCE.md names the package, version, path and licence. Deterministic: the same sprites
give the same bytes (with the same Pillow build). A second picture set for bench/reading_agreement.py,
beside the Dungeon Crawl tiles (tools/make_crawl_pictures.py): larger, shaded figures rather than pixel
art.

Usage: python tools/make_wesnoth_pictures.py OUT --data DIR/usr/share/games/wesnoth/1.16/data [--size 64]
"""

from __future__ import annotations

import argparse
import hashlib
import sys
from pathlib import Path

import numpy as np
from PIL import Image

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from core.atomic import atomic_folder  # noqa: E402

PACKAGE = "wesnoth-1.16-data"
DEFAULT_DATA = Path("/usr/share/games/wesnoth/1.16/data")
# family -> the race folders under core/images/units it takes
FAMILIES = {
    "drakes": ("drakes",), "dwarves": ("dwarves",), "elves": ("elves-wood",), "loyalists": ("human-loyalists",),
    "monsters": ("monsters",), "orcs": ("orcs", "goblins", "trolls"), "saurians": ("saurians",),
    "undead": ("undead", "undead-skeletal", "undead-necromancers"),
}
MIN_OPAQUE = 0.03
LICENCE = ("Battle for Wesnoth is GPL-2+: Debian's copyright file (/usr/share/doc/wesnoth-1.16-data/copyright) "
           "gives the package that licence and names no other for its images.")


class WesnothPicturesError(ValueError):
    """The pictures cannot be made as asked; the message says why."""


def square(rgba: np.ndarray, background: int = 0) -> np.ndarray | None:
    """The sprite composited on a grey level (black by default) and cut to a square around its opaque
    pixels (centred); None when too little of it is opaque."""
    alpha = rgba[..., 3]
    opaque = alpha >= 128
    if opaque.mean() < MIN_OPAQUE:
        return None
    rows, cols = np.nonzero(opaque)
    top, bottom, left, right = rows.min(), rows.max() + 1, cols.min(), cols.max() + 1
    side = max(bottom - top, right - left)
    cy, cx = (top + bottom) // 2, (left + right) // 2
    a = alpha[..., None].astype(np.uint16)
    rgb = ((rgba[..., :3].astype(np.uint16) * a + background * (255 - a) + 127) // 255).astype(np.uint8)
    canvas = np.full((side, side, 3), background, dtype=np.uint8)
    y0, x0 = cy - side // 2, cx - side // 2
    ys, xs = slice(max(y0, 0), min(y0 + side, rgba.shape[0])), slice(max(x0, 0), min(x0 + side, rgba.shape[1]))
    canvas[ys.start - y0:ys.stop - y0, xs.start - x0:xs.stop - x0] = rgb[ys, xs]
    return canvas


def write_squares(sources: dict[str, list[tuple[Path, str]]], tmp: Path, size: int,
                  background: int = 0) -> tuple[dict[str, int], int]:
    """Each family's (PNG, name) in order squared (square()), resized to `size` px (Lanczos) and written as
    tmp/<family>/<name>.png; one too transparent is skipped, one identical to an earlier one (of any family)
    dropped. Returns the count written per family and the count dropped."""
    seen: set[bytes] = set()
    counts, dropped = {}, 0
    for family, pictures in sources.items():
        (tmp / family).mkdir()
        counts[family] = 0
        for path, name in pictures:
            with Image.open(path) as im:
                cut = square(np.asarray(im.convert("RGBA"), dtype=np.uint8), background)
            if cut is None:
                continue
            digest = hashlib.blake2b(cut.tobytes(), digest_size=16).digest()
            if digest in seen:
                dropped += 1
                continue
            seen.add(digest)
            Image.fromarray(cut, "RGB").resize((size, size), Image.Resampling.LANCZOS).save(tmp / family / f"{name}.png")
            counts[family] += 1
    return counts, dropped


def make_pictures(out: str | Path, data: str | Path = DEFAULT_DATA, size: int = 64, version: str = "unknown",
                  command: str = "") -> dict[str, int]:
    """Write the pictures into `out` (new or empty; all or nothing); return the count written per family."""
    out, units = Path(out), Path(data) / "core" / "images" / "units"
    if out.exists() and (not out.is_dir() or any(out.iterdir())):
        raise WesnothPicturesError(f"{out}: exists and is not an empty folder; give a new or empty folder "
                                   "(nothing already there is overwritten)")
    missing = [race for races in FAMILIES.values() for race in races if not (units / race).is_dir()]
    if missing:
        raise WesnothPicturesError(f"{units}: no {missing[0]}/; extract `{PACKAGE}` (apt-get download {PACKAGE}; "
                                   "dpkg-deb -x it DIR) and give --data DIR/usr/share/games/wesnoth/1.16/data")
    counts: dict[str, int] = {}

    def fill(tmp: Path) -> None:
        sources = {family: [(path, "_".join(path.relative_to(units).with_suffix("").parts))
                            for race in races for path in sorted((units / race).rglob("*.png"))]
                   for family, races in FAMILIES.items()}
        found, dropped = write_squares(sources, tmp, size)
        counts.update(found)
        lines = ["# Source of these pictures", "",
                 f"- Package: Debian's `{PACKAGE}`, version {version} (`apt-get download {PACKAGE}`)",
                 f"- Path: `{units}` (installed: `{DEFAULT_DATA}/core/images/units`)",
                 f"- Licence: {LICENCE}", f"- Made by: `{command or 'tools/make_wesnoth_pictures.py'}`", "",
                 f"Each unit sprite with at least {MIN_OPAQUE:.0%} of its pixels opaque, composited on black, its "
                 f"opaque box centred in a square, resized to {size} px (Lanczos); {dropped} identical to an earlier "
                 "one were dropped.", "", "| family | race folders | pictures |", "|---|---|---|",
                 *(f"| {f} | {', '.join(FAMILIES[f])} | {n} |" for f, n in counts.items()),
                 f"| all | | {sum(counts.values())} |", ""]
        (tmp / "SOURCE.md").write_text("\n".join(lines), encoding="utf-8")

    atomic_folder(out, fill)
    return counts


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Battle for Wesnoth's unit sprites as one folder of pictures a race.")
    parser.add_argument("out", type=Path, help="a new or empty folder")
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA, help=f"Wesnoth's data folder ({DEFAULT_DATA})")
    parser.add_argument("--size", type=int, default=64, help="side of the pictures in px (default 64)")
    parser.add_argument("--package-version", help="the package's version for SOURCE.md (default: dpkg's, for an "
                        "installed package)")
    args = parser.parse_args(argv)
    from tools.make_crawl_pictures import installed_version, write_set

    version = args.package_version or (installed_version(PACKAGE) if args.data == DEFAULT_DATA else "unknown")
    return write_set("tools/make_wesnoth_pictures.py", argv, args.out, WesnothPicturesError,
                     lambda command: make_pictures(args.out, args.data, args.size, version, command))


if __name__ == "__main__":
    sys.exit(main())

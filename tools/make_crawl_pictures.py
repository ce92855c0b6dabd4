"""Real pictures from Debian's package archive: the Dungeon Crawl Stone Soup tiles, one folder a sheet.

The tiles come with `apt-get install crawl-tiles-data` (/usr/share/crawl/dat/tiles), never from the
internet. Each sprite sheet (feat, floor, gui, main, player, wall) is cut into 32x32 tiles; a tile
with at least MIN_OPAQUE of its pixels opaque is kept, composited on black, upscaled to --size px
with nearest-neighbour (pixel art stays crisp) and written as OUT/<sheet>/<sheet>_<row>_<col>.png.
A tile identical to an earlier one (sheets in name order, then row, then column) is dropped, so no
picture is in two families. OUT/SOURCE.md names the package, version, path and licence.
Deterministic: the same tiles give the same bytes (with the same Pillow build).

Usage: python tools/make_crawl_pictures.py OUT [--tiles DIR] [--size 64] [--package-version V]
"""

from __future__ import annotations

import argparse
import gzip
import hashlib
import re
import shlex
import subprocess
import sys
from pathlib import Path

import numpy as np
from PIL import Image

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from core.atomic import atomic_folder  # noqa: E402

PACKAGE = "crawl-tiles-data"
DEFAULT_TILES = Path("/usr/share/crawl/dat/tiles")
SHEETS = ("feat", "floor", "gui", "main", "player", "wall")  # icons.png (32 tiles) and the title art left out
TILE = 32
MIN_OPAQUE = 0.05  # share of a tile's pixels that must be opaque (alpha >= 128) for it to count as a picture
LICENCE = ("Dungeon Crawl Stone Soup is GPL-2+; Debian's copyright file (/usr/share/doc/crawl-common/copyright) "
           "lists \"Public Domain|CC0: most of tiles\" (it points to the rltiles project for a subset that errs "
           "on the side of caution where a tile's authorship is uncertain).")


class CrawlPicturesError(ValueError):
    """The pictures cannot be made as asked; the message says why."""


def tiles_of(sheet: Image.Image) -> list[tuple[int, int, np.ndarray]]:
    """(row, col, RGB uint8 32x32 composited on black) for each whole tile with enough opaque pixels."""
    rgba = np.asarray(sheet.convert("RGBA"), dtype=np.uint8)
    rows, cols = rgba.shape[0] // TILE, rgba.shape[1] // TILE  # a part-tile at the edge is not a tile
    kept = []
    for r in range(rows):
        for c in range(cols):
            tile = rgba[r * TILE:(r + 1) * TILE, c * TILE:(c + 1) * TILE]
            alpha = tile[..., 3:].astype(np.uint16)
            if (alpha >= 128).mean() < MIN_OPAQUE:
                continue
            rgb = (tile[..., :3].astype(np.uint16) * alpha + 127) // 255  # over black
            kept.append((r, c, rgb.astype(np.uint8)))
    return kept


def make_pictures(out: str | Path, tiles: str | Path = DEFAULT_TILES, size: int = 64,
                  version: str | None = None, command: str = "") -> dict[str, int]:
    """Write the pictures into `out` (new or empty; all or nothing); return the count written per family.
    `command` (what made them) goes into SOURCE.md."""
    out, tiles = Path(out), Path(tiles)
    if out.exists() and (not out.is_dir() or any(out.iterdir())):
        raise CrawlPicturesError(f"{out}: exists and is not an empty folder; give a new or empty folder "
                                 "(nothing already there is overwritten)")
    if size < TILE or size % TILE:
        raise CrawlPicturesError(f"--size {size}: must be a multiple of {TILE} (the tiles are upscaled whole)")
    missing = [s for s in SHEETS if not (tiles / f"{s}.png").is_file()]
    if missing:
        raise CrawlPicturesError(f"{tiles}: no {missing[0]}.png; install the tiles with "
                                 f"`sudo apt-get install -y {PACKAGE}` (or give --tiles DIR)")
    counts: dict[str, int] = {}

    def fill(tmp: Path) -> None:
        seen: set[bytes] = set()
        dropped = 0
        for name in SHEETS:
            with Image.open(tiles / f"{name}.png") as sheet:
                found = tiles_of(sheet)
            family = tmp / name
            family.mkdir()
            counts[name] = 0
            for r, c, rgb in found:
                digest = hashlib.blake2b(rgb.tobytes(), digest_size=16).digest()
                if digest in seen:
                    dropped += 1
                    continue
                seen.add(digest)
                big = Image.fromarray(rgb, "RGB").resize((size, size), Image.Resampling.NEAREST)
                big.save(family / f"{name}_{r:02d}_{c:02d}.png")
                counts[name] += 1
        _write_source(tmp, tiles, size, counts, dropped, version or package_version(tiles), command)

    atomic_folder(out, fill)  # a failure part-way leaves nothing behind
    return counts


def package_version(tiles: Path) -> str:
    """The package's version: dpkg's, when the tiles are the installed ones; else the Debian changelog
    beside an extracted package's files; else 'unknown'."""
    if tiles.resolve() == DEFAULT_TILES:
        try:
            p = subprocess.run(["dpkg-query", "-W", "-f=${Version}", PACKAGE], capture_output=True, text=True)
            if p.returncode == 0 and p.stdout.strip():
                return p.stdout.strip()
        except OSError:
            pass
    docs = tiles.parent.parent.parent / "doc"  # usr/share/crawl/dat/tiles -> usr/share/doc
    for pkg in (PACKAGE, "crawl-common"):
        try:
            with gzip.open(docs / pkg / "changelog.Debian.gz", "rt", encoding="utf-8") as f:
                if m := re.match(r"\S+ \(([^)]+)\)", f.readline()):
                    return m.group(1)
        except OSError:
            continue
    return "unknown"


def _write_source(out: Path, tiles: Path, size: int, counts: dict[str, int], dropped: int, version: str,
                  command: str) -> None:
    lines = [
        "# Source of these pictures", "",
        f"- Package: Debian's `{PACKAGE}`, version {version} (`apt-get download {PACKAGE}` or "
        f"`apt-get install {PACKAGE}`)",
        f"- Path: `{tiles}` (installed: `{DEFAULT_TILES}`), sheets {', '.join(s + '.png' for s in SHEETS)}",
        f"- Licence: {LICENCE}",
        f"- Made by: `{command or 'tools/make_crawl_pictures.py'}`",
        "",
        f"Each sheet cut into {TILE}x{TILE} tiles; a tile is kept when at least {MIN_OPAQUE:.0%} of its pixels "
        f"are opaque (alpha >= 128), composited on black, upscaled to {size} px (nearest-neighbour) and saved "
        f"as `<sheet>/<sheet>_<row>_<col>.png`; {dropped} tiles identical to an earlier one were dropped.", "",
        "| family | pictures |", "|---|---|",
        *(f"| {name} | {n} |" for name, n in counts.items()),
        f"| all | {sum(counts.values())} |", "",
    ]
    (out / "SOURCE.md").write_text("\n".join(lines), encoding="utf-8")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Cut Debian's Dungeon Crawl Stone Soup tile sheets into one "
                                     "folder of pictures a sheet.")
    parser.add_argument("out", type=Path, help="a new or empty folder")
    parser.add_argument("--tiles", type=Path, default=DEFAULT_TILES, help=f"the sheets' folder ({DEFAULT_TILES})")
    parser.add_argument("--size", type=int, default=64, help="side of the pictures in px (default 64)")
    parser.add_argument("--package-version", help="the package's version for SOURCE.md, when the tiles were "
                        "extracted from a .deb (otherwise read from dpkg or the Debian changelog)")
    args = parser.parse_args(argv)
    return write_set("tools/make_crawl_pictures.py", argv, args.out, CrawlPicturesError,
                     lambda command: make_pictures(args.out, args.tiles, args.size, args.package_version, command))


def installed_version(package: str) -> str:
    """dpkg's version of an installed package, or 'unknown'."""
    try:
        p = subprocess.run(["dpkg-query", "-W", "-f=${Version}", package], capture_output=True, text=True)
    except OSError:
        return "unknown"
    return p.stdout.strip() if p.returncode == 0 and p.stdout.strip() else "unknown"


def write_set(script: str, argv: list[str] | None, out: Path, refusal: type[Exception], make) -> int:
    """A picture set's command (this one, tools/make_wesnoth_pictures.py): `make(command)` writes the set and
    returns its families' counts; a refusal or an OS error is one line and exit code 2."""
    try:
        counts = make(shlex.join(["python", script, *(sys.argv[1:] if argv is None else argv)]))
    except refusal as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    except OSError as e:
        print(f"error: {e.filename or out}: {e.strerror or e}", file=sys.stderr)
        return 2
    print(f"wrote {sum(counts.values())} pictures into {out}: " + ", ".join(f"{name} {n}" for name, n in counts.items()))
    return 0


if __name__ == "__main__":
    sys.exit(main())

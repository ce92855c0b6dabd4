"""Real pictures from Debian's package archive: Tux Paint's stamps, one folder a stamp category.

The stamps come with Debian's `tuxpaint-stamps-default` (`apt-get install` it, or `apt-get download` and
`dpkg-deb -x` it), never from the internet. Every PNG under /usr/share/tuxpaint/stamps/<category>/ of the
categories in FAMILIES (those with 30 or more PNG stamps; the SVG ones are left out: rendering them would
need a second library) is composited on white, its box of opaque pixels centred in a square, resized to
--size px (Lanczos) and written as OUT/<family>/<path with / as _>.png. White, not the black of the Wesnoth
sprites (tools/make_wesnoth_pictures.py): a stamp is drawn to be pressed onto Tux Paint's white page, and
many are outlined in black, which would vanish on black. A stamp with under MIN_OPAQUE of its pixels
opaque is skipped and one identical to an earlier one dropped, so no picture is in two families.
OUT/SOURCE.md names the package, version, path and licence. The third picture set of issue #27, beside
the Dungeon Crawl tiles (pixel art) and the Wesnoth sprites (shaded figures on black): drawings of things
a child would name (animals, food, vehicles), a small folder of ~700 pictures.

Usage: python tools/make_stamp_pictures.py OUT [--stamps /usr/share/tuxpaint/stamps] [--size 64]
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from core.atomic import atomic_folder  # noqa: E402
from tools.make_wesnoth_pictures import MIN_OPAQUE, write_squares  # noqa: E402

PACKAGE = "tuxpaint-stamps-default"
DEFAULT_STAMPS = Path("/usr/share/tuxpaint/stamps")
FAMILIES = ("animals", "food", "household", "plants", "seasonal", "symbols", "town", "vehicles")
LICENCE = ("Tux Paint's stamps are GPL-2: Debian's copyright file (/usr/share/doc/tuxpaint-stamps-default/copyright) "
           "gives `Files: *` that licence, copyright 2002-2022 Bill Kendrick and the stamps' authors.")


class StampPicturesError(ValueError):
    """The pictures cannot be made as asked; the message says why."""


def make_pictures(out: str | Path, stamps: str | Path = DEFAULT_STAMPS, size: int = 64, version: str = "unknown",
                  command: str = "") -> dict[str, int]:
    """Write the pictures into `out` (new or empty; all or nothing); return the count written per family."""
    out, stamps = Path(out), Path(stamps)
    if out.exists() and (not out.is_dir() or any(out.iterdir())):
        raise StampPicturesError(f"{out}: exists and is not an empty folder; give a new or empty folder "
                                 "(nothing already there is overwritten)")
    missing = [f for f in FAMILIES if not (stamps / f).is_dir()]
    if missing:
        raise StampPicturesError(f"{stamps}: no {missing[0]}/; install `{PACKAGE}` (apt-get install {PACKAGE}) "
                                 "or give --stamps DIR/usr/share/tuxpaint/stamps of an extracted one")
    counts: dict[str, int] = {}

    def fill(tmp: Path) -> None:
        sources = {family: [(path, "_".join(path.relative_to(stamps / family).with_suffix("").parts))
                            for path in sorted((stamps / family).rglob("*.png"))] for family in FAMILIES}
        found, dropped = write_squares(sources, tmp, size, background=255)  # on white
        counts.update(found)
        lines = ["# Source of these pictures", "",
                 f"- Package: Debian's `{PACKAGE}`, version {version} (`apt-get install {PACKAGE}`)",
                 f"- Path: `{stamps}`", f"- Licence: {LICENCE}",
                 f"- Made by: `{command or 'tools/make_stamp_pictures.py'}`", "",
                 f"Each PNG stamp with at least {MIN_OPAQUE:.0%} of its pixels opaque, composited on white, its "
                 f"opaque box centred in a square, resized to {size} px (Lanczos); {dropped} identical to an earlier "
                 "one were dropped.", "", "| family | pictures |", "|---|---|",
                 *(f"| {f} | {n} |" for f, n in counts.items()), f"| all | {sum(counts.values())} |", ""]
        (tmp / "SOURCE.md").write_text("\n".join(lines), encoding="utf-8")

    atomic_folder(out, fill)
    return counts


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Tux Paint's stamps as one folder of pictures a category.")
    parser.add_argument("out", type=Path, help="a new or empty folder")
    parser.add_argument("--stamps", type=Path, default=DEFAULT_STAMPS, help=f"the stamps' folder ({DEFAULT_STAMPS})")
    parser.add_argument("--size", type=int, default=64, help="side of the pictures in px (default 64)")
    parser.add_argument("--package-version", help="the package's version for SOURCE.md (default: dpkg's)")
    args = parser.parse_args(argv)
    from tools.make_crawl_pictures import installed_version, write_set

    version = args.package_version or installed_version(PACKAGE)
    return write_set("tools/make_stamp_pictures.py", argv, args.out, StampPicturesError,
                     lambda command: make_pictures(args.out, args.stamps, args.size, version, command))


if __name__ == "__main__":
    sys.exit(main())

"""A folder of pictures, decoded once into a uint8 (N, C, S, S) array on disk.

The array is memory-mapped, so a folder of any size can be trained on, and a
folder that has not changed since the last run opens without decoding a
single file. Layout under the cache root:

    folders/<name>-<hash of the folder path>/<key>.u8     raw pixels, C-order
    folders/<name>-<hash of the folder path>/<key>.json   written last: "complete"

The JSON also records the pixel file's size and a checksum of a fixed sample of its blocks;
a cache whose record does not match its pixels (or the size and channels asked for) is
rebuilt, and the person is told, instead of being trained on.

The key covers the folder, the size, the channels and every file's name, size
and mtime, so any change to the folder gives a new key and a new build; the
caches of the folder's older states are then removed (those at another size or
channel count of the same files are kept).
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import tempfile
import time
from collections import deque
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Callable

import numpy as np

from core.atomic import _umask, atomic_write
from core.data.folders import IMAGE_SUFFIXES, DataError

FORMAT_VERSION = 2  # 2: the record holds the pixel file's size and a sampled checksum
MAX_SKIPPED_NAMES = 30  # the JSON lists this many skipped files; the count is always exact
PROGRESS_INTERVAL_S = 0.1  # progress() at most ~10 times a second
STALE_PARTIAL_S = 600  # an unfinished build untouched this long was killed; a live one writes every image
DATA_SUFFIX, META_SUFFIX, PARTIAL_SUFFIX = ".u8", ".json", ".partial"
# The checksum reads this many blocks spread evenly over the pixel file, first and last included:
# 4 MiB at most, so opening a cache of any size stays cheap; a smaller file is read whole.
SAMPLE_BLOCKS, SAMPLE_BLOCK_BYTES = 64, 64 * 1024
# Transparent pixels become white: cut-out products, icons and sprites are drawn
# to sit on a light page, and whatever colour the hidden pixels hold (often black
# or junk) is replaced by one constant background the GAN can learn.
ALPHA_BACKGROUND = 255

_clock = time.monotonic  # a seam for the progress-rate test


class BuildCancelled(DataError):
    """should_stop() asked to stop while the cache was being built; nothing was left on disk."""


@dataclass
class FolderCache:
    images: np.memmap = field(repr=False)  # read-only uint8 (N, C, S, S)
    count: int
    skipped: int
    skipped_files: tuple[str, ...]  # relative paths, at most MAX_SKIPPED_NAMES of them
    path: Path  # the .u8 pixel file
    key: str
    built: bool  # True: decoded by this call; False: opened from disk
    nbytes: int
    folder: Path
    repaired: bool = False  # True: a cache on disk did not match its record and was rebuilt
    # The pictures' kinds, in their order: (top-level sub-folder, how many pictures in a row), "" for pictures
    # lying in the folder itself. () when unknown (an older record that skipped too many files to tell).
    kind_runs: tuple[tuple[str, int], ...] = ()

    def kinds(self) -> tuple[np.ndarray, tuple[str, ...]] | None:
        """Each picture's kind (int64 (N,), an index into the names) and the kinds' names, sorted; None when
        the folder holds fewer than two kinds or they are unknown."""
        names = tuple(sorted({name for name, _ in self.kind_runs}))
        if len(names) < 2:
            return None
        index = {name: i for i, name in enumerate(names)}
        ids = np.concatenate([np.full(n, index[name], dtype=np.int64) for name, n in self.kind_runs])
        return (ids, names) if len(ids) == self.count else None

    @property
    def notes(self) -> tuple[str, ...]:
        """Things to tell the person, as core.data.datasets.ImageSet.notes."""
        notes = []
        if self.repaired:
            notes.append(f"picture cache {self.path} did not match its record; rebuilt")
        if self.skipped:
            shown = ", ".join(self.skipped_files[:5]) + (", ..." if self.skipped > 5 else "")
            notes.append(f"Skipped {self.skipped} unreadable file(s) in {self.folder} ({shown}).")
        return tuple(notes)


def check_folder(folder: str | Path) -> Path:
    """`folder` as a path, or DataError naming data.folder when it is missing or not a folder: what a
    start checks before it claims a run folder (a scan of a large folder is left to the loading)."""
    root = Path(folder).expanduser()
    if not root.exists():
        raise DataError(f"data.folder = {str(folder)!r}: no such folder. Check the path.")
    if not root.is_dir():
        raise DataError(f"data.folder = {str(folder)!r}: not a folder. Give the folder that holds the pictures.")
    return root


def scan(folder: str | Path) -> list[Path]:
    """Every image file below `folder` (sub-folders included; hidden files and folders
    skipped), sorted by relative path so every machine sees the same dataset order."""
    root = check_folder(folder).resolve()
    found = []
    for dirpath, dirnames, filenames in os.walk(root):  # does not follow symlinked folders: no loops
        dirnames[:] = [d for d in dirnames if not d.startswith(".")]
        for name in filenames:
            path = Path(dirpath) / name
            if not name.startswith(".") and path.suffix.lower() in IMAGE_SUFFIXES and path.is_file():
                found.append((path.relative_to(root).as_posix(), path))
    if not found:
        raise DataError(f"data.folder = {str(folder)!r}: no images found (looked in sub-folders too for "
                        f"{', '.join(sorted(IMAGE_SUFFIXES))})")
    return [path for _, path in sorted(found)]


def cache_key(folder: str | Path, files: list[Path], size: int, channels: int) -> str:
    """sha256 hex over the format, the folder, size, channels and each file's name, size and mtime."""
    root = Path(folder).expanduser().resolve()
    return _digest([FORMAT_VERSION, str(root), size, channels], _stamps(root, files))


def _stamps(root: Path, files: list[Path]) -> list[list]:
    stamps = []
    for path in files:
        try:
            st = os.stat(path)
            stamps.append([_relative(path, root), st.st_size, st.st_mtime_ns])
        except OSError:  # gone since the scan: it will be skipped, and the key says so
            stamps.append([_relative(path, root), -1, -1])
    return stamps


def _digest(header: list, stamps: list[list]) -> str:
    h = hashlib.sha256(json.dumps(header).encode() + b"\n")
    for stamp in stamps:
        h.update(json.dumps(stamp).encode() + b"\n")
    return h.hexdigest()


def default_cache_root() -> Path:
    import platformdirs
    return Path(platformdirs.user_cache_dir("gan-studio")) / "folders"


def open_or_build(folder: str | Path, size: int, channels: int, cache_root: str | Path | None = None,
                  progress: Callable[[int, int], None] | None = None,
                  should_stop: Callable[[], bool] | None = None, workers: int | None = None) -> FolderCache:
    """The folder's pictures as a memory-mapped uint8 (N, C, size, size) array.

    Opens the cache built earlier for exactly these files, size and channels, or
    decodes every file once (in `workers` threads, default: the CPU count) and
    writes a new one. progress(done, total) is called while building, at most ~10
    times a second and once at the end; should_stop() is checked between files and
    cancels the build (BuildCancelled). Both are called on the calling thread.
    Unreadable files are skipped and counted; if none can be read, DataError."""
    if channels not in (1, 3):
        raise DataError(f"data.channels = {channels}: a folder is read as 1 (grayscale) or 3 (RGB) channels")
    if size < 1:
        raise DataError(f"data.image_size = {size}: must be at least 1")
    files = scan(folder)
    root = Path(folder).expanduser().resolve()
    stamps = _stamps(root, files)
    key = _digest([FORMAT_VERSION, str(root), size, channels], stamps)
    contents = _digest([FORMAT_VERSION, str(root)], stamps)  # the same for every size and channels
    home = _home(Path(cache_root) if cache_root is not None else default_cache_root(), root)
    cache = _open(home, key, root, (size, channels), files)
    if not isinstance(cache, FolderCache):
        repaired = cache  # True: a record was there but did not match its pixels
        cache = _build(home, key, contents, root, files, size, channels, progress, should_stop, workers)
        cache.repaired = repaired
    _remove_stale(home, key, contents)  # after the new one is complete
    return cache


def preview(cache: FolderCache, n: int = 64, seed: int = 0) -> np.ndarray:
    """n pictures drawn at random (fixed by `seed`) for a "see your data" grid: uint8 (n, C, S, S)."""
    n = min(n, cache.count)
    idx = np.sort(np.random.default_rng(seed).choice(cache.count, size=n, replace=False))
    return np.array(cache.images[idx])  # sorted: the memmap is read front to back


# ---- decoding ----------------------------------------------------------------------------------

def _decode(path: Path, size: int, channels: int) -> np.ndarray:
    """One file -> uint8 (C, size, size): EXIF orientation applied, alpha on white,
    centre-cropped to a square and resized with LANCZOS. Raises on an unreadable file."""
    from PIL import Image, ImageOps

    mode = "L" if channels == 1 else "RGB"
    with Image.open(path) as opened:
        if opened.format == "JPEG":
            opened.draft(mode, (size, size))  # decode big JPEGs at 1/2..1/8 scale: still >= size, far faster
        im = ImageOps.exif_transpose(opened)
        im = _to_mode(im, mode)
        im = ImageOps.fit(im, (size, size), Image.Resampling.LANCZOS)
        arr = np.asarray(im, dtype=np.uint8).reshape(size, size, channels)
    return np.ascontiguousarray(arr.transpose(2, 0, 1))


def _to_mode(im, mode: str):
    from PIL import Image

    if im.mode in ("I", "F") or im.mode.startswith("I;16"):  # 16-bit / float grayscale: scale, not clip
        arr = np.asarray(im, dtype=np.float64)
        top = arr.max(initial=0)
        if im.mode == "F" and top <= 1:
            arr = arr * 255  # floats in 0..1
        elif top > 255:
            arr = arr / 257  # 16-bit: 65535 -> 255
        im = Image.fromarray(np.clip(arr, 0, 255).round().astype(np.uint8), "L")
    if im.mode in ("RGBA", "LA", "PA", "La", "RGBa") or (im.mode in ("P", "L", "RGB") and "transparency" in im.info):
        rgba = im.convert("RGBA")
        background = Image.new("RGBA", rgba.size, (ALPHA_BACKGROUND,) * 3 + (255,))
        background.alpha_composite(rgba)
        im = background
    return im.convert(mode)


def _build(home: Path, key: str, contents: str, root: Path, files: list[Path], size: int, channels: int,
           progress, should_stop, workers: int | None) -> FolderCache:
    home.mkdir(parents=True, exist_ok=True)
    _check_space(home, root, len(files) * channels * size * size)
    fd, tmp_name = tempfile.mkstemp(prefix=f"{key}.", suffix=PARTIAL_SUFFIX, dir=home)
    tmp = Path(tmp_name)
    try:
        with os.fdopen(fd, "wb") as out:
            count, skipped, reasons = _decode_all(out, root, files, size, channels, progress, should_stop, workers)
            runs = kind_runs(root, files, set(reasons))
            out.flush()
            os.fsync(out.fileno())  # the pixels are on disk before the JSON says "complete"
        if count == 0:
            first = next(iter(reasons.items()))
            raise DataError(f"data.folder = {str(root)!r}: none of the {len(files)} image files could be "
                            f"read (e.g. {first[0]}: {first[1]}). Check that they are pictures.")
        os.chmod(tmp, 0o666 & ~_umask())  # mkstemp's private 0600 would keep a shared cache unreadable
        checksum = _sample_digest(tmp, tmp.stat().st_size)  # just written: read back from the page cache
        data = home / f"{key}{DATA_SUFFIX}"
        os.replace(tmp, data)
    except BaseException:
        tmp.unlink(missing_ok=True)
        try:
            home.rmdir()  # only when empty: a first build that failed leaves no trace
        except OSError:
            pass
        raise
    shape = (count, channels, size, size)
    meta = {"format": FORMAT_VERSION, "key": key, "contents": contents, "shape": list(shape), "count": count,
            "skipped": skipped, "skipped_files": list(reasons)[:MAX_SKIPPED_NAMES], "folder": str(root), "size": size,
            "channels": channels, "bytes": int(np.prod(shape)), "blake2b_sample": checksum,
            "kinds": [list(r) for r in runs], "created": datetime.now(timezone.utc).isoformat(timespec="seconds")}
    atomic_write(home / f"{key}{META_SUFFIX}", lambda p: Path(p).write_text(json.dumps(meta, indent=1)))
    return _load(data, meta, root, built=True)


def _decode_all(out, root: Path, files: list[Path], size: int, channels: int, progress, should_stop,
                workers: int | None) -> tuple[int, int, dict[str, str]]:
    """Decode in a thread pool (Pillow releases the GIL while decoding and resizing) and
    write the results in file order. Returns (count, skipped, {skipped file: reason})."""
    total, done, count, reasons = len(files), 0, 0, {}
    workers = workers or os.cpu_count() or 1
    window = 4 * workers  # futures in flight: bounded, so a slow file cannot pile results up in memory
    last = _clock()
    if progress:
        progress(0, total)

    def decode(path):
        try:
            return _decode(path, size, channels), None
        except Exception as e:  # image plugins raise many kinds on damaged files; each one is a skip
            return None, _reason(e)

    with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="decode") as pool:
        try:
            for path, (pixels, reason) in _in_order(pool, decode, files, window):
                if should_stop and should_stop():
                    raise BuildCancelled(f"building the picture cache for {root} was cancelled")
                if pixels is None:
                    reasons[_relative(path, root)] = reason
                else:
                    out.write(pixels.data)
                    count += 1
                done += 1
                if progress and done < total and _clock() - last >= PROGRESS_INTERVAL_S:
                    progress(done, total)
                    last = _clock()
        except BaseException:
            pool.shutdown(wait=True, cancel_futures=True)
            raise
    if progress:
        progress(total, total)
    return count, total - count, reasons


def _in_order(pool: ThreadPoolExecutor, fn, items: list, window: int):
    """(item, fn(item)) in the items' order, with up to `window` calls running ahead."""
    pending: deque[tuple[object, Future]] = deque()
    for item in items:
        pending.append((item, pool.submit(fn, item)))
        if len(pending) >= window:
            done, future = pending.popleft()
            yield done, future.result()
    while pending:
        done, future = pending.popleft()
        yield done, future.result()


def _reason(e: Exception) -> str:
    text = str(e).strip().splitlines()
    return f"{type(e).__name__}: {text[0][:200]}" if text else type(e).__name__


def _check_space(home: Path, root: Path, need: int) -> None:
    free = shutil.disk_usage(home).free
    if need > free:
        raise DataError(f"data.folder = {str(root)!r}: its picture cache needs {need / 2**30:.2f} GiB but "
                        f"{home} has {free / 2**30:.2f} GiB free. Free some space, or choose a smaller "
                        "data.image_size.")


# ---- opening and tidying -----------------------------------------------------------------------

def _home(cache_root: Path, root: Path) -> Path:
    """This folder's own sub-folder of the cache: readable name + hash of the full path."""
    slug = re.sub(r"[^A-Za-z0-9_.-]+", "_", root.name)[:40].strip("._") or "folder"
    return cache_root / f"{slug}-{hashlib.sha256(str(root).encode()).hexdigest()[:16]}"


def _open(home: Path, key: str, root: Path, size_channels: tuple[int, int],
          files: list[Path]) -> FolderCache | bool:
    """The complete cache for `key`; else False (absent or half-built: no record yet) or True
    (a record that does not match its pixels or what was asked for: rebuild, and say so)."""
    data, meta_path = home / f"{key}{DATA_SUFFIX}", home / f"{key}{META_SUFFIX}"
    if not meta_path.exists():
        return False  # the JSON is written last: a build that never finished
    size, channels = size_channels
    try:
        meta = json.loads(meta_path.read_text())
        shape = tuple(int(s) for s in meta["shape"])
        # The key already covers size and channels, so the record must repeat them: an edited shape
        # would otherwise reinterpret the same bytes as other pictures.
        if (meta.get("format") != FORMAT_VERSION or meta.get("key") != key or len(shape) != 4
                or shape[1:] != (channels, size, size) or shape[0] < 1 or shape[0] != int(meta["count"])):
            return True
        nbytes = int(np.prod(shape))
        if data.stat().st_size != nbytes or int(meta["bytes"]) != nbytes:
            return True
        if _sample_digest(data, nbytes) != meta["blake2b_sample"]:
            return True
        if "kinds" not in meta and int(meta["skipped"]) == len(meta["skipped_files"]):
            # A record from before kinds were kept: every skipped file is named, so the kinds follow from the scan.
            meta["kinds"] = kind_runs(root, files, set(meta["skipped_files"]))
        return _load(data, meta, root, built=False)
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        return True


def _sample_digest(path: Path, nbytes: int) -> str:
    """blake2b over SAMPLE_BLOCKS blocks spread evenly over the file (the whole file when smaller),
    and its size: bytes overwritten in place at the same size change it, for a few MiB read."""
    h = hashlib.blake2b(str(nbytes).encode(), digest_size=16)
    with open(path, "rb") as f:
        if nbytes <= SAMPLE_BLOCKS * SAMPLE_BLOCK_BYTES:
            h.update(f.read())
        else:
            last = nbytes - SAMPLE_BLOCK_BYTES
            for i in range(SAMPLE_BLOCKS):
                f.seek(last * i // (SAMPLE_BLOCKS - 1))
                h.update(f.read(SAMPLE_BLOCK_BYTES))
    return h.hexdigest()


def _load(data: Path, meta: dict, root: Path, built: bool) -> FolderCache:
    shape = tuple(int(s) for s in meta["shape"])
    images = np.memmap(data, dtype=np.uint8, mode="r", shape=shape)
    return FolderCache(images=images, count=shape[0], skipped=int(meta["skipped"]),
                       skipped_files=tuple(meta["skipped_files"]), path=data, key=meta["key"], built=built,
                       nbytes=int(np.prod(shape)), folder=root, kind_runs=_runs_of(meta.get("kinds", ())))


def _remove_stale(home: Path, key: str, contents: str) -> None:
    """Remove this folder's caches of an older state of the folder, and leftovers of killed builds.
    They are ours, not the person's data. Caches of the same files at another size or channel
    count are kept (64 and 128 px runs of one folder), and so is anything written in the last
    STALE_PARTIAL_S seconds that is not a complete cache: another process may be building it."""
    keep = {f"{key}{DATA_SUFFIX}", f"{key}{META_SUFFIX}"}
    outdated: set[str] = set()
    for meta_path in home.glob(f"*{META_SUFFIX}"):
        if meta_path.name in keep:
            continue
        try:
            same_files = json.loads(meta_path.read_text()).get("contents") == contents
        except (OSError, ValueError, AttributeError):
            continue  # unreadable: left to the age rule below
        pair = {meta_path.name, f"{meta_path.stem}{DATA_SUFFIX}"}
        (keep if same_files else outdated).update(pair)
    now = time.time()
    for entry in home.iterdir():
        if entry.name in keep or not entry.is_file():
            continue
        try:
            if entry.name in outdated or now - entry.stat().st_mtime >= STALE_PARTIAL_S:
                entry.unlink()
        except OSError:  # e.g. still memory-mapped by another process on Windows: next time
            pass


def kind_runs(root: Path, files: list[Path], skipped: set[str]) -> tuple[tuple[str, int], ...]:
    """The kinds of the pictures decoded from `files` (those not in `skipped`, relative paths), in order:
    (top-level sub-folder, count) runs; "" for a picture in the folder itself."""
    runs: list[list] = []
    for path in files:
        relative = _relative(path, root)
        if relative in skipped:
            continue
        kind = relative.split("/", 1)[0] if "/" in relative else ""
        if runs and runs[-1][0] == kind:
            runs[-1][1] += 1
        else:
            runs.append([kind, 1])
    return tuple((kind, n) for kind, n in runs)


def _runs_of(raw) -> tuple[tuple[str, int], ...]:
    """A record's kinds, checked: a malformed list is no kinds (the pictures still train, unconditioned)."""
    try:
        runs = tuple((str(kind), int(n)) for kind, n in raw)
    except (TypeError, ValueError):
        return ()
    return runs if all(n > 0 for _, n in runs) else ()


def _relative(path: Path, root: Path) -> str:
    try:
        return Path(path).relative_to(root).as_posix()
    except ValueError:
        return Path(path).as_posix()

"""A run's sample grids as an animation: GIF (Pillow, through imageio) or MP4 (H.264, PyAV).

Each grid gets a caption band with its step. The explorer's random walk hands
its own frames to `write_animation`.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable
from fractions import Fraction
from pathlib import Path

import numpy as np

from core.atomic import atomic_write
from core.runs.folder import SAMPLE as GRID_NAME  # samples/step_NNNNNN.png
from core.runs.folder import RunFolder

SUFFIXES = (".gif", ".mp4")


class TimelapseError(ValueError):
    """A run folder without grids, frames that cannot be drawn, or an output that cannot be written."""


def grid_frames(run_dir: str | Path) -> list[tuple[int, Path]]:
    """The run's samples/step_NNNNNN.png grids as (step, path), oldest first; other files are ignored."""
    run_dir = Path(run_dir)
    if not run_dir.is_dir():
        raise TimelapseError(f"{run_dir}: no such folder; give a run folder (the one holding samples/)")
    samples = RunFolder(run_dir).samples
    if not samples.is_dir():
        raise TimelapseError(f"{run_dir}: not a run folder (it has no samples/ folder); give the folder "
                             "'train --out' or the studio wrote")
    grids = [(int(m.group(1)), p) for p in samples.iterdir() if p.is_file() and (m := GRID_NAME.fullmatch(p.name))]
    inside = run_dir.resolve()
    for path in (samples, *(p for _, p in grids)):
        if not path.resolve().is_relative_to(inside):  # a link out: not this run's, and not read
            raise TimelapseError(f"{path}: a symbolic link to {os.readlink(path) if path.is_symlink() else path.resolve()}, "
                                 "outside the run folder; a timelapse takes only the run's own grids: replace it "
                                 "with what it points to, or remove it, and try again")
    if not grids:
        raise TimelapseError(f"{samples}: no sample grids (step_NNNNNN.png) yet; train for at least "
                             "run.sample_every steps first")
    return sorted(grids)


def _font(size: int):
    from PIL import ImageFont

    return ImageFont.load_default(size=size)  # Pillow >= 10.1: a scalable font, bundled


def caption(image: np.ndarray, text: str) -> np.ndarray:
    """The image (H x W x 3 uint8) above a black band with `text` in white.

    The text grows with the image and never gets smaller than 12 px, so it stays readable under a
    grid of 28-px digits; a frame narrower than its caption is widened (black sides) to fit it.
    """
    from PIL import Image, ImageDraw

    image = _rgb(image, "caption image")
    height, width = image.shape[:2]
    font = _font(max(12, round(min(height, width) * 0.07)))
    left, top, right, bottom = font.getbbox(text)
    margin = max(2, font.size // 4)
    band = font.size + 2 * margin
    canvas = Image.new("RGB", (max(width, right - left + 2 * margin), height + band))
    canvas.paste(Image.fromarray(image), ((canvas.width - width) // 2, 0))
    # Centred on the band by the text's own box, whatever the font's ascent.
    at = ((canvas.width - (right - left)) // 2 - left, height + (band - (bottom - top)) // 2 - top)
    ImageDraw.Draw(canvas).text(at, text, fill=(255, 255, 255), font=font)
    return np.asarray(canvas)


def _rgb(frame, what: str) -> np.ndarray:
    """H x W, H x W x 1 or H x W x 3 uint8 -> H x W x 3."""
    frame = np.asarray(frame)
    if frame.dtype != np.uint8 or frame.ndim not in (2, 3) or (frame.ndim == 3 and frame.shape[2] not in (1, 3)):
        raise TimelapseError(f"{what}: shape {frame.shape}, {frame.dtype}; frames must be uint8 "
                             "H x W or H x W x 3 arrays")
    if frame.ndim == 2:
        frame = frame[..., None]
    return np.repeat(frame, 3, axis=2) if frame.shape[2] == 1 else frame


def _pad_to_one_size(frames: list[np.ndarray], even: bool) -> list[np.ndarray]:
    """Centre every frame on a black canvas the size of the largest (even sides for yuv420p)."""
    height = max(f.shape[0] for f in frames)
    width = max(f.shape[1] for f in frames)
    if even:
        height, width = height + height % 2, width + width % 2
    padded = []
    for f in frames:
        top, left = (height - f.shape[0]) // 2, (width - f.shape[1]) // 2
        padded.append(np.pad(f, ((top, height - f.shape[0] - top), (left, width - f.shape[1] - left), (0, 0))))
    return padded


def _write_gif(frames: list[np.ndarray], path: str, fps: float) -> None:
    import imageio.v3 as iio

    # loop=0: repeat forever. Pillow merges identical neighbours, adding up their durations.
    # Encoded in memory, then written here: imageio's file writer, failing to flush (a full disk), raised
    # again when collected ("Exception ignored in: PluginV3.__del__" and a traceback after the error line).
    data = iio.imwrite("<bytes>", np.stack(frames), extension=".gif", plugin="pillow", loop=0,
                       duration=round(1000 / fps))
    Path(path).write_bytes(data)


def _write_mp4(frames: list[np.ndarray], path: str, fps: float) -> None:
    import av

    try:
        av.codec.Codec("libx264", "w")
    except av.FFmpegError:
        raise TimelapseError("this PyAV build has no H.264 encoder (libx264); write a .gif instead, or "
                             "install PyAV from PyPI (pip install av), whose wheels include it") from None
    # The temp file's name ends in .tmp: the container is named, not guessed from it.
    with av.open(path, mode="w", format="mp4", options={"movflags": "+faststart"}) as container:
        stream = container.add_stream("libx264", rate=Fraction(fps).limit_denominator(1001))
        stream.height, stream.width = frames[0].shape[:2]
        stream.pix_fmt = "yuv420p"  # what every player decodes
        stream.options = {"crf": "18"}  # grids are fine strokes: near-lossless keeps them sharp
        for frame in frames:
            container.mux(stream.encode(av.VideoFrame.from_ndarray(frame, format="rgb24")))
        container.mux(stream.encode())  # flush the frames the encoder still holds


WRITERS = {".gif": _write_gif, ".mp4": _write_mp4}


def _check_out(out: Path, fps: float, overwrite: bool) -> None:
    if out.suffix.lower() not in SUFFIXES:
        raise TimelapseError(f"{out}: cannot write a {out.suffix or 'suffix-less'} file; name it "
                             f"{' or '.join(SUFFIXES)} (an animated GIF, or an H.264 video)")
    if out.exists() and not overwrite:
        raise TimelapseError(f"{out}: already exists; pick another name, or pass --overwrite to replace it")
    if isinstance(fps, bool) or not isinstance(fps, (int, float)) or not 0.1 <= fps <= 60:
        raise TimelapseError(f"fps = {fps!r}: must be a number from 0.1 to 60 frames per second")


def write_animation(frames: Iterable[np.ndarray], out: str | Path, fps: float = 8, overwrite: bool = False) -> Path:
    """Write uint8 frames (H x W [x 3]) as a looping GIF or an MP4, by `out`'s suffix; return its path.

    Frames of different sizes are centred on one black canvas, the size of the largest.
    """
    out = Path(out)
    _check_out(out, fps, overwrite)
    suffix = out.suffix.lower()
    frames = [_rgb(f, f"frame {i}") for i, f in enumerate(frames)]
    if not frames:
        raise TimelapseError(f"{out}: no frames to write")
    frames = _pad_to_one_size(frames, even=suffix == ".mp4")
    try:
        atomic_write(out, lambda tmp: WRITERS[suffix](frames, tmp, fps))
    except OSError as e:
        raise TimelapseError(f"{out}: could not write the animation ({e.strerror or e})") from None
    return out


def _thin(items: list, max_frames: int | None) -> list:
    """At most max_frames items, evenly spread, the first and the last kept."""
    if max_frames is None or len(items) <= max_frames:
        return items
    if max_frames == 1:
        return items[-1:]
    return [items[i] for i in np.linspace(0, len(items) - 1, max_frames).round().astype(int)]


def _read_grid(path: Path) -> np.ndarray:
    import warnings

    from PIL import Image, UnidentifiedImageError

    try:
        with warnings.catch_warnings():
            # Past Pillow's MAX_IMAGE_PIXELS it only warns (up to twice that, then it raises): a grid is
            # never that big, and decoding it would take gigabytes.
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(path) as im:
                return np.asarray(im.convert("RGB"))
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as e:
        pixels = re.search(r"\((\d+) pixels\)", str(e))  # Pillow's "Image size (N pixels) exceeds limit ..."
        size = f"{int(pixels.group(1)):,} pixels" if pixels else "a picture"
        raise TimelapseError(f"{path}: {size}, far too large for a sample grid; move it out of samples/ and "
                             "try again") from None
    except (OSError, UnidentifiedImageError, ValueError) as e:
        raise TimelapseError(f"{path}: not a readable PNG ({e}); move it out of samples/ and try again") from None


def make_timelapse(run_dir: str | Path, out: str | Path, fps: float = 8, overwrite: bool = False,
                   max_frames: int | None = None) -> Path:
    """The run's sample grids, each captioned with its step, as a GIF or MP4 at `out`; return its path.

    max_frames thins a long run's grids evenly, keeping the first and the last.
    """
    out = Path(out)
    _check_out(out, fps, overwrite)  # before reading any grid
    if max_frames is not None and (isinstance(max_frames, bool) or not isinstance(max_frames, int)
                                   or max_frames < 1):
        raise TimelapseError(f"max_frames = {max_frames!r}: must be a whole number, 1 or more")
    grids = _thin(grid_frames(run_dir), max_frames)
    return write_animation((caption(_read_grid(p), f"step {step:,}") for step, p in grids), out, fps, overwrite)

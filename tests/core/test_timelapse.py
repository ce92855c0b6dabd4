"""A run's sample grids as a captioned GIF / MP4."""

from __future__ import annotations

import subprocess
import sys
import textwrap

import imageio.v3 as iio
import numpy as np
import pytest
import torch

from core.sharing.export import write_png
from core.sharing.timelapse import TimelapseError, _thin, caption, grid_frames, make_timelapse, write_animation

from .test_cli import ROOT

STEPS = (250, 500, 12_500, 1_000_000)
SIDE = 61  # odd: the MP4 writer must pad it to an even size


def gray_grid(seed: int) -> np.ndarray:
    """H x W x 3 gray levels: few enough colours for the GIF palette to keep them exactly."""
    levels = np.array([0, 64, 128, 192, 255], np.uint8)
    return np.random.default_rng(seed).choice(levels, (SIDE, SIDE, 1)).repeat(3, axis=2)


@pytest.fixture
def run_dir(tmp_path):
    """A run folder as core/runs/writer.py writes it: samples/step_NNNNNN.png, plus files to ignore."""
    samples = tmp_path / "run" / "samples"
    samples.mkdir(parents=True)
    for i, step in enumerate(reversed(STEPS)):  # written out of order on purpose
        write_png(torch.from_numpy(gray_grid(i)).permute(2, 0, 1).contiguous(), samples / f"step_{step:06d}.png")
    (samples / "notes.txt").write_text("not a grid")
    (samples / "step_latest.png").write_bytes(b"not a step number")
    (samples / "step_000750.png").mkdir()  # a folder with a grid's name
    return tmp_path / "run"


def caption_band(frame: np.ndarray) -> np.ndarray:
    return frame[SIDE:]


def test_grid_frames_are_sorted_by_step_and_skip_other_files(run_dir):
    frames = grid_frames(run_dir)
    assert [step for step, _ in frames] == list(STEPS)
    assert frames[-1][1] == run_dir / "samples" / "step_1000000.png"


def test_grid_frames_explains_a_folder_that_is_not_a_run(tmp_path):
    with pytest.raises(TimelapseError, match="no such folder"):
        grid_frames(tmp_path / "missing")
    with pytest.raises(TimelapseError, match="not a run folder"):
        grid_frames(tmp_path)
    (tmp_path / "samples").mkdir()
    with pytest.raises(TimelapseError, match=r"samples: no sample grids"):
        grid_frames(tmp_path)


def test_caption_keeps_the_image_and_writes_the_text_below():
    image = gray_grid(0)
    a, b = caption(image, "step 250"), caption(image, "step 12,500")
    assert a.dtype == np.uint8 and a.shape[2] == 3 and a.shape[0] > SIDE
    assert np.array_equal(a[:SIDE, :SIDE], image)
    assert caption_band(a).max() == 255  # white text on the black band
    assert not np.array_equal(caption_band(a), caption_band(b))


def test_caption_on_a_single_digit_stays_readable():
    """A 28-px image is narrower than its caption: the frame widens instead of shrinking the text."""
    digit = np.full((28, 28), 200, np.uint8)
    framed = caption(digit, "step 12,500")
    assert framed.shape[1] > 28
    left = (framed.shape[1] - 28) // 2
    assert np.array_equal(framed[:28, left:left + 28], np.repeat(digit[..., None], 3, axis=2))
    rows_with_text = np.flatnonzero(framed[28:].max(axis=(1, 2)) > 128)
    assert rows_with_text.max() - rows_with_text.min() + 1 >= 8  # glyphs at least 8 px tall


def test_gif_has_one_captioned_frame_per_grid(run_dir, tmp_path):
    out = make_timelapse(run_dir, tmp_path / "run.gif", fps=5)
    frames = iio.imread(out, index=None)
    assert frames.shape[0] == len(STEPS)
    assert iio.immeta(out)["loop"] == 0
    # Grids differ in the picture (seeds) and in the caption (steps); the frame keeps the grid exactly.
    grids = [gray_grid(i) for i in reversed(range(len(STEPS)))]
    for frame, grid in zip(frames, grids):
        left = (frame.shape[1] - SIDE) // 2
        assert np.array_equal(frame[:SIDE, left:left + SIDE], grid)
        assert caption_band(frame).max() > 128
    assert not np.array_equal(caption_band(frames[0]), caption_band(frames[-1]))
    assert np.array_equal(frames[-1], _pad_like(caption(grids[-1], "step 1,000,000"), frames[-1].shape))


def _pad_like(image: np.ndarray, shape) -> np.ndarray:
    top, left = (shape[0] - image.shape[0]) // 2, (shape[1] - image.shape[1]) // 2
    canvas = np.zeros(shape, np.uint8)
    canvas[top:top + image.shape[0], left:left + image.shape[1]] = image
    return canvas


def test_mp4_has_every_frame_at_an_even_size(run_dir, tmp_path):
    out = make_timelapse(run_dir, tmp_path / "run.mp4", fps=8)
    frames = iio.imread(out, index=None, plugin="pyav")
    meta = iio.immeta(out, plugin="pyav")
    assert frames.shape[0] == len(STEPS)
    assert frames.shape[1] % 2 == 0 and frames.shape[2] % 2 == 0
    assert meta["codec"] == "h264" and meta["video_format"] == "yuv420p" and meta["fps"] == 8


def test_frames_of_different_sizes_share_one_canvas(tmp_path):
    small, tall = np.full((10, 12, 3), 255, np.uint8), np.full((15, 9), 255, np.uint8)
    gif = iio.imread(write_animation([small, tall], tmp_path / "a.gif"), index=None)
    mp4 = iio.imread(write_animation([small, tall], tmp_path / "a.mp4"), index=None, plugin="pyav")
    assert gif.shape == (2, 15, 12, 3)
    assert mp4.shape == (2, 16, 12, 3)
    assert gif[0, 0].max() == 0 and gif[0, 7, 6].min() == 255  # padded above, picture centred


def test_max_frames_thins_evenly_and_keeps_the_last(run_dir, tmp_path):
    assert _thin(list(range(10)), 4) == [0, 3, 6, 9]
    assert _thin(list(range(10)), 1) == [9]
    assert _thin(list(range(3)), 5) == [0, 1, 2]
    frames = iio.imread(make_timelapse(run_dir, tmp_path / "short.gif", max_frames=2), index=None)
    assert frames.shape[0] == 2
    with pytest.raises(TimelapseError, match="max_frames = 0"):
        make_timelapse(run_dir, tmp_path / "none.gif", max_frames=0)


def test_an_existing_file_is_kept_unless_overwrite(run_dir, tmp_path):
    out = tmp_path / "mine.gif"
    out.write_bytes(b"a person's file")
    with pytest.raises(TimelapseError, match=r"mine\.gif: already exists.*--overwrite"):
        make_timelapse(run_dir, out)
    with pytest.raises(TimelapseError, match="already exists"):
        write_animation([gray_grid(0)], out)
    assert out.read_bytes() == b"a person's file"
    make_timelapse(run_dir, out, overwrite=True)
    assert iio.imread(out, index=None).shape[0] == len(STEPS)
    assert [p.name for p in tmp_path.iterdir() if p.name.endswith(".tmp")] == []  # no temp file left


def test_refusals_name_what_is_wrong(run_dir, tmp_path):
    with pytest.raises(TimelapseError, match=r"\.avi file; name it \.gif or \.mp4"):
        make_timelapse(run_dir, tmp_path / "run.avi")
    with pytest.raises(TimelapseError, match="no frames"):
        write_animation([], tmp_path / "empty.gif")
    with pytest.raises(TimelapseError, match="frame 1: shape"):
        write_animation([gray_grid(0), np.zeros((4, 4, 3), np.float32)], tmp_path / "bad.gif")
    with pytest.raises(TimelapseError, match="fps = 0"):
        write_animation([gray_grid(0)], tmp_path / "slow.gif", fps=0)
    empty_run = tmp_path / "empty_run"
    (empty_run / "samples").mkdir(parents=True)
    with pytest.raises(TimelapseError, match="no sample grids"):
        make_timelapse(empty_run, tmp_path / "empty_run.gif")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["empty_run", "run"]


FULL_DISK = textwrap.dedent("""
    import gc, os, resource, signal, sys
    sys.path.insert(0, sys.argv[1])
    from core.cli import main

    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # a write past the limit fails with EFBIG: a full disk
    resource.setrlimit(resource.RLIMIT_FSIZE, (2000, resource.getrlimit(resource.RLIMIT_FSIZE)[1]))
    code = main(["timelapse", sys.argv[2], "--out", sys.argv[3]])
    gc.collect()  # whatever a writer left half-closed is collected now, and its complaint printed now
    print(code, sorted(os.listdir(os.path.dirname(sys.argv[3]))))
""")


@pytest.mark.parametrize("suffix", [".gif", ".mp4"])
def test_a_full_disk_is_one_line_and_nothing_is_left(run_dir, tmp_path, suffix):
    out = tmp_path / "out" / f"timelapse{suffix}"
    out.parent.mkdir()
    done = subprocess.run([sys.executable, "-c", FULL_DISK, str(ROOT), str(run_dir), str(out)], capture_output=True,
                          text=True, timeout=120)
    assert done.stdout.strip() == "2 []"  # refused, and neither the file nor its temp file left
    assert done.stderr == f"error: {out}: could not write the animation (the disk is full ({out}))\n"

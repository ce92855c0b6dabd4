"""The picture reading (core/quality/picture_reading.py): a Fréchet distance in a fixed random network's
features, and coverage of the folder's groups, for any pictures, with nothing downloaded."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from torch.nn import functional as F

from core import events as ev
from core.control import Control
from core.quality.picture_reading import PictureReading, PictureReadingError, RandomFeatures, default_groups
from core.runs.folder import RunFolder, quality_from_row, read_rows
from core.training.trainer import train
from tests.core.conftest import Recorder, tiny, write_png


def shapes(n: int, seed: int, side: int = 32) -> torch.Tensor:
    """Pictures with something to see: a disc or a square of a random colour at a random place and size,
    on a dark background of another colour; uint8 (n, 3, side, side)."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[:side, :side]
    out = np.empty((n, side, side, 3), dtype=np.uint8)
    for i in range(n):
        out[i] = rng.integers(0, 80, 3)
        cy, cx = rng.integers(6, side - 6, 2)
        r = rng.integers(3, side // 3)
        inside = ((yy - cy) ** 2 + (xx - cx) ** 2 <= r * r) if i % 2 else ((abs(yy - cy) <= r) & (abs(xx - cx) <= r))
        out[i][inside] = rng.integers(120, 256, 3)
    return torch.from_numpy(out).permute(0, 3, 1, 2).contiguous()


def blurred(images: torch.Tensor) -> torch.Tensor:
    x = F.avg_pool2d(F.pad(images.float(), (1, 1, 1, 1), mode="replicate"), 3, stride=1)
    return x.round().to(torch.uint8)


def noised(images: torch.Tensor, strength: float = 24.0) -> torch.Tensor:
    g = torch.Generator().manual_seed(7)
    return (images.float() + strength * torch.randn(images.shape, generator=g)).round().clamp(0, 255).to(torch.uint8)


@pytest.fixture(scope="module")
def folder_and_held_out():
    return shapes(600, seed=0), shapes(300, seed=1)


def test_the_same_seed_reads_the_same_and_leaves_torchs_own_generator_alone(folder_and_held_out):
    folder, held_out = folder_and_held_out
    torch.manual_seed(3)
    before = torch.get_rng_state()
    first = PictureReading(folder).score(held_out)
    assert torch.equal(torch.get_rng_state(), before)  # training draws from it: a reading must not move it
    second = PictureReading(folder).score(held_out)
    assert first.frechet == second.frechet and first.shares == second.shares
    other = PictureReading(folder, seed=1).score(held_out)
    assert other.frechet != first.frechet  # the seed is the network's


def test_pictures_read_closer_to_their_folder_than_their_blurred_or_noised_copies(folder_and_held_out):
    folder, held_out = folder_and_held_out
    reading = PictureReading(folder)
    real = reading.score(held_out).frechet
    blur = reading.score(blurred(held_out)).frechet
    noise = reading.score(noised(held_out)).frechet
    assert real < blur and real < noise, (real, blur, noise)
    assert real < 0.85 * min(blur, noise)  # not by a hair


def test_coverage_names_the_groups_a_generator_never_draws(folder_and_held_out):
    folder, held_out = folder_and_held_out
    reading = PictureReading(folder, groups=6)
    healthy = reading.score(held_out)
    assert len(healthy.shares) == 6 and math.isclose(sum(healthy.shares), 1.0)
    assert math.isclose(sum(healthy.folder_shares), 1.0)
    assert not healthy.missing and not healthy.collapse
    feats = reading.features(held_out)
    nearest = torch.cdist(feats, reading.centres).argmin(1)
    one_kind = held_out[nearest == int(torch.bincount(nearest).argmax())]  # a generator that draws one group
    collapsed = reading.score(one_kind.repeat(3, 1, 1, 1))
    assert collapsed.collapse and len(collapsed.missing) >= 4


def test_large_pictures_are_read_at_64_px_and_grey_ones_too():
    big = F.interpolate(shapes(40, 2).float(), size=128).to(torch.uint8)
    net = RandomFeatures(3)
    assert net.features == 720  # three networks of 16 + 32 + 64 + 128
    reading = PictureReading(big, groups=0)
    assert reading.centres is None and reading.score(big[:10]).shares == ()
    grey = shapes(40, 3)[:, :1]
    assert math.isfinite(PictureReading(grey).score(grey[:20]).frechet)
    with pytest.raises(PictureReadingError, match="at least 2"):
        PictureReading(grey).score(grey[:1])
    assert default_groups(10) == 0 and default_groups(60) == 6 and default_groups(6434) == 50


def test_a_folder_run_takes_picture_readings_into_quality_csv(tmp_path):
    folder = tmp_path / "pictures"
    folder.mkdir()
    for i in range(30):
        write_png(folder / f"p{i:02d}.png", size=(32, 32), mode="RGB", seed=i)
    config = tiny("folder", **{"data.folder": str(folder), "data.image_size": 32, "data.cache_dir": str(tmp_path / "c"),
                               "model.g_hidden": [8], "model.d_hidden": [8], "run.steps": 4,
                               "run.quality_every": 2, "run.quality_samples": 32, "run.fid_every": 0,
                               "model.clusters": 0})
    events = Recorder()
    train(config, Control(), events, tmp_path / "run")
    assert not events.errors() and not events.of(ev.QualityOff)
    readings = events.of(ev.Quality)
    assert [q.step for q in readings] == [2, 4]
    assert all(math.isfinite(q.frechet) and len(q.reference) == 3 and len(q.histogram) == 3 for q in readings)
    kept = read_rows(RunFolder(tmp_path / "run").quality, quality_from_row)
    assert [(q.step, round(q.frechet, 3)) for q in kept] == [(q.step, round(q.frechet, 3)) for q in readings]
    assert kept[0].reference == tuple(round(s, 4) for s in readings[0].reference)


def test_a_second_run_on_the_same_folder_reads_against_the_reference_already_made(tmp_path):
    from core.quality.readers import PICTURES_TASK

    folder = tmp_path / "pictures"
    folder.mkdir()
    for i in range(24):
        write_png(folder / f"p{i:02d}.png", size=(32, 32), mode="RGB", seed=i)
    config = tiny("folder", **{"data.folder": str(folder), "data.image_size": 32, "data.cache_dir": str(tmp_path / "c"),
                               "model.g_hidden": [8], "model.d_hidden": [8], "run.steps": 2, "run.quality_every": 2,
                               "run.quality_samples": 32, "run.fid_every": 0, "model.clusters": 0})
    first, second = Recorder(), Recorder()
    train(config, Control(), first)
    train(config.with_values(**{"run.seed": 1}), Control(), second)  # a sweep's next trial, say
    assert [p.task for p in first.of(ev.Progress)].count(PICTURES_TASK) == 2  # made once: 0 of 1, 1 of 1
    assert PICTURES_TASK not in [p.task for p in second.of(ev.Progress)] and second.of(ev.Quality)

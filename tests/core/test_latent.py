"""core.sharing.latent: interpolation, truncation, class grids, loops and neighbours in noise space; rendering."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from core.models import build_generator
from core.sharing import latent

from .conftest import tiny


def _pair(z_dim=16, seed=0):
    gen = torch.Generator().manual_seed(seed)
    return torch.randn(z_dim, generator=gen), torch.randn(z_dim, generator=gen)


def test_lerp_midpoint_is_the_mean():
    a, b = _pair()
    torch.testing.assert_close(latent.lerp(a, b, 0.5), (a + b) / 2)


def test_slerp_hits_both_ends_and_keeps_the_length_where_lerp_shrinks():
    a = torch.tensor([3.0, 0.0, 0.0])
    b = torch.tensor([0.0, 3.0, 0.0])
    torch.testing.assert_close(latent.slerp(a, b, 0.0), a)
    torch.testing.assert_close(latent.slerp(a, b, 1.0), b)
    mid = latent.slerp(a, b, 0.5)
    assert mid.norm().item() == pytest.approx(3.0, rel=1e-5)
    assert latent.lerp(a, b, 0.5).norm().item() == pytest.approx(3.0 / math.sqrt(2), rel=1e-5)
    torch.testing.assert_close(mid, torch.tensor([1.0, 1.0, 0.0]) * 3 / math.sqrt(2))
    # Unequal lengths: the length goes linearly from |a| to |b|.
    assert latent.slerp(a, b * 2, 0.5).norm().item() == pytest.approx(4.5, rel=1e-5)


def test_slerp_is_robust_when_the_ends_coincide_or_one_is_zero():
    a, _ = _pair()
    for b in (a.clone(), a + 1e-7, torch.zeros_like(a)):
        out = latent.slerp(a, b, 0.3)
        assert torch.isfinite(out).all()
        torch.testing.assert_close(out, latent.lerp(a, b, 0.3), atol=1e-5, rtol=1e-5)


def test_interpolate_shapes_ends_and_modes():
    a, b = _pair()
    for mode in latent.MODES:
        path = latent.interpolate(a, b, 7, mode)
        assert path.shape == (7, 16)
        torch.testing.assert_close(path[0], a)
        torch.testing.assert_close(path[-1], b, atol=1e-5, rtol=1e-5)
    assert not torch.allclose(latent.interpolate(a, b, 5, "linear")[2], latent.interpolate(a, b, 5, "spherical")[2])
    batch = latent.interpolate(torch.stack([a, b]), torch.stack([b, a]), 4, "spherical")
    assert batch.shape == (4, 2, 16)
    with pytest.raises(latent.LatentError, match="mode = 'cubic'"):
        latent.interpolate(a, b, 4, "cubic")
    with pytest.raises(latent.LatentError, match="steps = 1"):
        latent.interpolate(a, b, 1)


def test_truncate_psi_one_is_identity_and_smaller_psi_shrinks():
    a, _ = _pair()
    torch.testing.assert_close(latent.truncate(a, 1.0), a)
    assert latent.truncate(a, 0.5).norm().item() == pytest.approx(a.norm().item() / 2, rel=1e-6)
    for bad in (0, 1.5, -0.1, True):
        with pytest.raises(latent.LatentError, match="truncation psi"):
            latent.truncate(a, bad)


def test_class_grid_rows_are_classes_and_columns_share_noise():
    z, labels = latent.class_grid(num_classes=3, columns=4, z_dim=8, noise_kind="gaussian", seed=5)
    assert z.shape == (12, 8) and labels.tolist() == [0] * 4 + [1] * 4 + [2] * 4
    rows = z.reshape(3, 4, 8)
    torch.testing.assert_close(rows[0], rows[1])
    torch.testing.assert_close(rows[0], rows[2])
    assert not torch.allclose(rows[0, 0], rows[0, 1])  # columns differ from each other
    again, _ = latent.class_grid(3, 4, 8, "gaussian", 5)
    torch.testing.assert_close(again, z)  # a seed is a seed
    uniform, _ = latent.class_grid(2, 3, 8, "uniform", 0)
    assert uniform.abs().max() <= 1


def test_random_walk_starts_at_z0_closes_the_loop_and_moves_smoothly():
    a, _ = _pair(z_dim=32)
    frames = latent.random_walk(a, frames=40, step=0.6, seed=3)
    assert frames.shape == (40, 32)
    torch.testing.assert_close(frames[0], a)
    loop = torch.cat([frames, frames[:1]])  # the frame after the last is the first again
    jumps = (loop[1:] - loop[:-1]).norm(dim=1)
    # Smooth: no jump much larger than the typical one, and all small against |z0|.
    assert jumps.max() < 2.5 * jumps.median()
    assert jumps.max() < 0.5 * a.norm()
    assert (jumps > 0).all()
    # The walk goes somewhere: it strays from the start.
    assert (frames - a).norm(dim=1).max() > 0.3 * a.norm()
    torch.testing.assert_close(latent.random_walk(a, 40, 0.6, seed=3), frames)
    many = latent.random_walk(torch.stack([a, -a]), 10, 0.3, seed=1)
    assert many.shape == (10, 2, 32)
    with pytest.raises(latent.LatentError, match="step = 0"):
        latent.random_walk(a, 10, 0)


def test_perturb_is_centred_on_z():
    a, _ = _pair(z_dim=8)
    out = latent.perturb(a, n=4000, sigma=0.2, seed=0)
    assert out.shape == (4001, 8)
    torch.testing.assert_close(out[0], a)
    torch.testing.assert_close(out[1:].mean(0), a, atol=0.02, rtol=0)
    spread = (out[1:] - a).std().item()
    assert spread == pytest.approx(0.2, rel=0.05)


def test_seed_noise_is_the_seeds_vector():
    torch.testing.assert_close(latent.seed_noise(7, 10), latent.seed_noise(7, 10))
    assert not torch.allclose(latent.seed_noise(7, 10), latent.seed_noise(8, 10))
    assert latent.seed_noise(1, 10, "uniform").abs().max() <= 1


@pytest.mark.parametrize("name", ["mlp", "default", "conditional"])
def test_render_gives_uint8_images_for_each_kind_of_generator(name):
    config = tiny(name)
    G = build_generator(config).eval()
    m = config.model
    if m.conditional:
        z, labels = latent.class_grid(m.num_classes, 2, m.z_dim, m.noise, 0)
    else:
        z, labels = latent.interpolate(latent.seed_noise(0, m.z_dim), latent.seed_noise(1, m.z_dim), 5), None
    images = latent.render(G, config, z, labels, batch=3)
    assert images.dtype == torch.uint8 and images.shape == (len(z), 1, 28, 28)
    # Batches of 3 give what one batch gives (eval mode: no batch statistics).
    torch.testing.assert_close(images, latent.render(G, config, z, labels, batch=64))
    picture = latent.grid(images, 5)
    assert picture.dtype == np.uint8 and picture.shape[2] == 3 and picture.shape[1] == 5 * 30 + 2


def test_render_checks_noise_and_labels_and_can_be_cancelled():
    config = tiny("conditional")
    G = build_generator(config).eval()
    z = torch.zeros(4, config.model.z_dim)
    with pytest.raises(latent.LatentError, match="conditional"):
        latent.render(G, config, z, None)
    with pytest.raises(latent.LatentError, match="from 0 to 9"):
        latent.render(G, config, z, torch.tensor([0, 1, 2, 10]))
    with pytest.raises(latent.LatentError, match=r"\(n, 64\)"):
        latent.render(G, config, torch.zeros(4, 3), torch.zeros(4, dtype=torch.long))
    calls = []
    with pytest.raises(latent.RenderCancelled):
        latent.render(G, config, z, torch.zeros(4, dtype=torch.long), batch=2,
                      cancelled=lambda: calls.append(1) or len(calls) > 1)
    assert len(calls) == 2  # the first batch was drawn, the second was not


def test_tiles_and_enlarge_make_animation_frames():
    images = torch.arange(2 * 1 * 4 * 4, dtype=torch.uint8).reshape(2, 1, 4, 4)
    frames = latent.tiles(images)
    assert len(frames) == 2 and frames[0].shape == (4, 4, 3)
    assert (frames[1][..., 0] == frames[1][..., 2]).all()
    big = latent.enlarge(frames[0], at_least=10)
    assert big.shape == (12, 12, 3) and big[0, 0, 0] == big[2, 2, 0] == frames[0][0, 0, 0]
    assert latent.enlarge(big, at_least=10) is big

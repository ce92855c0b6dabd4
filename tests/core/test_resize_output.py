"""model.g_resize_output: the dcgan generator's last layer repeats pixels then convolves, so a flat map
comes out flat (no stride-2 checkerboard); shapes at every size and its saved generator."""

from __future__ import annotations

import pytest
import torch

from core.config import CONV_IMAGE_SIZES
from core.models import build_generator
from core.sharing.export import generate, load_generator, save_generator
from core.training.trainer import train

from .conftest import tiny


def _last_layers(resize: bool) -> torch.nn.Sequential:
    torch.manual_seed(0)
    config = tiny(**{"model.arch": "dcgan", "data.image_size": 32, "model.g_resize_output": resize})
    up = build_generator(config).net.up
    last = next(i for i in range(len(up) - 1, -1, -1) if isinstance(up[i], torch.nn.Upsample | torch.nn.ConvTranspose2d))
    return up[last:]


@pytest.mark.parametrize("resize, flat", [(True, True), (False, False)])
def test_a_flat_map_comes_out_flat_only_with_the_resize_output(resize, flat):
    layers = _last_layers(resize)
    channels = next(m for m in layers if isinstance(m, torch.nn.Conv2d | torch.nn.ConvTranspose2d)).in_channels
    with torch.no_grad():
        out = layers(torch.ones(1, channels, 8, 8))
    inner = out[..., 2:-2, 2:-2]  # away from the zero padding at the borders
    spread = (inner - inner.mean((-2, -1), keepdim=True)).abs().max().item()
    assert (spread < 1e-5) == flat, spread  # a transposed stride-2 layer repeats a 2x2 pattern


@pytest.mark.parametrize("size", CONV_IMAGE_SIZES)
def test_the_resize_output_draws_every_size(size):
    config = tiny(**{"model.arch": "dcgan", "data.image_size": size, "model.g_resize_output": True,
                     "model.g_hidden": [8]})
    G = build_generator(config)
    assert G(torch.randn(2, config.model.z_dim)).shape == (2, 1, size, size)


def test_a_resize_output_runs_saved_generator_draws_what_the_run_drew(tmp_path):
    config = tiny(**{"model.arch": "dcgan", "run.steps": 3, "model.g_resize_output": True})
    session = train(config, run_dir=tmp_path / "run")
    assert session is not None
    drew = session.ema.module if session.ema else session.G
    save_generator(drew, session.config, tmp_path / "g", session.step)
    G, loaded, _ = load_generator(tmp_path / "g")
    assert loaded.model.g_resize_output
    assert any(isinstance(m, torch.nn.Upsample) for m in G.modules())
    assert torch.equal(generate(G, loaded, 4, seed=5), generate(drew, session.config, 4, seed=5))

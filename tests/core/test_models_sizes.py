"""Conv models at every size, both architectures, conditional or not; DiffAugment; packing and minibatch std."""

from __future__ import annotations

import pytest
import torch

from core.config import CONV_IMAGE_SIZES, ConfigError, parse_augment_policy
from core.data.datasets import ImageSet
from core.models import build_discriminator, build_generator
from core.presets import PRESETS
from core.training.augment import diff_augment
from core.training.session import Session


def _config(arch, size, channels, conditional, **more):
    base = PRESETS["folder"] if channels == 3 else PRESETS["default"]
    values = {"model.arch": arch, "data.image_size": size, "data.channels": channels, "model.g_hidden": [8],
              "model.d_hidden": [8], "model.z_dim": 8, "run.batch_size": 4, "run.quality_every": 0,
              "run.fid_every": 0, "run.device": "cpu", "data.augment": "on"}
    if channels == 1:
        values["model.conditional"] = conditional
    return base.with_values(**{**values, **more})


@pytest.mark.parametrize("arch", ["dcgan", "resnet", "lite"])
@pytest.mark.parametrize("size", CONV_IMAGE_SIZES)
@pytest.mark.parametrize("channels, conditional", [(1, False), (1, True), (3, False)])
def test_every_size_arch_and_condition_builds_and_steps(arch, size, channels, conditional):
    config = _config(arch, size, channels, conditional)
    G, D = build_generator(config), build_discriminator(config)
    z = torch.randn(4, 8)
    y = torch.arange(4) if conditional else None
    x = G(z, y)
    assert x.shape == (4, channels, size, size)
    assert D(x, y).shape == (4,)
    images = torch.randint(0, 256, (6, channels, size, size), dtype=torch.uint8)
    session = Session(config, ImageSet(images, torch.arange(6) % 10 if conditional else None, "toy"),
                      torch.device("cpu"))
    before = [p.detach().clone() for p in session.G.parameters()]
    session.train_step()
    assert session.step == 1 and torch.isfinite(session.sums).all()
    assert any(not torch.equal(a, b) for a, b in zip(before, session.G.parameters()))


def test_resnet_discriminator_is_spectrally_normalised_when_asked():
    config = _config("resnet", 64, 3, False, **{"model.d_spectral_norm": True})
    D = build_discriminator(config)
    assert any("parametrizations" in name for name, _ in D.named_parameters())
    G = build_generator(config)
    assert not any("parametrizations" in name for name, _ in G.named_parameters())


def test_widths_grow_from_the_base_and_stop_at_eight_times_it():
    G = build_generator(_config("dcgan", 128, 3, False, **{"model.g_hidden": [16]}))
    assert G.net.start == (128, 4, 4)  # 8 x 16, not 16 x 16 at the 4x4 map of a 128 px model


@pytest.mark.parametrize("policy", ["color", "translation", "cutout", "color,translation,cutout"])
def test_diff_augment_keeps_shape_and_lets_gradients_through(policy):
    x = torch.randn(5, 3, 16, 16, requires_grad=True)
    out = diff_augment(x, parse_augment_policy(policy), torch.Generator().manual_seed(0))
    assert out.shape == x.shape and not torch.equal(out, x)
    out.square().sum().backward()
    assert x.grad is not None and x.grad.abs().sum() > 0
    again = diff_augment(x, parse_augment_policy(policy), torch.Generator().manual_seed(0))
    assert torch.equal(out, again)  # the same draws from the same generator: resumable


def test_translation_and_cutout_move_and_blank_pixels():
    x = torch.ones(64, 1, 8, 8)
    shifted = diff_augment(x, ("translation",), torch.Generator().manual_seed(1))
    assert (shifted == 0).any() and ((shifted == 0) | (shifted == 1)).all()  # zeros come in at the edges
    cut = diff_augment(x, ("cutout",), torch.Generator().manual_seed(1))
    blanked = (cut == 0).flatten(1).sum(1)
    assert blanked.min() >= 4 and blanked.max() <= 16  # a 4x4 square, part of it off the edge at times


def test_packing_needs_a_batch_that_divides():
    with pytest.raises(ConfigError, match="run.batch_size = 63"):
        PRESETS["default"].with_values(**{"model.d_pack": 2, "run.batch_size": 63})
    config = PRESETS["default"].with_values(**{"model.d_pack": 4, "model.d_mbstd": True})
    assert build_discriminator(config)(torch.randn(8, 1, 28, 28)).shape == (2,)

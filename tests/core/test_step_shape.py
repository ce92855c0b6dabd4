"""How a training step calls D: reals and fakes in one call where nothing in D mixes samples, D frozen
for G's update, and the minibatch-std layer whose hand-written gradient R1 differentiates again."""

from __future__ import annotations

import pytest
import torch

from core.data.datasets import ImageSet
from core.models import build_discriminator
from core.models.layers import MinibatchStd
from core.presets import PRESETS
from core.training.session import Session, joint_d_pass


def _session(name="default", **more):
    values = {"model.g_hidden": [8], "model.d_hidden": [8], "model.z_dim": 8, "run.batch_size": 8,
              "run.quality_every": 0, "run.device": "cpu", **more}
    config = PRESETS[name].with_values(**values)
    images = torch.randint(0, 256, (32, 1, 28, 28), dtype=torch.uint8)
    return Session(config, ImageSet(images, torch.arange(32) % 10, "toy"), torch.device("cpu"))


def _reference_mbstd(x: torch.Tensor, g: int = 4) -> torch.Tensor:
    """The layer as autograd would spell it: each group's spread, averaged over the features."""
    n, c, h, w = x.shape
    y = x.reshape(n // g, g, c, h, w)
    spread = ((y - y.mean(1, keepdim=True)).square().mean(1) + 1e-8).sqrt().mean((1, 2, 3))
    return torch.cat([x, spread.repeat_interleave(g).reshape(n, 1, 1, 1).expand(n, 1, h, w)], 1)


@pytest.mark.parametrize("layout", [torch.contiguous_format, torch.channels_last])
def test_minibatch_std_matches_autograd_to_the_second_derivative(layout):
    x = torch.randn(8, 3, 4, 4, dtype=torch.double).contiguous(memory_format=layout).requires_grad_()
    layer = MinibatchStd()
    assert torch.allclose(layer(x), _reference_mbstd(x))
    assert torch.autograd.gradcheck(layer, (x,))
    assert torch.autograd.gradgradcheck(layer, (x,))  # R1 differentiates D's gradient again


def test_minibatch_std_groups_never_mix_the_reals_with_the_fakes():
    real, fake = torch.randn(8, 3, 4, 4), 5 * torch.randn(8, 3, 4, 4)
    layer = MinibatchStd()
    both = layer(torch.cat([real, fake]))
    assert torch.allclose(both[:8], layer(real)) and torch.allclose(both[8:], layer(fake))


def test_d_judges_reals_and_fakes_in_one_call_only_when_no_layer_mixes_them():
    assert _session().joint_d  # spectral norm: every sample on its own
    assert not _session("conditional").joint_d  # BatchNorm in D: reals and fakes are separate batches
    mbstd = PRESETS["default"].with_values(**{"model.d_mbstd": True})
    D = build_discriminator(mbstd)
    assert joint_d_pass(D, 64, 1) and not joint_d_pass(D, 6, 1)  # groups of 4 must fit within 6 reals
    assert not joint_d_pass(D, 8, 4)  # 8 images in packs of 4: 2 packs a half, groups of 4 would straddle


def test_one_call_scores_reals_and_fakes_as_two_calls_do():
    s = _session(**{"model.d_mbstd": True})
    s.D.eval()  # no power iteration: both ways use the same weights
    real, fake = torch.randn(8, 1, 28, 28), torch.randn(8, 1, 28, 28)
    real_clusters, fake_clusters = torch.arange(8) % 5, torch.arange(8) % 3  # the default is self-conditioned
    joint = s._judge(s.D, real, fake, real_clusters, fake_clusters)
    s.joint_d = False
    apart = s._judge(s.D, real, fake, real_clusters, fake_clusters)
    for a, b in zip(joint, apart):
        assert torch.allclose(a, b, atol=1e-5)


@pytest.mark.parametrize("name", ["default", "conditional"])
def test_g_update_computes_no_gradient_for_d(name):
    s = _session(name)
    counts = []
    last = list(s.D.parameters())[-1]
    last.register_hook(lambda grad: counts.append(1))
    for _step in range(2):
        s.train_step()
    assert len(counts) == 2  # once per D update, never in G's
    assert all(p.requires_grad for p in s.D.parameters())  # unfrozen again for the next D update
    assert all(p.grad is not None for p in s.G.parameters())

"""Every loss trains; loss values behave on simple inputs."""

from __future__ import annotations

import math

import pytest
import torch

from core import events as ev
from core.training.losses import LOSSES, gradient_penalty, make_loss
from core.training.trainer import train

from .conftest import tiny

HIGH, LOW = torch.full((8,), 5.0), torch.full((8,), -5.0)


@pytest.mark.device
@pytest.mark.parametrize("kind", list(LOSSES))
@pytest.mark.parametrize("arch", ["mlp", "dcgan"])
def test_every_loss_trains_with_finite_losses(kind, arch, recorder):
    c = tiny(**{"loss.kind": kind, "model.arch": arch, "model.g_hidden": [16], "model.d_hidden": [16],
                "model.d_spectral_norm": False, "loss.d_steps": 2, "run.steps": 4})
    session = train(c, on_event=recorder)
    assert recorder.errors() == []
    metrics = recorder.of(ev.Metrics)
    assert [m.step for m in metrics] == [1, 2, 3, 4]
    assert all(math.isfinite(v) for m in metrics for v in (m.g_loss, m.d_loss, m.d_real, m.d_fake))
    assert session.loss.name == kind
    if arch == "dcgan":  # no BatchNorm in a WGAN-GP critic: the penalty is per sample
        has_bn = any(isinstance(m, torch.nn.BatchNorm2d) for m in session.D.modules())
        assert has_bn == (kind != "wgan-gp")


@pytest.mark.parametrize("kind", list(LOSSES))
def test_d_loss_lower_when_d_is_right(kind):
    loss = make_loss(kind)
    right = loss.d_loss(HIGH, LOW, 0.0)
    wrong = loss.d_loss(LOW, HIGH, 0.0)
    assert right < wrong
    # and G's loss is lower when D is fooled
    assert loss.g_loss(HIGH) < loss.g_loss(LOW)


def test_bce_values():
    bce = make_loss("bce")
    assert bce.d_loss(HIGH, LOW, 0.0).item() == pytest.approx(2 * math.log1p(math.exp(-5)), rel=1e-5)
    assert bce.d_loss(torch.zeros(4), torch.zeros(4), 0.0).item() == pytest.approx(2 * math.log(2), rel=1e-6)
    assert bce.g_loss(torch.zeros(4)).item() == pytest.approx(math.log(2), rel=1e-6)
    # smoothing: a confident real logit now costs more than with hard labels
    assert bce.d_loss(HIGH, LOW, 0.1) > bce.d_loss(HIGH, LOW, 0.0)
    assert bce.score(torch.zeros(2)).tolist() == [0.5, 0.5]


def test_minimax_g_loss_is_log_one_minus_d():
    m = make_loss("minimax")
    logits = torch.tensor([-2.0, 0.0, 3.0])
    expected = torch.log1p(-torch.sigmoid(logits)).mean()
    assert m.g_loss(logits).item() == pytest.approx(expected.item(), rel=1e-5)


def test_lsgan_hinge_wgan_values():
    ones, zeros = torch.ones(4), torch.zeros(4)
    assert make_loss("lsgan").d_loss(ones, zeros, 0.0).item() == 0.0
    assert make_loss("lsgan").g_loss(ones).item() == 0.0
    assert make_loss("lsgan").d_loss(ones, zeros, 0.1).item() == pytest.approx(0.5 * 0.01)
    assert make_loss("hinge").d_loss(ones, -ones, 0.0).item() == 0.0
    assert make_loss("hinge").d_loss(zeros, zeros, 0.0).item() == 2.0
    assert make_loss("wgan-gp").d_loss(torch.full((4,), 3.0), ones, 0.0).item() == -2.0
    assert make_loss("wgan-gp").score(torch.tensor([5.0])).item() == 5.0  # a raw score, not a probability


def test_rpgan_pairs_each_real_with_a_fake():
    loss = make_loss("rpgan")
    real, fake = torch.tensor([2.0, 0.0]), torch.tensor([0.0, 2.0], requires_grad=True)
    # D: softplus(fake - real) per pair; G: softplus(real - fake), the same pairs the other way round
    expected_d = (torch.nn.functional.softplus(torch.tensor(-2.0)) + torch.nn.functional.softplus(torch.tensor(2.0))) / 2
    assert loss.d_loss(real, fake, 0.0).item() == pytest.approx(expected_d.item())
    assert loss.g_loss(fake, real).item() == pytest.approx(expected_d.item())
    # only the differences count: shifting every score leaves the losses as they were
    assert loss.d_loss(real + 7, fake + 7, 0.0).item() == pytest.approx(expected_d.item())
    # G's loss gives D's scores of the reals no gradient (they are D's, taken in its step)
    real.requires_grad_(True)
    loss.g_loss(fake, real).backward()
    assert real.grad is None and fake.grad is not None
    # G's top-k keeps fewer fakes than reals: each is set against the reals' mean
    assert loss.g_loss(torch.tensor([1.0]), torch.tensor([0.0, 2.0])).item() == pytest.approx(
        torch.nn.functional.softplus(torch.tensor(0.0)).item())


def test_gradient_penalty_zero_for_unit_gradient_and_positive_otherwise():
    w = torch.zeros(1, 2, 2)
    w[0, 0, 0] = 1.0  # ||d/dx sum(w*x)|| = 1

    def unit(x, y):
        return (x * w).flatten(1).sum(1)

    def steep(x, y):
        return 3 * (x * w).flatten(1).sum(1)

    real, fake = torch.randn(5, 1, 2, 2), torch.randn(5, 1, 2, 2)
    assert gradient_penalty(unit, real, fake, None).item() == pytest.approx(0.0, abs=1e-6)
    assert gradient_penalty(steep, real, fake, None).item() == pytest.approx(4.0, rel=1e-5)

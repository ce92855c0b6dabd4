"""GAN objectives on D's raw outputs (logits or critic scores).

Each loss gives D's loss from its outputs on real and fake images, G's loss
from D's outputs on fakes, and `score`, what the UI shows as D(x) / D(G(z)):
a probability for the BCE family, the raw score otherwise. The names, what the form shows for them and
their help are the config's (core/config.py LOSS_KINDS, the one registry); here each name gets its class.
"""

from __future__ import annotations

import torch
from torch.nn import functional as F

from core.config import LOSS_KINDS


class GANLoss:
    name = ""
    probabilistic = False  # D's outputs read as logits of P(real)

    def d_loss(self, real: torch.Tensor, fake: torch.Tensor, smoothing: float) -> torch.Tensor:
        raise NotImplementedError

    def g_loss(self, fake: torch.Tensor, real: torch.Tensor | None = None) -> torch.Tensor:
        """G's loss from D's outputs on its fakes; `real`, D's outputs on the batch's reals, is read only by
        a relativistic loss."""
        raise NotImplementedError

    def score(self, out: torch.Tensor) -> torch.Tensor:
        return torch.sigmoid(out) if self.probabilistic else out


def _bce_d(real: torch.Tensor, fake: torch.Tensor, smoothing: float) -> torch.Tensor:
    # One-sided label smoothing: real targets are 1 - smoothing, fakes stay 0.
    real_target = torch.full_like(real, 1.0 - smoothing)
    return (F.binary_cross_entropy_with_logits(real, real_target)
            + F.binary_cross_entropy_with_logits(fake, torch.zeros_like(fake)))


class BCELoss(GANLoss):
    """Non-saturating: G maximises log D(G(z)), which keeps gradients alive early on."""
    name, probabilistic = "bce", True

    def d_loss(self, real, fake, smoothing):
        return _bce_d(real, fake, smoothing)

    def g_loss(self, fake, real=None):
        return F.binary_cross_entropy_with_logits(fake, torch.ones_like(fake))


class MinimaxLoss(GANLoss):
    """The original game: G minimises log(1 - D(G(z))) = -softplus(logit)."""
    name, probabilistic = "minimax", True

    def d_loss(self, real, fake, smoothing):
        return _bce_d(real, fake, smoothing)

    def g_loss(self, fake, real=None):
        return -F.softplus(fake).mean()


class LSGANLoss(GANLoss):
    name = "lsgan"

    def d_loss(self, real, fake, smoothing):
        return 0.5 * ((real - (1.0 - smoothing)).pow(2).mean() + fake.pow(2).mean())

    def g_loss(self, fake, real=None):
        return 0.5 * (fake - 1.0).pow(2).mean()


class HingeLoss(GANLoss):
    name = "hinge"

    def d_loss(self, real, fake, smoothing):
        return F.relu(1.0 - real).mean() + F.relu(1.0 + fake).mean()

    def g_loss(self, fake, real=None):
        return -fake.mean()


class WGANGPLoss(GANLoss):
    """Wasserstein critic; the gradient penalty is added by `gradient_penalty`."""
    name = "wgan-gp"

    def d_loss(self, real, fake, smoothing):
        return fake.mean() - real.mean()

    def g_loss(self, fake, real=None):
        return -fake.mean()


class RpGANLoss(GANLoss):
    """Relativistic pairing (Jolicoeur-Martineau 2019; R3GAN, Huang et al. 2024): each real is judged against
    a fake, softplus(D(fake) - D(real)), so D cannot score every picture real at once and G is pushed where D
    ranks it below the data (R3GAN shows it has no mode-dropping local minima, unlike the plain game). G's
    loss pairs its fakes with D's scores of the step's reals, taken in D's step (so G's step runs D on the
    fakes only, as the other losses do)."""
    name = "rpgan"

    def d_loss(self, real, fake, smoothing):
        return F.softplus(fake - real).mean()

    def g_loss(self, fake, real=None):
        if real is None:  # no pairing to make: the non-saturating loss, its one-sided limit
            return F.softplus(-fake).mean()
        real = real.detach()
        if real.shape != fake.shape:  # loss.g_top_k kept only G's best fakes: each against the reals' mean
            real = real.mean().expand_as(fake)
        return F.softplus(real - fake).mean()


def gradient_penalty(critic, real: torch.Tensor, fake: torch.Tensor, y, generator=None) -> torch.Tensor:
    """(||grad D(x_hat)|| - 1)^2 on random interpolates of real and fake images."""
    alpha = torch.rand(real.shape[0], *([1] * (real.dim() - 1)), device=real.device, generator=generator)
    mixed = (alpha * real + (1 - alpha) * fake.detach()).requires_grad_(True)
    out = critic(mixed, y)
    (grad,) = torch.autograd.grad(out.sum(), mixed, create_graph=True)
    return (grad.flatten(1).norm(dim=1) - 1).pow(2).mean()


_CLASSES = {cls.name: cls for cls in (BCELoss, MinimaxLoss, LSGANLoss, HingeLoss, WGANGPLoss, RpGANLoss)}
if set(_CLASSES) != set(LOSS_KINDS):  # the config's one registry of names (loss.kind) and these classes
    raise ImportError(f"core/training/losses.py's losses {sorted(_CLASSES)} differ from core/config.py's "
                      f"LOSS_KINDS {sorted(LOSS_KINDS)}: name each in both")
# loss.kind's name -> its class, in the registry's order.
LOSSES = {name: _CLASSES[name] for name in LOSS_KINDS}


def make_loss(name: str) -> GANLoss:
    return LOSSES[name]()

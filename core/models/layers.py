"""Building blocks the convolutional models share: the size schedule, the
discriminator's spectral normalisation and its minibatch standard deviation."""

from __future__ import annotations

import torch
from torch import nn
from torch.nn.utils.parametrizations import spectral_norm

# Image side -> (side of the first feature map, number of 2x up/down-samplings).
CONV_SIZES = {28: (7, 2), 32: (4, 3), 64: (4, 4), 128: (4, 5)}
MAX_WIDTH_FACTOR = 8  # widths grow to 8x the base channel count and stay there (DCGAN's 64 -> 512)


def widths(base: int, n: int) -> list[int]:
    """Channel widths from the smallest feature map to the largest: [.., 4b, 2b, b]."""
    return [base * min(2 ** (n - 1 - i), MAX_WIDTH_FACTOR) for i in range(n)]


def spectral_normalise(model: nn.Module) -> nn.Module:
    """Spectral normalisation (Miyato et al. 2018) on every conv and linear layer, after their
    initialisation: each layer's largest singular value is held at 1, so D cannot change faster
    than G can follow. The power-iteration vectors are buffers: a checkpoint carries them and a
    resumed run continues exactly."""
    for m in list(model.modules()):
        if isinstance(m, (nn.Conv2d, nn.Linear)):
            spectral_norm(m)
    return model


class MinibatchStd(nn.Module):
    """Appends one channel: the spread of the features across groups of samples (ProGAN/StyleGAN).

    A generator that draws the same few images gives batches with little spread; D sees that
    directly and G is pushed to cover every mode (every digit)."""

    def __init__(self, group: int = 4):
        super().__init__()
        self.group = group

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        n, c, h, w = x.shape
        g = min(self.group, n)
        while n % g:  # the last batch of an epoch or a DDP slice may not divide evenly
            g -= 1
        y = x.float().reshape(g, n // g, c, h, w)
        # Spelled out: torch's var() over dim 0 takes ~50x longer on a CPU for these shapes.
        y = ((y - y.mean(0)).square().mean(0) + 1e-8).sqrt().mean((1, 2, 3))  # (n // g,)
        y = y.reshape(1, n // g, 1, 1, 1).expand(g, -1, 1, h, w).reshape(n, 1, h, w)
        return torch.cat([x, y.to(x.dtype)], 1)

"""Building blocks the convolutional models share: the size schedule, the
discriminator's spectral normalisation and its minibatch standard deviation."""

from __future__ import annotations

from typing import TypeVar

import torch
from torch import nn
from torch.nn.utils.parametrizations import spectral_norm

# Image side -> (side of the first feature map, number of 2x up/down-samplings).
CONV_SIZES = {28: (7, 2), 32: (4, 3), 64: (4, 4), 128: (4, 5)}
MAX_WIDTH_FACTOR = 8  # widths grow to 8x the base channel count and stay there (DCGAN's 64 -> 512)

_Model = TypeVar("_Model", bound=nn.Module)


def widths(base: int, n: int) -> list[int]:
    """Channel widths from the smallest feature map to the largest: [.., 4b, 2b, b]."""
    return [base * min(2 ** (n - 1 - i), MAX_WIDTH_FACTOR) for i in range(n)]


def output_activation(output: str) -> nn.Module:
    """G's last layer: `tanh` for pictures in [-1, 1], else a sigmoid for [0, 1] (model.g_output)."""
    return nn.Tanh() if output == "tanh" else nn.Sigmoid()


def spectral_normalise(model: _Model) -> _Model:
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
    directly and G is pushed to cover every mode (every digit). Groups are runs of consecutive
    samples, so a batch of reals followed by a batch of fakes (core/training/session.py's joint D pass)
    never mixes the two in one group."""

    group = 4

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        n, c, h, w = x.shape
        g = group_size(n)
        # Samples in rows of c*h*w features, in whatever order x is laid out (channels-last or not):
        # the spread is averaged over all of them, so their order does not matter.
        flat = x.permute(0, 2, 3, 1) if x.is_contiguous(memory_format=torch.channels_last) else x
        rows = flat.reshape(n // g, g, c * h * w)
        spread = _GroupStd.apply(rows.to(torch.promote_types(x.dtype, torch.float32)))  # one per group
        y = spread.to(x.dtype).repeat_interleave(g).reshape(n, 1, 1, 1).expand(n, 1, h, w)
        return torch.cat([x, y], 1)


def group_size(n: int) -> int:
    """MinibatchStd's group for a batch of n: up to 4, dividing n (the last batch of an epoch or a
    torchrun slice may not divide evenly)."""
    g = min(MinibatchStd.group, n)
    while n % g:
        g -= 1
    return g


class _GroupStd(torch.autograd.Function):
    """Mean over features of each group's standard deviation, for y of shape (groups, g, features).

    Written out with its gradient, d/dy = (y - mean) / (g * features * std), because autograd's
    chain through mean, subtract, square, mean and sqrt makes five passes over the features each
    way: on a CPU this is a tenth of a discriminator's forward and backward. The gradient is
    itself differentiable (R1's penalty differentiates it again)."""

    @staticmethod
    def forward(ctx, y):
        centred = y - y.mean(1, keepdim=True)
        std = (centred.square().mean(1, keepdim=True) + 1e-8).sqrt()
        ctx.save_for_backward(y, centred, std)
        return std.mean((1, 2))

    @staticmethod
    def backward(ctx, grad):
        y, centred, std = ctx.saved_tensors
        if torch.is_grad_enabled():  # create_graph: the same formula from y, so it can be differentiated
            centred = y - y.mean(1, keepdim=True)
            std = (centred.square().mean(1, keepdim=True) + 1e-8).sqrt()
        return centred * (grad[:, None, None] / (y.shape[1] * y.shape[2])) / std

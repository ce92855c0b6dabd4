"""Differentiable augmentation of D's inputs (DiffAugment, Zhao et al. 2020).

With a few hundred images, D soon memorises them and G gets no useful signal. Shifting,
cutting out and recolouring *both* real and fake images before D, with operations that
gradients flow through, keeps D from memorising while G still learns the un-augmented
distribution. The operations follow the paper's reference code; images are in G's
output range ([-1, 1] or [0, 1]) and keep their shape. Randomness comes from the trainer's
own torch.Generator, so a resumed run augments exactly as an uninterrupted one.
"""

from __future__ import annotations

import torch
from torch.nn import functional as F


def _rand(x: torch.Tensor, gen: torch.Generator | None) -> torch.Tensor:
    return torch.rand(x.shape[0], 1, 1, 1, device=x.device, dtype=x.dtype, generator=gen)


def brightness(x, gen):
    return x + (_rand(x, gen) - 0.5)


def saturation(x, gen):
    mean = x.mean(dim=1, keepdim=True)
    return (x - mean) * (_rand(x, gen) * 2) + mean


def contrast(x, gen):
    mean = x.mean(dim=(1, 2, 3), keepdim=True)
    return (x - mean) * (_rand(x, gen) + 0.5) + mean


def translation(x, gen, ratio: float = 0.125):
    """Shift each image by up to `ratio` of its side, filling with zeros (the reference's padding).
    Two gathers (rows, then columns) instead of the reference's index grid: the same result,
    a third of the memory traffic."""
    n, c, h, w = x.shape
    sh, sw = int(h * ratio + 0.5), int(w * ratio + 0.5)
    dy = torch.randint(-sh, sh + 1, (n, 1), device=x.device, generator=gen)
    dx = torch.randint(-sw, sw + 1, (n, 1), device=x.device, generator=gen)
    padded = F.pad(x, [sw, sw, sh, sh])
    rows = (torch.arange(h, device=x.device) + sh + dy)[:, None, :, None].expand(n, c, h, w + 2 * sw)
    cols = (torch.arange(w, device=x.device) + sw + dx)[:, None, None, :].expand(n, c, h, w)
    return padded.gather(2, rows).gather(3, cols)


def cutout(x, gen, ratio: float = 0.5):
    """Zero a square of `ratio` of the side at a random place in each image (it may run off the edge)."""
    n, _, h, w = x.shape
    ch, cw = int(h * ratio + 0.5), int(w * ratio + 0.5)
    oy = torch.randint(0, h + (1 - ch % 2), (n, 1), device=x.device, generator=gen) - ch // 2
    ox = torch.randint(0, w + (1 - cw % 2), (n, 1), device=x.device, generator=gen) - cw // 2
    ys, xs = torch.arange(h, device=x.device), torch.arange(w, device=x.device)
    in_y = (ys >= oy) & (ys < oy + ch)  # (n, h)
    in_x = (xs >= ox) & (xs < ox + cw)  # (n, w)
    keep = ~(in_y[:, :, None] & in_x[:, None, :])
    return x * keep[:, None].to(x.dtype)


OPERATIONS = {"color": (brightness, saturation, contrast), "translation": (translation,), "cutout": (cutout,)}


def diff_augment(x: torch.Tensor, policy: tuple[str, ...], generator: torch.Generator | None = None) -> torch.Tensor:
    """Apply every operation of `policy` (core.config.parse_augment_policy), each with its own random
    draw per image."""
    layout = torch.channels_last if x.is_contiguous(memory_format=torch.channels_last) else torch.contiguous_format
    for name in policy:
        for op in OPERATIONS[name]:
            x = op(x, generator)
    return x.contiguous(memory_format=layout)  # the layout the convolutions were given

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
    """Shift each image by up to `ratio` of its side, filling with zeros (the reference's padding)."""
    n, _, h, w = x.shape
    sh, sw = int(h * ratio + 0.5), int(w * ratio + 0.5)
    dy = torch.randint(-sh, sh + 1, (n, 1, 1), device=x.device, generator=gen)
    dx = torch.randint(-sw, sw + 1, (n, 1, 1), device=x.device, generator=gen)
    b, gy, gx = torch.meshgrid(torch.arange(n, device=x.device), torch.arange(h, device=x.device),
                               torch.arange(w, device=x.device), indexing="ij")
    gy = torch.clamp(gy + dy + 1, 0, h + 1)
    gx = torch.clamp(gx + dx + 1, 0, w + 1)
    padded = F.pad(x, [1, 1, 1, 1])
    return padded.permute(0, 2, 3, 1)[b, gy, gx].permute(0, 3, 1, 2)


def cutout(x, gen, ratio: float = 0.5):
    """Zero a square of `ratio` of the side at a random place in each image."""
    n, _, h, w = x.shape
    ch, cw = int(h * ratio + 0.5), int(w * ratio + 0.5)
    oy = torch.randint(0, h + (1 - ch % 2), (n, 1, 1), device=x.device, generator=gen)
    ox = torch.randint(0, w + (1 - cw % 2), (n, 1, 1), device=x.device, generator=gen)
    b, gy, gx = torch.meshgrid(torch.arange(n, device=x.device), torch.arange(ch, device=x.device),
                               torch.arange(cw, device=x.device), indexing="ij")
    gy = torch.clamp(gy + oy - ch // 2, 0, h - 1)
    gx = torch.clamp(gx + ox - cw // 2, 0, w - 1)
    mask = torch.ones(n, h, w, device=x.device, dtype=x.dtype)
    mask[b, gy, gx] = 0
    return x * mask.unsqueeze(1)


OPERATIONS = {"color": (brightness, saturation, contrast), "translation": (translation,), "cutout": (cutout,)}


def diff_augment(x: torch.Tensor, policy: tuple[str, ...], generator: torch.Generator | None = None) -> torch.Tensor:
    """Apply every operation of `policy` (core.config.parse_augment_policy), each with its own random
    draw per image."""
    for name in policy:
        for op in OPERATIONS[name]:
            x = op(x, generator)
    return x.contiguous()

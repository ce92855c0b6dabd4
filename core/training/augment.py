"""Differentiable augmentation of D's inputs (DiffAugment, Zhao et al. 2020).

With a few hundred images, D soon memorises them and G gets no useful signal. Shifting,
cutting out and recolouring *both* real and fake images before D, with operations that
gradients flow through, keeps D from memorising while G still learns the un-augmented
distribution. The operations follow the paper's reference code; images are in G's
output range ([-1, 1] or [0, 1]) and keep their shape. Randomness comes from the trainer's
own torch.Generator, so a resumed run augments exactly as an uninterrupted one.

AdaptiveStrength is StyleGAN2-ADA's rule (Karras et al. 2020) for how often to augment: each
operation is applied to each picture with a chance p that rises while D is too sure of the real
pictures (r_t = E[sign(D(x))] above a target) and falls when it is not.
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


def diff_augment(x: torch.Tensor, policy: tuple[str, ...], generator: torch.Generator | None = None,
                 p: float = 1.0) -> torch.Tensor:
    """Apply every operation of `policy` (core.config.parse_augment_policy), each with its own random
    draw per image, to each image with probability `p` (1: all of them; 0: x unchanged)."""
    if p <= 0:
        return x
    layout = torch.channels_last if x.is_contiguous(memory_format=torch.channels_last) else torch.contiguous_format
    for name in policy:
        for op in OPERATIONS[name]:
            x = op(x, generator) if p >= 1 else _some(op, x, generator, p)
    return x.contiguous(memory_format=layout)  # the layout the convolutions were given


def _some(op, x: torch.Tensor, generator: torch.Generator | None, p: float) -> torch.Tensor:
    """`op` on a random share p of the images only: the cost follows p (a mask over the whole
    batch would pay for every image at any strength). Gradients reach every image."""
    chosen = (torch.rand(x.shape[0], device=x.device, generator=generator) < p).nonzero().squeeze(1)
    if chosen.numel() == 0:
        return x
    return x.index_copy(0, chosen, op(x.index_select(0, chosen), generator))


class AdaptiveStrength:
    """How often to augment, from how sure D is of the real pictures.

    Every INTERVAL steps, r_t = the mean of sign(D(x)) over the real pictures D saw since (1: it
    calls every real picture real) is compared with `target`; p moves one notch towards stronger
    augmentation when r_t is above it, weaker when below, so that p could cross from 0 to 1 in
    SPEED_IMAGES real pictures (StyleGAN2-ADA uses 500,000 with far longer runs; a CPU hour sees a
    few million). The signs are summed on the device and read once an interval."""

    INTERVAL = 4
    SPEED_IMAGES = 100_000

    def __init__(self, target: float, device: torch.device, p: float = 0.0):
        self.target = target
        self.p = p
        self.last_r = float("nan")  # the latest r_t, for the person to see beside p
        self._signs = torch.zeros((), device=device)
        self._seen = 0
        self._steps = 0

    def observe(self, d_real: torch.Tensor) -> None:
        """Count D's scores of one step's real pictures; adjust p every INTERVAL steps."""
        self._signs += torch.sign(d_real.detach().float()).sum()
        self._seen += d_real.shape[0]
        self._steps += 1
        if self._steps % self.INTERVAL == 0:
            self.last_r = float(self._signs) / self._seen
            notch = self._seen / self.SPEED_IMAGES
            self.p = min(1.0, max(0.0, self.p + (notch if self.last_r > self.target else -notch)))
            self._signs.zero_()
            self._seen = 0

    def state_dict(self) -> dict:
        return {"p": self.p, "signs": float(self._signs), "seen": self._seen, "steps": self._steps,
                "last_r": self.last_r}

    def load_state_dict(self, state: dict) -> None:
        self.p, self._seen, self._steps = float(state["p"]), int(state["seen"]), int(state["steps"])
        self.last_r = float(state.get("last_r", float("nan")))
        self._signs.fill_(float(state["signs"]))

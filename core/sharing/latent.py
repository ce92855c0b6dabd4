"""Walking the generator's noise space: interpolation, truncation, class grids, loops, neighbours.

Pure torch on the CPU, no Qt: the studio's latent explorer calls these on its
renderer thread. Noise vectors are z of shape (z_dim,) or (n, z_dim); every
function that draws randomness takes a seed and its own torch.Generator, so the
same request gives the same pictures and never touches the global RNG (the
trainer's reproducibility depends on it).
"""

from __future__ import annotations

import math
from typing import Callable

import numpy as np
import torch

from core.config import Config
from core.models import sample_noise
from core.sharing.export import grid_image, to_uint8

MODES = ("linear", "spherical")
PARALLEL = 1e-4  # sin of the angle under which two directions count as the same (slerp falls back to lerp)


class LatentError(ValueError):
    """A latent request that cannot be met; the message names the value and what is allowed."""


class RenderCancelled(Exception):
    """Raised by render() when its `cancelled` callback says a newer request superseded this one."""


def _rng(seed: int) -> torch.Generator:
    return torch.Generator().manual_seed(int(seed))


def seed_noise(seed: int, z_dim: int, kind: str = "gaussian") -> torch.Tensor:
    """The noise vector (z_dim,) a seed stands for; the same seed always gives the same vector."""
    return sample_noise(1, z_dim, kind, "cpu", _rng(seed))[0]


def lerp(a: torch.Tensor, b: torch.Tensor, t) -> torch.Tensor:
    """Straight line from a (t = 0) to b (t = 1)."""
    return a + (b - a) * t


def slerp(a: torch.Tensor, b: torch.Tensor, t) -> torch.Tensor:
    """Spherical interpolation along the last dimension: the direction turns along the great circle
    from a's to b's while the length goes linearly from |a| to |b|.

    A straight line between two Gaussian samples passes close to the origin, where the generator has
    seen little noise (the midpoint of two orthogonal vectors is 1/sqrt(2) as long); this keeps the
    path at typical lengths. Directions (nearly) parallel, or a zero vector, fall back to lerp.
    """
    t = torch.as_tensor(t, dtype=a.dtype)
    na, nb = a.norm(dim=-1, keepdim=True), b.norm(dim=-1, keepdim=True)
    ua, ub = a / na.clamp_min(1e-12), b / nb.clamp_min(1e-12)
    omega = torch.acos((ua * ub).sum(-1, keepdim=True).clamp(-1, 1))
    sin = torch.sin(omega)
    safe = sin.clamp_min(PARALLEL)
    direction = (torch.sin((1 - t) * omega) * ua + torch.sin(t * omega) * ub) / safe
    turned = direction * lerp(na, nb, t)
    degenerate = (sin < PARALLEL) | (na < 1e-12) | (nb < 1e-12)
    return torch.where(degenerate, lerp(a, b, t), turned)


def interpolate(z0: torch.Tensor, z1: torch.Tensor, steps: int, mode: str = "spherical") -> torch.Tensor:
    """`steps` points from z0 to z1, both ends included: shape (steps, *z0.shape)."""
    if mode not in MODES:
        raise LatentError(f"mode = {mode!r}: must be one of {', '.join(MODES)}")
    if isinstance(steps, bool) or not isinstance(steps, int) or steps < 2:
        raise LatentError(f"steps = {steps!r}: an interpolation needs 2 or more steps (both ends included)")
    if z0.shape != z1.shape:
        raise LatentError(f"the two ends differ in shape ({tuple(z0.shape)} and {tuple(z1.shape)}); give two "
                          "noise vectors of the same generator")
    t = torch.linspace(0, 1, steps, dtype=z0.dtype).reshape(steps, *([1] * z0.dim()))
    fn = slerp if mode == "spherical" else lerp
    return fn(z0.unsqueeze(0), z1.unsqueeze(0), t)


def truncate(z: torch.Tensor, psi: float) -> torch.Tensor:
    """The truncation trick: pull noise towards its mean (zero for the app's Gaussian and uniform
    noise) by psi in (0, 1]. Less variety, more typical images; psi = 1 changes nothing."""
    if isinstance(psi, bool) or not isinstance(psi, (int, float)) or not 0 < psi <= 1:
        raise LatentError(f"truncation psi = {psi!r}: must be a number above 0 and at most 1 (1 = off)")
    return z * psi


def class_grid(num_classes: int, columns: int, z_dim: int, noise_kind: str = "gaussian",
               seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    """Noise and labels for a class x noise grid: row c draws class c, and every column shares one
    noise vector, so a column shows the same style as each class. Row-major, (rows * columns)."""
    if columns < 1:
        raise LatentError(f"columns = {columns}: a class grid needs at least one column")
    if num_classes < 1:
        raise LatentError(f"num_classes = {num_classes}: a class grid needs a conditional generator's classes")
    noise = sample_noise(columns, z_dim, noise_kind, "cpu", _rng(seed))
    z = noise.repeat(num_classes, 1)
    labels = torch.arange(num_classes).repeat_interleave(columns)
    return z, labels


def random_walk(z0: torch.Tensor, frames: int, step: float = 0.5, seed: int = 0, waypoints: int = 3) -> torch.Tensor:
    """A smooth closed loop of `frames` points starting at z0 (shape (frames, *z0.shape)).

    The loop turns spherically through `waypoints` random points and back to z0; the frame after the
    last is z0 again, so a GIF of it loops without a jump. `step` in (0, 1] is how far the waypoints
    stray: each is z0 turned `step` of the way towards a fresh random vector of z0's length (small:
    a gentle wobble around z0; 1: across the whole space). Consecutive frames are evenly spaced within
    each leg, so no frame jumps further than the leg's length / its share of frames.
    """
    if isinstance(frames, bool) or not isinstance(frames, int) or frames < 2:
        raise LatentError(f"frames = {frames!r}: a walk needs 2 or more frames")
    if isinstance(step, bool) or not isinstance(step, (int, float)) or not 0 < step <= 1:
        raise LatentError(f"step = {step!r}: must be a number above 0 and at most 1")
    gen = _rng(seed)
    points = [z0]
    for _ in range(waypoints):
        fresh = torch.randn(z0.shape, generator=gen, dtype=z0.dtype)
        fresh = fresh * (z0.norm(dim=-1, keepdim=True) / fresh.norm(dim=-1, keepdim=True).clamp_min(1e-12))
        points.append(slerp(z0, fresh, step))
    points.append(z0)
    legs = len(points) - 1
    # Frame i sits at loop position i / frames; the leg it falls in and how far along it.
    position = torch.arange(frames, dtype=z0.dtype) * legs / frames
    out = []
    for p in position.tolist():
        leg = min(int(p), legs - 1)
        out.append(slerp(points[leg], points[leg + 1], p - leg))
    return torch.stack(out)


def perturb(z: torch.Tensor, n: int, sigma: float = 0.3, seed: int = 0) -> torch.Tensor:
    """z itself, then n neighbours z + sigma * N(0, 1): shape (n + 1, *z.shape). "More like this":
    small sigma gives near copies, larger sigma drifts towards other samples."""
    if isinstance(n, bool) or not isinstance(n, int) or n < 1:
        raise LatentError(f"n = {n!r}: ask for at least one variation")
    if isinstance(sigma, bool) or not isinstance(sigma, (int, float)) or not 0 < sigma <= 10:
        raise LatentError(f"sigma = {sigma!r}: the spread must be a number above 0 and at most 10")
    noise = torch.randn((n, *z.shape), generator=_rng(seed), dtype=z.dtype)
    return torch.cat([z.unsqueeze(0), z.unsqueeze(0) + sigma * noise])


@torch.no_grad()
def render(G: torch.nn.Module, config: Config, z: torch.Tensor, labels: torch.Tensor | None = None, batch: int = 64,
           cancelled: Callable[[], bool] | None = None) -> torch.Tensor:
    """G's images for noise z (n, z_dim) [and class labels (n,)] as uint8 NCHW, `batch` at a time.

    G must be in eval mode (BatchNorm's running statistics). `cancelled` is asked between batches;
    when it says True, RenderCancelled is raised (a newer request has come)."""
    m = config.model
    if z.dim() != 2 or z.shape[1] != m.z_dim:
        raise LatentError(f"noise of shape {tuple(z.shape)}: this generator takes (n, {m.z_dim})")
    if m.conditional:
        if labels is None:
            raise LatentError("this generator is conditional: give a class for every noise vector")
        if len(labels) != len(z) or int(labels.min()) < 0 or int(labels.max()) >= m.num_classes:
            raise LatentError(f"classes must be one per noise vector, from 0 to {m.num_classes - 1}")
        labels = labels.long()
    else:
        labels = None
    device = next(G.parameters()).device
    out = []
    for start in range(0, len(z), batch):
        if cancelled is not None and cancelled():
            raise RenderCancelled()
        zb = z[start:start + batch].to(device)
        yb = labels[start:start + batch].to(device) if labels is not None else None
        out.append(to_uint8(G(zb, yb), m.g_output))
    return torch.cat(out)


def grid(images: torch.Tensor, columns: int) -> np.ndarray:
    """uint8 NCHW -> one uint8 H x W x 3 grid (core.sharing.export.grid_image's layout: 2-pixel black gaps)."""
    return grid_image(images, max(1, columns)).permute(1, 2, 0).numpy().copy()


def square_columns(n: int) -> int:
    """Columns for a near-square grid of n images."""
    return max(1, math.ceil(math.sqrt(n)))


def tiles(images: torch.Tensor) -> list[np.ndarray]:
    """uint8 NCHW -> one H x W x 3 array per image (animation frames)."""
    rgb = images.expand(-1, 3, -1, -1) if images.shape[1] == 1 else images
    return [np.ascontiguousarray(x) for x in rgb.permute(0, 2, 3, 1).numpy()]


def enlarge(image: np.ndarray, at_least: int = 192) -> np.ndarray:
    """Blow an H x W x C image up by a whole factor (nearest neighbour) until its shorter side is at
    least `at_least` pixels: a GIF of 28-pixel digits would be a postage stamp."""
    factor = max(1, math.ceil(at_least / max(1, min(image.shape[:2]))))
    return image.repeat(factor, axis=0).repeat(factor, axis=1) if factor > 1 else image

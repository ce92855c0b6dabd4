"""A picture-quality reading that needs no download, for any folder of pictures.

The digit probe (digits.py) reads generated digits in a trained classifier's features; a folder has
no classifier and Inception-v3's weights may not be on the machine. This reading takes the features
of fixed, randomly initialised convolutional networks instead (Naeem et al. 2020, "Reliable
Fidelity and Diversity Metrics for Generative Models", found random embeddings rank generative
models much as trained ones do): COPIES networks side by side, each four strided 3x3/4x4 convolutions
with leaky ReLUs, the spatial mean of each one's output concatenated (3 x (16 + 32 + 64 + 128) = 720
features, from edges and colours to larger shapes). Their weights are drawn from a fixed seed, so every
run on a folder reads through the same networks and their readings compare; nothing is trained and
nothing is downloaded. Chosen by agreement with a held-out judge over real runs (bench/reading_agreement.py,
docs/benchmarks.md): three networks agree better than one (their features' quirks average out), and a
network trained on the folder's clusters agreed worse than random ones.

- The reading: the Fréchet distance between those features of the samples and of the folder's
  pictures (up to N_REAL of them, picked by a fixed seed; their statistics computed once per run and
  kept in memory), each feature scaled by the folder's own spread so none outweighs the others. Lower is
  better; the folder's own pictures that the reference never saw read about 7 (the Dungeon Crawl tiles).
- Coverage: the folder's pictures grouped by k-means in the same features (one group per 100
  pictures, at most 50, as model.clusters = auto), and the share of samples nearest each group against
  the folder's share; a group drawn under a quarter of its share is missing (the digits' rule).
  Where the folder has sub-folders (its kinds: core/data/image_cache.py), the groups are made inside
  each one, shared out by size as the training's clusters are (clusters_per_kind), so each group belongs
  to one sub-folder and the samples' shares add up per sub-folder (core/quality/kinds_drawn.py).

What it is not: comparable across folders, sizes or sample counts, or with a published FID. Pictures
over SIDE px are shrunk to it first; smaller ones are read as they are.
Deterministic for a seed (the same numbers for the same pictures, seed and thread count).
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F

from core.config import clusters_for
from core.data.clusters import clusters_per_kind, kmeans_centres
from core.quality.digits import feature_stats, frechet_distance

SIDE = 64  # pictures larger than this are shrunk to it (the cost stays that of 64 px)
WIDTHS = (16, 32, 64, 128)  # each network's channels; the features are their spatial means
COPIES = 3  # independent networks side by side (grouped convolutions: one pass)
NET_SEED = 20_200_101  # the networks' weights: fixed, so every run on a folder reads through the same ones
REAL_SEED = 0  # which of the folder's pictures are the reference (fixed for the same reason)
N_REAL = 5000  # the folder's pictures whose features are the reference (all of a smaller folder)
CHUNK = 250  # pictures through the network at a time
MISSING_SHARE = 0.25  # a group drawn under a quarter of its share of the folder is missing
MIN_EXPECTED = 8  # ... judged only where at least this many samples are expected in it (too few is chance)
LOW_ENTROPY = 0.85  # the samples' spread over the groups, against the folder's, under this: bunched up
MAX_GROUPS = 50
MIN_PER_GROUP = 10  # a small folder: at most one group per this many pictures


class PictureReadingError(ValueError):
    """The reading cannot be taken; the message says why."""


class RandomFeatures(nn.Module):
    """`copies` networks of conv 3x3 (stride 1), then 4x4 stride-2 convolutions, each followed by a leaky
    ReLU, run side by side as grouped convolutions (copy i is group i after the first layer); Kaiming-normal
    weights, copy i's drawn from `seed` + i (private generators: torch's global one, which training draws
    from, is untouched), zero biases. Takes floats in [-1, 1]; returns the spatial mean of every stage."""

    def __init__(self, channels: int, seed: int = NET_SEED, widths: tuple[int, ...] = WIDTHS, copies: int = COPIES):
        super().__init__()
        gens = [torch.Generator().manual_seed(seed + i) for i in range(copies)]
        convs, c = [], channels
        for i, w in enumerate(widths):
            kernel, stride = (3, 1) if i == 0 else (4, 2)
            groups = 1 if i == 0 else copies
            conv = torch.nn.utils.skip_init(nn.Conv2d, c, w * copies, kernel, stride=stride, padding=1, groups=groups)
            with torch.no_grad():
                per_copy = conv.weight.shape[1:]  # each copy's filters see its own group's channels
                std = math.sqrt(2.0 / per_copy.numel())
                conv.weight.copy_(torch.cat([torch.empty(w, *per_copy).normal_(0.0, std, generator=g) for g in gens]))
                conv.bias.zero_()
            convs.append(conv)
            c = w * copies
        self.convs = nn.ModuleList(convs)
        self.widths, self.copies = tuple(widths), copies
        self.requires_grad_(False)
        self.eval()

    @property
    def features(self) -> int:
        return sum(self.widths) * self.copies

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = []
        for conv in self.convs:
            x = F.leaky_relu(conv(x), 0.2)
            out.append(x.mean((2, 3)))
        return torch.cat(out, 1)


def to_input(images: torch.Tensor) -> torch.Tensor:
    """uint8 NCHW [0, 255] -> floats in [-1, 1], shrunk to SIDE px when larger."""
    if images.dtype != torch.uint8 or images.dim() != 4:
        raise PictureReadingError(f"pictures of {images.dtype} {tuple(images.shape)}: expected uint8 (N, C, H, W)")
    x = images.float() / 127.5 - 1.0
    if max(x.shape[-2:]) > SIDE:
        x = F.interpolate(x, size=(min(SIDE, x.shape[-2]), min(SIDE, x.shape[-1])), mode="area")
    return x


@dataclass(frozen=True)
class PictureReport:
    samples: int
    frechet: float  # Fréchet distance to the folder's pictures in the random network's features; lower is better
    shares: tuple[float, ...]  # share of the samples nearest each group of the folder's pictures; sums to 1
    folder_shares: tuple[float, ...]  # each group's share of the folder's pictures (the same rule); sums to 1
    missing: tuple[int, ...]  # groups drawn under MISSING_SHARE of their folder share
    collapse: bool  # missing groups, or the samples bunched in few groups
    seconds: float
    group_kinds: tuple[int, ...] = ()  # each group's sub-folder (an index into kind_names); () without kinds
    kind_names: tuple[str, ...] = ()


class PictureReading:
    """Built once per run from the folder's pictures; score() per reading. The reference (features of up to
    N_REAL of the folder's pictures, their mean, covariance and groups) is computed here, once."""

    def __init__(self, images: torch.Tensor | np.ndarray, device: torch.device | str = "cpu",
                 groups: int | None = None, seed: int = NET_SEED, n_real: int = N_REAL,
                 kinds: torch.Tensor | None = None, kind_names: tuple[str, ...] = ()):
        """`kinds`: each picture's sub-folder (int64 (N,), an index into `kind_names`), or None."""
        self.device = torch.device(device)
        n = images.shape[0]
        if n < 2:
            raise PictureReadingError(f"{n} picture(s): the picture reading needs at least 2")
        self.net = RandomFeatures(images.shape[1], seed).to(self.device)
        pick = torch.randperm(n, generator=torch.Generator().manual_seed(REAL_SEED))[:n_real].sort().values
        real = self._raw_features(images, pick)
        self.mean, self.scale = real.mean(0), real.std(0).clamp_min(1e-6)
        real = self._standard(real)
        self.real_mu, self.real_sigma = feature_stats(real)
        k = min(groups if groups is not None else default_groups(len(pick)), len(pick))
        self.centres: torch.Tensor | None = None
        self.folder_shares: tuple[float, ...] = ()
        self.group_kinds: tuple[int, ...] = ()
        self.kind_names: tuple[str, ...] = ()
        picked_kinds = kinds[pick] if kinds is not None and len(kind_names) >= 2 and k >= 1 else None
        if picked_kinds is not None and len(picked_kinds.unique()) >= 2:
            self.centres, self.group_kinds = _centres_within(real, picked_kinds, k)
            self.kind_names = tuple(kind_names)
        elif k >= 2:
            self.centres = kmeans_centres(real, k, seed=REAL_SEED)
        if self.centres is not None:
            self.folder_shares = tuple(float(s) for s in self._shares(real))

    @torch.inference_mode()
    def _raw_features(self, images: torch.Tensor | np.ndarray, idx: torch.Tensor | None = None) -> torch.Tensor:
        idx = torch.arange(images.shape[0]) if idx is None else idx
        out = []
        for part in idx.split(CHUNK):
            if isinstance(images, np.ndarray):  # a memory-mapped folder cache: only these rows are read
                batch = torch.from_numpy(np.asarray(images[part.numpy()]))
            else:
                batch = images[part.to(images.device)]
            out.append(self.net(to_input(batch.to(self.device))).double().cpu())
        return torch.cat(out)

    def _standard(self, feats: torch.Tensor) -> torch.Tensor:
        return (feats - self.mean) / self.scale

    def features(self, images: torch.Tensor) -> torch.Tensor:
        """(N, 720) float64 features of uint8 pictures, scaled by the folder's spread."""
        return self._standard(self._raw_features(images))

    def _shares(self, feats: torch.Tensor) -> torch.Tensor:
        assert self.centres is not None
        nearest = torch.cdist(feats, self.centres).argmin(1)
        counts = torch.bincount(nearest, minlength=len(self.centres)).double()
        return counts / counts.sum()

    def score(self, images: torch.Tensor, started: float | None = None) -> PictureReport:
        """Read uint8 samples (N, C, H, W) against the folder. `started`: when the caller began (its
        time.perf_counter()), so the seconds include drawing the samples."""
        start = time.perf_counter() if started is None else started
        n = images.shape[0]
        if n < 2:
            raise PictureReadingError(f"{n} sample(s): the picture reading needs at least 2 (1,000 is a good number)")
        feats = self.features(images)
        mu, sigma = feature_stats(feats)
        fd = frechet_distance(self.real_mu, self.real_sigma, mu, sigma)
        shares: tuple[float, ...] = ()
        missing: tuple[int, ...] = ()
        collapse = False
        if self.centres is not None:
            drawn = self._shares(feats)
            folder = torch.tensor(self.folder_shares, dtype=torch.float64)
            expected = folder * n
            missing = tuple(int(i) for i in torch.nonzero((drawn < MISSING_SHARE * folder) & (expected >= MIN_EXPECTED))
                            .flatten())
            collapse = bool(missing) or spread(drawn) < LOW_ENTROPY * spread(folder)
            shares = tuple(float(s) for s in drawn)
        return PictureReport(n, fd, shares, self.folder_shares, missing, collapse, time.perf_counter() - start,
                             self.group_kinds, self.kind_names)


def _centres_within(real: torch.Tensor, kinds: torch.Tensor, k: int) -> tuple[torch.Tensor, tuple[int, ...]]:
    """k-means centres made inside each kind (at least one a kind present, the rest shared out by size, as
    the training's clusters: clusters_per_kind), and the kind of each centre. A kind none of the picked
    pictures has gets no group."""
    present = kinds.unique().tolist()
    counts = [int((kinds == i).sum()) for i in present]
    per_kind = clusters_per_kind(counts, max(k, len(present)))
    assert per_kind is not None  # as many groups as kinds at least
    centres, owners = [], []
    for kind, n_groups in zip(present, per_kind):
        centres.append(kmeans_centres(real[kinds == kind], n_groups, seed=REAL_SEED))
        owners += [int(kind)] * n_groups
    return torch.cat(centres), tuple(owners)


def spread(shares: torch.Tensor) -> float:
    """The entropy of shares over their groups, over log(groups): 1 when even, 0 when all in one."""
    nz = shares[shares > 0]
    return float(-(nz * nz.log()).sum() / math.log(len(shares))) if len(shares) > 1 else 1.0


def default_groups(pictures: int) -> int:
    """How many groups coverage counts on: one per 100 pictures (model.clusters = auto), at most MAX_GROUPS;
    a smaller folder one per MIN_PER_GROUP pictures, up to 10; 0 (no coverage) under 20 pictures."""
    k = clusters_for(pictures)
    return min(k, MAX_GROUPS) if k else min(10, pictures // MIN_PER_GROUP) if pictures >= 2 * MIN_PER_GROUP else 0

"""Clusters of the training pictures, for a self-conditioned GAN (Liu et al. 2020, "Diverse Image
Generation via Self-Conditioned GANs").

Before training, the pictures are grouped by k-means: grey pictures (digits) on their pixels (shrunk to
at most 32 px a side); colour pictures on features that suit them (_colour_features): where the
colours lie, which colours there are, and which way the edges run. Their pixels alone group colour
pictures mostly by how bright they are.
D judges each picture together with its cluster, and G draws each cluster as often as it holds
pictures: a generator can no longer drop or over-draw a whole kind of picture (a digit) without D
seeing it, and no label is needed. core/models' Generator turns the noise into a cluster, so the
generator stays unconditional: noise in, picture out.
"""

from __future__ import annotations

import hashlib

import numpy as np
import torch
from torch.nn import functional as F

from core.data.datasets import DataError

MAX_SIDE = 32  # pictures are shrunk to this side first: k-means on 32 x 32 pixels is plenty to group shapes
FIT_SAMPLE = 10_000  # the centres are fitted on at most this many pictures, then every picture is assigned
ITERATIONS = 30
CHUNK = 4096


def cluster_pictures(images: torch.Tensor | np.ndarray, k: int, seed: int,
                     within: torch.Tensor | None = None) -> torch.Tensor:
    """Cluster ids (int64, one per picture) of uint8 pictures (N, C, H, W): k-means++ seeded by `seed`,
    then Lloyd iterations on the CPU (the same ids for the same pictures and seed, on any machine).
    `within`: each picture's kind (a folder's sub-folder); the clusters are then made inside each kind
    (clusters_per_kind shares them out), so no cluster mixes two kinds.
    Remembered for the process's last few datasets: a second run on the same pictures starts at once."""
    n = images.shape[0]
    if k > n:
        raise DataError(f"model.clusters = {k}: the dataset has only {n} picture(s); choose at most {n}")
    key = _content_key(images)
    if key is not None and within is not None:
        key += hashlib.sha1(within.numpy().tobytes()).hexdigest()
    if key is not None and (key, k, seed) in _REMEMBERED:
        return _REMEMBERED[(key, k, seed)].clone()
    ids = _cluster(images, k, seed) if within is None else _cluster_within(images, within, k, seed)
    if key is not None:
        while len(_REMEMBERED) >= 4:
            _REMEMBERED.pop(next(iter(_REMEMBERED)))
        _REMEMBERED[(key, k, seed)] = ids.clone()
    return ids


def clusters_per_kind(counts: list[int], k: int) -> list[int] | None:
    """How many of k clusters each kind of picture gets: one each, the rest in proportion to the kinds'
    sizes (largest remainders first, ties to the earlier kind), never more than a kind has pictures.
    None when there are more kinds than clusters: they cannot all have one."""
    if len(counts) > k:
        return None
    total = sum(counts)
    ideal = [(k - len(counts)) * c / total for c in counts]
    given = [min(c, 1 + int(x)) for c, x in zip(counts, ideal)]
    by_remainder = sorted(range(len(counts)), key=lambda i: (-(ideal[i] - int(ideal[i])), i))
    left = k - sum(given)
    while left > 0 and any(g < c for g, c in zip(given, counts)):
        for i in by_remainder:
            if left and given[i] < counts[i]:
                given[i] += 1
                left -= 1
    return given


def _cluster_within(images: torch.Tensor | np.ndarray, within: torch.Tensor, k: int, seed: int) -> torch.Tensor:
    kinds = int(within.max()) + 1
    counts = torch.bincount(within, minlength=kinds).tolist()
    per_kind = clusters_per_kind(counts, k)
    if per_kind is None:
        raise DataError(f"model.clusters = {k}: fewer than the folder's {kinds} sub-folders; choose at least {kinds}")
    ids = torch.empty(len(within), dtype=torch.int64)
    first = 0
    for kind, clusters in enumerate(per_kind):
        rows = (within == kind).nonzero().squeeze(1)
        if len(rows):
            ids[rows] = first + _cluster(images, clusters, seed, rows)
        first += clusters
    return ids


_REMEMBERED: dict[tuple, torch.Tensor] = {}


def _content_key(images: torch.Tensor | np.ndarray) -> str | None:
    """A digest of pictures held in memory (a few ms for the bundled digits); None for a memory-mapped
    folder cache, which is not read twice just to look it up."""
    if not isinstance(images, torch.Tensor) or images.nbytes > 2**28:
        return None
    return hashlib.sha1(images.cpu().contiguous().numpy().tobytes()).hexdigest() + str(tuple(images.shape))


def _cluster(images: torch.Tensor | np.ndarray, k: int, seed: int, rows: torch.Tensor | None = None) -> torch.Tensor:
    """Ids of the pictures in `rows` (sorted; default all) among k clusters of them alone."""
    rows = torch.arange(images.shape[0]) if rows is None else rows
    g = torch.Generator().manual_seed(seed)
    fit = rows[torch.randperm(len(rows), generator=g)[:FIT_SAMPLE].sort().values]
    x = _features(images, fit)
    centres = _kmeans(x, k, g)
    return torch.cat([_assign(_features(images, idx), centres) for idx in rows.split(CHUNK)])


def _features(images: torch.Tensor | np.ndarray, idx: torch.Tensor) -> torch.Tensor:
    if isinstance(images, np.ndarray):  # a memory-mapped folder cache: read only the rows asked for
        batch = torch.from_numpy(np.asarray(images[idx.numpy()]))
    else:
        batch = images[idx.to(images.device)].cpu()
    x = batch.float() / 255
    if x.shape[-1] > MAX_SIDE:
        x = F.adaptive_avg_pool2d(x, MAX_SIDE)
    return _colour_features(x) if x.shape[1] == 3 else x.flatten(1)


LAYOUT_SIDE = 8  # colour layout: the mean colour of 8 x 8 cells
EDGE_CELLS = 4  # edge directions: histograms over 4 x 4 cells
EDGE_BINS = 8  # unsigned gradient directions (0-180 degrees)
COLOUR_BINS = 4  # colour histogram: 4 levels of each of R, G, B


def _colour_features(x: torch.Tensor) -> torch.Tensor:
    """Three blocks, each of unit length per picture so none outweighs the others, whatever else is
    in the batch (the features of a picture depend on it alone): the colour layout in luma and two
    chroma channels (what is where), a colour histogram (which colours, wherever they are; square
    roots, so distances between histograms are Hellinger's), and histograms of edge directions
    weighted by edge strength over a 4 x 4 grid (the shape, whatever its colours: HOG's idea)."""
    r, g, b = x.unbind(1)
    luma = 0.299 * r + 0.587 * g + 0.114 * b
    layout = F.adaptive_avg_pool2d(torch.stack([luma, b - luma, r - luma], 1), LAYOUT_SIDE).flatten(1)
    levels = (x * COLOUR_BINS).long().clamp_(max=COLOUR_BINS - 1)
    bins = (levels[:, 0] * COLOUR_BINS + levels[:, 1]) * COLOUR_BINS + levels[:, 2]
    counts = F.one_hot(bins.flatten(1), COLOUR_BINS ** 3).float().mean(1)
    gy = luma[:, 2:, 1:-1] - luma[:, :-2, 1:-1]
    gx = luma[:, 1:-1, 2:] - luma[:, 1:-1, :-2]
    direction = torch.atan2(gy, gx).remainder(torch.pi) / torch.pi * EDGE_BINS
    strength = torch.hypot(gx, gy)
    edges = F.one_hot(direction.long().clamp_(max=EDGE_BINS - 1), EDGE_BINS).permute(0, 3, 1, 2) * strength[:, None]
    edges = F.adaptive_avg_pool2d(edges, EDGE_CELLS).flatten(1)
    return torch.cat([F.normalize(layout, dim=1), counts.sqrt(), F.normalize(edges, dim=1)], 1)


def kmeans_centres(x: torch.Tensor, k: int, seed: int) -> torch.Tensor:
    """The k centres of features x (N, D) by k-means++ seeded by `seed` and Lloyd iterations (the picture
    reading's groups, core/quality/picture_reading.py: the same k-means as the pictures' clusters)."""
    if k > len(x):
        raise DataError(f"{k} groups of {len(x)} pictures: at most one group a picture")
    return _kmeans(x, k, torch.Generator().manual_seed(seed))


def _kmeans(x: torch.Tensor, k: int, g: torch.Generator) -> torch.Tensor:
    centres = x[torch.randint(len(x), (1,), generator=g)]
    nearest = torch.cdist(x, centres).squeeze(1).square()
    for _ in range(k - 1):  # k-means++: each new centre far from those chosen
        new = x[torch.multinomial(nearest + 1e-12, 1, generator=g)]
        centres = torch.cat([centres, new])
        nearest = torch.minimum(nearest, torch.cdist(x, new).squeeze(1).square())
    for _ in range(ITERATIONS):
        ids = _assign(x, centres)
        sums = torch.zeros_like(centres).index_add_(0, ids, x)
        counts = torch.bincount(ids, minlength=k)
        moved = torch.where(counts[:, None] > 0, sums / counts.clamp_min(1)[:, None], centres)  # empty: stays
        if torch.equal(moved, centres):
            break
        centres = moved
    return centres


def _assign(x: torch.Tensor, centres: torch.Tensor) -> torch.Tensor:
    return torch.cdist(x, centres).argmin(1)


def shares(ids: torch.Tensor, k: int) -> torch.Tensor:
    """Each cluster's share of the pictures (sums to 1)."""
    counts = torch.bincount(ids, minlength=k).double()
    return (counts / counts.sum()).float()

"""Build G and D from a Config. Every model is called as G(z, y) and D(x, y);
y is the class label for a conditional GAN and None otherwise."""

from __future__ import annotations

import math

import torch
from torch import nn
from torch.nn import functional as F

from core.config import CLUSTERS_AUTO_MAX, Config
from core.models.dcgan import DCGANDiscriminator, DCGANGenerator
from core.models.layers import spectral_normalise
from core.models.lite import LiteGenerator
from core.models.mlp import MLPDiscriminator, MLPGenerator
from core.models.resnet import ResNetDiscriminator, ResNetGenerator

# What a Discriminator wraps: a net with features(x) and the linear head that scores them.
DiscriminatorNet = DCGANDiscriminator | ResNetDiscriminator | MLPDiscriminator


class Generator(nn.Module):
    """Wraps a net; a conditional one sees the one-hot class next to the noise (P(X|Y)).

    A self-conditioned one (`clusters` > 0, core/data/clusters.py) sees a one-hot cluster that it takes from
    its own noise: the first noise value picks a cluster, each as often as its share of the training
    pictures (the `cluster_cdf` buffer, saved with the weights). It stays unconditional: G(z)."""

    cluster_cdf: torch.Tensor  # a buffer, registered only when self-conditioned

    def __init__(self, net: nn.Module, num_classes: int, clusters: int = 0, noise: str = "gaussian"):
        super().__init__()
        self.net = net
        self.num_classes = num_classes or clusters  # width of the one-hot input; 0 = none
        self.self_conditioned = clusters > 0
        self.noise = noise
        if clusters:
            self.register_buffer("cluster_cdf", torch.arange(1, clusters + 1, dtype=torch.float32) / clusters)

    def set_cluster_shares(self, shares: torch.Tensor) -> None:
        self.cluster_cdf.copy_(shares.cumsum(0))

    def cluster_of(self, z: torch.Tensor) -> torch.Tensor:
        """The cluster each noise vector draws: its first value's quantile against the clusters' shares."""
        first = z[:, 0].float()
        u = 0.5 * (1 + torch.erf(first / math.sqrt(2))) if self.noise == "gaussian" else (first + 1) / 2
        return (u[:, None] > self.cluster_cdf[None, :-1]).to(torch.int64).sum(1)

    def forward(self, z: torch.Tensor, y: torch.Tensor | None = None) -> torch.Tensor:
        if self.self_conditioned and y is None:
            y = self.cluster_of(z)
        if self.num_classes:
            if y is None:  # the TypeError F.one_hot(None) raised, said plainly
                raise TypeError("a conditional generator needs the class labels: G(z, y)")
            z = torch.cat([z, F.one_hot(y, self.num_classes).to(z.dtype)], 1)
        return self.net(z)


class Discriminator(nn.Module):
    """Wraps a net; a conditional one sees the one-hot class with the image:
    appended to the flat pixels (mlp) or as constant extra channels (conv).

    With `pack` > 1 (PacGAN, Lin et al. 2018), D judges `pack` images at once, stacked as
    channels: a generator that repeats itself shows in every pack, which pushes it to cover
    all modes. D gives one score a pack."""

    def __init__(self, net: DiscriminatorNet, num_classes: int, flat: bool, pack: int = 1, clusters: int = 0,
                 spectral: bool = False):
        super().__init__()
        self.net = net
        self.num_classes = num_classes
        self.flat = flat
        self.pack = pack
        self.clusters = clusters
        if clusters:
            # Clusters by projection (Miyato & Koyama 2018): D's score plus the dot product of its features
            # with the cluster's embedding. A one-hot input instead would widen D's first layer by one
            # channel a cluster (0.6x the steps/s with 30 of them on a CPU); this costs next to nothing.
            self.embed = nn.Linear(clusters, net.head.in_features, bias=False)
            nn.init.xavier_uniform_(self.embed.weight)
            if spectral:
                spectral_normalise(self.embed)

    def forward(self, x: torch.Tensor, y: torch.Tensor | None = None) -> torch.Tensor:
        if self.num_classes:
            if y is None:
                raise TypeError("a conditional discriminator needs the class labels: D(x, y)")
            onehot = F.one_hot(y, self.num_classes).to(x.dtype)
            if self.flat:
                x = torch.cat([x.flatten(1), onehot], 1)
            else:
                x = torch.cat([x, onehot[:, :, None, None].expand(-1, -1, *x.shape[2:])], 1)
        if self.pack > 1:
            x = x.reshape(x.shape[0] // self.pack, -1, *x.shape[2:])  # consecutive images side by side
        if not self.clusters:
            return self.net(x)
        features = self.net.features(x)
        score = self.net.head(features).squeeze(1)
        if y is None:  # no clusters given: the part of the score that does not depend on them
            return score
        onehot = F.one_hot(y, self.clusters).to(features.dtype)
        if self.pack > 1:  # a pack is judged against the mean of its pictures' clusters
            onehot = onehot.reshape(features.shape[0], self.pack, -1).mean(1)
        return score + (self.embed(onehot) * features).sum(1)


def image_shape(config: Config) -> tuple[int, int, int]:
    return (config.data.channels, config.data.image_size, config.data.image_size)


def _conditioning(config: Config) -> tuple[int, int]:
    """(classes, clusters): a conditional GAN's labels win over self-conditioning's clusters."""
    m = config.model
    # "auto" becomes a number once the data is known (Config.for_dataset); before, size estimates count the most.
    clusters = m.clusters if isinstance(m.clusters, int) else CLUSTERS_AUTO_MAX
    return (m.num_classes, 0) if m.conditional else (0, clusters)


def build_generator(config: Config) -> Generator:
    m = config.model
    labels, clusters = _conditioning(config)
    classes = labels or clusters  # G sees either as a one-hot input
    shape = image_shape(config)
    net: nn.Module
    if m.arch == "dcgan":
        net = DCGANGenerator(m.z_dim + classes, shape, m.g_hidden[0], m.g_output, m.g_resize_output)
    elif m.arch == "lite":
        net = LiteGenerator(m.z_dim + classes, shape, m.g_hidden[0], m.g_output)
    elif m.arch == "resnet":
        net = ResNetGenerator(m.z_dim + classes, shape, m.g_hidden[0], m.g_output)
    else:
        net = MLPGenerator(m.z_dim + classes, shape, m.g_hidden, m.g_norm, m.g_output_norm,
                           m.g_activation, m.g_output, m.g_dropout)
    return Generator(net, labels, clusters, m.noise)


def build_discriminator(config: Config) -> Discriminator:
    m = config.model
    classes, clusters = _conditioning(config)  # classes as input channels, clusters by projection
    shape = image_shape(config)
    pack = m.d_pack
    net: DiscriminatorNet
    if m.arch in ("dcgan", "lite"):  # lite's D is the DCGAN's
        net = DCGANDiscriminator((shape[0] + classes) * pack, shape[1], m.d_hidden[0],
                                 norm=config.loss.kind != "wgan-gp", dropout=m.d_dropout,
                                 spectral=m.d_spectral_norm, mbstd=m.d_mbstd)
        return Discriminator(net, classes, flat=False, pack=pack, clusters=clusters, spectral=m.d_spectral_norm)
    if m.arch == "resnet":
        net = ResNetDiscriminator((shape[0] + classes) * pack, shape[1], m.d_hidden[0],
                                  spectral=m.d_spectral_norm, mbstd=m.d_mbstd)
        return Discriminator(net, classes, flat=False, pack=pack, clusters=clusters, spectral=m.d_spectral_norm)
    mlp = MLPDiscriminator((math.prod(shape) + classes) * pack, m.d_hidden, m.d_dropout)
    return Discriminator(spectral_normalise(mlp) if m.d_spectral_norm else mlp, classes, flat=True, pack=pack,
                         clusters=clusters, spectral=m.d_spectral_norm)


def sample_noise(n: int, z_dim: int, kind: str, device, generator: torch.Generator | None = None) -> torch.Tensor:
    if kind == "uniform":
        return torch.rand(n, z_dim, device=device, generator=generator) * 2 - 1
    return torch.randn(n, z_dim, device=device, generator=generator)

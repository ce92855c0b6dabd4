"""Build G and D from a Config. Every model is called as G(z, y) and D(x, y);
y is the class label for a conditional GAN and None otherwise."""

from __future__ import annotations

import math

import torch
from torch import nn
from torch.nn import functional as F

from core.config import Config
from core.models.dcgan import DCGANDiscriminator, DCGANGenerator
from core.models.layers import spectral_normalise
from core.models.mlp import MLPDiscriminator, MLPGenerator
from core.models.resnet import ResNetDiscriminator, ResNetGenerator


class Generator(nn.Module):
    """Wraps a net; a conditional one sees the one-hot class next to the noise (P(X|Y))."""

    def __init__(self, net: nn.Module, num_classes: int):
        super().__init__()
        self.net = net
        self.num_classes = num_classes  # 0 = unconditional

    def forward(self, z: torch.Tensor, y: torch.Tensor | None = None) -> torch.Tensor:
        if self.num_classes:
            z = torch.cat([z, F.one_hot(y, self.num_classes).to(z.dtype)], 1)
        return self.net(z)


class Discriminator(nn.Module):
    """Wraps a net; a conditional one sees the one-hot class with the image:
    appended to the flat pixels (mlp) or as constant extra channels (conv).

    With `pack` > 1 (PacGAN, Lin et al. 2018), D judges `pack` images at once, stacked as
    channels: a generator that repeats itself shows in every pack, which pushes it to cover
    all modes. D gives one score a pack."""

    def __init__(self, net: nn.Module, num_classes: int, flat: bool, pack: int = 1):
        super().__init__()
        self.net = net
        self.num_classes = num_classes
        self.flat = flat
        self.pack = pack

    def forward(self, x: torch.Tensor, y: torch.Tensor | None = None) -> torch.Tensor:
        if self.num_classes:
            onehot = F.one_hot(y, self.num_classes).to(x.dtype)
            if self.flat:
                x = torch.cat([x.flatten(1), onehot], 1)
            else:
                x = torch.cat([x, onehot[:, :, None, None].expand(-1, -1, *x.shape[2:])], 1)
        if self.pack > 1:
            x = x.reshape(x.shape[0] // self.pack, -1, *x.shape[2:])  # consecutive images side by side
        return self.net(x)


def image_shape(config: Config) -> tuple[int, int, int]:
    return (config.data.channels, config.data.image_size, config.data.image_size)


def build_generator(config: Config) -> Generator:
    m = config.model
    classes = m.num_classes if m.conditional else 0
    shape = image_shape(config)
    if m.arch == "dcgan":
        net = DCGANGenerator(m.z_dim + classes, shape, m.g_hidden[0], m.g_output)
    elif m.arch == "resnet":
        net = ResNetGenerator(m.z_dim + classes, shape, m.g_hidden[0], m.g_output)
    else:
        net = MLPGenerator(m.z_dim + classes, shape, m.g_hidden, m.g_norm, m.g_output_norm,
                           m.g_activation, m.g_output, m.g_dropout)
    return Generator(net, classes)


def build_discriminator(config: Config) -> Discriminator:
    m = config.model
    classes = m.num_classes if m.conditional else 0
    shape = image_shape(config)
    pack = m.d_pack
    if m.arch == "dcgan":
        net = DCGANDiscriminator((shape[0] + classes) * pack, shape[1], m.d_hidden[0],
                                 norm=config.loss.kind != "wgan-gp", dropout=m.d_dropout,
                                 spectral=m.d_spectral_norm, mbstd=m.d_mbstd)
        return Discriminator(net, classes, flat=False, pack=pack)
    if m.arch == "resnet":
        net = ResNetDiscriminator((shape[0] + classes) * pack, shape[1], m.d_hidden[0],
                                  spectral=m.d_spectral_norm, mbstd=m.d_mbstd)
        return Discriminator(net, classes, flat=False, pack=pack)
    mlp = MLPDiscriminator((math.prod(shape) + classes) * pack, m.d_hidden, m.d_dropout)
    return Discriminator(spectral_normalise(mlp) if m.d_spectral_norm else mlp, classes, flat=True, pack=pack)


def sample_noise(n: int, z_dim: int, kind: str, device, generator: torch.Generator | None = None) -> torch.Tensor:
    if kind == "uniform":
        return torch.rand(n, z_dim, device=device, generator=generator) * 2 - 1
    return torch.randn(n, z_dim, device=device, generator=generator)

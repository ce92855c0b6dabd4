"""Residual G and D in the SNGAN / BigGAN style (Miyato et al. 2018, Brock et al. 2019), the design
that holds up at 64-128 px with the hinge loss: G upsamples with residual blocks of 3x3
convolutions and BatchNorm; D downsamples with residual blocks, no BatchNorm, spectral
normalisation on every layer (when `spectral`), and sums its last feature map.
"""

from __future__ import annotations

import torch
from torch import nn
from torch.nn import functional as F

from core.models.layers import CONV_SIZES, MinibatchStd, output_activation, spectral_normalise, widths


def _init(module: nn.Module) -> None:
    # Xavier, as SNGAN's reference code: residual paths start near identity.
    if isinstance(module, (nn.Conv2d, nn.Linear)):
        nn.init.xavier_uniform_(module.weight)
        if module.bias is not None:
            nn.init.zeros_(module.bias)


class GBlock(nn.Module):
    """BN-ReLU-up-conv-BN-ReLU-conv, plus an upsampled 1x1 shortcut."""

    def __init__(self, cin: int, cout: int):
        super().__init__()
        self.bn1, self.bn2 = nn.BatchNorm2d(cin), nn.BatchNorm2d(cout)
        self.conv1 = nn.Conv2d(cin, cout, 3, 1, 1)
        self.conv2 = nn.Conv2d(cout, cout, 3, 1, 1)
        self.skip = nn.Conv2d(cin, cout, 1)

    def forward(self, x):
        h = F.interpolate(F.relu(self.bn1(x)), scale_factor=2.0, mode="nearest")
        h = self.conv2(F.relu(self.bn2(self.conv1(h))))
        return h + self.skip(F.interpolate(x, scale_factor=2.0, mode="nearest"))


class DBlock(nn.Module):
    """(ReLU)-conv-ReLU-conv-avgpool, plus a 1x1 shortcut; the first block takes raw pixels, so it
    starts with the convolution and pools before its shortcut (SNGAN's 'optimized' block)."""

    def __init__(self, cin: int, cout: int, first: bool):
        super().__init__()
        self.first = first
        self.conv1 = nn.Conv2d(cin, cout, 3, 1, 1)
        self.conv2 = nn.Conv2d(cout, cout, 3, 1, 1)
        self.skip = nn.Conv2d(cin, cout, 1)

    def forward(self, x):
        h = x if self.first else F.relu(x)
        h = F.avg_pool2d(self.conv2(F.relu(self.conv1(h))), 2)
        s = self.skip(F.avg_pool2d(x, 2)) if self.first else F.avg_pool2d(self.skip(x), 2)
        return h + s


class ResNetGenerator(nn.Module):
    def __init__(self, in_features: int, image_shape: tuple[int, int, int], base: int, output: str):
        super().__init__()
        channels, size, _ = image_shape
        side, n = CONV_SIZES[size]
        w = widths(base, n) + [base]  # n up-blocks: w[i] -> w[i + 1]
        self.start = (w[0], side, side)
        self.project = nn.Linear(in_features, w[0] * side * side)
        self.blocks = nn.Sequential(*(GBlock(a, b) for a, b in zip(w, w[1:])))
        self.out = nn.Sequential(nn.BatchNorm2d(base), nn.ReLU(), nn.Conv2d(base, channels, 3, 1, 1),
                                 output_activation(output))
        self.apply(_init)

    def forward(self, z):
        return self.out(self.blocks(self.project(z).view(z.shape[0], *self.start)))


class ResNetDiscriminator(nn.Module):
    def __init__(self, in_channels: int, size: int, base: int, spectral: bool = True, mbstd: bool = False):
        super().__init__()
        _, n = CONV_SIZES[size]
        w = [in_channels] + widths(base, n)[::-1]  # n down-blocks
        self.blocks = nn.Sequential(*(DBlock(a, b, first=i == 0) for i, (a, b) in enumerate(zip(w, w[1:]))))
        self.mbstd = MinibatchStd() if mbstd else None
        # With minibatch std, one more conv mixes the spread channel into the features.
        self.mix = nn.Conv2d(w[-1] + 1, w[-1], 3, 1, 1) if mbstd else None
        self.linear = nn.Linear(w[-1], 1)
        self.apply(_init)
        if spectral:
            spectral_normalise(self)

    @property
    def head(self) -> nn.Linear:
        return self.linear

    def features(self, x):
        h = self.blocks(x)
        if self.mbstd is not None:
            assert self.mix is not None  # built together with mbstd
            h = self.mix(self.mbstd(F.relu(h)))
        return torch.sum(F.relu(h), dim=(2, 3))

    def forward(self, x):
        return self.linear(self.features(x)).squeeze(1)

"""A generator for little compute: the DCGAN's (core/models/dcgan.py) with FastGAN's skip-layer
excitation (Liu et al. 2021): each feature map two doublings up is gated, channel by channel, by a
squeeze of a small one. The small maps (4x4, 8x8) settle the picture's layout early; the gates carry it
to the large maps at the cost of two tiny convolutions per gate (under 1% of a step), so the large,
narrow layers need not rediscover it. D is the DCGAN's.
"""

from __future__ import annotations

from torch import nn

from core.models.dcgan import init_dcgan_weights, projection, up_layers
from core.models.layers import CONV_SIZES, output_activation, widths


class SkipExcitation(nn.Module):
    """FastGAN's SLE: a small map pooled to 4x4, a 4x4 convolution to one value a channel, a 1x1 mixing
    them, a sigmoid; the large map multiplied by it."""

    def __init__(self, small: int, large: int):
        super().__init__()
        self.gate = nn.Sequential(nn.AdaptiveAvgPool2d(4), nn.Conv2d(small, large, 4, bias=False),
                                  nn.LeakyReLU(0.1, inplace=True), nn.Conv2d(large, large, 1, bias=False),
                                  nn.Sigmoid())

    def forward(self, small, large):
        return large * self.gate(small)


class LiteGenerator(nn.Module):
    def __init__(self, in_features: int, image_shape: tuple[int, int, int], base: int, output: str):
        super().__init__()
        channels, size, _ = image_shape
        side, n = CONV_SIZES[size]
        w = widths(base, n)
        self.start = (w[0], side, side)
        self.project = projection(in_features, self.start)
        self.ups = nn.ModuleList(nn.Sequential(*up_layers(a, b)) for a, b in zip(w, w[1:]))
        self.excite = nn.ModuleList(SkipExcitation(w[i], w[i + 2]) for i in range(n - 2))  # map i gates map i + 2
        self.out = nn.Sequential(nn.ConvTranspose2d(w[-1], channels, 4, 2, 1), output_activation(output))
        self.apply(init_dcgan_weights)

    def forward(self, z):
        maps = [self.project(z).view(z.shape[0], *self.start)]
        for i, up in enumerate(self.ups):
            h = up(maps[-1])
            if i >= 1:  # map i + 1, gated by map i - 1
                h = self.excite[i - 1](maps[i - 1], h)
            maps.append(h)
        return self.out(maps[-1])

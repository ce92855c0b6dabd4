"""DCGAN-style convolutional models for 28x28 and 32x32 images, 1 or 3 channels."""

from __future__ import annotations

from torch import nn


def _upsamplings(size: int) -> int:
    return {28: 2, 32: 3}[size]  # 7 -> 14 -> 28, or 4 -> 8 -> 16 -> 32


def init_dcgan_weights(module: nn.Module) -> None:
    """N(0, 0.02) weights as in the DCGAN paper."""
    if isinstance(module, (nn.Conv2d, nn.ConvTranspose2d, nn.Linear)):
        nn.init.normal_(module.weight, 0.0, 0.02)
    elif isinstance(module, (nn.BatchNorm1d, nn.BatchNorm2d)):
        nn.init.normal_(module.weight, 1.0, 0.02)
        nn.init.zeros_(module.bias)


class DCGANGenerator(nn.Module):
    def __init__(self, in_features: int, image_shape: tuple[int, int, int], base: int, output: str):
        super().__init__()
        channels, size, _ = image_shape
        n = _upsamplings(size)
        self.start = (base * 2 ** (n - 1), size // 2**n, size // 2**n)
        c0, s0, _ = self.start
        self.project = nn.Sequential(nn.Linear(in_features, c0 * s0 * s0, bias=False),
                                     nn.BatchNorm1d(c0 * s0 * s0), nn.ReLU())
        ups: list[nn.Module] = []
        width = c0
        for _ in range(n - 1):
            ups += [nn.ConvTranspose2d(width, width // 2, 4, 2, 1, bias=False), nn.BatchNorm2d(width // 2), nn.ReLU()]
            width //= 2
        ups += [nn.ConvTranspose2d(width, channels, 4, 2, 1), nn.Tanh() if output == "tanh" else nn.Sigmoid()]
        self.up = nn.Sequential(*ups)
        self.apply(init_dcgan_weights)

    def forward(self, z):
        return self.up(self.project(z).view(z.shape[0], *self.start))


class DCGANDiscriminator(nn.Module):
    def __init__(self, in_channels: int, size: int, base: int, norm: bool, dropout: float):
        super().__init__()
        n = _upsamplings(size)
        layers: list[nn.Module] = [nn.Conv2d(in_channels, base, 4, 2, 1), nn.LeakyReLU(0.2)]
        width = base
        for _ in range(n - 1):
            layers += [nn.Conv2d(width, width * 2, 4, 2, 1, bias=not norm)]
            if norm:  # no BatchNorm for WGAN-GP: the penalty is per sample
                layers.append(nn.BatchNorm2d(width * 2))
            layers.append(nn.LeakyReLU(0.2))
            if dropout:
                layers.append(nn.Dropout(dropout))
            width *= 2
        side = size // 2**n
        layers += [nn.Flatten(), nn.Linear(width * side * side, 1)]
        self.net = nn.Sequential(*layers)
        self.apply(init_dcgan_weights)

    def forward(self, x):
        return self.net(x).squeeze(1)

"""Fully connected generator and discriminator, as in the seed tutorials."""

from __future__ import annotations

import math

from torch import nn

from core.models.layers import output_activation


def _activation(name: str) -> nn.Module:
    return nn.LeakyReLU(0.2) if name == "leaky_relu" else nn.ReLU()


class MLPGenerator(nn.Module):
    """z -> hidden blocks (Linear [+BatchNorm] + activation [+dropout]) -> image."""

    def __init__(self, in_features: int, image_shape: tuple[int, int, int], hidden: tuple[int, ...],
                 norm: bool, output_norm: bool, activation: str, output: str, dropout: float):
        super().__init__()
        self.image_shape = image_shape
        layers: list[nn.Module] = []
        width = in_features
        for out in hidden:
            # Bias before BatchNorm is cancelled by it, so it is left out.
            layers.append(nn.Linear(width, out, bias=not norm))
            if norm:
                layers.append(nn.BatchNorm1d(out))
            layers.append(_activation(activation))
            if dropout:
                layers.append(nn.Dropout(dropout))
            width = out
        layers.append(nn.Linear(width, math.prod(image_shape), bias=not output_norm))
        if output_norm:
            layers.append(nn.BatchNorm1d(math.prod(image_shape)))
        layers.append(output_activation(output))
        self.net = nn.Sequential(*layers)

    def forward(self, z):
        return self.net(z).view(z.shape[0], *self.image_shape)


class MLPDiscriminator(nn.Module):
    """Flattened image -> hidden blocks (Linear + LeakyReLU(0.2) [+dropout]) -> one logit."""

    def __init__(self, in_features: int, hidden: tuple[int, ...], dropout: float):
        super().__init__()
        layers: list[nn.Module] = []
        width = in_features
        for out in hidden:
            layers += [nn.Linear(width, out), nn.LeakyReLU(0.2)]
            if dropout:
                layers.append(nn.Dropout(dropout))
            width = out
        layers.append(nn.Linear(width, 1))
        self.net = nn.Sequential(*layers)

    @property
    def head(self) -> nn.Linear:
        head = self.net[-1]
        assert isinstance(head, nn.Linear)  # the last layer built above (spectral norm keeps the class)
        return head

    def features(self, x):
        return self.net[:-1](x.flatten(1))

    def forward(self, x):
        return self.net(x.flatten(1)).squeeze(1)

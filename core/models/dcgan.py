"""DCGAN-style convolutional models (Radford et al.) for 28, 32, 64 and 128 px, 1 or 3 channels.

Widths follow one base channel count: G starts at up to 8x the base on a 4x4 (or 7x7) map and
halves as it doubles the side; D mirrors it. Layer names are those of the first 28/32-px
version, so its saved generators still load.
"""

from __future__ import annotations

from torch import nn

from core.models.layers import CONV_SIZES, MinibatchStd, output_activation, spectral_normalise, widths


def init_dcgan_weights(module: nn.Module) -> None:
    """N(0, 0.02) weights as in the DCGAN paper."""
    if isinstance(module, (nn.Conv2d, nn.ConvTranspose2d, nn.Linear)):
        nn.init.normal_(module.weight, 0.0, 0.02)
    elif isinstance(module, (nn.BatchNorm1d, nn.BatchNorm2d)):
        nn.init.normal_(module.weight, 1.0, 0.02)
        nn.init.zeros_(module.bias)


# Activations work in place: no layer here needs its input back for its gradient (a convolution keeps
# its own input, BatchNorm its input, and ReLU / LeakyReLU's gradient reads their output), so a copy of
# every feature map a step is saved (bench/picture_step.py).


def projection(in_features: int, start: tuple[int, int, int]) -> nn.Sequential:
    """The noise (and label) to G's first feature map of shape `start` (width, side, side), flattened."""
    size = start[0] * start[1] * start[2]
    return nn.Sequential(nn.Linear(in_features, size, bias=False), nn.BatchNorm1d(size), nn.ReLU(inplace=True))


def up_layers(a: int, b: int) -> list[nn.Module]:
    """One doubling of G's map, from `a` channels to `b`: a stride-2 transposed convolution, BatchNorm, ReLU.
    A list, not a module: the DCGAN lays them flat in one Sequential (its saved generators' layer names)."""
    return [nn.ConvTranspose2d(a, b, 4, 2, 1, bias=False), nn.BatchNorm2d(b), nn.ReLU(inplace=True)]


class DCGANGenerator(nn.Module):
    def __init__(self, in_features: int, image_shape: tuple[int, int, int], base: int, output: str,
                 resize_output: bool = False):
        super().__init__()
        channels, size, _ = image_shape
        side, n = CONV_SIZES[size]
        w = widths(base, n)
        self.start = (w[0], side, side)
        self.project = projection(in_features, self.start)
        ups: list[nn.Module] = []
        for a, b in zip(w, w[1:]):
            ups += up_layers(a, b)
        if resize_output:
            # Each pixel repeated 2x2, then a 3x3 convolution: every output pixel is made the same way, where a
            # stride-2 transposed convolution makes the four of each 2x2 block with four different kernels
            # (the fine checkerboard of Odena et al. 2016, "Deconvolution and Checkerboard Artifacts").
            ups += [nn.Upsample(scale_factor=2, mode="nearest"), nn.Conv2d(w[-1], channels, 3, 1, 1)]
        else:
            ups.append(nn.ConvTranspose2d(w[-1], channels, 4, 2, 1))
        ups.append(output_activation(output))
        self.up = nn.Sequential(*ups)
        self.apply(init_dcgan_weights)

    def forward(self, z):
        return self.up(self.project(z).view(z.shape[0], *self.start))


class DCGANDiscriminator(nn.Module):
    """Strided 4x4 convolutions with LeakyReLU(0.2); BatchNorm unless `norm` is off (WGAN-GP's
    per-sample penalty) or spectral normalisation replaces it; optional minibatch std before the
    last layer."""

    def __init__(self, in_channels: int, size: int, base: int, norm: bool, dropout: float,
                 spectral: bool = False, mbstd: bool = False):
        super().__init__()
        side, n = CONV_SIZES[size]
        w = widths(base, n)[::-1]  # b, 2b, 4b, ...
        norm = norm and not spectral
        layers: list[nn.Module] = [nn.Conv2d(in_channels, w[0], 4, 2, 1), nn.LeakyReLU(0.2, inplace=True)]
        for a, b in zip(w, w[1:]):
            layers.append(nn.Conv2d(a, b, 4, 2, 1, bias=not norm))
            if norm:
                layers.append(nn.BatchNorm2d(b))
            layers.append(nn.LeakyReLU(0.2, inplace=True))
            if dropout:
                layers.append(nn.Dropout(dropout))
        if mbstd:
            layers.append(MinibatchStd())
        features = (w[-1] + int(mbstd)) * side * side
        layers += [nn.Flatten(), nn.Linear(features, 1)]
        self.net = nn.Sequential(*layers)
        self.apply(init_dcgan_weights)
        if spectral:
            spectral_normalise(self)

    @property
    def head(self) -> nn.Linear:
        head = self.net[-1]
        assert isinstance(head, nn.Linear)  # the last layer built above (spectral norm keeps the class)
        return head

    def features(self, x):
        return self.net[:-1](x)

    def forward(self, x):
        return self.net(x).squeeze(1)

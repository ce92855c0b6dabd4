"""The plain DCGAN of PyTorch's examples (github.com/pytorch/examples, dcgan/main.py), for comparison.

The same shape and recipe as there: G of ConvTranspose2d + BatchNorm + ReLU from a (nz, 1, 1) noise to
64 px and a tanh; D of Conv2d + LeakyReLU(0.2) (+ BatchNorm after the first) to one sigmoid; N(0, 0.02)
weights; BCELoss; Adam lr 2e-4, betas (0.5, 0.999); batch 64; D on the real batch, then on G's batch
detached, then G's update on D's verdict of that same batch. ngf = ndf = 64 as there by default.
Not the engine's code: bench/pictures.py trains it by this loop to set the engine against it.
"""

from __future__ import annotations

import torch
from torch import nn

NZ = 100
LR, BETAS = 2e-4, (0.5, 0.999)


def generator(ngf: int = 64, nz: int = NZ, nc: int = 3) -> nn.Sequential:
    g = nn.Sequential(
        nn.ConvTranspose2d(nz, ngf * 8, 4, 1, 0, bias=False), nn.BatchNorm2d(ngf * 8), nn.ReLU(True),  # 4x4
        nn.ConvTranspose2d(ngf * 8, ngf * 4, 4, 2, 1, bias=False), nn.BatchNorm2d(ngf * 4), nn.ReLU(True),  # 8x8
        nn.ConvTranspose2d(ngf * 4, ngf * 2, 4, 2, 1, bias=False), nn.BatchNorm2d(ngf * 2), nn.ReLU(True),  # 16x16
        nn.ConvTranspose2d(ngf * 2, ngf, 4, 2, 1, bias=False), nn.BatchNorm2d(ngf), nn.ReLU(True),  # 32x32
        nn.ConvTranspose2d(ngf, nc, 4, 2, 1, bias=False), nn.Tanh(),  # 64x64
    )
    g.apply(weights_init)
    return g


def discriminator(ndf: int = 64, nc: int = 3) -> nn.Sequential:
    d = nn.Sequential(
        nn.Conv2d(nc, ndf, 4, 2, 1, bias=False), nn.LeakyReLU(0.2, inplace=True),  # 32x32
        nn.Conv2d(ndf, ndf * 2, 4, 2, 1, bias=False), nn.BatchNorm2d(ndf * 2), nn.LeakyReLU(0.2, inplace=True),
        nn.Conv2d(ndf * 2, ndf * 4, 4, 2, 1, bias=False), nn.BatchNorm2d(ndf * 4), nn.LeakyReLU(0.2, inplace=True),
        nn.Conv2d(ndf * 4, ndf * 8, 4, 2, 1, bias=False), nn.BatchNorm2d(ndf * 8), nn.LeakyReLU(0.2, inplace=True),
        nn.Conv2d(ndf * 8, 1, 4, 1, 0, bias=False), nn.Sigmoid(),  # 1x1
    )
    d.apply(weights_init)
    return d


def weights_init(m: nn.Module) -> None:
    """The examples' custom initialisation."""
    name = type(m).__name__
    if "Conv" in name:
        nn.init.normal_(m.weight, 0.0, 0.02)
    elif "BatchNorm" in name:
        nn.init.normal_(m.weight, 1.0, 0.02)
        nn.init.zeros_(m.bias)


class ExamplesLoop:
    """G, D, their Adams and the BCE, with one step as the examples' inner loop does it."""

    def __init__(self, width: int = 64, device: torch.device | str = "cpu", nz: int = NZ):
        self.nz, self.device = nz, torch.device(device)
        self.G, self.D = generator(width, nz).to(self.device), discriminator(width).to(self.device)
        self.opt_g = torch.optim.Adam(self.G.parameters(), lr=LR, betas=BETAS)
        self.opt_d = torch.optim.Adam(self.D.parameters(), lr=LR, betas=BETAS)
        self.criterion = nn.BCELoss()

    def step(self, real: torch.Tensor) -> None:
        """One D update then one G update; `real` in [-1, 1], (B, 3, 64, 64), on the device."""
        b = real.size(0)
        ones = torch.full((b,), 1.0, device=self.device)
        zeros = torch.full((b,), 0.0, device=self.device)
        self.D.zero_grad()
        err_real = self.criterion(self.D(real).view(-1), ones)
        err_real.backward()
        fake = self.G(torch.randn(b, self.nz, 1, 1, device=self.device))
        err_fake = self.criterion(self.D(fake.detach()).view(-1), zeros)
        err_fake.backward()
        self.opt_d.step()
        self.G.zero_grad()
        err_g = self.criterion(self.D(fake).view(-1), ones)  # fake labels are real for the generator's cost
        err_g.backward()
        self.opt_g.step()


@torch.no_grad()
def draw(G: nn.Module, n: int, seed: int, nz: int = NZ, batch: int = 64) -> torch.Tensor:
    """n samples as uint8 NCHW on the CPU. G stays in training mode, as the examples draw their
    fake_samples PNGs: BatchNorm normalises each batch of `batch` by its own statistics."""
    device = next(G.parameters()).device
    gen = torch.Generator(device=device).manual_seed(seed)
    G.train()
    out = []
    for i in range(0, n, batch):
        z = torch.randn(min(batch, n - i), nz, 1, 1, device=device, generator=gen)
        out.append(((G(z) + 1) / 2).clamp(0, 1).mul(255).round().to(torch.uint8).cpu())
    return torch.cat(out)

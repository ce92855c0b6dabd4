"""Live quality metric for digit GANs: a small bundled MNIST classifier instead of Inception.

Inception FID is slow on a CPU and means little on 28x28 digits. A CNN trained on the
5,000 bundled digits (tools/train_classifier.py) gives, for a batch of generated images:
- a Frechet distance between its penultimate features on those images and on the real
  digits (the real mean/covariance are precomputed and ship in the weights file);
- a class histogram from its predictions, to warn about mode collapse;
- for a conditional GAN, the share of samples classified as the class that was asked for.

Input convention for QualityProbe.evaluate: uint8 NCHW in [0, 255] (what core.sharing.export.to_uint8
returns), or float NCHW in `value_range` (default [-1, 1], G's tanh output; pass (0, 1) for
sigmoid). Other sizes than 28x28 are resized. Numbers are only comparable at the same sample
count: FD is biased upwards for small n, so use the same n (>= 256, 512 is a good default).
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from pathlib import Path

import torch
from torch import nn
from torch.nn import functional as F

RESOURCES = Path(__file__).resolve().parents[2] / "resources"
WEIGHTS = RESOURCES / "mnist_classifier.safetensors"
INFO = RESOURCES / "mnist_classifier.json"
ARCH = "digitnet-s2-16-32-64"
FEATURES = 64
CLASSES = 10
SIDE = 28
MISSING_SHARE = 0.25 / CLASSES  # a class under a quarter of its uniform share counts as missing
LOW_ENTROPY = 0.85  # normalised histogram entropy below this counts as collapse (uniform = 1)


class MetricsError(RuntimeError):
    """The quality probe cannot run; the message says why."""


class DigitNet(nn.Module):
    """conv 5x5 stride 2 1->16 (14x14), conv 3x3 16->32, max-pool (7x7), dense 1568->64 (the features),
    dense 64->10. Takes floats in [0, 1], shape (N, 1, 28, 28). About 106k weights. The strided first
    conv (instead of conv + pool at 28x28) makes inference ~2-3x faster on a CPU at the same accuracy."""

    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(1, 16, 5, stride=2, padding=2)
        self.conv2 = nn.Conv2d(16, 32, 3, padding=1)
        self.fc = nn.Linear(32 * 7 * 7, FEATURES)
        self.drop = nn.Dropout(0.3)  # training only; keeps 4,500 images from being memorised
        self.head = nn.Linear(FEATURES, CLASSES)

    def features(self, x: torch.Tensor) -> torch.Tensor:
        x = (x - 0.5) / 0.5
        x = F.relu(self.conv1(x))
        x = F.relu(F.max_pool2d(self.conv2(x), 2))  # relu after pool: same result, 4x fewer elements
        return F.relu(self.fc(x.flatten(1)))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.drop(self.features(x)))


def _psd_sqrt(m: torch.Tensor) -> torch.Tensor:
    """Square root of a symmetric positive semi-definite matrix (float64)."""
    w, v = torch.linalg.eigh((m + m.T) / 2)
    return (v * w.clamp_min(0).sqrt()) @ v.T


def frechet_distance(mu1: torch.Tensor, sigma1: torch.Tensor, mu2: torch.Tensor, sigma2: torch.Tensor,
                     sqrt_sigma1: torch.Tensor | None = None) -> float:
    """|mu1-mu2|^2 + tr(S1 + S2 - 2 sqrtm(S1 S2)), using tr sqrtm(S1 S2) = tr sqrtm(R S2 R), R = sqrt(S1):
    R S2 R is symmetric PSD, so eigh suffices (no scipy). Pass sqrt_sigma1 to reuse it."""
    mu1, sigma1, mu2, sigma2 = (t.double().cpu() for t in (mu1, sigma1, mu2, sigma2))
    r = _psd_sqrt(sigma1) if sqrt_sigma1 is None else sqrt_sigma1.double().cpu()
    inner = r @ sigma2 @ r
    tr_sqrt = torch.linalg.eigvalsh((inner + inner.T) / 2).clamp_min(0).sqrt().sum()
    d = mu1 - mu2
    return max(float(d @ d + sigma1.trace() + sigma2.trace() - 2 * tr_sqrt), 0.0)


def feature_stats(features: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Mean and (unbiased) covariance of (N, D) features, float64 on the CPU."""
    f = features.double().cpu()
    mu = f.mean(0)
    c = f - mu
    return mu, (c.T @ c) / max(f.shape[0] - 1, 1)


def to_unit(images: torch.Tensor, value_range: tuple[float, float] = (-1.0, 1.0)) -> torch.Tensor:
    """uint8 [0, 255] or float in value_range, NCHW -> float (N, 1, 28, 28) in [0, 1]."""
    if images.dim() == 3:
        images = images.unsqueeze(1)
    if images.dim() != 4 or images.shape[1] != 1:
        raise MetricsError(f"images of shape {tuple(images.shape)}: expected (N, 1, H, W) grayscale")
    if images.dtype == torch.uint8:
        x = images.float() / 255
    elif images.is_floating_point():
        lo, hi = value_range
        x = ((images.float() - lo) / (hi - lo)).clamp(0, 1)
    else:
        raise MetricsError(f"images of dtype {images.dtype}: expected uint8 or float")
    if x.shape[-2:] != (SIDE, SIDE):  # e.g. MNIST at 32x32 for a dcgan
        x = F.interpolate(x, size=(SIDE, SIDE), mode="bilinear", antialias=True, align_corners=False)
    return x


@dataclass(frozen=True)
class QualityReport:
    samples: int  # how many images were scored
    frechet: float  # FD to the real bundled digits in classifier features; lower is better, ~0 for real data
    histogram: tuple[float, ...]  # share of samples predicted as each class 0..9; sums to 1
    missing_classes: tuple[int, ...]  # classes with under MISSING_SHARE of the samples
    entropy: float  # histogram entropy / log(10): 1 = all classes equally often, 0 = one class only
    collapse: bool  # missing classes, or entropy under LOW_ENTROPY: likely mode collapse
    confidence: float  # mean top softmax probability; low means the classifier sees few clear digits
    accuracy: float | None  # conditional only: share classified as the requested class


class QualityProbe:
    """Built once per run with QualityProbe.load(device); evaluate() per check."""

    def __init__(self, net: DigitNet, real_mu: torch.Tensor, real_sigma: torch.Tensor, device, info: dict):
        self.net = net.to(device).eval()
        self.device = torch.device(device)
        self.real_mu = real_mu.double().cpu()
        self.real_sigma = real_sigma.double().cpu()
        self.real_sigma_sqrt = _psd_sqrt(self.real_sigma)  # once per run, not per evaluate
        self.info = info

    @classmethod
    def load(cls, device="cpu", path: str | Path = WEIGHTS) -> QualityProbe:
        from safetensors import SafetensorError
        from safetensors.torch import load_file

        path = Path(path)
        try:
            tensors = load_file(str(path))
        except (OSError, SafetensorError) as e:
            raise MetricsError(f"the digit classifier {path} is missing or damaged ({e}); "
                               "rebuild it with `python tools/train_classifier.py`") from None
        try:
            real_mu, real_sigma = tensors.pop("real_mu"), tensors.pop("real_sigma")
            net = DigitNet()
            net.load_state_dict({k: v.float() for k, v in tensors.items()})
        except (KeyError, RuntimeError) as e:
            raise MetricsError(f"the digit classifier {path} does not fit {ARCH} ({str(e).splitlines()[0]}); "
                               "rebuild it with `python tools/train_classifier.py`") from None
        info_path = path.with_suffix(".json")
        info = json.loads(info_path.read_text()) if info_path.is_file() else {}
        return cls(net, real_mu, real_sigma, device, info)

    @torch.inference_mode()
    def predict(self, images: torch.Tensor, value_range=(-1.0, 1.0)) -> tuple[torch.Tensor, torch.Tensor]:
        """(features (N, 64), softmax probabilities (N, 10)), on the CPU."""
        x = to_unit(images, value_range).to(self.device)
        feats = self.net.features(x)
        return feats.cpu(), self.net.head(feats).softmax(1).cpu()

    def evaluate(self, images: torch.Tensor, requested: torch.Tensor | None = None,
                 value_range: tuple[float, float] = (-1.0, 1.0)) -> QualityReport:
        """Score a batch of generated digits; see the module docstring for the input convention.
        requested: int64 (N,) class asked of a conditional G for each sample, or None."""
        n = images.shape[0]
        if n < 2:
            raise MetricsError(f"{n} image(s): the quality probe needs at least 2 (512 is a good number)")
        feats, probs = self.predict(images, value_range)
        mu, sigma = feature_stats(feats)
        fd = frechet_distance(self.real_mu, self.real_sigma, mu, sigma, self.real_sigma_sqrt)
        conf, pred = probs.max(1)
        hist = torch.bincount(pred, minlength=CLASSES).double() / n
        nz = hist[hist > 0]
        entropy = abs(float((nz * nz.log()).sum() / math.log(CLASSES)))
        missing = tuple(int(c) for c in torch.nonzero(hist < MISSING_SHARE).flatten())
        accuracy = None
        if requested is not None:
            requested = torch.as_tensor(requested).long().cpu().flatten()
            if requested.numel() != n:
                raise MetricsError(f"requested has {requested.numel()} labels for {n} images")
            accuracy = float((pred == requested).double().mean())
        return QualityReport(samples=n, frechet=fd, histogram=tuple(float(h) for h in hist),
                             missing_classes=missing, entropy=entropy,
                             collapse=bool(missing) or entropy < LOW_ENTROPY,
                             confidence=float(conf.double().mean()), accuracy=accuracy)


def supports(config) -> tuple[bool, str]:
    """Whether the probe means anything for this run (Config or DataConfig); the reason in plain words."""
    data = getattr(config, "data", config)
    if data.dataset in ("bundled", "mnist"):
        if data.channels != 1:
            return False, f"the digit classifier reads grayscale images, not {data.channels} channels"
        note = "" if data.image_size == SIDE else f" (images are scaled from {data.image_size} to {SIDE} pixels)"
        return True, f"handwritten digits: scored by the bundled MNIST classifier{note}"
    if data.dataset == "fashion-mnist":
        return False, "the quality probe's classifier knows handwritten digits, not clothes"
    if data.dataset == "cifar10":
        return False, "the quality probe's classifier knows handwritten digits, not colour photos"
    if data.dataset == "folder":
        return False, "a folder can hold any kind of image; the quality probe only knows handwritten digits"
    return False, f"no quality probe for dataset {data.dataset!r}"

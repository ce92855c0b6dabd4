"""core.quality.digits: the bundled-classifier quality probe ranks obvious cases the right way round."""

import pytest
import torch
from torch.nn import functional as F

from core.config import DataConfig
from core.data.datasets import load_bundled
from core.quality.digits import MetricsError, QualityProbe, frechet_distance, supports

N = 512


@pytest.fixture(scope="module")
def probe():
    return QualityProbe.load("cpu")


@pytest.fixture(scope="module")
def real():
    """512 bundled digits from the odd indices (a half of the data), ~balanced; uint8 NCHW + labels."""
    ds = load_bundled()
    idx = torch.arange(1, len(ds), 2)[torch.randperm(len(ds) // 2, generator=torch.Generator().manual_seed(0))[:N]]
    return ds.images[idx], ds.labels[idx]


def blur(images: torch.Tensor, sigma: float = 1.5) -> torch.Tensor:
    r = torch.arange(-3, 4, dtype=torch.float32)
    k = (-(r ** 2) / (2 * sigma ** 2)).exp()
    k = (k / k.sum())
    x = images.float()
    x = F.conv2d(x, k.view(1, 1, 1, 7), padding=(0, 3))
    x = F.conv2d(x, k.view(1, 1, 7, 1), padding=(3, 0))
    return x.round().clamp(0, 255).to(torch.uint8)


def test_frechet_ranks_real_below_blurred_below_noise(probe, real):
    images, _ = real
    noise = torch.randint(0, 256, images.shape, generator=torch.Generator().manual_seed(1), dtype=torch.uint8)
    fd_real = probe.evaluate(images).frechet
    fd_blur = probe.evaluate(blur(images)).frechet
    fd_noise = probe.evaluate(noise).frechet
    assert fd_real < fd_blur < fd_noise
    assert fd_real * 3 < fd_blur


def test_float_input_in_minus_one_one_matches_uint8(probe, real):
    images, _ = real
    a = probe.evaluate(images)
    b = probe.evaluate(images.float() / 127.5 - 1)
    c = probe.evaluate(images.float() / 255, value_range=(0.0, 1.0))
    assert a.histogram == b.histogram == c.histogram
    assert b.frechet == pytest.approx(a.frechet, rel=1e-3) and c.frechet == pytest.approx(a.frechet, rel=1e-3)


def test_other_sizes_are_resized(probe, real):
    images, _ = real
    big = F.interpolate(images.float(), size=(32, 32), mode="bilinear", align_corners=False).round().byte()
    report = probe.evaluate(big)
    assert report.frechet < probe.evaluate(blur(images)).frechet and not report.collapse


def test_balanced_real_set_is_not_collapse(probe, real):
    report = probe.evaluate(real[0])
    assert report.samples == N
    assert sum(report.histogram) == pytest.approx(1.0)
    assert report.missing_classes == () and not report.collapse
    assert report.entropy > 0.95 and report.confidence > 0.8 and report.accuracy is None


def test_one_repeated_digit_is_collapse(probe, real):
    images, labels = real
    three = images[labels == 3][0]
    for batch in (three.expand(N, -1, -1, -1), images[labels == 3]):
        report = probe.evaluate(batch)
        assert report.collapse
        assert set(report.missing_classes) == set(range(10)) - {3}
        assert report.histogram[3] > 0.9 and report.entropy < 0.2


def test_accuracy_for_requested_classes(probe, real):
    images, labels = real
    assert probe.evaluate(images, requested=labels).accuracy > 0.9
    assert probe.evaluate(images, requested=(labels + 1) % 10).accuracy < 0.1
    with pytest.raises(MetricsError):
        probe.evaluate(images, requested=labels[:10])


def test_frechet_distance_closed_form():
    # Diagonal covariances: FD = |mu1-mu2|^2 + sum (sqrt a - sqrt b)^2; and FD is symmetric in general.
    a, b = torch.tensor([1.0, 4.0, 9.0]), torch.tensor([4.0, 1.0, 9.0])
    mu1, mu2 = torch.zeros(3), torch.tensor([1.0, 0.0, 2.0])
    assert frechet_distance(mu1, a.diag(), mu2, b.diag()) == pytest.approx(5 + 1 + 1)
    g = torch.Generator().manual_seed(0)
    m1, m2 = torch.randn(8, 8, generator=g, dtype=torch.float64), torch.randn(8, 8, generator=g, dtype=torch.float64)
    s1, s2 = m1 @ m1.T, m2 @ m2.T
    assert frechet_distance(mu1[:1].expand(8), s1, mu1[:1].expand(8), s2) == pytest.approx(
        frechet_distance(mu1[:1].expand(8), s2, mu1[:1].expand(8), s1), rel=1e-9)
    assert frechet_distance(torch.zeros(8), s1, torch.zeros(8), s1) == pytest.approx(0.0, abs=1e-9)


def test_supports():
    assert supports(DataConfig(dataset="bundled"))[0]
    assert supports(DataConfig(dataset="mnist", image_size=32))[0]
    for data in (DataConfig(dataset="cifar10", channels=3, image_size=32), DataConfig(dataset="folder", folder="x"),
                 DataConfig(dataset="fashion-mnist")):
        ok, reason = supports(data)
        assert not ok and reason


def test_missing_weights_is_a_clear_error(tmp_path):
    with pytest.raises(MetricsError, match="train_classifier"):
        QualityProbe.load("cpu", tmp_path / "nope.safetensors")

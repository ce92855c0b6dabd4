"""core.quality.inception: Inception FID/KID with a random-weights network; weights found on disk only, never downloaded."""

import socket
import subprocess
import sys
import urllib.error
import urllib.request
from pathlib import Path

import numpy as np
import pytest
import torch
from torch.nn import functional as F

from core.quality import inception as fidmod
from core.quality.inception import (
    FETCH_COMMAND,
    FID_WEIGHTS_FILE,
    FIDError,
    FIDProbe,
    InceptionFeatures,
    WeightsInfo,
    fid,
    find_inception_weights,
    kid,
    real_features,
    torchvision_weights_file,
    unavailable_reason,
)

ROOT = Path(__file__).resolve().parents[2]


def _no_network(*args, **kw):
    raise AssertionError("a test tried to reach the network")


@pytest.fixture(scope="module", autouse=True)
def no_network():
    """Any download or connection attempt fails the test instead of happening."""
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(torch.hub, "load_state_dict_from_url", _no_network)
        mp.setattr(torch.hub, "download_url_to_file", _no_network)
        mp.setattr(urllib.request, "urlopen", _no_network)
        mp.setattr(socket.socket, "connect", _no_network)
        mp.setattr(socket, "create_connection", _no_network)
        yield


@pytest.fixture
def hub(tmp_path, monkeypatch):
    """torch hub pointed at an empty folder; yields its checkpoints folder (not created)."""
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch"))
    monkeypatch.setattr(torch.hub, "get_dir", lambda: str(tmp_path / "torch" / "hub"))
    folder = tmp_path / "torch" / "hub" / "checkpoints"
    yield folder
    for f in folder.glob("*"):  # a fake weights file is ~100 MB: not kept in pytest's last three temp dirs
        f.unlink()


def smooth(n: int, seed: int, size: int = 32) -> torch.Tensor:
    """Picture-like RGB images: random 4x4 colour fields blown up (smooth, correlated pixels)."""
    low = torch.randint(0, 256, (n, 3, 4, 4), generator=torch.Generator().manual_seed(seed)).float()
    return F.interpolate(low, size=(size, size), mode="bilinear", align_corners=False).round().to(torch.uint8)


def noise(n: int, seed: int, size: int = 32) -> torch.Tensor:
    return torch.randint(0, 256, (n, 3, size, size), generator=torch.Generator().manual_seed(seed), dtype=torch.uint8)


@pytest.fixture(scope="module", autouse=True)
def one_thread():
    """Inception on one thread: on this shared 2-core machine two OpenMP threads wait for each other's
    core and run 2-8x slower (16 images: 1.3 s on one thread, 2.5-12 s on two)."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture(scope="module")
def extractor():
    return InceptionFeatures("random", batch_size=4)  # one batch shape: oneDNN sets up its kernels once


@pytest.fixture(scope="module")
def feats(extractor):
    """Features of 8 smooth images then 8 noise images, computed once for the module."""
    images = torch.cat([smooth(8, 1), noise(8, 2)])
    out = extractor(images)
    return images, out[:8], out[8:]


def test_importing_core_fid_does_not_import_torchvision():
    code = "import sys, core.quality.inception; print('torchvision' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "False"


def test_features_are_2048_wide_finite_and_deterministic(extractor, feats):
    images, a, b = feats
    assert a.shape == b.shape == (8, 2048) and a.dtype == torch.float32
    assert torch.isfinite(a).all() and a.std() > 1e-3  # scale-preserving random init: not all ~0
    first, again = extractor(images[4:8]), extractor(images[4:8])
    assert torch.equal(first, again)
    torch.testing.assert_close(first, a[4:8], rtol=1e-4, atol=1e-5)  # which batch it was in does not matter


def test_grayscale_any_size_is_the_same_plane_in_rgb(extractor):
    gray = smooth(4, 5, size=40)[:, :1, :, 24:]  # (4, 1, 40, 16): not square either
    as_rgb = gray.expand(-1, 3, -1, -1)
    out = extractor(gray)
    assert out.shape == (4, 2048)
    torch.testing.assert_close(out, extractor(as_rgb), rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("bad", [torch.zeros(2, 3, 8, 8), torch.zeros(2, 2, 8, 8, dtype=torch.uint8),
                                 torch.zeros(2, 8, 8, dtype=torch.uint8)])
def test_wrong_images_are_refused_with_what_is_expected(extractor, bad):
    with pytest.raises(FIDError, match=r"expected uint8 \(N, 1 or 3, H, W\)"):
        extractor(bad)


def test_fid_is_zero_for_the_same_set_and_ranks_different_sets_higher(feats):
    _, a, b = feats
    assert fid(a, a) == pytest.approx(0.0, abs=1e-6)
    halves = fid(a[:4], a[4:])
    assert fid(a, b) > 1.0
    assert fid(a[:4], b[:4]) > 3 * halves


def test_fid_from_samples_equals_the_covariance_square_root_route():
    """Fewer samples than dimensions takes the singular-value route; core.quality.digits' eigh route agrees."""
    from core.quality.digits import feature_stats, frechet_distance

    g = torch.Generator().manual_seed(4)
    x, y = torch.rand(12, 40, generator=g), torch.rand(9, 40, generator=g) * 1.5 + 0.2
    assert fid(x, y) == pytest.approx(frechet_distance(*feature_stats(x), *feature_stats(y)), rel=1e-6)
    assert fid(x, y) == pytest.approx(fid(y, x), rel=1e-9)


def test_kid_of_two_halves_is_below_kid_against_another_set(feats):
    _, a, b = feats
    same, _ = kid(a[:4], a[4:])
    other, _ = kid(a[:4], b[:4])
    assert same < other and other > 10 * abs(same)


def test_kid_matches_the_clean_fid_formula_on_whole_sets(feats):
    """With the subset as large as the sets, every subset is the whole set: the formula without sampling."""
    _, a, b = feats
    x, y = a.double().numpy(), b.double().numpy()
    m, d = x.shape
    kxx_kyy = (x @ x.T / d + 1) ** 3 + (y @ y.T / d + 1) ** 3
    kxy = (x @ y.T / d + 1) ** 3
    expected = ((kxx_kyy.sum() - np.diag(kxx_kyy).sum()) / (m - 1) - kxy.sum() * 2 / m) / m
    mean, std = kid(a, b, subsets=3, subset_size=1000)
    assert mean == pytest.approx(expected, rel=1e-9) and std == pytest.approx(0.0, abs=1e-12)


def test_kid_is_seeded_and_the_same_in_kernel_blocks(feats, monkeypatch):
    _, a, b = feats
    whole = kid(a, b, subsets=6, subset_size=5, seed=3)
    assert kid(a, b, subsets=6, subset_size=5, seed=3) == whole
    assert whole[1] > 0  # subsets of 5 out of 8 differ, so the estimates spread
    assert kid(a, b, subsets=6, subset_size=5, seed=4) != whole
    monkeypatch.setattr(fidmod, "KID_BLOCK", 3)  # the kernel 3 rows at a time, the last block short
    assert kid(a, b, subsets=6, subset_size=5, seed=3) == pytest.approx(whole, rel=1e-9)
    with pytest.raises(FIDError, match="at least 2"):
        kid(a[:1], b)


def test_no_weights_on_disk_means_none_and_a_reason_with_the_command(hub, feats):
    assert find_inception_weights() is None
    reason = unavailable_reason()
    assert FETCH_COMMAND in reason and str(hub) in reason
    with pytest.raises(FIDError) as e:
        InceptionFeatures("auto")
    assert FETCH_COMMAND in str(e.value)
    with pytest.raises(FIDError, match="fetch-inception"):
        FIDProbe.load("cpu", real_images=feats[0])


def test_fid_weights_are_used_only_with_pytorch_fid_installed(hub, monkeypatch):
    hub.mkdir(parents=True)
    (hub / FID_WEIGHTS_FILE).write_bytes(b"not read here")
    monkeypatch.setattr(fidmod, "_pytorch_fid_installed", lambda: False)
    assert find_inception_weights() is None
    assert "pytorch-fid" in unavailable_reason()
    monkeypatch.setattr(fidmod, "_pytorch_fid_installed", lambda: True)
    assert find_inception_weights() == WeightsInfo("pytorch-fid", hub / FID_WEIGHTS_FILE)


def test_damaged_weights_file_names_the_file_and_the_command(hub):
    hub.mkdir(parents=True)
    path = hub / torchvision_weights_file()
    path.write_bytes(b"\x80\x02truncated download")
    assert find_inception_weights() == WeightsInfo("torchvision", path)
    with pytest.raises(FIDError) as e:
        InceptionFeatures("auto")
    assert str(path) in str(e.value) and FETCH_COMMAND in str(e.value)


@pytest.mark.parametrize("classes, message", [(1000, "does not fit Inception-v3"),
                                               (1008, "pip install pytorch-fid")])
def test_weights_of_another_shape_are_refused(tmp_path, monkeypatch, classes, message):
    monkeypatch.setitem(sys.modules, "pytorch_fid", None)  # not importable, even where it is installed
    path = tmp_path / "weights.pth"
    torch.save({"fc.weight": torch.zeros(classes, 2048)}, path)
    with pytest.raises(FIDError, match=message) as e:
        InceptionFeatures(path)
    assert str(path) in str(e.value)


def test_torchvision_weights_file_is_found_loaded_and_fed_like_torchvision_does(hub, extractor):
    """A random-weights file in torchvision's format (with the aux head) under torchvision's file name:
    found, loaded, and its features equal torchvision's own pipeline (ImageNet-normalised input,
    transform_input=True) at the pool layer."""
    from torchvision.models.inception import Inception3

    with torch.device("meta"):
        ref = Inception3(aux_logits=True, transform_input=True, init_weights=False)
    ref = ref.to_empty(device="cpu")
    for _name, t in ref.state_dict().items():  # aux head and classifier: any values, they are not used
        t.copy_(torch.randn(t.shape) * 0.01 if t.is_floating_point() else torch.zeros_like(t))
    ref.load_state_dict(extractor.net.state_dict(), strict=False)
    hub.mkdir(parents=True)
    torch.save(ref.state_dict(), hub / torchvision_weights_file())

    assert find_inception_weights() == WeightsInfo("torchvision", hub / torchvision_weights_file())
    loaded = InceptionFeatures("auto")
    assert loaded.kind == "torchvision" and loaded.path == hub / torchvision_weights_file()

    images = smooth(2, 7)
    pooled = []
    ref.eval().avgpool.register_forward_hook(lambda m, i, out: pooled.append(out.flatten(1)))
    x = F.interpolate(images.float() / 255, size=(299, 299), mode="bilinear", antialias=True, align_corners=False)
    mean = torch.tensor([0.485, 0.456, 0.406]).view(1, 3, 1, 1)  # torchvision's ImageNet normalisation
    std = torch.tensor([0.229, 0.224, 0.225]).view(1, 3, 1, 1)
    with torch.inference_mode():
        ref((x - mean) / std)
    torch.testing.assert_close(loaded(images), pooled[0], rtol=1e-4, atol=1e-5)


def test_real_features_are_cached_and_reloaded_without_the_extractor(extractor, tmp_path):
    calls = []

    def counting(images):
        calls.append(images.shape[0])
        return extractor(images)

    images, cache = smooth(4, 9), tmp_path / "stats" / "real.npz"
    first = real_features(images, counting, cache)
    assert calls == [4] and cache.is_file()
    with np.load(cache) as z:
        assert {k: (z[k].dtype, z[k].shape) for k in z.files} == {
            "mu": (np.float32, (2048,)), "sigma": (np.float32, (2048, 2048)), "features": (np.float32, (4, 2048))}
    second = real_features(images, counting, cache)
    assert calls == [4]  # loaded, not computed
    for name in ("mu", "sigma", "features"):
        assert torch.equal(getattr(first, name), getattr(second, name))

    cache.write_bytes(b"damaged")
    third = real_features(images, counting, cache)
    assert calls == [4, 4] and torch.equal(third.features, first.features)
    assert real_features(images, counting, cache) is not None and calls == [4, 4]  # rewritten whole

    assert real_features(images[:2], counting, cache).features.shape == (2, 2048)
    assert calls == [4, 4, 2]  # a cache for another sample count is not used


def test_probe_scores_like_images_better_than_noise(tmp_path):
    real = smooth(8, 11)
    probe = FIDProbe.load("cpu", "random", real_images=real, n_real=4, cache_file=tmp_path / "real.npz",
                          batch_size=4)
    assert probe.kind == "random" and probe.real.features.shape == (4, 2048)
    alike, unlike = probe.evaluate(smooth(4, 12)), probe.evaluate(noise(4, 13))
    assert alike.samples == unlike.samples == 4
    assert alike.fid < unlike.fid and alike.kid_mean < unlike.kid_mean
    assert alike.seconds > 0 and alike.kid_std >= 0
    with pytest.raises(FIDError, match="at least 2"):
        probe.evaluate(smooth(1, 14))


def _offline(progress=True, report=None, cancelled=None):
    # What urllib raises on a machine without a network (torch hub's download and fetch_file alike).
    raise urllib.error.URLError(socket.gaierror(-2, "Name or service not known"))


def test_fetch_inception_says_a_failed_download_in_plain_words(monkeypatch, capsys):
    """`fetch-inception` with no network names the server and the likely cause, not urllib's
    "<urlopen error [Errno -2] ...>"; the app's button shows the same words (download_failure)."""
    from core import cli

    monkeypatch.setattr(fidmod, "download_inception_weights", _offline)
    assert cli.main(["fetch-inception"]) == 1
    said = "could not download the Inception-v3 weights: download.pytorch.org could not be found (no network, " \
           "or no name server); check the network and try again"
    assert capsys.readouterr().err.strip() == f"error: {said}"
    assert fidmod.download_failure(urllib.error.URLError(socket.gaierror(-2, "x"))) == said


@pytest.mark.parametrize("error, why", [
    (urllib.error.HTTPError("u", 404, "Not Found", {}, None), "download.pytorch.org answered 404 Not Found; try again later"),
    (urllib.error.URLError(TimeoutError("timed out")), "download.pytorch.org did not answer in time"),
    (OSError("the download stopped at 10 of 20 bytes"), "the download stopped at 10 of 20 bytes; try again"),
    (PermissionError(13, "Permission denied", "/hub/x.pth"), "/hub/x.pth could not be written (Permission denied)"),
])
def test_a_failed_download_says_why_in_one_line(error, why):
    text = fidmod.download_failure(error)
    assert text.startswith("could not download the Inception-v3 weights: ") and why in text and "\n" not in text


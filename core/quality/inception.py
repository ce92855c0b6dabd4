"""FID and KID in Inception-v3 pool features, for the user's own pictures (core.quality.digits covers digits).

The weights are looked for on disk only: the standard FID network of the `pytorch-fid` package
(`pt_inception-2015-12-05-6726825d.pth`, used only when that package is installed) or torchvision's
ImageNet Inception-v3, both in torch hub's checkpoints folder. Nothing here downloads, except
download_inception_weights(), which the `fetch-inception` command calls on a person's request;
training and tests never do. weights="random" builds the same network with random weights, which
exercises the whole pipeline (the numbers mean nothing).

Input convention: uint8 NCHW in [0, 255] with 1 or 3 channels (what core.sharing.export.to_uint8 returns),
any size; resized to 299x299 (bilinear, antialiased: for the 32-128 px images here, an upscale, that
is pytorch-fid's plain bilinear) and mapped to [-1, 1], which both weight files expect. FID is biased
upwards for small sample counts and KID's spread grows: compare numbers only at the same counts and
weights kind. Inception-v3 costs ~6 GFLOPs an image (a few images a second on 2 CPU cores), so run
FIDProbe.evaluate every M steps, away from the training step.
"""

from __future__ import annotations

import importlib.util
import math
import os
import pickle
import time
import urllib.parse
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F

from core.atomic import atomic_write
from core.quality.digits import _psd_sqrt, feature_stats, frechet_distance

FETCH_COMMAND = "python main.py fetch-inception"
FID_WEIGHTS_FILE = "pt_inception-2015-12-05-6726825d.pth"  # the file pytorch_fid.inception.FID_WEIGHTS_URL names
FID_CLASSES = 1008  # the TF FID network's classifier width; torchvision's has 1000
FEATURES = 2048
SIDE = 299
KID_BLOCK = 1024  # kernel rows held at once (1024 x 2048 float64 = 16 MB): memory stays flat in the sample count


class FIDError(ValueError):
    """FID/KID cannot run, or got unusable input; the message says why and what to do."""


@dataclass(frozen=True)
class WeightsInfo:
    kind: str  # "pytorch-fid" (the standard FID network) or "torchvision" (ImageNet Inception-v3)
    path: Path


def hub_checkpoints() -> Path:
    """torch hub's checkpoint folder (TORCH_HOME/hub/checkpoints, ~/.cache/torch/hub/checkpoints by default)."""
    return Path(torch.hub.get_dir()) / "checkpoints"


def torchvision_weights_file() -> str:
    """The file name torch hub gives torchvision's IMAGENET1K_V1 Inception-v3 weights."""
    from torchvision.models import Inception_V3_Weights

    return os.path.basename(urllib.parse.urlparse(Inception_V3_Weights.IMAGENET1K_V1.url).path)


def _pytorch_fid_installed() -> bool:
    return importlib.util.find_spec("pytorch_fid") is not None


def find_inception_weights() -> WeightsInfo | None:
    """The Inception weights already on disk, the FID network first; None when there are none. Never downloads."""
    folder = hub_checkpoints()
    fid_file = folder / FID_WEIGHTS_FILE
    if fid_file.is_file() and _pytorch_fid_installed():
        return WeightsInfo("pytorch-fid", fid_file)
    tv_file = folder / torchvision_weights_file()
    if tv_file.is_file():
        return WeightsInfo("torchvision", tv_file)
    return None


def unavailable_reason() -> str:
    """Why FID/KID are off, in plain words, with the one command that fixes it."""
    folder = hub_checkpoints()
    note = ""
    if (folder / FID_WEIGHTS_FILE).is_file() and not _pytorch_fid_installed():
        note = f" ({FID_WEIGHTS_FILE} is there, but it is used only with the pytorch-fid package installed)"
    return (f"FID/KID are off: the Inception-v3 weights they need are not in {folder}{note}, and the app "
            f"never downloads them on its own. Get them once (about 100 MB) with `{FETCH_COMMAND}`.")


def download_inception_weights(progress: bool = True, report: Callable[[int, int], None] | None = None,
                               cancelled: Callable[[], bool] | None = None) -> Path:
    """Download torchvision's ImageNet Inception-v3 weights into torch hub's cache (hash-checked); return the
    file. The only function here that touches the network: for the `fetch-inception` command and the app's
    button, never training. With `report`, it is called with (bytes done, total or 0) as the file comes
    (the app's progress bar), and `cancelled` is asked between chunks."""
    from torchvision.models import Inception_V3_Weights

    if report is None and cancelled is None:
        Inception_V3_Weights.IMAGENET1K_V1.get_state_dict(progress=progress, check_hash=True)
        return hub_checkpoints() / torchvision_weights_file()
    out = hub_checkpoints() / torchvision_weights_file()
    if not out.is_file():
        match = torch.hub.HASH_REGEX.search(out.name)  # torch hub's convention: the name holds a sha256 prefix
        fetch_file(Inception_V3_Weights.IMAGENET1K_V1.url, out, match.group(1) if match else "", report, cancelled)
    return out


def download_failure(error: BaseException) -> str:
    """Why the weights could not be had and what to do, in plain words: the one phrasing the
    `fetch-inception` command and the app's button both show ("could not download ...: why; what to do").

    urllib's own text ("<urlopen error [Errno -2] Name or service not known>") names neither the server
    nor the likely cause."""
    import socket
    import urllib.error

    from torchvision.models import Inception_V3_Weights

    host = urllib.parse.urlparse(Inception_V3_Weights.IMAGENET1K_V1.url).hostname or "the download server"
    advice = "check the network and try again"
    reason = error.reason if isinstance(error, urllib.error.URLError) else error
    if isinstance(error, urllib.error.HTTPError):
        why, advice = f"{host} answered {error.code} {error.reason}", "try again later"
    elif isinstance(reason, socket.gaierror):
        why = f"{host} could not be found (no network, or no name server)"
    elif isinstance(reason, TimeoutError):
        why = f"{host} did not answer in time"
    elif isinstance(reason, ConnectionError):
        why = f"the connection to {host} failed ({(reason.strerror or str(reason)).lower()})"
    elif isinstance(error, urllib.error.URLError):
        why = f"no connection to {host} ({reason})"
    elif isinstance(error, OSError) and error.filename:  # writing into torch's cache, not the network
        why = f"{error.filename} could not be written ({error.strerror or error})"
        advice = f"check that {hub_checkpoints()} can be written and try again"
    else:
        why = str(error) or type(error).__name__
        advice = "try again"
    return f"could not download the Inception-v3 weights: {why}; {advice}"


def fetch_file(url: str, out: Path, sha256_prefix: str = "", report: Callable[[int, int], None] | None = None,
               cancelled: Callable[[], bool] | None = None, chunk: int = 1 << 20) -> Path:
    """`url` into `out` (atomically: kept only when complete and its sha256 starts with `sha256_prefix`,
    as torch.hub.download_url_to_file checks); OSError when it cannot be had."""
    import hashlib
    import urllib.request

    def write(temp: str) -> None:
        digest = hashlib.sha256()
        with open(temp, "wb") as f, urllib.request.urlopen(url, timeout=30) as response:
            total, done = int(response.headers.get("Content-Length") or 0), 0
            while block := response.read(chunk):
                if cancelled is not None and cancelled():
                    raise OSError("the download was cancelled")
                f.write(block)
                digest.update(block)
                done += len(block)
                if report is not None:
                    report(done, total)
        if total and done != total:
            raise OSError(f"the download stopped at {done:,} of {total:,} bytes")
        if not digest.hexdigest().startswith(sha256_prefix):
            raise OSError(f"{url}: the file's sha256 is not the expected {sha256_prefix}…; nothing was kept")

    atomic_write(out, write)
    return out


def _load_state_dict(path: Path) -> dict:
    again = f"delete it and run `{FETCH_COMMAND}` again"
    if not path.is_file():
        raise FIDError(f"{path}: no such Inception weights file; get the weights with `{FETCH_COMMAND}`")
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as e:
        raise FIDError(f"{path}: refused: it holds Python objects that could run code when loaded "
                       f"({str(e).splitlines()[0][:200]}); {again}") from None
    except Exception as e:  # noqa: BLE001 - garbage makes the unpickler fail in many ways (IndexError, ...)
        detail = (str(e).splitlines() or [type(e).__name__])[0][:200]
        raise FIDError(f"{path}: damaged or truncated weights file ({detail}); {again}") from None
    if not isinstance(state, dict) or not isinstance(state.get("fc.weight"), torch.Tensor):
        raise FIDError(f"{path}: not Inception-v3 weights (no classifier 'fc.weight'); {again}")
    return state


def _fid_blocks(net: nn.Module, path: Path) -> None:
    """Swap in the FID network's blocks (TF's pooling quirks), as pytorch_fid.inception.fid_inception_v3 does."""
    try:
        from pytorch_fid import inception as pf
    except ImportError:
        raise FIDError(f"{path}: the FID network's weights ({FID_CLASSES} classes), which need the "
                       "pytorch-fid package: `pip install pytorch-fid`, or use torchvision's weights "
                       f"(`{FETCH_COMMAND}`)") from None
    net.Mixed_5b = pf.FIDInceptionA(192, pool_features=32)
    net.Mixed_5c = pf.FIDInceptionA(256, pool_features=64)
    net.Mixed_5d = pf.FIDInceptionA(288, pool_features=64)
    net.Mixed_6b = pf.FIDInceptionC(768, channels_7x7=128)
    net.Mixed_6c = pf.FIDInceptionC(768, channels_7x7=160)
    net.Mixed_6d = pf.FIDInceptionC(768, channels_7x7=160)
    net.Mixed_6e = pf.FIDInceptionC(768, channels_7x7=192)
    net.Mixed_7b = pf.FIDInceptionE_1(1280)
    net.Mixed_7c = pf.FIDInceptionE_2(2048)


def _from_file(path: Path) -> tuple[nn.Module, str]:
    """Inception-v3 up to the pool3 features, weights from `path`; which kind the file's classifier says it is."""
    from torchvision.models.inception import Inception3

    state = {k: v for k, v in _load_state_dict(path).items() if not k.startswith("AuxLogits.")}
    classes = state["fc.weight"].shape[0]
    with torch.device("meta"):  # no random init of 24M weights that load_state_dict replaces anyway
        net = Inception3(num_classes=classes, aux_logits=False, init_weights=False)
        if classes == FID_CLASSES:
            _fid_blocks(net, path)
    try:
        net.load_state_dict(state, strict=True, assign=True)
    except RuntimeError as e:
        lines = str(e).strip().splitlines()  # line 0 is "Error(s) in loading state_dict for Inception3:"
        raise FIDError(f"{path}: does not fit Inception-v3 ({lines[-1].strip()[:200]}); "
                       f"delete it and run `{FETCH_COMMAND}`") from None
    return net, "pytorch-fid" if classes == FID_CLASSES else "torchvision"


def _random(seed: int = 0) -> nn.Module:
    """Inception-v3 with seeded random weights (the global RNG is left alone). He-normal convolutions keep
    the activations' scale through the 40-odd layers, so the features are not all ~0 or huge."""
    from torchvision.models.inception import Inception3

    with torch.device("meta"):
        net = Inception3(aux_logits=False, init_weights=False)
    net = net.to_empty(device="cpu")
    g = torch.Generator().manual_seed(seed)
    for m in net.modules():
        if isinstance(m, (nn.Conv2d, nn.Linear)):
            nn.init.kaiming_normal_(m.weight, nonlinearity="relu", generator=g)
            if m.bias is not None:
                nn.init.zeros_(m.bias)
        elif isinstance(m, nn.BatchNorm2d):
            m.reset_parameters()  # identity in eval mode: mean 0, variance 1, scale 1, shift 0
    return net


class InceptionFeatures(nn.Module):
    """uint8 images (N, 1 or 3, H, W) -> float32 (N, 2048) Inception-v3 pool3 features on the CPU.

    weights: "auto" (find_inception_weights(); FIDError with unavailable_reason() when none), "random"
    (tests), or a weights file. `kind` says which network it is: "pytorch-fid", "torchvision" or "random"."""

    def __init__(self, weights: str | Path = "auto", device="cpu", batch_size: int = 50):
        super().__init__()
        if weights == "random":
            net, self.kind, self.path = _random(), "random", None
        else:
            if weights == "auto":
                found = find_inception_weights()
                if found is None:
                    raise FIDError(unavailable_reason())
                weights = found.path
            self.path = Path(weights)
            net, self.kind = _from_file(self.path)
        net.fc = nn.Identity()  # the 2048 pooled features, not the class logits
        # channels_last: oneDNN's convolutions run 2-3x faster on a CPU that way (measured: 16 images 6 s -> 2 s)
        # torch's overloads of Module.to leave out (device, memory_format=), which it takes.
        self.net = net.requires_grad_(False).eval().to(device, memory_format=torch.channels_last)  # type: ignore[call-overload]
        if batch_size < 1:
            raise FIDError(f"batch_size {batch_size}: must be at least 1")
        self.batch_size = batch_size

    @property
    def device(self) -> torch.device:
        return next(self.net.parameters()).device

    def train(self, mode: bool = True):
        return super().train(False)  # dropout and batch-norm statistics stay frozen

    def _prepare(self, batch: torch.Tensor) -> torch.Tensor:
        x = batch.to(self.device).float() / 255
        if x.shape[-2:] != (SIDE, SIDE):
            x = F.interpolate(x, size=(SIDE, SIDE), mode="bilinear", antialias=True, align_corners=False)
        x = x * 2 - 1
        if x.shape[1] == 1:
            x = x.expand(-1, 3, -1, -1)  # grayscale: the same plane in R, G and B
        return x.contiguous(memory_format=torch.channels_last)

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        images = torch.as_tensor(images)
        if images.dtype != torch.uint8 or images.dim() != 4 or images.shape[1] not in (1, 3):
            raise FIDError(f"images of shape {tuple(images.shape)} and dtype {images.dtype}: expected uint8 "
                           "(N, 1 or 3, H, W) in [0, 255] (core.sharing.export.to_uint8 makes them)")
        with torch.inference_mode():
            out = [self.net(self._prepare(images[i:i + self.batch_size])).float().cpu()
                   for i in range(0, images.shape[0], self.batch_size)]
        return torch.cat(out) if out else torch.empty(0, FEATURES)


def fid(real_feats: torch.Tensor, fake_feats: torch.Tensor) -> float:
    """Fréchet distance between two (N, D) feature sets; lower is better, 0 for identical sets.
    With fewer samples than dimensions (1024 fakes in 2048 features) the covariances have rank < D and
    the same number comes from the samples directly, without a D x D matrix square root: with A, B the
    centred features, tr sqrtm(S1 S2) = (sum of A B^T's singular values) / sqrt((n1 - 1)(n2 - 1)).
    For 2048 real and 1024 fake features that is under a second instead of several on 2 CPU cores.
    With at least D samples on both sides: core.quality.digits.frechet_distance."""
    n1, n2 = real_feats.shape[0], fake_feats.shape[0]
    if min(n1, n2) < 2:
        raise FIDError(f"FID of {n1} real and {n2} fake samples: needs at least 2 of each")
    if min(n1, n2) >= real_feats.shape[1]:
        return frechet_distance(*feature_stats(real_feats), *feature_stats(fake_feats))
    x, y = real_feats.double().cpu(), fake_feats.double().cpu()
    mx, my = x.mean(0), y.mean(0)
    a, b = x - mx, y - my
    c1, c2 = n1 - 1, n2 - 1
    tr_sqrt = torch.linalg.svdvals(a @ b.T).sum() / math.sqrt(c1 * c2)
    d = mx - my
    return max(float(d @ d + (a * a).sum() / c1 + (b * b).sum() / c2 - 2 * tr_sqrt), 0.0)


def _poly_kernel(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    return (a @ b.T / a.shape[1] + 1) ** 3


def _subset_sums(a: torch.Tensor, b: torch.Tensor, wa: torch.Tensor, wb: torch.Tensor) -> torch.Tensor:
    """For each subset j (a column of the 0/1 matrices wa, wb): the sum of k(a_i, b_k) over i in it and k in
    its b-side, i.e. wa_j^T K wb_j, for all subsets at once, KID_BLOCK rows of K at a time."""
    out = torch.zeros(wa.shape[1], dtype=torch.float64)
    for s in range(0, a.shape[0], KID_BLOCK):
        out += (wa[s:s + KID_BLOCK] * (_poly_kernel(a[s:s + KID_BLOCK], b) @ wb)).sum(0)
    return out


def kid(real_feats: torch.Tensor, fake_feats: torch.Tensor, subsets: int = 100, subset_size: int = 1000,
        seed: int = 0) -> tuple[float, float]:
    """Kernel Inception Distance (Bińkowski et al. 2018) as torch-fidelity and clean-fid compute it: the
    unbiased MMD² with kernel (x·y/d + 1)³ on `subsets` random subsets of min(subset_size, n_real, n_fake)
    of each set, drawn without replacement from a generator seeded with `seed`. Returns (mean, std over
    the subsets). Each kernel entry is computed once for all subsets (0/1 subset matrices), in float64."""
    x, y = real_feats.double().cpu(), fake_feats.double().cpu()
    m = min(subset_size, x.shape[0], y.shape[0])
    if m < 2 or subsets < 1:
        raise FIDError(f"KID of {x.shape[0]} real and {y.shape[0]} fake samples in {subsets} subsets of up to "
                       f"{subset_size}: needs at least 2 of each and 1 subset")
    g = torch.Generator().manual_seed(seed)
    wx = torch.zeros(x.shape[0], subsets, dtype=torch.float64)
    wy = torch.zeros(y.shape[0], subsets, dtype=torch.float64)
    for j in range(subsets):
        wx[torch.randperm(x.shape[0], generator=g)[:m], j] = 1
        wy[torch.randperm(y.shape[0], generator=g)[:m], j] = 1
    diag_x = (((x * x).sum(1) / x.shape[1] + 1) ** 3) @ wx  # k(x_i, x_i), left out of the unbiased sums
    diag_y = (((y * y).sum(1) / y.shape[1] + 1) ** 3) @ wy
    within = _subset_sums(x, x, wx, wx) - diag_x + _subset_sums(y, y, wy, wy) - diag_y
    values = within / (m * (m - 1)) - 2 * _subset_sums(x, y, wx, wy) / (m * m)
    return float(values.mean()), float(values.std(unbiased=False))


@dataclass(frozen=True)
class RealStats:
    """The real images' features and their mean/covariance, float32 (what the cache file holds)."""
    mu: torch.Tensor  # (D,)
    sigma: torch.Tensor  # (D, D)
    features: torch.Tensor  # (N, D), kept for KID

    @classmethod
    def of(cls, features: torch.Tensor) -> RealStats:
        mu, sigma = feature_stats(features)
        return cls(mu.float(), sigma.float(), features.float().cpu())


def _read_stats(path: Path, n: int) -> RealStats | None:
    """The cached stats, or None when the file is missing, unreadable or for another sample count."""
    try:
        with np.load(path, allow_pickle=False) as z:
            mu, sigma, feats = (torch.from_numpy(z[k].astype(np.float32)) for k in ("mu", "sigma", "features"))
    except (OSError, KeyError, ValueError, zipfile.BadZipFile, EOFError):
        return None
    d = mu.shape[0] if mu.dim() == 1 else -1
    if feats.shape != (n, d) or sigma.shape != (d, d):
        return None
    return RealStats(mu, sigma, feats)


def _write_stats(path: Path, stats: RealStats) -> None:
    def write(tmp):
        with open(tmp, "wb") as f:  # a file object: np.savez would add ".npz" to the temp name
            np.savez(f, mu=stats.mu.numpy(), sigma=stats.sigma.numpy(), features=stats.features.numpy())
    atomic_write(path, write)


def real_features(images_uint8: torch.Tensor, extractor, cache_file: str | Path | None = None) -> RealStats:
    """The real images' stats: read from `cache_file` when it holds them for this many images, else computed
    with extractor(images) -> (N, D) and written there atomically. The .npz keys mu and sigma are those
    of pytorch-fid's stats files; an unreadable or mismatched cache is recomputed and replaced.
    The file name is the caller's key: dataset, weights kind and sample count."""
    n = int(images_uint8.shape[0])
    if cache_file is not None:
        cached = _read_stats(Path(cache_file), n)
        if cached is not None:
            return cached
    stats = RealStats.of(extractor(images_uint8))
    if cache_file is not None:
        _write_stats(Path(cache_file), stats)
    return stats


@dataclass(frozen=True)
class FIDReport:
    samples: int  # generated images scored
    fid: float  # Fréchet Inception distance to the real images; lower is better
    kid_mean: float  # Kernel Inception distance (MMD²), mean over the subsets; ~0 for real-like samples
    kid_std: float  # its spread over the subsets
    seconds: float  # wall time of this evaluation


class FIDProbe:
    """Built once per run with FIDProbe.load(...); evaluate() per check, like core.quality.digits.QualityProbe."""

    def __init__(self, extractor: InceptionFeatures, real: RealStats, kid_subsets: int = 100,
                 kid_subset_size: int = 1000, seed: int = 0):
        self.extractor = extractor
        self.real = real
        self._real_sigma_sqrt: torch.Tensor | None = None  # only needed with >= 2048 samples on both sides; then once per run
        self.kid_subsets, self.kid_subset_size, self.seed = kid_subsets, kid_subset_size, seed

    @property
    def kind(self) -> str:
        return self.extractor.kind

    @classmethod
    def load(cls, device="cpu", weights: str | Path = "auto", *, real_images: torch.Tensor, n_real: int = 2048,
             cache_file: str | Path | None = None, batch_size: int = 50, seed: int = 0) -> FIDProbe:
        """The extractor plus the real stats of n_real images drawn (seeded) from real_images, all of them
        when there are fewer. Raises FIDError (with unavailable_reason()) when "auto" finds no weights."""
        total = int(real_images.shape[0])
        if total < 2 or n_real < 2:
            raise FIDError(f"{total} real image(s), n_real {n_real}: FID needs at least 2 (2048 is a good number)")
        if n_real < total:
            pick = torch.randperm(total, generator=torch.Generator().manual_seed(seed))[:n_real].sort().values
            real_images = real_images[pick.to(real_images.device)]
        extractor = InceptionFeatures(weights, device, batch_size)
        return cls(extractor, real_features(real_images, extractor, cache_file), seed=seed)

    def _frechet(self, feats: torch.Tensor) -> float:
        if min(self.real.features.shape[0], feats.shape[0]) < feats.shape[1]:
            return fid(self.real.features, feats)  # from the samples: no D x D square roots
        if self._real_sigma_sqrt is None:
            self._real_sigma_sqrt = _psd_sqrt(self.real.sigma.double())
        return frechet_distance(self.real.mu, self.real.sigma, *feature_stats(feats), self._real_sigma_sqrt)

    def evaluate(self, fake_uint8: torch.Tensor) -> FIDReport:
        """Score a batch of generated images (uint8 NCHW, see the module docstring)."""
        start = time.perf_counter()
        if int(fake_uint8.shape[0]) < 2:
            raise FIDError(f"{int(fake_uint8.shape[0])} image(s): FID needs at least 2 (use a fixed count, "
                           "1024 is a good one)")
        return self.score(self.extractor(fake_uint8), time.perf_counter() - start)

    def score(self, feats: torch.Tensor, seconds: float = 0.0) -> FIDReport:
        """FID and KID of generated images' features (extractor output); `seconds` already spent on them."""
        start = time.perf_counter()
        fd = self._frechet(feats)
        kid_mean, kid_std = kid(self.real.features, feats, self.kid_subsets, self.kid_subset_size, self.seed)
        return FIDReport(samples=int(feats.shape[0]), fid=fd, kid_mean=kid_mean, kid_std=kid_std,
                         seconds=seconds + time.perf_counter() - start)

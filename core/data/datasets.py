"""Datasets -> one uint8 array (N, C, H, W), plus labels.

Downloaded and bundled sets come as a tensor; an image folder is decoded once into a
memory-mapped cache on disk (core/data/image_cache.py). core/data/batches.py puts the array on the
training device when it fits, or streams batches from the memory map when it does not.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from torch.nn import functional as F

from core.config import DataConfig
from core.data import image_cache
from core.data.folders import DataError

RESOURCES = Path(__file__).resolve().parents[2] / "resources"
BUNDLED_MNIST = RESOURCES / "mnist_5k.npz"


@dataclass
class ImageSet:
    images: torch.Tensor | np.ndarray  # uint8 (N, C, H, W); a read-only np.memmap for a folder
    labels: torch.Tensor | None  # int64 (N,) or None
    name: str
    notes: tuple[str, ...] = ()  # things to tell the person (fallbacks, skipped files)
    key: str = ""  # names these exact images (e.g. a folder cache's key), for caches derived from them
    # A folder's kinds: each picture's top-level sub-folder (int64 (N,), an index into kind_names); None when
    # the folder holds fewer than two (core/data/image_cache.FolderCache.kinds).
    kinds: torch.Tensor | None = None
    kind_names: tuple[str, ...] = ()

    def __len__(self) -> int:
        return self.images.shape[0]


def cache_dir(config: DataConfig) -> Path:
    if config.cache_dir:
        return Path(config.cache_dir)
    import platformdirs  # only needed when a download may happen
    return Path(platformdirs.user_cache_dir("gan-studio")) / "datasets"


def load_bundled() -> ImageSet:
    """The 5,000-digit MNIST sample shipped in resources/ (500 per class)."""
    try:
        with np.load(BUNDLED_MNIST) as z:
            images, labels = z["images"], z["labels"]
    except (OSError, KeyError, ValueError) as e:
        raise DataError(f"the bundled MNIST sample {BUNDLED_MNIST} is missing or damaged ({e})") from None
    return ImageSet(torch.from_numpy(images).unsqueeze(1), torch.from_numpy(labels).long(), "bundled MNIST sample")


def _torchvision(config: DataConfig) -> ImageSet:
    from torchvision import datasets

    kind = {"mnist": datasets.MNIST, "fashion-mnist": datasets.FashionMNIST, "cifar10": datasets.CIFAR10}
    root = cache_dir(config)
    ds = kind[config.dataset](root=str(root), train=True, download=True)
    data = torch.as_tensor(np.asarray(ds.data))
    images = data.unsqueeze(1) if data.dim() == 3 else data.permute(0, 3, 1, 2)
    return ImageSet(images.contiguous(), torch.as_tensor(ds.targets).long(), config.dataset)


def _download(config: DataConfig) -> ImageSet:
    try:
        return _torchvision(config)
    except Exception as e:  # torchvision raises several kinds when offline
        if config.dataset == "mnist":
            bundled = load_bundled()
            bundled.notes = (f"MNIST could not be downloaded ({_short(e)}); training on the bundled "
                             f"{len(bundled):,}-digit MNIST sample instead.",)
            return bundled
        raise DataError(f"data.dataset = {config.dataset!r}: could not download it into {cache_dir(config)} "
                        f"({_short(e)}). Check the network, or pick 'bundled' or a folder.") from None


def _short(e: Exception) -> str:
    text = str(e).strip().splitlines()
    return f"{type(e).__name__}: {text[0]}" if text else type(e).__name__


def load_folder(config: DataConfig, progress=None, should_stop=None) -> ImageSet:
    """Every readable picture below the folder, centre-cropped to a square and resized, from the
    folder's decoded cache (built now if the folder is new or changed; progress(done, total))."""
    root = Path(config.cache_dir) / "folders" if config.cache_dir else None
    cache = image_cache.open_or_build(Path(config.folder).expanduser(), config.image_size, config.channels,
                                      cache_root=root, progress=progress, should_stop=should_stop)
    kinds = cache.kinds()
    ids, names = (torch.from_numpy(kinds[0]), kinds[1]) if kinds else (None, ())
    return ImageSet(cache.images, None, f"folder {cache.folder.name}", cache.notes, cache.key[:32], ids, names)


def _fit(images: torch.Tensor | np.ndarray, config: DataConfig) -> torch.Tensor | np.ndarray:
    """Resize to the configured size (e.g. MNIST at 32 for a 32x32 DCGAN); folder caches already are."""
    if images.shape[-1] == config.image_size and images.shape[-2] == config.image_size:
        return images
    assert isinstance(images, torch.Tensor)  # folder caches (arrays) are decoded at the configured size
    resized = F.interpolate(images.float(), size=(config.image_size,) * 2, mode="bilinear", antialias=True,
                            align_corners=False)
    return resized.round().clamp(0, 255).to(torch.uint8)


def load_dataset(config: DataConfig, progress=None, should_stop=None) -> ImageSet:
    """The configured dataset. For a folder, progress(done, total) follows the decoding of a new or
    changed folder and should_stop() cancels it."""
    if config.dataset == "bundled":
        ds = load_bundled()
    elif config.dataset == "folder":
        ds = load_folder(config, progress, should_stop)
    else:
        ds = _download(config)
    if ds.images.shape[1] != config.channels:
        raise DataError(f"data.channels = {config.channels}: {ds.name} has {ds.images.shape[1]} channel(s)")
    ds.images = _fit(ds.images, config)
    if not ds.key:
        ds.key = f"{config.dataset}-{len(ds)}-{config.image_size}px"
    return ds

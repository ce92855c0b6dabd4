"""Datasets -> one uint8 tensor (N, C, H, W) on the training device, plus labels.

A batch is an index into that tensor, turned into floats on the device, so
there is no DataLoader and no host-to-device copy in the training loop.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from torch.nn import functional as F

from core.config import DataConfig

RESOURCES = Path(__file__).resolve().parent.parent / "resources"
BUNDLED_MNIST = RESOURCES / "mnist_5k.npz"
IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg", ".bmp", ".gif", ".webp", ".tif", ".tiff"}
MAX_FOLDER_BYTES = 4 * 2**30  # a folder must fit in memory as uint8


class DataError(ValueError):
    """A dataset that cannot be used; the message says which and why."""


@dataclass
class ImageSet:
    images: torch.Tensor  # uint8 (N, C, H, W)
    labels: torch.Tensor | None  # int64 (N,) or None
    name: str
    notes: tuple[str, ...] = ()  # things to tell the person (fallbacks, skipped files)

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


def load_folder(config: DataConfig) -> ImageSet:
    """Every readable image below the folder, centre-cropped to a square and resized."""
    from PIL import Image, ImageOps, UnidentifiedImageError

    folder = Path(config.folder).expanduser()
    if not folder.is_dir():
        raise DataError(f"data.folder = {config.folder!r}: no such folder")
    files = sorted(p for p in folder.rglob("*") if p.suffix.lower() in IMAGE_SUFFIXES and p.is_file())
    if not files:
        raise DataError(f"data.folder = {config.folder!r}: no images found (looked for "
                        f"{', '.join(sorted(IMAGE_SUFFIXES))})")
    size, mode = config.image_size, ("L" if config.channels == 1 else "RGB")
    if len(files) * size * size * config.channels > MAX_FOLDER_BYTES:
        raise DataError(f"data.folder = {config.folder!r}: {len(files):,} images at {size}x{size} do not fit "
                        f"in memory; choose a smaller data.image_size or fewer images")
    arrays, skipped = [], 0
    for path in files:
        try:
            with Image.open(path) as im:
                im = ImageOps.fit(im.convert(mode), (size, size), Image.Resampling.LANCZOS)
                arrays.append(np.asarray(im, dtype=np.uint8).reshape(size, size, config.channels))
        except (OSError, UnidentifiedImageError, ValueError, Image.DecompressionBombError):
            skipped += 1
    if not arrays:
        raise DataError(f"data.folder = {config.folder!r}: none of the {len(files)} image files could be read")
    images = torch.from_numpy(np.stack(arrays)).permute(0, 3, 1, 2).contiguous()
    notes = (f"Skipped {skipped} unreadable file(s) in {folder}.",) if skipped else ()
    return ImageSet(images, None, f"folder {folder.name}", notes)


def _fit(images: torch.Tensor, config: DataConfig) -> torch.Tensor:
    """Resize to the configured size (e.g. MNIST at 32 for a 32x32 DCGAN)."""
    if images.shape[-1] == config.image_size and images.shape[-2] == config.image_size:
        return images
    resized = F.interpolate(images.float(), size=(config.image_size,) * 2, mode="bilinear", antialias=True,
                            align_corners=False)
    return resized.round().clamp(0, 255).to(torch.uint8)


def load_dataset(config: DataConfig) -> ImageSet:
    if config.dataset == "bundled":
        ds = load_bundled()
    elif config.dataset == "folder":
        ds = load_folder(config)
    else:
        ds = _download(config)
    if ds.images.shape[1] != config.channels:
        raise DataError(f"data.channels = {config.channels}: {ds.name} has {ds.images.shape[1]} channel(s)")
    ds.images = _fit(ds.images, config)
    return ds


class Batches:
    """Shuffled batches drawn as indices into the resident tensor; reshuffled each epoch
    from the trainer's own torch.Generator, so a resumed run draws the same batches."""

    def __init__(self, dataset: ImageSet, batch_size: int, device: torch.device, generator: torch.Generator,
                 output: str):
        if len(dataset) < 1:
            raise DataError(f"{dataset.name}: the dataset is empty")
        self.images = dataset.images.to(device)
        self.labels = dataset.labels.to(device) if dataset.labels is not None else None
        self.batch_size = min(batch_size, len(dataset))
        self.generator = generator
        self.scale = (1 / 255, 0.0) if output == "sigmoid" else (2 / 255, -1.0)  # match G's output range
        self.epoch = 0
        self.pos = 0
        self.perm = self._shuffle()

    def _shuffle(self) -> torch.Tensor:
        return torch.randperm(len(self.images), device=self.images.device, generator=self.generator)

    def next(self) -> tuple[torch.Tensor, torch.Tensor | None]:
        if self.pos + self.batch_size > len(self.perm):
            self.epoch += 1
            self.pos = 0
            self.perm = self._shuffle()
        idx = self.perm[self.pos:self.pos + self.batch_size]
        self.pos += self.batch_size
        x = self.images[idx].float().mul_(self.scale[0]).add_(self.scale[1])
        return x, (self.labels[idx] if self.labels is not None else None)

    @property
    def progress(self) -> float:
        """Epochs done, as a fraction."""
        return self.epoch + self.pos / len(self.perm)

    def state_dict(self) -> dict:
        return {"perm": self.perm.cpu(), "pos": self.pos, "epoch": self.epoch}

    def load_state_dict(self, state: dict) -> None:
        if state["perm"].numel() != len(self.images):
            raise DataError(f"the checkpoint was trained on {state['perm'].numel():,} images, "
                            f"but the dataset now has {len(self.images):,}")
        self.perm = state["perm"].to(self.images.device)
        self.pos, self.epoch = int(state["pos"]), int(state["epoch"])

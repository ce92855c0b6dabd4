"""The trained generator as safetensors + json, and samples as PNG / .npy (every file written
atomically: a failure, a full disk say, leaves nothing behind to block a retry)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import torch
from torchvision.utils import make_grid

from core.atomic import DiskFull, atomic_folder, atomic_write
from core.atomic import free_path as free_path  # its home is torch-free: the app's dialogs name the file first
from core.bounded_read import FileRefused, load_json
from core.config import Config, ConfigError
from core.models import Generator, build_generator, image_shape, sample_noise

FORMAT = "gan-studio-generator"
SAMPLE_CHUNK = 256  # samples a forward pass of generate() makes at once
MAX_SAMPLES = 100_000
MAX_GRID = 4096  # samples one grid PNG holds (64 x 64 of them: 4,200 px a side at 64 px)
SEEDS = (-(2**63), 2**64 - 1)  # what torch.Generator.manual_seed takes; past it, an overflow error


class ExportError(ValueError):
    """A generator file that cannot be used, or samples that cannot be written."""


def save_generator(generator: torch.nn.Module, config: Config, folder: str | Path, step: int,
                   record: dict | None = None) -> Path:
    """Write generator.safetensors and generator.json into `folder`; return the .safetensors path.
    `record`: more to say about it ({"best": {...}} for a run's best reading), in generator.json and in the
    weights file's own metadata (a JSON string each), which is written first and whole with the weights."""
    from safetensors.torch import save_file

    folder = Path(folder)
    weights = {k: v.detach().cpu().contiguous() for k, v in generator.state_dict().items()}
    record = record or {}
    meta = {"format": FORMAT, "version": 1, "step": step, "config": config.to_dict(), **record}
    metadata = {"format": FORMAT, **{k: json.dumps(v) for k, v in record.items()}}
    atomic_write(folder / "generator.safetensors", lambda tmp: save_file(weights, tmp, metadata=metadata))
    atomic_write(folder / "generator.json", lambda tmp: Path(tmp).write_text(json.dumps(meta, indent=2)))
    return folder / "generator.safetensors"


def _paths(path: Path) -> tuple[Path, Path]:
    if path.is_dir():
        path = path / "generator.safetensors"
    return path.with_suffix(".safetensors"), path.with_suffix(".json")


def load_generator(path: str | Path, device="cpu") -> tuple[Generator, Config, dict]:
    """One call: a run folder, generator.safetensors or generator.json -> (G in eval mode, config, meta)."""
    from safetensors import SafetensorError
    from safetensors.torch import load_file

    weights_path, meta_path = _paths(Path(path))
    for p in (weights_path, meta_path):
        if not p.is_file():
            raise ExportError(f"{p}: missing; a saved generator is a generator.safetensors with its generator.json")
    try:  # a regular file of at most 1 MiB, its nesting bounded: core/bounded_read.py
        meta = load_json(meta_path, what="generator description")
    except FileRefused as e:  # a FIFO or device in its place, too big, not UTF-8 or JSON, nested too deep
        raise ExportError(f"{meta_path}: not a valid generator description ({e.reason})") from None
    except OSError as e:
        raise ExportError(f"{meta_path}: cannot be read ({e.strerror or e})") from None
    try:
        if meta.get("format") != FORMAT:
            raise ExportError(f"{meta_path}: not a GAN Studio generator description")
        config = Config.from_dict(meta["config"])
    except (json.JSONDecodeError, UnicodeDecodeError, KeyError, AttributeError, ConfigError) as e:
        raise ExportError(f"{meta_path}: not a valid generator description ({e})") from None
    try:
        weights = load_file(str(weights_path), device=str(device))
    except (SafetensorError, OSError, ValueError) as e:
        raise ExportError(f"{weights_path}: not a readable safetensors file ({e})") from None
    from core.runs.checkpoint import weights_mismatch

    with torch.device("meta"):  # checked without memory: an edited config may describe a huge model
        problem = weights_mismatch(build_generator(config), weights, config.model.z_dim)
    if problem:
        raise ExportError(f"{weights_path}: {problem}; the model settings in {meta_path.name} do not match "
                          "its weights")
    generator = build_generator(config)
    try:
        generator.load_state_dict(weights)
    except RuntimeError as e:
        raise ExportError(f"{weights_path}: weights do not fit the model in {meta_path.name} "
                          f"({str(e).splitlines()[0]})") from None
    return generator.to(device).eval(), config, meta


def to_uint8(images: torch.Tensor, output: str) -> torch.Tensor:
    """G's output ([-1, 1] for tanh, [0, 1] for sigmoid) -> uint8 NCHW on the CPU."""
    unit = (images + 1) / 2 if output == "tanh" else images
    return unit.clamp(0, 1).mul(255).round().to(torch.uint8).cpu()


def generate(generator: Generator, config: Config, n: int, seed: int = 0, label: int | None = None) -> torch.Tensor:
    """n samples as uint8 NCHW. A conditional G draws `label`, or every class in turn."""
    chunks = generate_chunks(generator, config, n, seed, label)  # checks the arguments first
    out = torch.empty((n, *image_shape(config)), dtype=torch.uint8)
    for start, images in chunks:
        out[start:start + len(images)] = images
    return out


def check_seed(seed: int, name: str = "seed") -> None:
    """ExportError, naming `name` (the CLI's --seed), for a seed torch cannot take."""
    if not SEEDS[0] <= seed <= SEEDS[1]:
        raise ExportError(f"{name} {seed}: out of range; a noise seed is a whole number from 0 to {SEEDS[1]:,}")


def generate_chunks(generator: Generator, config: Config, n: int, seed: int = 0, label: int | None = None):
    """generate()'s samples SAMPLE_CHUNK at a time, as (index of the first, uint8 NCHW): 100,000 samples in
    one forward pass would hold gigabytes of float activations, and a writer of chunks holds one chunk.
    The arguments are checked now (ExportError), the samples drawn as the chunks are taken."""
    if not 1 <= n <= MAX_SAMPLES:
        raise ExportError(f"n = {n}: ask for 1 to {MAX_SAMPLES:,} samples")
    check_seed(seed)
    device = next(generator.parameters()).device
    gen = torch.Generator(device=device).manual_seed(seed)
    z = sample_noise(n, config.model.z_dim, config.model.noise, device, gen)
    y = None
    if config.model.conditional:
        classes = config.model.num_classes
        if label is not None and not 0 <= label < classes:
            raise ExportError(f"class = {label}: this generator knows classes 0 to {classes - 1}")
        y = torch.full((n,), label, device=device) if label is not None else torch.arange(n, device=device) % classes
    elif label is not None:
        raise ExportError(f"class = {label}: this generator is not conditional, it cannot draw a chosen class")
    return _chunks(generator, config, z, y)


@torch.no_grad()
def _chunks(generator: Generator, config: Config, z: torch.Tensor, y: torch.Tensor | None):
    was_training = generator.training
    generator.eval()
    try:
        for start in range(0, len(z), SAMPLE_CHUNK):
            part = slice(start, start + SAMPLE_CHUNK)
            yield start, to_uint8(generator(z[part], None if y is None else y[part]), config.model.g_output)
    finally:
        generator.train(was_training)


def write_png(image: torch.Tensor | np.ndarray, path: str | Path) -> None:
    """uint8 CHW tensor or HWC array -> PNG (Pillow: torchvision's PNG writer is deprecated)."""
    from PIL import Image

    array = image.permute(1, 2, 0).numpy() if isinstance(image, torch.Tensor) else image
    Image.fromarray(array[..., 0] if array.shape[-1] == 1 else array).save(path, format="PNG")


def grid_image(images: torch.Tensor, columns: int) -> torch.Tensor:
    """uint8 NCHW -> one uint8 CHW grid (3 channels, 2-pixel gaps)."""
    return make_grid(images, nrow=columns, padding=2, pad_value=0)


def save_grid_png(images: torch.Tensor, path: str | Path, columns: int | None = None) -> Path:
    columns = columns or max(1, int(np.ceil(np.sqrt(len(images)))))
    path = Path(path)
    grid = grid_image(images, columns)
    atomic_write(path, lambda tmp: write_png(grid, tmp))
    return path


def save_pngs(images, folder: str | Path, prefix: str = "sample", n: int | None = None) -> list[Path]:
    """One PNG a sample, written into a temp folder that is moved into place when all are written.
    `images`: uint8 NCHW, or n of them as generate_chunks' (start, chunk) pairs."""
    folder = Path(folder)
    chunks = [(0, images)] if isinstance(images, torch.Tensor) else images
    names = [f"{prefix}_{i:05d}.png" for i in range(len(images) if n is None else n)]

    def fill(tmp: Path) -> None:
        for start, chunk in chunks:
            for name, img in zip(names[start:], chunk):
                write_png(img, str(tmp / name))

    atomic_folder(folder, fill)
    return [folder / name for name in names]


def save_npy(images, path: str | Path, shape: tuple[int, int, int, int] | None = None) -> Path:
    """uint8 array of shape (N, H, W, C). `images`: uint8 NCHW, or generate_chunks' (start, chunk) pairs
    of `shape` (N, C, H, W), each written as it comes."""
    path = Path(path)
    if isinstance(images, torch.Tensor):
        images, shape = [(0, images)], tuple(images.shape)
    assert shape is not None, "save_npy: generate_chunks' pairs come with the shape they add up to"
    n, c, h, w = shape

    def write(tmp: str) -> None:
        # The .npy header, then the chunks in order; plain writes, not a memory map, so a full disk
        # is an OSError rather than a SIGBUS.
        with open(tmp, "wb") as f:  # a file object: np.save would append .npy to another suffix
            header = {"descr": np.lib.format.dtype_to_descr(np.dtype(np.uint8)), "fortran_order": False,
                      "shape": (n, h, w, c)}
            np.lib.format.write_array_header_1_0(f, header)
            for _, chunk in images:
                f.write(np.ascontiguousarray(chunk.permute(0, 2, 3, 1).numpy()).data)

    atomic_write(path, write)
    return path


def refuse_existing(path: str | Path, overwrite: bool = False) -> None:
    """Nothing a person made is replaced without asking: an existing file (or a folder with files
    in it) is refused unless `overwrite`."""
    path = Path(path)
    taken = path.is_file() or (path.is_dir() and any(path.iterdir())) or (path.exists() and not path.is_dir())
    if taken and not overwrite:
        raise ExportError(f"{path} already exists; nothing was written. Choose another name, or pass "
                          "--overwrite to replace it.")


def export_samples(generator: Generator, config: Config, out: str | Path, n: int = 64, seed: int = 0,
                   label: int | None = None, kind: str | None = None, overwrite: bool = False) -> list[Path]:
    """Write samples; kind 'grid' (.png), 'pngs' (a folder) or 'npy', guessed from `out` when None.
    An existing `out` is refused unless `overwrite`."""
    out = Path(out)
    kind = kind or ("npy" if out.suffix == ".npy" else "grid" if out.suffix == ".png" else "pngs")
    if kind not in ("grid", "pngs", "npy"):
        raise ExportError(f"kind = {kind!r}: must be grid, pngs or npy")
    refuse_existing(out, overwrite)
    if kind == "grid" and n > MAX_GRID:
        raise ExportError(f"n = {n:,}: a grid holds at most {MAX_GRID:,} samples; for more, write PNGs (--out FOLDER) "
                          "or an array (--out FILE.npy)")
    # PNGs and arrays are written chunk by chunk as they are drawn: memory stays at one chunk.
    chunks = generate_chunks(generator, config, n, seed, label) if kind != "grid" else None
    try:
        if kind == "grid":
            columns = config.model.num_classes if config.model.conditional and label is None else None
            return [save_grid_png(generate(generator, config, n, seed, label), out, columns)]
        if kind == "npy":
            return [save_npy(chunks, out, (n, *image_shape(config)))]
        return save_pngs(chunks, out, n=n)
    except DiskFull:
        raise ExportError(f"{out}: the disk is full; the samples were not written and nothing was left "
                          "behind. Free some space and run it again.") from None
    except OSError as e:
        raise ExportError(f"{out}: could not write the samples ({e.strerror or e})") from None

"""Full training state on disk: written atomically, read without running code."""

from __future__ import annotations

import pickle
import zipfile
from pathlib import Path

import torch

from core.atomic import atomic_write

FORMAT = "gan-studio-checkpoint"
VERSION = 1
KEYS = {"format", "version", "config", "step", "generator", "discriminator", "opt_g", "opt_d", "ema",
        "rng", "batches", "fixed_noise", "fixed_labels", "history", "accum"}


class CheckpointError(ValueError):
    """A file that is not a usable checkpoint; the message says why."""


def save_checkpoint(state: dict, path: str | Path) -> None:
    missing, extra = KEYS - set(state), set(state) - KEYS
    if missing or extra:
        raise CheckpointError(f"checkpoint keys wrong: missing {sorted(missing)}, unknown {sorted(extra)}")
    atomic_write(path, lambda tmp: torch.save(state, tmp))


def estimated_bytes(config) -> int:
    """About how large one checkpoint of `config` is on disk: G and D in fp32, Adam's two moments for
    each, and the EMA copy of G (the counts come from models built on torch's meta device: no memory)."""
    from core.models import build_discriminator, build_generator

    with torch.device("meta"):
        g = sum(t.numel() for t in build_generator(config).state_dict().values())
        d = sum(t.numel() for t in build_discriminator(config).state_dict().values())
    return 4 * (3 * g + 3 * d + (g if config.run.ema else 0))


def load_checkpoint(path: str | Path, map_location="cpu") -> dict:
    path = Path(path)
    if path.is_dir():
        path = path / "checkpoints" / "last.pt"
    if not path.is_file():
        raise CheckpointError(f"{path}: no such checkpoint file")
    if not zipfile.is_zipfile(path):
        raise CheckpointError(f"{path}: not a GAN Studio checkpoint (not a PyTorch zip archive; "
                              "truncated, or another kind of file)")
    try:
        state = torch.load(path, map_location=map_location, weights_only=True)
    except pickle.UnpicklingError as e:
        raise CheckpointError(f"{path}: refused: it holds Python objects that could run code when loaded "
                              f"({str(e).splitlines()[0][:200]})") from None
    except (RuntimeError, EOFError, OSError, zipfile.BadZipFile, ValueError) as e:
        raise CheckpointError(f"{path}: damaged or truncated checkpoint ({str(e).splitlines()[0][:200]})") from None
    if not isinstance(state, dict) or state.get("format") != FORMAT:
        raise CheckpointError(f"{path}: not a GAN Studio checkpoint (no '{FORMAT}' marker)")
    if state.get("version") != VERSION:
        raise CheckpointError(f"{path}: checkpoint version {state.get('version')!r}; this app reads {VERSION}")
    missing, extra = KEYS - set(state), set(state) - KEYS
    if missing or extra:
        raise CheckpointError(f"{path}: checkpoint keys wrong: missing {sorted(missing)}, unknown {sorted(extra)}")
    return state

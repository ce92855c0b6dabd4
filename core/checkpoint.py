"""Full training state on disk: written atomically, read without running code."""

from __future__ import annotations

import os
import pickle
import tempfile
import zipfile
from pathlib import Path

import torch

FORMAT = "gan-studio-checkpoint"
VERSION = 1
KEYS = {"format", "version", "config", "step", "generator", "discriminator", "opt_g", "opt_d", "ema",
        "rng", "batches", "fixed_noise", "fixed_labels", "history", "accum"}


class CheckpointError(ValueError):
    """A file that is not a usable checkpoint; the message says why."""


def atomic_write(path: str | Path, write) -> None:
    """Call write(tmp_path) on a temp file beside `path`, then move it into place,
    so a crash mid-write leaves the old file intact."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(fd)
    try:
        write(tmp)
        with open(tmp, "rb+") as f:
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def save_checkpoint(state: dict, path: str | Path) -> None:
    missing, extra = KEYS - set(state), set(state) - KEYS
    if missing or extra:
        raise CheckpointError(f"checkpoint keys wrong: missing {sorted(missing)}, unknown {sorted(extra)}")
    atomic_write(path, lambda tmp: torch.save(state, tmp))


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

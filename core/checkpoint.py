"""Full training state on disk: written atomically, read without running code."""

from __future__ import annotations

import os
import pickle
import re
import secrets
import zipfile
from pathlib import Path

import torch

FORMAT = "gan-studio-checkpoint"
VERSION = 1
KEYS = {"format", "version", "config", "step", "generator", "discriminator", "opt_g", "opt_d", "ema",
        "rng", "batches", "fixed_noise", "fixed_labels", "history", "accum"}


class CheckpointError(ValueError):
    """A file that is not a usable checkpoint; the message says why."""


# Our temp files: ".<target name>.<8 random characters>.tmp" beside the target (the random part was
# drawn by tempfile.mkstemp before, by secrets now: both are matched, nothing else is).
TEMP_NAME = re.compile(r"^\.(?P<target>.+)\.[a-z0-9_]{8}\.tmp$")


def atomic_write(path: str | Path, write) -> None:
    """Call write(tmp_path) on a temp file beside `path`, then move it into place,
    so a crash mid-write leaves the old file intact.

    The file gets mode 0666 less the umask, as any program's files do (a private 0600 temp
    file, or one a library writes privately, would survive the rename and keep a shared run
    folder unreadable)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{secrets.token_hex(4)}.tmp")
    os.close(os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666))
    try:
        write(str(tmp))
        os.chmod(tmp, 0o666 & ~_umask())
        with open(tmp, "rb+") as f:
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def _umask() -> int:
    """The process's umask, read without changing it where the OS allows (Linux), since
    setting it to read it back races with other threads creating files."""
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith("Umask:"):
                    return int(line.split()[1], 8)
    except (OSError, ValueError, IndexError):
        pass
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def remove_stale_temps(folder: str | Path) -> list[Path]:
    """Delete the temp files an interrupted atomic_write left in `folder` (ours only, by name);
    return them. Call only where no save is under way (a run folder being opened)."""
    removed = []
    try:
        entries = list(Path(folder).iterdir())
    except OSError:
        return removed
    for p in entries:
        if TEMP_NAME.match(p.name) and p.is_file():
            try:
                p.unlink()
                removed.append(p)
            except OSError:
                pass  # not ours to fight over: another user's file, or gone already
    return removed


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

"""Full training state on disk: written atomically, read without running code."""

from __future__ import annotations

import pickle
import zipfile
from pathlib import Path

import torch

from core.atomic import atomic_write
from core.runs.folder import classify

FORMAT = "gan-studio-checkpoint"
VERSION = 1
KEYS = {"format", "version", "config", "step", "generator", "discriminator", "opt_g", "opt_d", "ema",
        "rng", "batches", "fixed_noise", "fixed_labels", "history", "accum", "augment"}
OPTIONAL_KEYS = {"augment"}  # adaptive augmentation's state: checkpoints from before it have none


class CheckpointError(ValueError):
    """A file that is not a usable checkpoint; the message says why."""


def save_checkpoint(state: dict, path: str | Path) -> None:
    missing, extra = KEYS - OPTIONAL_KEYS - set(state), set(state) - KEYS
    if missing or extra:
        raise CheckpointError(f"checkpoint keys wrong: missing {sorted(missing)}, unknown {sorted(extra)}")
    atomic_write(path, lambda tmp: torch.save(state, tmp))


def estimated_bytes(config) -> int:
    """About how large one checkpoint of `config` is on disk: G and D in fp32, Adam's two moments for
    each, and the EMA copy of G (counted on torch's meta device: no memory; core/models/size.py)."""
    from core.models.size import estimate

    return estimate(config).checkpoint_bytes


def load_checkpoint(path: str | Path, map_location="cpu") -> dict:
    path = Path(path)
    if path.is_dir():
        path = classify(path).checkpoint_file  # a run folder: its checkpoints/last.pt
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
    missing, extra = KEYS - OPTIONAL_KEYS - set(state), set(state) - KEYS
    if missing or extra:
        raise CheckpointError(f"{path}: checkpoint keys wrong: missing {sorted(missing)}, unknown {sorted(extra)}")
    step = state["step"]
    if isinstance(step, bool) or not isinstance(step, int) or step < 0:  # a resume counts on it
        raise CheckpointError(f"{path}: its step is {step!r:.60}, not a whole number 0 or more (a damaged or "
                              "edited checkpoint)")
    _check_config_fits_weights(state, path)
    return state


def weights_mismatch(module: torch.nn.Module, weights: dict, z_dim: int | None = None) -> str | None:
    """How `weights` do not fit `module`, in a few words (the first tensor of another shape, or the
    tensors missing or unknown); None when load_state_dict would take them. `z_dim`: the config's, to
    name model.z_dim when the noise input is the tensor that differs."""
    own = module.state_dict()
    for name, tensor in weights.items():
        if name in own and tuple(own[name].shape) != tuple(tensor.shape):
            saved, wanted = list(tensor.shape), list(own[name].shape)
            text = f"tensor {name} is {saved} in the file but {wanted} for its config"
            # G's first layer takes the noise (and a one-hot): a z_dim edited by hand shows there first.
            width = getattr(module, "num_classes", 0) or 0
            if z_dim is not None and z_dim + width in wanted and z_dim + width not in saved:
                axis = wanted.index(z_dim + width)
                if axis < len(saved) and saved[axis] > width:
                    text += (f" (model.z_dim = {z_dim} in the config; the weights were trained with "
                             f"{saved[axis] - width})")
            return text
    missing = [k for k in own if k not in weights]
    unknown = [k for k in weights if k not in own]
    if missing or unknown:
        return (f"tensors missing: {', '.join(missing[:3]) or 'none'}; unknown: {', '.join(unknown[:3]) or 'none'}"
                " (saved from another kind of model)")
    return None


def _check_config_fits_weights(state: dict, path: Path) -> None:
    """The config stored with the weights must describe them (an edited config would otherwise fail
    deep in load_state_dict with a dump of every tensor)."""
    from core.config import Config, ConfigError
    from core.models import build_discriminator, build_generator
    from core.models.size import estimate

    try:
        config = Config.from_dict(state["config"])
    except ConfigError as e:
        raise CheckpointError(f"{path}: the config stored in it is not valid ({e})") from None
    noise = state.get("fixed_noise")
    z_dim = config.model.z_dim
    if isinstance(noise, torch.Tensor) and noise.ndim == 2 and noise.shape[1] != z_dim:
        raise CheckpointError(f"{path}: model.z_dim = {z_dim} in its config, but it was trained with z_dim "
                              f"{noise.shape[1]} (its noise and weights); the config was edited: set model.z_dim "
                              f"back to {noise.shape[1]}")
    weights = {key: state[key] for key in ("generator", "discriminator")}
    for key, value in weights.items():
        if not isinstance(value, dict) or not all(isinstance(t, torch.Tensor) for t in value.values()):
            raise CheckpointError(f"{path}: its {key} is not a set of named tensors (a damaged or edited checkpoint)")
    saved = sum(t.numel() for value in weights.values() for t in value.values())
    described = estimate(config).params  # counted without memory, before the models are built
    if described > 2 * saved + 10_000:
        raise CheckpointError(f"{path}: the model settings (model.*) stored in it describe {described:,} "
                              f"parameters, its weights hold {saved:,}; the config in it was edited")
    # Built for real (on the meta device, spectral norm's set-up takes seconds), about the size of
    # the weights already loaded; the global RNG is left as it was.
    with torch.random.fork_rng(devices=[]):
        models = {"generator": build_generator(config), "discriminator": build_discriminator(config)}
    for key, module in models.items():
        problem = weights_mismatch(module, weights[key], z_dim if key == "generator" else None)
        if problem:
            raise CheckpointError(f"{path}: {key} {problem}; the model settings (model.*) stored in it do not "
                                  "match its weights")

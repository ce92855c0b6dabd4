"""How big a config's models are, counted without allocating them, and whether training fits.

The counts come from G and D built on torch's meta device (shapes only, no memory), so a
setting that would need a hundred gigabytes is refused in a fraction of a second, before
anything is allocated or written, with one line naming the setting to shrink.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, replace

import torch

from core import memory
from core.config import Config, ConfigError

FLOAT_BYTES = 4  # weights, gradients and Adam's moments stay fp32 (bf16 autocast covers activations only)
# Copies of each weight a training process holds: the weight, its gradient, Adam's two moments, and
# the NaN-rollback snapshot (core/training/session.py) of weight and moments; G's EMA copy (and its snapshot) on top.
TRAINING_COPIES, EMA_COPIES = 7, 2
CHECKPOINT_COPIES = 3  # weight + Adam's two moments
FIT_SHARE = 0.9  # refuse past this share of the free memory: the data, the allocator and the OS need some


@dataclass(frozen=True)
class SizeEstimate:
    g_params: int  # G's state-dict elements (parameters and buffers)
    d_params: int
    activation_bytes: int  # the forward passes' outputs one step keeps for backward (0 where unknown)
    training_bytes: int  # what one training process holds on its device
    checkpoint_bytes: int  # one checkpoint on disk

    @property
    def params(self) -> int:
        return self.g_params + self.d_params

    @property
    def dominant(self) -> str:
        """The setting that makes the models big: the wider side's widths."""
        return "model.g_hidden" if self.g_params >= self.d_params else "model.d_hidden"


def estimate(config: Config) -> SizeEstimate:
    """Parameter counts, training memory and checkpoint size of `config`, without allocating anything.

    Spectral norm is left out of the models counted: on the meta device its power iterations take
    seconds, and the two vectors a layer it adds are a few percent of the layer's weights at most."""
    from core.models import build_discriminator, build_generator

    plain = replace(config, model=replace(config.model, d_spectral_norm=False))
    with torch.device("meta"):
        G, D = build_generator(plain), build_discriminator(plain)
        g = sum(t.numel() for t in G.state_dict().values())
        d = sum(t.numel() for t in D.state_dict().values())
        activations = _activation_bytes(G, D, plain)
    ema = g if config.run.ema else 0
    training = FLOAT_BYTES * (TRAINING_COPIES * (g + d) + EMA_COPIES * ema) + activations
    checkpoint = FLOAT_BYTES * (CHECKPOINT_COPIES * (g + d) + ema)
    return SizeEstimate(g, d, activations, training, checkpoint)


def parameters_and_memory(config: Config) -> tuple[int, int]:
    """(parameters of G and D, bytes training needs on the device): what the studio's form shows."""
    size = estimate(config)
    return size.params, size.training_bytes


def _activation_bytes(G: torch.nn.Module, D: torch.nn.Module, config: Config) -> int:
    """The outputs of every layer in one step, on meta tensors: G on a batch, D on the reals and the
    fakes. An estimate: 0 if a layer cannot run on the meta device."""
    batch = config.run.batch_size * config.model.d_pack
    total = 0

    def count(module, inputs, output) -> None:
        nonlocal total
        if isinstance(output, torch.Tensor):
            total += output.numel() * output.element_size()

    leaves = [m for net in (G, D) for m in net.modules() if not any(True for _ in m.children())]
    hooks = [m.register_forward_hook(count) for m in leaves]
    try:
        from core.models import sample_noise

        m = config.model
        labels = torch.zeros(batch, dtype=torch.int64) if m.conditional else None
        fakes = G(sample_noise(batch, m.z_dim, m.noise, "meta"), labels)
        D(torch.cat([fakes, fakes]), None if labels is None else torch.cat([labels, labels]))
    except Exception:  # a layer meta tensors cannot run (data-dependent code): weights alone then
        return 0
    finally:
        for h in hooks:
            h.remove()
    return total


def available_bytes(device: torch.device) -> int | None:
    """Memory free for a run on `device` now; None where it cannot be told (MPS, others)."""
    if device.type == "cuda":
        # Blocks torch's allocator keeps cached for this process (an earlier run's) are free to it too.
        cached = torch.cuda.memory_reserved(device) - torch.cuda.memory_allocated(device)
        return torch.cuda.mem_get_info(device)[0] + cached
    if device.type == "cpu":
        return memory.available_memory()
    return None


def check_fits(config: Config, device: torch.device, free: int | None = None) -> SizeEstimate:
    """The estimate of `config`; ConfigError, naming the setting, if training would not fit in `device`'s
    free memory (`free` bytes; default: what available_bytes says now)."""
    size = estimate(config)
    if free is None:
        free = available_bytes(device)
        if free is not None and device.type == "cpu":  # torchrun's ranks on one machine share its memory
            free //= max(1, int(os.environ.get("LOCAL_WORLD_SIZE", "1") or 1))
    if free is not None and size.training_bytes > FIT_SHARE * free:
        weights = size.training_bytes - size.activation_bytes
        if size.activation_bytes > weights and config.run.batch_size > 1:  # the batch's pictures, not the widths
            per_picture = size.activation_bytes / config.run.batch_size
            fits = int((FIT_SHARE * free - weights) // per_picture)
            room = f"a batch of up to {fits:,} fits" if fits >= 1 else "no batch fits with these widths"
            raise ConfigError(f"run.batch_size = {config.run.batch_size}: training at this batch needs about "
                              f"{size.training_bytes / 1e9:,.1f} GB, most of it one step's activations "
                              f"({size.activation_bytes / 1e9:,.1f} GB), but {device.type} has {free / 1e9:,.1f} GB "
                              f"free; {room}. Choose a smaller run.batch_size.")
        key = size.dominant
        value = list(getattr(config.model, key.split(".")[1]))
        raise ConfigError(f"{key} = {value}: G and D would have {size.params / 1e6:,.0f} M parameters; training "
                          f"needs about {size.training_bytes / 1e9:,.1f} GB but {device.type} has "
                          f"{free / 1e9:,.1f} GB free (each checkpoint would be {size.checkpoint_bytes / 1e9:,.1f} "
                          f"GB). Choose smaller widths for {key}.")
    return size

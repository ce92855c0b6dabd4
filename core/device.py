"""Choosing the training device and the CPU thread count."""

from __future__ import annotations

import os

import torch

from core.config import ConfigError


def pick_device(name: str) -> torch.device:
    """'auto' -> CUDA, else Apple MPS, else CPU; a forced device must exist."""
    mps = getattr(torch.backends, "mps", None)
    has_mps = bool(mps and mps.is_available())
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "mps" if has_mps else "cpu")
    if name == "cuda" and not torch.cuda.is_available():
        raise ConfigError("run.device = 'cuda': no CUDA GPU is available here; use 'auto' or 'cpu'")
    if name == "mps" and not has_mps:
        raise ConfigError("run.device = 'mps': Apple's MPS backend is not available here; use 'auto' or 'cpu'")
    return torch.device(name)


GUI_RESERVE_ABOVE = 8  # with the GUI, keep a core free for the event loop only on machines with more cores


def default_threads(gui: bool) -> int:
    """All cores headless, and with the studio's GUI too unless the machine has
    more than GUI_RESERVE_ABOVE cores. The throttled GUI needs a few percent of
    one core; on 2 cores, reserving one for it cost 40% of the speed (the studio
    trained at 0.60x the best headless run with 1 thread, 0.90x with 2 threads:
    bench/studio_vs_headless.py, docs/benchmarks.md). A reserved core costs
    1/cores of the compute, which only drops below what the GUI's wake-ups cost
    the trainer's threads (~10% measured) on large machines."""
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    return cores - 1 if gui and cores > GUI_RESERVE_ABOVE else cores


def describe(device: torch.device) -> str:
    if device.type == "cuda":
        return f"cuda ({torch.cuda.get_device_name(device)})"
    return device.type

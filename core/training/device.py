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


def kind_of(name: str) -> str:
    """The kind of device run.device = `name` trains on here ("cpu", "cuda", "mps")."""
    return pick_device(name).type


def cpu_cores() -> int:
    """Cores this process may run on (the affinity mask, where the OS has one)."""
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)


def describe(device: torch.device) -> str:
    if device.type == "cuda":
        return f"cuda ({torch.cuda.get_device_name(device)})"
    return device.type

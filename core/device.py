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


def default_threads(gui: bool) -> int:
    """All cores headless. With the studio's GUI in the same process, all cores
    but one: measured on 2 cores (bench/studio_vs_headless.py, docs/benchmarks.md),
    2 threads train 1.6x faster while nothing else runs (the studio then reaches
    0.99x headless) but collapse to 2 steps/s against 35 with 1 thread as soon as
    another process wants a core (OpenMP workers wait on a descheduled thread;
    OMP_WAIT_POLICY=PASSIVE only softens that to 12 steps/s). The app keeps the
    safe choice; run.threads = all cores is the fast one on a quiet machine."""
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    return max(1, cores - 1) if gui else cores


def describe(device: torch.device) -> str:
    if device.type == "cuda":
        return f"cuda ({torch.cuda.get_device_name(device)})"
    return device.type

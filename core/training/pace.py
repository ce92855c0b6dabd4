"""What to expect of a preset on this machine: its step timed here, and the minutes to a result from it.

A preset's measured course (bench/pictures.py: how many pictures it must train on before a folder's
pictures come out recognisable, RECOGNISABLE_AFTER in core/presets.py) divided by this machine's rate for the
preset's step (images/s, timed here on noise-made pictures of the preset's shape: what a picture shows
does not change the time of a step) gives the minutes a person waits. Timing takes a few seconds of the
device: the app does it off its window's thread, once a session.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import torch

from core.config import Config
from core.data.datasets import ImageSet

PICTURES = 256  # noise-made pictures the timed session draws from
WARMUP_STEPS = 3
TIMED_STEPS = 6


@dataclass(frozen=True)
class Pace:
    device: str  # "cpu", "cuda", "mps"
    images_per_s: float


def measure(config: Config, device: torch.device, steps: int = TIMED_STEPS) -> Pace:
    """The images/s of `config`'s training step on `device`, with the process's torch threads."""
    from core.training.session import Session

    c, s = config.data.channels, config.data.image_size
    pictures = torch.randint(0, 256, (PICTURES, c, s, s), dtype=torch.uint8, generator=torch.Generator().manual_seed(0))
    session = Session(config.with_values(**{"data.augment": "off"}), ImageSet(pictures, None, "timing"), device)
    for _ in range(WARMUP_STEPS):
        session.train_step()
    sync(device)
    start = time.perf_counter()
    for _ in range(steps):
        session.train_step()
    sync(device)
    return Pace(device.type, steps * session.batches.batch_size / (time.perf_counter() - start))


def sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize()
    elif device.type == "mps":
        torch.mps.synchronize()

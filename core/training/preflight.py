"""What refuses a start before anything is created: the device asked for, the pictures' folder, the
model's size against the device's memory. Each check is cheap (no picture decoded, no model built on
the device), so the trainer and the CLI run them before a run folder is made or claimed, and a refused
start leaves nothing behind. What only the loading can find out (a folder with no readable picture)
is found after the claim; the trainer then gives the folder back as it found it (core/runs/lock.py)."""

from __future__ import annotations

import torch

from core.config import Config
from core.data.image_cache import check_folder
from core.models.size import SizeEstimate, check_fits
from core.training.device import pick_device


def check_start(config: Config) -> tuple[torch.device, SizeEstimate]:
    """The device `config` trains on and its size there; ConfigError or DataError (one line naming the
    setting) when it cannot start on this machine."""
    device = pick_device(config.run.device)
    if config.data.dataset == "folder":
        check_folder(config.data.folder)
    return device, check_fits(config, device)

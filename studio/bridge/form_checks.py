"""The form's questions that need torch (the models' size, whether they fit, what `auto` picks here),
answered on a job thread: the panel itself never imports torch or core.training."""

from __future__ import annotations

from core.config import Config, ConfigError


def checkpoint_bytes(config: Config) -> int:
    from core.runs.checkpoint import estimated_bytes

    return estimated_bytes(config)


def model_size(config: Config, key: str) -> tuple[str, int, int, str]:
    """(key, parameters of G and D, bytes training needs, core's refusal or ''), as Start will find them;
    imports torch (a job's work)."""
    from core.models.size import check_fits, parameters_and_memory
    from core.training.device import pick_device

    params, memory = parameters_and_memory(config)
    try:
        check_fits(config, pick_device(config.run.device))
    except ConfigError as e:  # Start would refuse it (too big for the free memory, or no such device here)
        return key, params, memory, str(e)
    return key, params, memory, ""


def auto_device() -> tuple[str, str]:
    """What run.device = auto picks here: (its kind, its description); imports torch (a job's work)."""
    from core.training.device import describe, pick_device

    device = pick_device("auto")
    return device.type, describe(device)


def preset_pace(name: str) -> tuple[str, str, float]:
    """(preset, the device kind `auto` picks here, its step's images/s there), the step timed on noise-made
    pictures of the preset's shape for a few seconds (core/training/pace.py); a job's work."""
    from core.presets import PRESETS
    from core.training import pace
    from core.training.device import pick_device

    device = pick_device("auto")
    return name, device.type, pace.measure(PRESETS[name], device).images_per_s

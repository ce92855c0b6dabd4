"""Fork a run: a new run that starts from one of its checkpoints with some settings changed.

The parent's folder is only read. The fork records its parent and the step it started
from (run.json), continues the step count, and keeps the parent's fixed noise, so its
curves and grids line up with the parent's from the fork step on.
"""

from __future__ import annotations

from pathlib import Path

from core.checkpoint import load_checkpoint
from core.config import Config, ConfigError

# What a fork may not change: the weights it starts from must fit the models, and the
# images must be the ones they learned.
FIXED = ("model.", "data.dataset", "data.folder", "data.image_size", "data.channels")


class ForkError(ValueError):
    """A fork that cannot be made; the message says why and what to do."""


def parent_of(source: str | Path) -> tuple[Path, Path]:
    """(checkpoint file, the run folder it belongs to) for a run folder or a checkpoint file."""
    source = Path(source)
    if source.is_dir():
        return source / "checkpoints" / "last.pt", source
    run = source.parent.parent if source.parent.name == "checkpoints" else source.parent
    return source, run


def changes_towards(parent: Config, wanted: Config) -> dict:
    """The settings in which `wanted` (e.g. the app's form) differs from the parent, leaving out
    what a fork keeps (the model and the images) and the step count (a fork's own choice)."""
    a, b = parent.to_dict(), wanted.to_dict()
    changes = {}
    for section, values in b.items():
        if not isinstance(values, dict):
            continue
        for name, value in values.items():
            key = f"{section}.{name}"
            if value != a[section][name] and not key.startswith(FIXED) and key != "run.steps":
                changes[key] = value
    return changes


def prepare_fork(source: str | Path, changes: dict | None = None, steps: int | None = None,
                 device: str | None = None, wanted: Config | None = None) -> tuple[Config, dict, dict]:
    """(config, checkpoint, lineage) for core.trainer.train(config, checkpoint=..., lineage=...).

    `changes` are 'section.field' -> value, validated like any config; `steps` is the new
    total (default: the parent's planned steps, or that many more when it got there).
    `wanted`: a whole config to move towards instead (see changes_towards), with its steps
    when they go beyond the fork step."""
    path, run = parent_of(source)
    checkpoint = load_checkpoint(path)
    step = int(checkpoint["step"])
    parent = Config.from_dict(checkpoint["config"])
    changes = dict(changes or {})
    if wanted is not None:
        changes.update(changes_towards(parent, wanted))
        if steps is None and wanted.run.steps > step:
            steps = wanted.run.steps
    for key in changes:
        if key.startswith(FIXED):
            raise ForkError(f"{key}: a fork keeps the parent's model and images (its weights are trained for "
                            "them); change it in a new run instead")
    if steps is not None:
        changes["run.steps"] = steps
    elif parent.run.steps <= step:
        changes["run.steps"] = step + parent.run.steps
    if device:
        changes["run.device"] = device
    config = parent.with_values(**changes)
    if config.run.steps <= step:
        raise ConfigError(f"run.steps = {config.run.steps}: the fork starts at step {step:,}; ask for more steps "
                          "than that")
    return config, checkpoint, {"parent": str(run.resolve()), "fork_step": step, "parent_checkpoint": path.name}

"""Fork a run: a new run that starts from one of its checkpoints with some settings changed.

The parent's folder is only read. The fork records its parent and the step it started
from (run.json), continues the step count, and keeps the parent's fixed noise, so its
curves and grids line up with the parent's from the fork step on.
"""

from __future__ import annotations

from pathlib import Path

from core.bounded_read import loads_json, read_lines
from core.config import Config, ConfigError, load_config
from core.control import LIVE_SETTINGS
from core.runs.folder import KEPT, RunFolder, classify, last_checkpoint_step

# What a fork may not change: the weights it starts from must fit the models, and the
# images must be the ones they learned.
FIXED = ("model.", "data.dataset", "data.folder", "data.image_size", "data.channels")
# What a resumed run may change: how long and where it trains, how often it reports and saves, and
# what may change while it trains anyway. Anything else would make one run of two settings (its
# curves a mix): that is a fork.
RESUMABLE = LIVE_SETTINGS + ("run.steps", "run.device", "run.threads", "run.log_every", "run.sample_every",
                             "run.checkpoint_every", "run.keep_every", "run.keep_last", "run.quality_every",
                             "run.quality_samples", "run.fid_every", "run.fid_samples", "run.tensorboard",
                             "run.plateau_readings", "run.plateau_margin", "run.stop_on_plateau")


class ForkError(ValueError):
    """A fork that cannot be made; the message says why and what to do."""


def parent_of(source: str | Path) -> tuple[Path, Path]:
    """(checkpoint file, the run folder it belongs to) for a run folder or a checkpoint file (a loose
    one's folder stands for its run; a missing file is returned as it is, for its loading to say so)."""
    source = Path(source)
    if not source.exists():
        return source, source.parent
    meaning = classify(source)
    return meaning.checkpoint_file, meaning.run_dir or meaning.checkpoint_file.parent  # a loose file's folder


def checkpoint_step(checkpoint: str | Path) -> int | None:
    """The step a checkpoint file holds, read without torch: step_NNNNNN.pt by its name, a run's
    last.pt from the run folder (core.runs.folder.last_checkpoint_step); None when not known."""
    checkpoint = Path(checkpoint)
    if (m := KEPT.fullmatch(checkpoint.name)):
        return int(m.group(1))
    run = RunFolder(checkpoint.parent.parent)
    return last_checkpoint_step(run.path) if checkpoint == run.last_checkpoint else None


def run_settings(run_dir: str | Path, up_to: int | None = None) -> Config:
    """The settings a run trained with at step `up_to` (default: at its end), read without torch:
    config.json (as the run started) with the live changes of changes.jsonl made by then.
    ConfigError names the file when config.json cannot be read."""
    run = RunFolder(run_dir)
    config = load_config(run.config)
    try:  # a line at a time within core/bounded_read.py's cap: an over-long line is skipped unread
        lines = list(read_lines(run.changes, what="run's changes file"))
    except OSError:
        return config  # no live changes (or a run from before they were written)
    for line in lines:
        try:
            record = loads_json(line)
            if up_to is None or int(record["step"]) <= up_to:
                config = config.with_values(**record["changes"])
        except (ValueError, KeyError, TypeError):
            continue  # a damaged line: the change it describes is not known
    return config


def differences(old: Config, new: Config) -> dict:
    """'section.field' -> (old value, new value) for every setting that differs (the preset's name aside)."""
    a, b = old.to_dict(), new.to_dict()
    return {f"{section}.{name}": (a[section][name], value)
            for section, values in b.items() if isinstance(values, dict)
            for name, value in values.items() if value != a[section][name]}


def resume_changes(own: Config, wanted: Config) -> tuple[dict, dict]:
    """(changes a resume may make, refused ones) in which `wanted` (the form) differs from the run's
    `own` settings. Allowed: 'section.field' -> new value. Refused: 'section.field' -> why not."""
    allowed, refused = {}, {}
    for key, (_, value) in differences(own, wanted).items():
        if key in RESUMABLE:
            allowed[key] = value
        elif key.startswith(FIXED):
            refused[key] = "the checkpoint's weights were trained for this model and these images"
        else:
            refused[key] = "a resumed run keeps the settings it trained with; fork it to change this"
    return allowed, refused


def default_fork_steps(parent: Config, step: int) -> int:
    """A fork's total steps when none are asked for: the parent's plan, or that many more once it got there."""
    return parent.run.steps if parent.run.steps > step else step + parent.run.steps


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
    """(config, checkpoint, lineage) for core.training.trainer.train(config, checkpoint=..., lineage=...).

    `changes` are 'section.field' -> value, validated like any config; `steps` is the new
    total (default: the parent's planned steps, or that many more when it got there).
    `wanted`: a whole config to move towards instead (see changes_towards), with its steps
    when they go beyond the fork step."""
    from core.runs.checkpoint import load_checkpoint  # torch: only where a checkpoint is loaded

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
    elif "run.steps" not in changes:
        changes["run.steps"] = default_fork_steps(parent, step)
    if device:
        changes["run.device"] = device
    config = parent.with_values(**changes)
    if config.run.steps <= step:
        raise ConfigError(f"run.steps = {config.run.steps}: the fork starts at step {step:,}; ask for more steps "
                          "than that")
    return config, checkpoint, {"parent": str(run.resolve()), "fork_step": step, "parent_checkpoint": path.name}

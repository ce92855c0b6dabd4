"""Which of a run's generators to put to use (`sample`, `export`, the app's export): its final one
(generator.safetensors, the latest save), its best (best/, the generator of its best quality reading),
or the one of a step it kept a checkpoint of (checkpoints/step_NNNNNN.pt: the sampling generator in it,
the EMA copy where the run kept one)."""

from __future__ import annotations

from pathlib import Path

from core.config import Config
from core.models import Generator, build_generator
from core.runs.checkpoint import CheckpointError, load_checkpoint
from core.runs.folder import RunFolder, best_record, saved_step
from core.sharing.export import ExportError, load_generator

CHOICES = "best, final or a kept step"


def parse_which(text: str | None) -> str | int | None:
    """'best', 'final', a step (int), or None (not given: the generator named); ExportError otherwise."""
    if text is None:
        return None
    word = text.strip().lower()
    if word in ("best", "final"):
        return word
    try:
        step = int(word.replace(",", "").replace("_", ""))
    except ValueError:
        raise ExportError(f"--which {text}: choose {CHOICES} (a number)") from None
    if step < 0:
        raise ExportError(f"--which {text}: a step is 0 or more")
    return step


def load_which(source: str | Path, which: str | int | None, device="cpu") -> tuple[Generator, Config, dict]:
    """(G in eval mode, config, meta) of `which` generator of the run folder `source`; None or 'final' with
    any generator file or folder as `source` is that generator. ExportError saying what there is."""
    if which is None or which == "final":
        return load_generator(source, device)
    run = RunFolder(source)
    if not Path(source).is_dir() or not run.config.is_file():
        raise ExportError(f"{source}: --which {which} needs a run folder (this is not one); leave --which off to "
                          "use this generator")
    if which == "best":
        record = best_record(run.path)
        if record is None:
            raise ExportError(f"{source}: no best generator kept (best/): the run took no quality reading, or "
                              "trained before runs kept their best; use --which final")
        generator, config, meta = load_generator(run.best, device)
        return generator, config, {**meta, "step": record["step"], "best": record}
    assert isinstance(which, int)
    kept = run.kept_steps()
    if which in kept:
        return from_checkpoint(run.kept_checkpoint(which), device)
    record = best_record(run.path)
    if record is not None and record["step"] == which:
        return load_which(source, "best", device)
    if saved_step(run.path) == which:
        return load_generator(source, device)
    offered = [f"it keeps checkpoints of steps {', '.join(f'{s:,}' for s in kept) or 'none'}"]
    if record is not None:
        offered.append(f"its best is step {record['step']:,}")
    if (final := saved_step(run.path)) is not None:
        offered.append(f"its final step {final:,}")
    raise ExportError(f"{source}: no generator of step {which:,}: {', '.join(offered)}")


def from_checkpoint(path: str | Path, device="cpu") -> tuple[Generator, Config, dict]:
    """The sampling generator (the EMA copy where there is one) of a checkpoint file."""
    try:
        state = load_checkpoint(path)
    except CheckpointError as e:
        raise ExportError(str(e)) from None
    config = Config.from_dict(state["config"])
    weights = state["ema"] if state["ema"] is not None else state["generator"]
    if "n_averaged" in weights:  # checkpoints from when the EMA was torch's AveragedModel (core/training/ema.py)
        weights = {k.removeprefix("module."): v for k, v in weights.items() if k != "n_averaged"}
    generator = build_generator(config)
    try:
        generator.load_state_dict(weights)
    except RuntimeError as e:
        raise ExportError(f"{path}: its generator does not fit its config ({str(e).splitlines()[0]})") from None
    return generator.to(device).eval(), config, {"step": int(state["step"]), "config": state["config"]}

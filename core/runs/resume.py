"""What resuming a run means, one rule for the CLI and the app: a run continues to its planned steps
(run.steps); a run that reached them trains nothing more unless a new total is given, and the person is
told how (the CLI says `--steps N` or a fork; the app asks for the total, offering `suggested`). Nothing
doubles a run's steps on its own. Torch-free: the app asks before it loads anything.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from core.commands import suggest
from core.runs.folder import RunFolder, RunFolderError, last_checkpoint_step


@dataclass(frozen=True)
class ResumePlan:
    step: int  # the step the run's checkpoints/last.pt holds (0 when it cannot be told without loading it)
    total: int  # the steps in all a resume trains to
    finished: bool  # the run is at `total` already: a resume trains nothing unless given a larger total
    message: str  # one line: what a resume does, or, for a finished run, why nothing and how to train more
    suggested: int  # the total to offer for a finished run: as many steps again as it planned


def plan_resume(run: str | Path, step: int, planned: int, total: int | None = None) -> ResumePlan:
    """The rule, from what is known: the checkpoint's `step`, the run's `planned` steps (its run.steps) and
    the `total` a person asked for (--steps N, the app's question; None: none asked)."""
    target = planned if total is None else total
    suggested = step + planned
    if step < target:
        return ResumePlan(step, target, False, f"{run}: resuming at step {step:,}, to step {target:,}", suggested)
    asked = (f"--steps {total:,} is not past the step it reached" if total is not None and total != planned
             else f"it finished its {planned:,} planned steps")
    more = (f"to train it on, give a larger total: {suggest('resume', run, '--steps', 'N')} with N past {step:,} "
            f"(e.g. {suggested:,}), or start a new run from it: {suggest('fork', run, '--out', 'NEWDIR')}")
    return ResumePlan(step, target, True, f"{run} is at step {step:,}: {asked}; nothing to train. {more}", suggested)


def resume_plan(run_dir: str | Path, total: int | None = None) -> ResumePlan:
    """The plan for resuming the run folder `run_dir` (to `total` steps in all, when given), read without
    torch: its settings (config.json and its live changes) and the step its last.pt holds.
    RunFolderError when it has no checkpoint to resume; ConfigError when its config.json cannot be read."""
    from core.runs.fork import run_settings

    run_dir = Path(run_dir)
    if not RunFolder(run_dir).last_checkpoint.is_file():
        raise RunFolderError(f"{run_dir}: nothing to resume (no checkpoints/last.pt); fork it from a kept "
                             "checkpoint instead")
    return plan_resume(run_dir, last_checkpoint_step(run_dir) or 0, run_settings(run_dir).run.steps, total)

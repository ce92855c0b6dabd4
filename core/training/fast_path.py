"""The fast path: G and D compiled with torch.compile (run.compile), the rest of the step eager.

Only the models' forward (and, through AOTAutograd, their backward) are compiled; the optimizers,
the losses, augmentation and the D-steps loop stay plain Python. So what a person changes while
training (learning rates and betas in the optimizers' param_groups, loss.d_steps, label smoothing)
never reaches a compiled graph: a live change costs no recompile. Pause and single step are the
loop's business and do not see the difference.

Double backward (R1's and WGAN-GP's penalties, which differentiate D's gradient) is not supported
by compiled code: a step that takes R1 judges the reals with the plain D, and WGAN-GP's penalty
always calls the plain D; the other calls stay compiled.

A compile that fails does so inside a step: the first steps are guarded (the session's state is
copied before and restored on failure), and the run goes on eager with a notice.
"""

from __future__ import annotations

from typing import Callable

import torch

# Device types where `auto` compiles: none yet. On this project's 2-core CPU compiled steps ran slower
# than eager ones, after half a minute of compiling (docs/benchmarks.md); bench/gpu_suite.py measures CUDA.
AUTO_COMPILES: frozenset[str] = frozenset()
# Steps run with a copy of the state to fall back to: those that compile (the first compiles G, D and the
# frozen D of G's update; with R1, whose steps judge with the plain D, the second compiles D's judging).
GUARDED_STEPS = 3
# torch.compile's arguments for each way of compiling (bench/gpu_suite.py measures them all; a run
# uses "default"); "cudagraphs" also replays the compiled kernels as CUDA graphs (CUDA only).
MODES: dict[str, dict] = {"default": {}, "cudagraphs": {"mode": "reduce-overhead"}}
BACKEND: str | Callable = "inductor"  # tests swap in "aot_eager": the same graphs and guards, no code generated


def compile_plan(setting: str, device: torch.device, distributed: bool) -> tuple[bool, str | None]:
    """Whether this run's models are compiled, and what to tell the person when run.compile = on
    cannot be honoured (the run trains eager)."""
    if setting == "off" or (setting == "auto" and device.type not in AUTO_COMPILES):
        return False, None
    why = ("not under torchrun (DDP's hooks and compiled models are not combined here)" if distributed
           else "not on Apple's MPS" if device.type == "mps" else None)
    if why is None:
        return True, None
    return False, f"run.compile = {setting}: {why}; training eager." if setting == "on" else None


class CompiledModels:
    """G and D compiled; the plain modules stay the session's (state dicts, EMA, sampling) and the
    compiled ones share their parameters and buffers, so loading a checkpoint or rolling back
    needs no recompile."""

    def __init__(self, G: torch.nn.Module, D: torch.nn.Module, mode: str = "default"):
        options = {"backend": BACKEND, **MODES[mode]}
        self.mode = mode
        self.G = torch.compile(G, **options)
        self.D = torch.compile(D, **options)
        self.guarded = GUARDED_STEPS  # steps left that run with a copy of the state to fall back to
        self.cudagraphs = mode == "cudagraphs"

    def step_begins(self) -> None:
        """Tell CUDA graph trees a new iteration starts (outputs of the last one may be reused)."""
        if self.cudagraphs:
            torch.compiler.cudagraph_mark_step_begin()


def failure_notice(error: BaseException) -> str:
    """One line: what failed, at its root (torch wraps a compiler's error in its own)."""
    root = error
    while (inner := getattr(root, "inner_exception", None) or root.__cause__) is not None:
        root = inner
    lines = [line.strip() for line in str(root).splitlines() if line.strip()]
    what = f"{type(root).__name__}: {lines[0][:200]}" if lines else type(root).__name__
    return (f"run.compile: the compiled models failed in one of the first steps ({what}); the step was undone "
            "and training goes on without compiling (as with run.compile = off), from the same step.")

"""An exponential moving average of G's weights, the copy that samples are drawn from.

With warm-up, the decay grows as min(decay, (1 + step) / (10 + step)) (TensorFlow's
ExponentialMovingAverage with num_updates): early in a run the average follows G closely,
so the first grids a person watches are not smeared towards the random initial weights;
later it settles at `decay`. BatchNorm's running statistics are averaged too.
"""

from __future__ import annotations

import copy

import torch
from torch import nn


class EMA:
    def __init__(self, model: nn.Module, decay: float, warmup: bool = True):
        self.module = copy.deepcopy(model)
        self.module.requires_grad_(False)
        self.decay = decay
        self.warmup = warmup

    def decay_at(self, step: int) -> float:
        return min(self.decay, (1 + step) / (10 + step)) if self.warmup else self.decay

    @torch.no_grad()
    def update(self, model: nn.Module, step: int) -> None:
        """Blend `model` in after its update number `step` (0-based); no host sync."""
        weight = 1.0 - self.decay_at(step)
        mine = [t for t in _tensors(self.module) if t.is_floating_point()]
        theirs = [t for t in _tensors(model) if t.is_floating_point()]
        torch._foreach_lerp_(mine, theirs, weight)
        for a, b in zip(_tensors(self.module), _tensors(model)):
            if not a.is_floating_point():
                a.copy_(b)  # e.g. BatchNorm's num_batches_tracked

    def state_dict(self) -> dict:
        return self.module.state_dict()

    def load_state_dict(self, state: dict) -> None:
        # Checkpoints from before this class held torch's AveragedModel: 'module.' keys and a counter.
        if "n_averaged" in state:
            state = {k.removeprefix("module."): v for k, v in state.items() if k != "n_averaged"}
        self.module.load_state_dict(state)


def _tensors(model: nn.Module) -> list[torch.Tensor]:
    return [*model.parameters(), *model.buffers()]

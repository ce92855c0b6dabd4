"""When a run's readings stop getting better: told once, never a silent stop.

StyleGAN users are advised to stop after 3 to 5 readings without a new best; a GAN that peaked and
degrades after would otherwise train on for nothing. A reading counts as better only when it beats
the best so far by run.plateau_margin (relative): a reading a hair lower is noise. After
run.plateau_readings readings in a row without one, the run is told once, "no better reading since
step S (best R); the run may have peaked"; a better reading later starts the count again, and a new
plateau is told again. run.stop_on_plateau also stops the run there (headless runs and sweeps).
Plain Python: the trainer feeds it its readings (core/training/run_context.py).
"""

from __future__ import annotations

import math


class Plateau:
    def __init__(self, readings: int, margin: float, label: str = "quality"):
        self.readings, self.margin, self.label = readings, margin, label
        self.best: tuple[int, float] | None = None  # (step, value) of the lowest reading so far
        self.mark: float | None = None  # the value a reading must beat by the margin to count as better
        self.since = 0  # readings since the last one that did
        self.told = False

    def add(self, step: int, value: float) -> str | None:
        """Take a reading (lower is better); the notice when this one makes the plateau, else None."""
        if not math.isfinite(value):
            return None
        if self.best is None or value < self.best[1]:
            self.best = (step, value)
        if self.mark is None or value < self.mark * (1 - self.margin):
            self.mark, self.since, self.told = value, 0, False
            return None
        self.since += 1
        if not self.readings or self.told or self.since < self.readings:
            return None
        self.told = True
        step_best, value_best = self.best
        return (f"No better {self.label} reading since step {step_best:,} (best {value_best:.3g}, {self.since} "
                f"readings without a gain of {self.margin:.0%}); the run may have peaked")

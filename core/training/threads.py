"""Choosing torch's CPU thread count while the studio trains.

On a small CPU, all cores train fastest while nothing else runs, but once
another process (or a busy GUI) wants a core, OpenMP's workers wait on a
descheduled thread and the step slows down many times over: on 2 cores,
2 threads fell to 2 steps/s where 1 thread kept 35 (docs/benchmarks.md).
Neither fixed count is right, so the tuner measures both and keeps the faster.

Changing the count changes float rounding, so runs that must be bitwise
reproducible set run.threads to a fixed number; the headless CLI does that.
"""

from __future__ import annotations

import torch

WINDOW_S = 1.0  # seconds of step time per measurement
RECHECK_EVERY = 30  # windows between trials of the other count, while nothing changes
DROP = 0.6  # a window this much slower than the last at the same count triggers a trial at once


class ThreadTuner:
    """Call `step_done(seconds)` after each training step with its duration;
    `set_num_threads` follows the faster of `choices` (e.g. (2, 1))."""

    def __init__(self, choices: tuple[int, ...], set_threads=torch.set_num_threads):
        self.choices = choices
        self.set_threads = set_threads
        self.current = choices[0]
        self.rates: dict[int, float] = {}
        self.returning_to: int | None = None  # set while trying the other count for one window
        self.windows = 0
        self._time = 0.0
        self._steps = 0
        self.set_threads(self.current)

    def step_done(self, seconds: float) -> None:
        self._time += seconds
        self._steps += 1
        if self._time >= WINDOW_S:
            rate = self._steps / self._time
            self._time, self._steps = 0.0, 0
            self._window(rate)

    def _window(self, rate: float) -> None:
        n = self.current
        before = self.rates.get(n)
        self.rates[n] = rate
        self.windows += 1
        if self.returning_to is not None:  # a trial just ended: keep the faster
            best = max((self.returning_to, n), key=lambda c: self.rates[c])
            self.returning_to = None
            self._switch(best)
            return
        other = next((c for c in self.choices if c != n and c not in self.rates), None)
        slowed = before is not None and rate < DROP * before
        if other is None and (slowed or self.windows % RECHECK_EVERY == 0):
            other = next(c for c in self.choices if c != n)
        if other is not None:
            self.returning_to = n
            self._switch(other)

    def _switch(self, n: int) -> None:
        if n != self.current:
            self.current = n
            self.set_threads(n)

"""The Control a sweep's trial trains under (core/sweeps/runner.py).

The sweep's own Control (the app's buttons, Ctrl+C) steers whichever trial is training: pause, resume,
step, stop, live changes and saves all go to it, so they reach the trial the trainer is on now and,
between trials, the next. The sweep can also end this one trial (pruned) without stopping the sweep,
which a Control cannot take back once stopped: hence this wrapper rather than the sweep's own.
"""

from __future__ import annotations

import threading

from core.config import Config
from core.control import Control, SaveDone


class TrialControl(Control):
    """Every call goes to the sweep's Control, except that end() stops this trial alone.

    Made on the thread that trains (train() runs on its caller's thread). The trainer pauses itself
    only when a loss turned NaN (an ErrorEvent follows): in a sweep that ends the trial as failed
    instead of pausing the whole sweep, which nobody may be there to resume."""

    def __init__(self, sweep: Control):
        super().__init__()
        self._sweep = sweep
        self._ended = False
        self.plateaued = False  # it ended itself on a plateau (stop_run): complete, not failed
        self._trainer = threading.current_thread()

    def end(self) -> None:
        """Stop this trial at the next step boundary (it saves its checkpoint as for any stop)."""
        self._ended = True

    def stop_run(self) -> None:
        """The trial stops itself on a plateau (run.stop_on_plateau): complete at the step it got to."""
        self.plateaued = True
        self._ended = True

    @property
    def ended(self) -> bool:
        return self._ended

    # --- from any thread: to the sweep's Control ---

    def pause(self) -> None:
        if threading.current_thread() is self._trainer:
            self._ended = True  # the trainer's own pause: a loss became NaN
            return
        self._sweep.pause()

    def resume(self) -> None:
        self._sweep.resume()

    def step_once(self) -> None:
        self._sweep.step_once()

    def stop(self) -> None:
        self._sweep.stop()

    def change(self, config: Config, **dotted) -> None:
        self._sweep.change(config, **dotted)

    def save_generator(self, folder: str) -> None:
        self._sweep.save_generator(folder)

    def save_checkpoint(self, path: str) -> None:
        self._sweep.save_checkpoint(path)

    def save_run(self) -> SaveDone:
        return self._sweep.save_run()

    def request_snapshot(self) -> None:
        self._sweep.request_snapshot()

    def _request(self, kind: str, path: str, done: SaveDone | None = None) -> None:
        self._sweep._request(kind, path, done)

    @property
    def paused(self) -> bool:
        return self._sweep.paused and not self._ended

    @property
    def stopping(self) -> bool:
        return self._ended or self._sweep.stopping

    # --- by the trainer ---

    def wait(self, timeout: float | None = None) -> None:
        if not self._ended:
            self._sweep.wait(timeout)

    def after_step(self) -> bool:
        return self._sweep.after_step()

    def take_changes(self) -> dict:
        return self._sweep.take_changes()

    def take_plan(self) -> dict:
        plan = self._sweep.take_plan()
        plan["stop"] = plan["stop"] or self._ended
        return plan

    def apply_plan(self, plan: dict) -> None:
        self._sweep.apply_plan(plan)

    def take_requests(self) -> list[tuple[str, str, SaveDone | None]]:
        return self._sweep.take_requests()
